"""Sketch to face: upload a photo or a drawn sketch; a pix2pix checkpoint rebuilds the face.

A photo is first turned into a sketch by the export's effect (Photocopy + Posterize, as the
sketch pairs were made); a sketch is used as it is. Any logged-in user. The TensorFlow worker
process does the work (curate.gallery.remote: this server never imports TensorFlow); results
are cached on disk per checkpoint and upload. Checkpoints come only from runs under the run
roots (curate.gallery.runs).
"""
import streamlit as st

from curate.app.common import db_call, engine, require_login, workspace
from curate.app.text import plain
from curate.gallery import generators as gm
from curate.gallery import remote
from curate.gallery import runs as gr
from trainers.common.sketch import MIN_VISIBLE_SIZE, too_small


user = require_login()
st.title("Sketch to face", anchor=False)

roots = db_call(gr.roots_for, engine(), workspace().runs_dir)  # never a folder typed by a user
found = [r for r in gr.discover_runs(roots) if r.trainer == "pix2pix"]
choices = {f"{label} — epoch {ep}": (r, prefix)  # run names only, never a server path
           for label, r in gr.labels(found, admin=user.is_admin).items()
           for ep, prefix in gm.checkpoints(r)}
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
    checkpoint = gm.checked_checkpoint(run, checkpoint)  # still inside its root
except ValueError as e:
    st.error("This checkpoint cannot be loaded: "
             + plain(e if user.is_admin else gr.without_roots(str(e), roots)))
    st.stop()
with st.spinner("Rebuilding…"):
    try:
        got = remote.sketch_to_face(remote.cache_dir(workspace().root), checkpoint,
                                    upload.getvalue(), upload.name, is_sketch)
    except remote.WorkerError as e:
        why = plain(e if user.is_admin else gr.without_roots(str(e), roots))
        st.error({"bad_image": f"That file cannot be used: {why}",
                  "checkpoint": f"This checkpoint cannot be loaded: {why}"}.get(
                      e.kind, f"The face could not be rebuilt: {why}"))
        st.stop()

c1, c2, c3 = st.columns(3)
c1.image(got.photo, caption="uploaded", width="stretch")
if not is_sketch and too_small(got.size):  # the effect's output is blank white there
    c2.warning(f"At this model's {got.size} px the sketch effect leaves nothing to see (it "
               f"needs {MIN_VISIBLE_SIZE} px or more), so the model rebuilds from a blank "
               "sketch. Train at 64 px or more, or upload a drawn sketch and tick the toggle.")
else:
    c2.image(got.sketch, caption="sketch" + ("" if is_sketch else " (the export's effect)"),
             width="stretch")
c3.image(got.face, caption=f"rebuilt at {got.size} px", width="stretch")
st.download_button("Download the rebuilt face (PNG)", got.face_png, file_name="rebuilt.png",
                   mime="image/png", key="sketch_dl")
