"""Export (admin): the CLI's export and prepare commands, calling the same functions."""
import streamlit as st

from curate.app.common import db_call, engine, require_admin, workspace
from curate.export.common import ExportError, recent_exports
from curate.export.old_celeba import export_old_celeba
from curate.export.peruvian_mix import export_peruvian_mix
from curate.export.sketch_pairs import export_sketch_pairs
from curate.export.lmdb import prepare
from curate.rules import TAGS

require_admin()
eng = engine()
exports_dir = workspace().exports_dir
st.title("Export", anchor=False)
st.caption(f"Folders are written under {exports_dir} unless an absolute path is given; an "
           "export is written to a temporary folder and renamed into place when complete.")

KINDS = {
    "old_celebA": "CelebA images accepted under the rules",
    "peruvian_mix": "seeded mix of peruvian_face and old_celebA",
    "sketch pairs": "photo | sketch pairs, split into train/ and val/",
    "LMDB": "multi-resolution LMDB for the StyleGAN trainer",
}
kind = st.radio("What", list(KINDS), format_func=lambda k: f"{k} — {KINDS[k]}", key="export_kind")


def _dest(name: str):
    from pathlib import Path
    p = Path(name.strip()).expanduser()
    return p if p.is_absolute() else exports_dir / p


with st.form("export"):
    if kind == "old_celebA":
        out = st.text_input("Destination", "old_celebA", key="x_out_old")
        count = st.number_input("Images", min_value=1, value=2500, key="x_count_old")
        exclude = st.multiselect("Leave out images tagged", [t.key for t in TAGS], key="x_excl")
        allow = st.checkbox("Take fewer when fewer qualify", key="x_allow_old")
    elif kind == "peruvian_mix":
        out = st.text_input("Destination", "peruvian_mix", key="x_out_mix")
        peruvian = st.text_input("peruvian_face source name or folder", "peruvian_face", key="x_peru")
        old = st.text_input("old_celebA export folder (empty: every accepted image)", "", key="x_old")
        count = st.number_input("Images", min_value=2, value=5000, key="x_count_mix")
        ratio = st.slider("Share of old_celebA", 0.0, 1.0, 0.5, 0.05, key="x_ratio")
        allow = st.checkbox("Take fewer when fewer qualify", key="x_allow_mix")
    elif kind == "sketch pairs":
        out = st.text_input("Destination", "sketch_pairs", key="x_out_pairs")
        src = st.text_input("From (an export folder or a folder of images)", "", key="x_src_pairs")
        size = st.selectbox("Size", [64, 128, 256, 512], index=2, key="x_size")
        val = st.slider("Validation share", 0.0, 0.5, 0.2, 0.05, key="x_val")
    else:
        out = st.text_input("Destination", "faces.lmdb", key="x_out_lmdb")
        src = st.text_input("From (an export folder or a folder of images)", "", key="x_src_lmdb")
        sizes = st.text_input("Sizes (powers of two)", "8,16,32,64", key="x_sizes")
    seed = st.number_input("Seed", min_value=0, value=0, key="x_seed")
    go = st.form_submit_button("Export", type="primary")

if go:
    dest = _dest(out)
    with st.spinner(f"Writing {dest}…"):
        try:
            if kind == "old_celebA":
                r = db_call(export_old_celeba, eng, dest, count=int(count), exclude_tags=exclude,
                            seed=int(seed), allow_fewer=allow, progress=False)
            elif kind == "peruvian_mix":
                r = db_call(export_peruvian_mix, eng, dest, peruvian=peruvian.strip(),
                            old=_dest(old) if old.strip() else None, count=int(count),
                            ratio=float(ratio), seed=int(seed), allow_fewer=allow, progress=False)
            elif kind == "sketch pairs":
                r = db_call(export_sketch_pairs, eng, dest, _dest(src), size=int(size),
                            val=float(val), seed=int(seed), progress=False)
            else:
                r = db_call(prepare, eng, dest, _dest(src), sizes=sizes, progress=False)
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
