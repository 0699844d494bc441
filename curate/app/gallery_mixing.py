"""Style mixing: a StyleGAN checkpoint's mixing grid and an interpolation strip (any user).

Rows take the coarse (4–8 px: pose, face shape), middle (16–32 px: features, hair) or fine
(64 px and up: colours) styles from the face at the top of each column, as in the seed
write-up's peruvian_mix figures. The torch worker process draws them (curate.gallery.remote:
this server never imports torch), on the GPU when there is one, else on the CPU; results are
cached on disk per checkpoint and seeds. Checkpoints come only from runs under the run roots
(curate.gallery.runs) and load as data (weights-only); a refused one gets a message.
"""
import streamlit as st

from curate.app.common import db_call, engine, require_login, workspace
from curate.app.text import plain
from curate.gallery import generators as gm
from curate.gallery import remote
from curate.gallery import runs as gr

user = require_login()
st.title("Style mixing", anchor=False)

roots = db_call(gr.roots_for, engine(), workspace().runs_dir)  # never a folder typed by a user
found = [r for r in gr.discover_runs(roots) if r.trainer == "stylegan"]
choices = {f"{label} — iteration {it:,}": (r, path)  # run names only, never a server path
           for label, r in gr.labels(found, admin=user.is_admin).items()
           for it, path in gm.checkpoints(r)}
if not choices:
    st.info("No StyleGAN checkpoints found: train one with `python -m trainers.stylegan LMDB`, "
            "into the workspace's runs/ folder, or ask an admin to add the folder that holds it "
            "(Runs page, Run folders).")
    st.stop()
run, ckpt = choices[st.selectbox("Checkpoint", list(choices), key="mix_ckpt")]
try:
    ckpt = gm.checked_checkpoint(run, ckpt)  # again, right before loading: still inside its root
except ValueError as e:
    st.error(plain(e if user.is_admin else gr.without_roots(str(e), roots)))
    st.stop()
cache = remote.cache_dir(workspace().root)

for name, default in (("mix_sources", "1, 2, 3"), ("mix_styles", "4, 5, 6, 7")):
    st.session_state.setdefault(name, default)
c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="bottom")
sources_text = c1.text_input("Source seeds (rows)", key="mix_sources",
                             help=f"Up to {gm.MAX_SEEDS} whole numbers, separated by commas.")
styles_text = c2.text_input("Style seeds (columns)", key="mix_styles")


def _randomise():
    st.session_state["mix_sources"] = ", ".join(map(str, gm.random_seeds(3)))
    st.session_state["mix_styles"] = ", ".join(map(str, gm.random_seeds(4)))


c3.button("Random", icon=":material/casino:", on_click=_randomise, key="mix_random")

try:
    sources, styles = gm.parse_seeds(sources_text), gm.parse_seeds(styles_text)
except ValueError as e:
    st.error(plain(e))
    st.stop()

st.subheader("Mixing grid", anchor=False)
st.caption("Top row: the style faces. Then three blocks of rows, one row per source face "
           "(first column): coarse, middle and fine styles taken from the column's face.")
with st.spinner("Generating the mixing grid…"):
    try:
        grid = remote.mixing_grid(cache, ckpt, sources, styles)
    except remote.WorkerError as e:
        why = plain(e if user.is_admin else gr.without_roots(str(e), roots))
        st.error(f"This checkpoint cannot be loaded: {why}" if e.kind == "checkpoint"
                 else f"The grid could not be made: {why}")
        st.stop()
st.image(grid, caption=f"sources {sources} × styles {styles}", width="stretch")
st.download_button("Download the grid (PNG)", grid, file_name=f"mixing-{'-'.join(map(str, sources))}"
                   f"-x-{'-'.join(map(str, styles))}.png", mime="image/png", key="mix_dl")

st.subheader("Interpolation", anchor=False)
c1, c2, c3 = st.columns(3)
a = c1.number_input("From seed", 0, gm.MAX_SEED, value=sources[0], key="mix_a")
b = c2.number_input("To seed", 0, gm.MAX_SEED, value=styles[0], key="mix_b")
steps = c3.slider("Steps", 2, 16, 8, key="mix_steps")
with st.spinner("Generating the strip…"):
    try:
        strip = remote.interpolation(cache, ckpt, int(a), int(b), int(steps))
    except remote.WorkerError as e:
        st.error("The strip could not be made: "
                 + plain(e if user.is_admin else gr.without_roots(str(e), roots)))
        st.stop()
st.image(strip, caption=f"seed {a} → seed {b}, {steps} steps", width="stretch")
st.download_button("Download the strip (PNG)", strip, file_name=f"interpolation-{a}-{b}.png",
                   mime="image/png", key="mix_strip_dl")
