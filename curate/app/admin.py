"""Admin: ingest a folder, add users, change passwords, deactivate users, assign queues — the
CLI's operations, same functions."""
import streamlit as st

from curate.app import triage_panel
from curate.app.common import db_call, engine, require_admin, workspace
from curate.assign import ORDERS, AssignError, assign, choices, queue_lengths
from curate.celeba import AttributeFileError
from curate.ingest import ingest
from curate.status import status
from curate.users import (UserError, add_user, check_password_policy, list_users, set_active,
                          set_password)

require_admin()
eng = engine()
st.title("Admin", anchor=False)

with st.expander("Workspace status", expanded=True):
    st.code(db_call(status, eng).summary(), language=None)

ingest_tab, users_tab, assign_tab, triage_tab = st.tabs(
    ["Ingest a folder", "Users", "Assign queues", "Triage"])

with ingest_tab:
    with st.form("ingest"):
        folder = st.text_input("Image folder (on the server)", key="ingest_dir")
        source = st.text_input("Source name", key="ingest_source", placeholder="celeba")
        attributes = st.text_input("CelebA list_attr_celeba.txt (optional)", key="ingest_attr")
        go = st.form_submit_button("Ingest", type="primary")
    if go:
        if not folder.strip() or not source.strip():
            st.error("Give both the folder and a source name.")
        else:
            with st.spinner("Ingesting… (large folders take a while)"):
                try:
                    report = db_call(ingest, eng, folder.strip(), source.strip(),
                                     attributes=attributes.strip() or None, progress=False)
                except (FileNotFoundError, AttributeFileError, ValueError) as e:
                    st.error(str(e))
                else:
                    st.success("Ingest done.")
                    st.code(report.summary(), language=None)

with users_tab:
    with st.form("add_user", clear_on_submit=True):
        name = st.text_input("Name", key="user_name")
        password = st.text_input("Password", type="password", key="user_password")
        is_admin = st.checkbox("Admin (may ingest, assign, review and export)", key="user_admin")
        add = st.form_submit_button("Add user", type="primary")
    if add:
        try:
            db_call(check_password_policy, eng, password)
            db_call(add_user, eng, name, password, admin=is_admin)
        except UserError as e:
            st.error(str(e))
        else:
            st.success(f"Added {'admin' if is_admin else 'annotator'} {name.strip()}.")
    lengths = db_call(queue_lengths, eng)
    everyone = db_call(list_users, eng)
    st.dataframe([{"name": u.name, "role": u.role.value, "active": u.active,
                   "queue": lengths.get(u.name, 0)} for u in everyone],
                 hide_index=True, width="stretch")

    st.subheader("Change an account", anchor=False)
    st.caption("A new password or a deactivation ends that user's sessions at once; a "
               "deactivated user can neither log in nor record decisions.")
    with st.form("account", clear_on_submit=True):
        who = st.selectbox("User", [u.name for u in everyone], key="account_user")
        new_password = st.text_input("New password (leave empty to keep)", type="password",
                                     key="account_password")
        action = st.radio("Access", ["keep as is", "deactivate", "reactivate"], horizontal=True,
                          key="account_action")
        change = st.form_submit_button("Apply")
    if change and who:
        try:
            if new_password:
                ended = db_call(set_password, eng, who, new_password)
                st.success(f"Password of {who} changed; {ended} session(s) ended.")
            if action != "keep as is":
                ended = db_call(set_active, eng, who, action == "reactivate")
                st.success(f"{who} {action}d." + ("" if action == "reactivate"
                                                   else f" {ended} session(s) ended."))
        except UserError as e:
            st.error(str(e))

with assign_tab:
    st.caption("Fills each chosen annotator's queue up to the length given. Re-assigning only "
               "appends: positions and decisions already made stay as they are. An annotator "
               "added later shares part of their queue with an existing annotator, so their "
               "agreement can be measured.")
    names, source_names = db_call(choices, eng)
    with st.form("assign"):
        who = st.multiselect("Annotators", names, key="assign_annotators",
                             placeholder="every active annotator")
        chosen_sources = st.multiselect(
            "Sources", source_names, key="assign_sources",
            placeholder="those with CelebA attributes (all when none has)",
            help="A source ingested without list_attr_celeba.txt is used only when chosen here.")
        per = st.number_input("Images per annotator", min_value=1, value=10_000, step=500,
                              key="assign_per")
        overlap = st.number_input("Overlap (share of each queue also in another's)", min_value=0.0,
                                  max_value=1.0, value=0.05, step=0.01, key="assign_overlap")
        order = st.selectbox("Order", ORDERS, key="assign_order",
                             help="attributes: likely-old faces first (CelebA attributes); "
                             "model: highest p(accept) of the newest triage model first")
        explore = st.number_input("Explore share (order model: drawn at random)", min_value=0.0,
                                  max_value=1.0, value=0.1, step=0.05, key="assign_explore")
        seed = st.number_input("Seed", min_value=0, value=0, step=1, key="assign_seed")
        go = st.form_submit_button("Assign", type="primary")
    if go:
        try:
            report = db_call(assign, eng, per_annotator=int(per), overlap=float(overlap),
                             order=order, seed=int(seed), annotators=who or None,
                             sources=chosen_sources or None, explore=float(explore))
        except AssignError as e:
            st.error(str(e))
        else:
            if report.total_added:
                st.success(f"Queues assigned: {report.total_added:,} new queue places.")
            else:
                st.warning("Nothing was assigned.")
            for warning in report.warnings:
                st.warning(warning[0].upper() + warning[1:] + ".")
            st.code(report.summary(), language=None)

with triage_tab:
    triage_panel.render(eng, workspace())
