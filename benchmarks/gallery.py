"""Gallery pages at full scale, server side (Streamlit AppTest runs each page script in-process).

- datasets: a 200,000-image table (CelebA size) with 20,000 queued images, 12,000 decisions;
  time to render a page of 60 thumbnails after the first visit (first page, a page deep in
  the table, and with a verdict filter on).
- runs: a StyleGAN run of 100,000 iterations with a grid every 100 (1,000 grids, 512×512 PNGs
  hard-linked to one file) and 1,000 metrics rows; time to move the iteration slider.
Target: under 0.5 s each. Prints one JSON line per measurement (median of --repeat runs; the
max is reported too). Usage: python benchmarks/gallery.py [--images 200000] [--repeat 7]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TARGET_S = 0.5
PAGE = 60


def logged_in(user_id: int, name: str, role: str):
    """A user with a real session in the workspace's database (pages check it on every run)."""
    from curate.app.common import User
    from curate.sessions import open_session
    from curate.workspace import Workspace
    return User(user_id, name, role, open_session(Workspace.resolve().open(), user_id))


def emit(name: str, times: list[float], target: float = TARGET_S, **extra) -> None:
    med = statistics.median(times)
    print(json.dumps({"name": name, "seconds": round(med, 4), "max_seconds": round(max(times), 4),
                      "runs": len(times), "target": target, "pass": med < target, **extra}),
          flush=True)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def build_table(ws, n: int, pages_with_files: list[int]) -> None:
    """n image rows in source `celeba`; the files of the given 1-based pages exist (JPEGs),
    the rest are missing (the page would show placeholders, which is cheaper, so not used)."""
    from PIL import Image as PILImage
    from sqlalchemy import insert, select

    from curate.users import add_user
    from db.engine import writing
    from db.models import Annotator, Assignment, Decision, Image, Source, Verdict

    root = ws.root / "celeba"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for p in pages_with_files:
        for i in range((p - 1) * PAGE + 1, p * PAGE + 1):
            arr = rng.integers(0, 255, (218 // 8, 178 // 8, 3), dtype=np.uint8)
            PILImage.fromarray(arr).resize((178, 218)).save(root / f"{i:06d}.jpg", quality=90)
    engine = ws.open()
    add_user(engine, "admin", "admin", admin=True)
    add_user(engine, "ana", "ana")
    add_user(engine, "luis", "luis")
    with writing(engine) as s:
        src = Source(name="celeba", root=str(root), attribute_names=["Young"])
        s.add(src)
        s.flush()
        for start in range(0, n, 20_000):
            s.execute(insert(Image), [dict(
                source_id=src.id, relpath=f"{i:06d}.jpg", content_hash=f"{i:064x}", phash=i, width=178,
                height=218, mode="RGB", file_size=9000, attributes=["Young"] if i % 3 else [],
                partition=0) for i in range(start + 1, min(n, start + 20_000) + 1)])
        ids = dict(s.execute(select(Annotator.name, Annotator.id)).all())
        # 10,000 images per annotator; ana decides 8,000 of hers, luis 4,000.
        s.execute(insert(Assignment), [dict(annotator_id=ids["ana"], image_id=i, position=i - 1)
                                       for i in range(1, 10_001)])
        s.execute(insert(Assignment), [dict(annotator_id=ids["luis"], image_id=i, position=i - 10_001)
                                       for i in range(10_001, 20_001)])
        rows = [dict(annotator_id=ids["ana"], image_id=i,
                     verdict=Verdict.accept if i % 4 else Verdict.reject,
                     rule=None if i % 4 else "too_young", tags=[]) for i in range(1, 8_001)]
        rows += [dict(annotator_id=ids["luis"], image_id=i, verdict=Verdict.accept, rule=None, tags=[])
                 for i in range(10_001, 14_001)]
        s.execute(insert(Decision), rows)
    engine.dispose()


def bench_datasets(tmp: Path, n: int, repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    from curate.workspace import Workspace

    deep = n // PAGE - 10
    ws = Workspace.resolve(tmp / "ws")
    t0 = time.perf_counter()
    build_table(ws, n, [1, deep])
    print(json.dumps({"setup": f"{n:,} images", "seconds": round(time.perf_counter() - t0, 1)}),
          file=sys.stderr)
    os.environ["ROSTRO_WORKSPACE"] = str(ws.root)
    at = AppTest.from_file(str(REPO / "curate/app/gallery_datasets.py"), default_timeout=600)
    at.session_state["user"] = logged_in(1, "admin", "admin")

    first = timed(at.run)
    assert not at.exception and len(at.get("image")) == PAGE, at.exception
    emit("datasets_first_visit_makes_60_thumbnails", [first], informational=True)
    emit("datasets_page_of_60_thumbnails", [timed(at.run) for _ in range(repeat)], images=n)

    at.number_input(key="ds_page").set_value(deep).run()  # makes that page's thumbnails
    assert len(at.get("image")) == PAGE and f"Page {deep:,}" in at.caption[0].value
    emit(f"datasets_page_{deep}_of_60_thumbnails", [timed(at.run) for _ in range(repeat)], images=n)

    first = timed(lambda: at.selectbox(key="ds_f_verdict").select("accept").run())
    assert len(at.get("image")) == PAGE, [e.value for e in at.error]
    emit("datasets_verdict_filter_first_view", [first], informational=True,
         note="computes every image's verdict once; later decisions only patch it")
    emit("datasets_page_of_60_with_verdict_filter", [timed(at.run) for _ in range(repeat)], images=n)

    from sqlalchemy import select

    from curate.decisions import record_decision
    from db.engine import reading
    from db.models import Annotator

    engine = ws.open()
    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
    times = []
    for k in range(repeat):  # someone labels between two views: the index is patched, not rebuilt
        record_decision(engine, ana, 9_000 + k, "accept")  # undecided images of ana's queue
        times.append(timed(at.run))
    emit("datasets_verdict_filter_after_a_new_decision", times, images=n)


def build_run(folder: Path, grids: int) -> None:
    from PIL import Image as PILImage

    (folder / "samples").mkdir(parents=True)
    (folder / "checkpoints").mkdir()
    (folder / "config.json").write_text(json.dumps({"trainer": "stylegan", "iterations": grids * 100}))
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    master = folder / "grid.png"
    PILImage.fromarray(grid).resize((512, 512), PILImage.BICUBIC).save(master)
    for k in range(1, grids + 1):
        os.link(master, folder / "samples" / f"{k * 100:06d}.png")
    with open(folder / "metrics.jsonl", "w") as f:
        for k in range(1, grids + 1):
            f.write(json.dumps({"iteration": k * 100, "size": 64, "loss_d": float(rng.random()),
                                "loss_g": float(rng.random()), "images_per_s": 800.0,
                                **({"swd": float(rng.random())} if k % 10 == 0 else {})}) + "\n")


def bench_runs(tmp: Path, grids: int, repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    from curate.gallery import runs as gr

    run = tmp / "runs" / "big"
    build_run(run, grids)
    os.environ["ROSTRO_RUNS"] = str(tmp / "runs")
    r = gr.read_run(run)
    emit("runs_list_1000_grids_cold", [timed(lambda: gr.list_grids(r))], informational=True)

    at = AppTest.from_file(str(REPO / "curate/app/gallery_runs.py"), default_timeout=600)
    at.session_state["user"] = logged_in(2, "ana", "annotator")
    first = timed(at.run)
    assert not at.exception and at.select_slider[0].value == grids * 100, at.exception
    emit("runs_first_visit", [first], informational=True)
    rng = np.random.default_rng(1)
    times = []
    for step in rng.integers(1, grids + 1, repeat) * 100:
        times.append(timed(lambda: at.select_slider[0].set_value(int(step)).run()))
        assert f"iteration {int(step):,} " in at.get("image")[0].proto.imgs[0].caption
    emit(f"runs_slider_switch_{grids}_grids", times, grids=grids)
    at.session_state["runs_tab"] = "Curves"
    at.run()
    assert len(at.get("vega_lite_chart")) == 3
    emit("runs_curves_tab", [timed(at.run) for _ in range(repeat)], informational=True,
         metrics_rows=grids)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=200_000, help="rows in the images table")
    p.add_argument("--grids", type=int, default=1_000, help="sample grids in the run")
    p.add_argument("--repeat", type=int, default=7, help="timed runs per measurement")
    a = p.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="gallery-bench-") as tmp:
        bench_runs(Path(tmp), a.grids, a.repeat)
        bench_datasets(Path(tmp), a.images, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
