"""Export (admin): the CLI's export and prepare commands, calling the same functions.

The form is built from curate.export.registry, the table the CLI is built from: one widget per
params field that says how the page shows it (`page=`), starting at the field's default; the
fields without one keep their defaults. Errors name the page's fields, not the CLI's flags
(`_page_words`). A destination that already holds files is checked first with the export
layer's own rule (an earlier export of this kind that this database recorded): anything else
is refused at once, and a replaceable export is replaced only after the admin confirms.
"""
import dataclasses
import re
from pathlib import Path

import streamlit as st

from curate.app.common import db_call, engine, require_admin, workspace
from curate.app.text import plain
from curate.export import ExportError
from curate.export.common import recent_exports
from curate.export.records import check_destination
from curate.export.registry import KINDS, shown

require_admin()
eng = engine()
exports_dir = workspace().exports_dir
st.title("Export", anchor=False)
st.caption(f"A relative path on this page is under **{plain(exports_dir)}** (the workspace's exports "
           "folder; the command line reads it from its current folder instead). An export is "
           "written to a temporary folder and renamed into place when complete.")

DESCRIPTIONS = {  # the page's own wording; --help uses each kind's summary
    "old_celeba": "CelebA images accepted under the rules",
    "peruvian_mix": "seeded mix of peruvian_face and old_celebA",
    "sketch_pairs": "photo | sketch pairs, split into train/ and val/",
    "lmdb": "multi-resolution LMDB for the StyleGAN trainer",
}
BY_TITLE = {k.title: k for k in KINDS.values()}
title = st.radio("What", list(BY_TITLE), key="export_kind",
                 format_func=lambda t: f"{t} — {DESCRIPTIONS[BY_TITLE[t].name]}")
kind = BY_TITLE[title]


def _dest(name: str) -> Path:
    p = Path(name.strip()).expanduser()
    return (p if p.is_absolute() else exports_dir / p).resolve()  # as the export layer does


def _widget(f: dataclasses.Field):
    """The widget of one params field, from its `page` settings; returns the value it holds."""
    page = dict(f.metadata["page"])
    label, key = page.pop("label"), f"x_{kind.name}_{f.name}"
    path, widget = page.pop("path", False), page.pop("widget", None)
    required = f.default is dataclasses.MISSING
    default = page.pop("value", None if required else f.default)
    if isinstance(default, bool):
        return st.checkbox(label, value=default, key=key)
    if "options" in page and isinstance(default, tuple):
        return tuple(st.multiselect(label, page["options"], default=list(default), key=key))
    if "options" in page:
        return st.selectbox(label, page["options"], index=page["options"].index(default), key=key)
    if widget == "slider":
        return st.slider(label, value=default, key=key, **page)
    if isinstance(default, (int, float)):
        return st.number_input(label, value=default, key=key, **page)
    text = st.text_input(label, "" if default is None else shown(default), key=key).strip()
    if path:  # relative to the exports folder; an optional folder left empty is None
        return _dest(text) if text or required else None
    return text


def _page_words(message: str) -> str:
    """An export error with each CLI flag of this kind written as the page's field label:
    "pass --allow-fewer" → tick “Take fewer when fewer qualify”; "--count 5" → “Images” (5)."""
    for f in dataclasses.fields(kind.params):
        if f.metadata["page"] is None:
            continue
        flag = f.metadata["cli"].get("flag", "--" + f.name.replace("_", "-"))
        label = f"“{f.metadata['page']['label']}”"
        message = message.replace(f"pass {flag}", f"tick {label}")
        message = re.sub(rf"{re.escape(flag)} (-?[\d.]+)\b", rf"{label} (\1)", message)
        message = re.sub(rf"{re.escape(flag)}\b", label, message)
    return message


def _run(dest: Path, values: dict) -> None:
    with st.spinner(f"Writing {plain(dest)}…"):
        try:
            r = db_call(kind.run, eng, dest, kind.params(**values), progress=False)
        except (ExportError, FileExistsError, ValueError) as e:
            st.error(plain(_page_words(str(e))))
        else:
            st.success(plain(r.summary()))


def _confirm() -> None:
    st.session_state["export_confirmed"] = True


def _cancel() -> None:
    st.session_state.pop("export_pending", None)


out = st.text_input("Destination", kind.folder, key=f"x_{kind.name}_out",
                    help=f"A folder; a relative path is under {exports_dir}.")
dest = _dest(out)
st.caption(f"Writes to **{plain(dest)}**" + (" — it exists and will be checked before anything is "
                                       "replaced" if dest.exists() else ""))

with st.form("export"):
    values = {f.name: _widget(f) for f in dataclasses.fields(kind.params)
              if f.metadata["page"] is not None}
    go = st.form_submit_button("Export", type="primary")

if go:
    st.session_state.pop("export_pending", None)
    holds_files = dest.is_dir() and any(dest.iterdir())
    if not holds_files:
        _run(dest, values)
    else:
        try:
            db_call(check_destination, dest, eng, kind.name)  # refused: nothing to confirm
        except ExportError as e:
            st.error(plain(_page_words(str(e))))
        else:
            st.session_state["export_pending"] = (kind.name, str(dest), values)
            st.session_state.pop("export_confirmed", None)

pending = st.session_state.get("export_pending")
if pending and pending[0] == kind.name:
    if st.session_state.pop("export_confirmed", False):
        st.session_state.pop("export_pending")
        _run(Path(pending[1]), pending[2])
    else:
        with st.container(border=True):
            st.warning(f"**{plain(pending[1])}** already holds an earlier {kind.title} export of this "
                       "database. Exporting again replaces it with the new one, once that is "
                       "complete.")
            left, right, _ = st.columns([1, 1, 4])
            left.button("Replace it", type="primary", key="export_replace", on_click=_confirm)
            right.button("Cancel", key="export_cancel", on_click=_cancel)

st.subheader("Recent exports", anchor=False)
rows = db_call(recent_exports, eng)
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
else:
    st.caption("No exports yet.")
