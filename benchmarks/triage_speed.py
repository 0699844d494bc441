"""Triage speed: training on 10,000 decisions and scoring 202,599 images, as `curate triage
train` does them (targets: under 3 and under 5 minutes on a 2-core CPU).

The pool is CelebA-sized: `--faces` synthetic faces are drawn once, and each of the
`--images` files is one of them with one pixel changed (a distinct file, a distinct hash), so
building 202,599 files takes minutes instead of the hour drawing would. `--decisions` of them
get a decision from the ground truth. The pool is kept in `--cache` for later runs.

Prints one JSON line for training, one for scoring, each saying the device (CUDA when there
is one, else the CPU; `--images 5000 --decisions 1000` runs small anywhere).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `curate triage train` (triage/cli.py)

from PIL import Image  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from curate import synth  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from curate.users import add_user  # noqa: E402
from curate.workspace import Workspace  # noqa: E402
from db.engine import reading, writing_connection  # noqa: E402
from db.models import Decision, Image as ImageRow  # noqa: E402


def _variant(job: tuple[str, str, int]) -> None:
    """Write face `src` with pixel i changed as `dst` (atomically)."""
    src, dst, i = job
    img = np.asarray(Image.open(src).convert("RGB")).copy()
    h, w, _ = img.shape
    img[(i // w) % h, i % w] ^= np.uint8(1 + i % 255)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92)
    tmp = dst + ".tmp"
    Path(tmp).write_bytes(buf.getvalue())
    os.replace(tmp, dst)


def build(cache: Path, images: int, faces: int, decisions: int) -> tuple[Workspace, float]:
    folder = cache / f"speed-{images}-{faces}"
    ws = Workspace.resolve(folder / "ws")
    if (folder / "done").exists():
        return ws, float((folder / "done").read_text())
    t = time.perf_counter()
    base = folder / "faces"
    if not (base / "ground_truth.csv").exists():
        synth.write_celeba(base, faces, seed=21, workers=os.cpu_count() or 1)
    out = folder / "img"
    out.mkdir(parents=True, exist_ok=True)
    src = sorted((base / "img_align_celeba").glob("*.jpg"))
    jobs = [(str(src[i % faces]), str(out / f"{i + 1:06d}.jpg"), i) for i in range(images)
            if not (out / f"{i + 1:06d}.jpg").exists()]
    from trainers.common.workers import worker_pool
    with worker_pool(os.cpu_count() or 1) as pool:
        list(pool.map(_variant, jobs, chunksize=256))
    engine = ws.open()
    ingest(engine, out, "celeba", near_duplicate_bits=-1)  # variants of one face are near-duplicates
    ana = add_user(engine, "ana", "ana-password-1")
    truth = synth.read_truth(base / "ground_truth.csv")
    with reading(engine) as s:
        rows = s.execute(select(ImageRow.id, ImageRow.relpath).order_by(ImageRow.id)
                         .limit(decisions)).all()
    dec = []
    for image_id, rel in rows:
        t_ = truth[f"{(int(Path(rel).stem) - 1) % faces + 1:06d}.jpg"]
        dec.append(dict(image_id=image_id, annotator_id=ana, verdict=t_["expected_verdict"],
                        rule=t_["expected_rule"] or None, tags=t_["expected_tags"].split(),
                        seconds=2.0))
    with writing_connection(engine) as c:
        for i in range(0, len(dec), 5000):
            c.execute(insert(Decision), dec[i:i + 5000])
    engine.dispose()
    built = time.perf_counter() - t
    (folder / "done").write_text(f"{built:.1f}")
    return ws, built


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=202_599)
    p.add_argument("--faces", type=int, default=4000, help="distinct synthetic faces drawn")
    p.add_argument("--decisions", type=int, default=10_000)
    p.add_argument("--cache", default="/tmp/rostro-bench-triage")
    a = p.parse_args()
    ws, built = build(Path(a.cache), a.images, min(a.faces, a.images), a.decisions)
    import torch
    from curate.triage import store
    from curate.triage.config import TrainConfig
    from curate.triage.train import score_with_latest, train
    engine = ws.open()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    load = os.getloadavg()[0]
    t = time.perf_counter()
    report = train(engine, ws, TrainConfig(), score_after=False)
    train_s = time.perf_counter() - t
    print(json.dumps({"benchmark": "triage_train", "decisions": report.decisions_used,
                      "seconds": round(train_s, 1), "target_s": 180,
                      "epochs": report.figures.get("epochs"), "auc": report.figures.get("auc"),
                      "device": device, "threads": torch.get_num_threads(),
                      "load_before": round(load, 2), "pool_built_s": round(built, 1),
                      "small": a.images < 202_599}), flush=True)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    version, scored, unreadable, _ = score_with_latest(engine, ws)
    score_s = time.perf_counter() - t
    assert store.latest_model(engine).scored == scored
    print(json.dumps({"benchmark": "triage_score", "images": scored, "unreadable": unreadable,
                      "seconds": round(score_s, 1), "target_s": 300,
                      "images_per_s": round(scored / score_s, 1), "device": device,
                      "load_before": round(load, 2), "small": a.images < 202_599}), flush=True)


if __name__ == "__main__":
    main()
