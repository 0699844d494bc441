"""Run folders and gallery pages for the gallery tests (and benchmarks/label_latency.py):

- `make_run`: a run folder as the trainers write it, by hand (fast);
- `build_gallery`: a workspace made with the real tools at the tiniest sizes (CPU), once per
  test process: the demo set (40 CelebA-style + 10 peruvian faces, users admin/ana/luis) with a
  few decisions; exports old-celeba (the accepted images), sketch-pairs of the peruvian faces at
  32 px, and the LMDB prepared from them at 8 and 16 px; runs/ with a StyleGAN run (8 → 16 px,
  6 iterations) and a pix2pix run (32 px, 2 epochs) trained by `train_runs`;
- `page`, `run_page`, `user`: a gallery page under AppTest, logged in;
- `checkpoint_asking_for`: a torch checkpoint whose pickle asks for a global of the caller's
  choosing (what a refused checkpoint's error message shows).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from curate.app.common import User
from curate.sessions import open_session
from curate.users import add_user
from curate.workspace import Workspace
from db.engine import reading
from db.models import Annotator, Assignment, Image as ImageRow
from tests.helpers import REPO
from trainers import runs as layout

TIMEOUT_S = 120
STYLEGAN_ARGS = ["--init_size", "8", "--max_size", "16", "--phase", "3", "--batch", "4",
                 "--iterations", "6", "--ckpt_every", "3", "--sample_every", "2", "--log_every", "1",
                 "--swd_every", "3", "--swd_images", "8", "--sample_n", "4", "--max_channels", "16",
                 "--latent_dim", "16", "--mapping_layers", "2", "--seed", "1", "--device", "cpu"]
PIX2PIX_ARGS = ["--size", "32", "--epochs", "2", "--batch", "4", "--grid-pairs", "2"]


@dataclass
class Gallery:
    """What `build_gallery` made."""

    ws: Workspace
    users: dict[str, int]  # name → id
    decided: dict[str, int]  # what was recorded: "accept" / "reject" → image id
    exports: dict[str, Path]  # kind → folder
    stylegan: Path  # run folder
    pix2pix: Path  # run folder


def _label(engine) -> dict[str, int]:
    """ana accepts her first queue image, rejects her second (too young, tag two_faces)."""
    from curate.decisions import record_decision

    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
        queue = list(s.scalars(select(Assignment.image_id).where(Assignment.annotator_id == ana)
                               .order_by(Assignment.position)))
        # Only images in no other queue, so ana's decision alone settles the verdict.
        shared = set(s.scalars(select(Assignment.image_id).where(Assignment.annotator_id != ana)))
    mine = [i for i in queue if i not in shared]
    record_decision(engine, ana, mine[0], "accept")
    record_decision(engine, ana, mine[1], "reject", rule="too_young")
    record_decision(engine, ana, mine[2], "accept", tags=["two_faces"])
    return {"accept": mine[0], "reject": mine[1], "tagged": mine[2]}


def train_runs(ws: Workspace, lmdb: Path, pairs: Path) -> tuple[Path, Path]:
    """A tiny StyleGAN run (from `lmdb`) and pix2pix run (from `pairs`) in ws/runs/, trained
    side by side by `python -m trainers.<name>` on the CPU; their folders."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    sg, p2p = ws.runs_dir / "stylegan-tiny", ws.runs_dir / "pix2pix-tiny"
    jobs = [
        subprocess.Popen([sys.executable, "-m", "trainers.stylegan", str(lmdb), *STYLEGAN_ARGS,
                          "--out", str(sg)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "trainers.pix2pix", str(pairs), *PIX2PIX_ARGS,
                          "--out", str(p2p)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT),
    ]
    for job in jobs:
        out, _ = job.communicate(timeout=600)
        assert job.returncode == 0, out.decode(errors="replace")[-3000:]
    return sg, p2p


_built: dict[str, Gallery] = {}


def build_gallery(tmp_path_factory) -> Gallery:
    """The gallery workspace, built once per test process (the browser test shares it)."""
    if "gallery" in _built:
        return _built["gallery"]
    from curate.demo import build_demo
    from curate.export.old_celeba import export_old_celeba
    from curate.export.sketch_pairs import export_sketch_pairs
    from curate.export.lmdb import prepare

    ws = Workspace.resolve(tmp_path_factory.mktemp("gallery") / "ws")
    engine = ws.open()
    build_demo(ws, engine, count=40, peruvian=10, seed=3)
    decided = _label(engine)
    exports = ws.exports_dir
    export_old_celeba(engine, exports / "old_celeba", count=2, allow_fewer=True, progress=False)
    export_sketch_pairs(engine, exports / "sketch_pairs", ws.demo_dir / "peruvian_face", size=32,
                        val=0.2, workers=1, progress=False)
    prepare(engine, exports / "peru.lmdb", ws.demo_dir / "peruvian_face", sizes="8,16", workers=1,
            progress=False)
    sg, p2p = train_runs(ws, exports / "peru.lmdb", exports / "sketch_pairs")
    with reading(engine) as s:
        users = dict(s.execute(select(Annotator.name, Annotator.id)).all())
        assert s.scalar(select(ImageRow.id).limit(1)) is not None
    engine.dispose()
    _built["gallery"] = Gallery(ws, users, decided, {"old_celeba": exports / "old_celeba",
                                                     "sketch_pairs": exports / "sketch_pairs"}, sg, p2p)
    return _built["gallery"]


def page(script: str, user: User | None) -> AppTest:
    """An AppTest of a gallery page (curate/app/<script>), logged in as `user`."""
    at = AppTest.from_file(str(REPO / "curate" / "app" / script), default_timeout=TIMEOUT_S)
    if user is not None:
        at.session_state["user"] = user
    return at


def user(g: Gallery, name: str) -> User:
    """`name` logged in, with a real session in the database of the workspace the app opens
    now (the gallery's, or another a test points ROSTRO_WORKSPACE at: the user is added there)."""
    ws = Workspace.resolve()
    engine = g.ws.engine() if ws.root == g.ws.root else ws.open()
    with reading(engine) as s:
        uid = s.scalar(select(Annotator.id).where(Annotator.name == name))
    if uid is None:
        uid = add_user(engine, name, name, admin=name == "admin")
    return User(uid, name, "admin" if name == "admin" else "annotator", open_session(engine, uid))


def make_run(folder: Path, trainer: str = "stylegan", grids: int = 3, rows: int = 5) -> Path:
    """A run folder as the trainers write it, with `grids` tiny PNGs and `rows` metrics."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"trainer": trainer, "seed": 1}))
    key = layout.step_key(trainer)
    grid_dir = folder / layout.SAMPLES
    grid_dir.mkdir()
    for i in range(1, grids + 1):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(grid_dir / layout.step_name(trainer, i * 100, ".png"))
    with open(folder / "metrics.jsonl", "w") as f:
        for i in range(1, rows + 1):
            f.write(json.dumps({key: i * 100, "loss_d": 1.0 / i, "loss_g": 2.0, "images_per_s": 50.0,
                                **({"swd": 0.5} if i % 2 == 0 else {})}) + "\n")
    return folder


def run_page(script: str, user: User, **state) -> AppTest:
    """`page` with `state` in its session state, run once."""
    at = page(script, user)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def checkpoint_asking_for(path: Path, global_name: str) -> None:
    """A torch zip file whose pickle asks for `os.<global_name>` (any text may name a global)."""
    import torch

    buf = io.BytesIO()
    torch.save({"G_ema": {}, "config": {}, "iteration": 10}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = b"\x80\x02cos\n" + global_name.encode() + b"\n)R."
            dst.writestr(info, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
