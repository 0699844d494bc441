"""Runs: every training run (StyleGAN and pix2pix) — config, curves, and its grids with a slider.

Runs are looked for only under the run roots (curate.gallery.runs): the workspace's runs/,
$ROSTRO_RUNS (set by whoever starts the server) and the folders an admin adds in the
admin-only "Run folders" section below. Any logged-in user browses; nobody types a folder to
read except an admin there. Never imports torch or TensorFlow.
"""
import streamlit as st

from curate.app.common import db_call, engine, require_login, workspace
from curate.app.text import plain
from curate.gallery import runs as gr

PLAY_EVERY_S = 0.6  # seconds between grids while playing

user = require_login()
st.title("Runs", anchor=False)


def _add_root():
    try:
        added = db_call(gr.add_root, engine(), st.session_state.get("runs_root_new", ""))
    except ValueError as e:
        st.session_state["runs_root_msg"] = ("error", plain(e))
        return
    st.session_state["runs_root_msg"] = ("success", f"Added {plain(added)}.")
    st.session_state["runs_root_new"] = ""


def _remove_root(folder: str):
    db_call(gr.remove_root, engine(), folder)
    st.session_state["runs_root_msg"] = ("success", f"Removed {plain(folder)}.")


if user.is_admin:
    with st.expander("Run folders (admins)", icon=":material/folder_managed:"):
        st.caption(f"Always searched: {plain(workspace().runs_dir)} and the folders in "
                   f"${gr.ENV_RUNS}. Folders added here are searched for every user; only "
                   "runs inside them are read (symlinks that leave them are ignored).")
        for i, folder in enumerate(db_call(gr.admin_roots, engine())):
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.code(folder, language=None)
            c2.button("Remove", key=f"runs_root_rm_{i}", on_click=_remove_root, args=(folder,))
        c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
        c1.text_input("Add a folder of runs (absolute path on the server)", key="runs_root_new")
        c2.button("Add", key="runs_root_add", on_click=_add_root)
        kind, text = st.session_state.pop("runs_root_msg", (None, None))
        if kind:
            getattr(st, kind)(text)

roots = db_call(gr.roots_for, engine(), workspace().runs_dir)
found = gr.discover_runs(roots)
if not found:
    configured = db_call(gr.admin_roots, engine()) if user.is_admin else []
    searched = gr.searched_folders(workspace().runs_dir, configured)
    st.info("No runs yet. This page searches the folders below; a run appears here once a "
            "trainer writes one inside them.")
    if user.is_admin:
        st.text("\n".join(f"{p}" + ("" if ok else "  (does not exist yet)") for p, ok in searched))
    else:  # annotators see run names, never run-root paths (docs/security.md)
        st.text("runs/ in the workspace" + ("" if searched[0][1] else "  (does not exist yet)"))
    st.caption("The trainers write into the workspace's runs/ folder by default when "
               "ROSTRO_WORKSPACE is set or when run from the folder that holds workspace/; "
               "otherwise give --out" + (":" if user.is_admin else "."))
    if user.is_admin:
        st.code("\n".join(gr.train_commands(workspace().root)), language="bash")
        st.caption("Or add the folder that holds your runs under Run folders above.")
    else:
        st.caption("Or ask an admin to add the folder that holds your runs.")
    st.stop()

by_label = gr.labels(found, admin=user.is_admin)  # annotators see run names, never paths
run = by_label[st.selectbox("Run", list(by_label), key="runs_run")]
unit = run.step_key
summary = gr.summary(run)
last = summary["last"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Trainer", run.trainer)
c2.metric(f"Last {unit}", f"{int(last[unit]):,}" if unit in last else "—")
c3.metric("Grids", f"{summary['grids']:,}")
c4.metric("Images / s", f"{last['images_per_s']:.1f}" if "images_per_s" in last else "—")
if summary["skipped"]:
    st.caption(f"{summary['skipped']:,} line(s) of metrics.jsonl skipped: not a row of numbers.")

# Lazy tabs: only the open one runs, so moving the slider never rebuilds the charts.
grids_tab, curves_tab, config_tab = st.tabs(["Grids", "Curves", "Config"], key="runs_tab",
                                            on_change="rerun")

if config_tab.open:
    with config_tab:
        st.json(run.config, expanded=True)

if curves_tab.open:
    with curves_tab:
        charts = gr.curves(run)
        if not charts:
            st.info("No metrics yet (metrics.jsonl is empty or missing).")
        for group, frame in charts.items():
            st.subheader(group.capitalize(), anchor=False)
            st.line_chart(frame, x_label=unit, height=240)

caption = ("sketch | real | generated on the fixed validation pairs" if run.trainer == "pix2pix"
           else "samples of fixed latents")
slider_key = f"runs_pos_{run.path}"


@st.fragment(run_every=PLAY_EVERY_S if st.session_state.get("runs_play") else None)
def grid_view():
    grids = dict(gr.list_grids(run))  # step → path, oldest first
    if not grids:
        st.info(f"No grids yet in {plain(run.grid_dir)}." if user.is_admin
                else "No grids yet in this run.")
        return
    steps = list(grids)
    current = st.session_state.get(slider_key)
    if st.session_state.get("runs_play"):  # advance one grid per tick, wrapping round
        at = steps.index(current) + 1 if current in grids else 0
        st.session_state[slider_key] = steps[at % len(steps)]
    elif current not in grids:
        st.session_state[slider_key] = steps[-1]  # the latest grid first
    step = steps[0]
    if len(steps) > 1:
        step = st.select_slider(unit.capitalize(), steps, key=slider_key,
                                format_func=lambda s: f"{s:,}",
                                help=f"{len(steps):,} grids; the latest is shown first.")
    st.image(grids[step], caption=f"{unit} {step:,} — {caption}", width="stretch")
    if run.trainer == "stylegan":  # the trainer's own mixing grid of the checkpoint at or before
        mixing = gr.grid_at(gr.mixing_grids(run), step)
        if mixing is not None:
            st.image(mixing[1], caption=f"style mixing at the checkpoint of iteration {mixing[0]:,} "
                                        "(rows: coarse, middle, fine styles from the top faces)")


if grids_tab.open:
    with grids_tab:
        st.toggle("Play through the grids", key="runs_play")
        grid_view()
