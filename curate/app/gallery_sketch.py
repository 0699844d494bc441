"""Sketch to face: upload a photo or a drawn sketch; a pix2pix checkpoint rebuilds the face.

A photo is first turned into a sketch by the export's effect (Photocopy + Posterize, as the
sketch pairs were made); a sketch is used as it is. Any logged-in user. TensorFlow is imported
only when a face is first rebuilt. Checkpoints come only from runs under the run roots
(curate.gallery.runs).
"""
import streamlit as st

from curate.app.common import db_call, engine, require_login, workspace
from curate.gallery import generators as gm
from curate.gallery import runs as gr
from curate.imaging import BadImage

SHOW_PX = 256  # small model outputs are enlarged to about this many pixels


@st.cache_resource(show_spinner=False, max_entries=2)
def _generator(checkpoint: str, mtime: float):  # mtime: a rewritten checkpoint is reloaded
    return gm.load_pix2pix(checkpoint)


require_login()
st.title("Sketch to face", anchor=False)

roots = db_call(gr.roots_for, engine(), workspace().runs_dir)  # never a folder typed by a user
found = [r for r in gr.discover_runs(roots) if r.trainer == "pix2pix"]
choices = {f"{r.label} — epoch {ep}": (r, prefix) for r in found for ep, prefix in gm.checkpoints(r)}
if not choices:
    st.info("No pix2pix checkpoints found: train one with `python -m trainers.pix2pix PAIRS`, "
            "into the workspace's runs/ folder, or ask an admin to add the folder that holds it "
            "(Runs page, Run folders).")
    st.stop()
run, checkpoint = choices[st.selectbox("Checkpoint", list(choices), key="sketch_ckpt")]

upload = st.file_uploader("A photo of a face, or a drawn sketch", type=["jpg", "jpeg", "png", "webp"],
                          key="sketch_upload")
is_sketch = st.toggle("It is a sketch already (skip the sketch effect)", key="sketch_is_sketch")
if upload is None:
    st.info("Upload an image to see its sketch and the face the model rebuilds from it.")
    st.stop()

try:
    rgb = gm.decode_upload(upload.getvalue(), upload.name)
except BadImage as e:
    st.error(f"That file cannot be used: {e}")
    st.stop()

with st.spinner("Loading the model…"):
    try:
        checkpoint = gm.checked_checkpoint(run, checkpoint)  # still inside its root
        generator, config = _generator(checkpoint, gm.mtime(f"{checkpoint}.index"))
    except (FileNotFoundError, ValueError) as e:
        st.error(f"This checkpoint cannot be loaded: {e}")
        st.stop()
with st.spinner("Rebuilding…"):
    drawn, face = gm.sketch_to_face(generator, rgb, is_sketch)

c1, c2, c3 = st.columns(3)
c1.image(rgb, caption="uploaded")
c2.image(gm.enlarge(drawn, SHOW_PX), caption="sketch" + ("" if is_sketch else " (the export's effect)"))
c3.image(gm.enlarge(face, SHOW_PX), caption=f"rebuilt at {config.size} px")
st.download_button("Download the rebuilt face (PNG)", gm.png_bytes(face), file_name="rebuilt.png",
                   mime="image/png", key="sketch_dl")
