"""Export (admin): the CLI's export and prepare commands, calling the same functions.

The form is built from curate.export.registry, the table the CLI is built from: one widget per
params field that says how the page shows it (`page=`), starting at the field's default; the
fields without one keep their defaults.
"""
import dataclasses
from pathlib import Path

import streamlit as st

from curate.app.common import db_call, engine, require_admin, workspace
from curate.export import ExportError
from curate.export.common import recent_exports
from curate.export.registry import KINDS, shown

require_admin()
eng = engine()
exports_dir = workspace().exports_dir
st.title("Export", anchor=False)
st.caption(f"Folders are written under {exports_dir} unless an absolute path is given; an "
           "export is written to a temporary folder and renamed into place when complete.")

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
    return p if p.is_absolute() else exports_dir / p


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


with st.form("export"):
    out = st.text_input("Destination", kind.folder, key=f"x_{kind.name}_out")
    values = {f.name: _widget(f) for f in dataclasses.fields(kind.params)
              if f.metadata["page"] is not None}
    go = st.form_submit_button("Export", type="primary")

if go:
    dest = _dest(out)
    with st.spinner(f"Writing {dest}…"):
        try:
            r = db_call(kind.run, eng, dest, kind.params(**values), progress=False)
        except (ExportError, FileExistsError, ValueError) as e:
            st.error(str(e))
        else:
            st.success(r.summary())

st.subheader("Recent exports", anchor=False)
rows = db_call(recent_exports, eng)
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
else:
    st.caption("No exports yet.")
