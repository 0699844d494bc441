"""Ingest rate for CelebA-size JPEGs (178×218) into SQLite, images per second.

Targets: the whole of CelebA (202,599 images) in under 2 minutes, i.e. ≥ 1,700 images/s in
process; and (issue 21) ≥ 4,000 images/s on 12,000 images for the whole command,
`python -m curate ingest` from process start to exit on a fresh workspace.
Usage: python benchmarks/ingest.py [--count 20000] [--workers N] [--whole-process] [--repeat R]
Prints one JSON line. In process: `ingest()` on a database migrated beforehand, imports and
migrations not counted. --whole-process adds the command itself, started as a subprocess on a
fresh workspace each time and timed from just before its start to its exit, beside the
in-process figure of the same invocation (the baseline: both see the same machine). --repeat
runs each R times, alternating, and gives the best and the median of each. The load average
is read before and after. The images are generated once (distinct synthetic faces with
per-image noise, so every file has its own hash) and cached under $TMPDIR between runs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from curate import synth  # noqa: E402
from curate.ingest import ingest  # noqa: E402
from db import migrate  # noqa: E402
from db.engine import make_engine  # noqa: E402

BASES = 1000  # distinct drawn faces; each file is one of them moved, scaled, mirrored and tinted
FORMAT = 2  # bump when the generated images change, so a stale cache is not reused


def _write_chunk(args: tuple[str, int, int]) -> None:
    folder, start, stop = args
    bases = []
    for b in range(BASES):
        t = synth.draw_truth(np.random.default_rng([1, b]), "x")
        bases.append(synth.render(t, b))
    from PIL import Image, ImageOps
    for i in range(start, stop):
        path = Path(folder) / f"{i + 1:06d}.jpg"
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        img = bases[(i * 7919) % BASES]
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        scale = rng.uniform(0.85, 1.15)
        dx, dy = rng.uniform(-25, 25, 2)
        img = img.transform(img.size, Image.Transform.AFFINE,
                            (1 / scale, 0, dx, 0, 1 / scale, dy), Image.Resampling.BILINEAR,
                            fillcolor=tuple(int(v) for v in rng.integers(0, 255, 3)))
        arr = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, size=(1, 1, 3), dtype=np.int16)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=90)


def make_images(folder: Path, count: int, workers: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    have = sum(1 for _ in folder.glob("*.jpg"))
    if have >= count:
        return
    step = -(-count // (workers * 4))
    chunks = [(str(folder), s, min(count, s + step)) for s in range(0, count, step)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_chunk, chunks))


def in_process(folder: Path, workers: int):
    """(report, seconds) of `ingest()` on a freshly migrated SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        report = ingest(engine, folder, "celeba", workers=workers, progress=False)
        seconds = time.perf_counter() - t0
        engine.dispose()
    return report, seconds


def whole_process(folder: Path, workers: int) -> tuple[float, float]:
    """Seconds of `python -m curate --workspace FRESH ingest FOLDER` from start to exit, and
    the CPU seconds it and its workers used (a figure the other load on the machine sways less)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "curate", "--workspace", f"{tmp}/ws", "ingest", str(folder),
               "--source", "celeba", "--workers", str(workers)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or " 0 bad" not in done.stdout:
        raise SystemExit(f"the command failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=20_000, help="images to ingest (default 20000)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="decoding processes")
    p.add_argument("--whole-process", action="store_true",
                   help="also time `python -m curate ingest` from process start to exit")
    p.add_argument("--repeat", type=int, default=1, help="runs of each measurement (default 1)")
    a = p.parse_args()
    folder = Path(tempfile.gettempdir()) / f"rostro-bench-celeba-v{FORMAT}-{a.count}"
    make_images(folder, a.count, a.workers)
    load_before = _load()
    inside, whole, cpu = [], [], []
    for _ in range(a.repeat):
        report, seconds = in_process(folder, a.workers)
        inside.append(seconds)
        if a.whole_process:
            seconds, cpu_s = whole_process(folder, a.workers)
            whole.append(seconds)
            cpu.append(cpu_s)
    rate = report.added / min(inside)
    out = {
        "benchmark": "ingest", "images": report.added, "bad": len(report.bad),
        "duplicates": len(report.duplicates), "near_duplicates": len(report.near_duplicates),
        "seconds": round(min(inside), 2),
        "images_per_s": round(rate, 1), "images_per_s_median": round(
            report.added / statistics.median(inside), 1), "target_images_per_s": 1700,
        "projected_full_celeba_s": round(202_599 / rate, 1), "workers": a.workers,
        "cores": os.cpu_count(), "database": "sqlite", "repeat": a.repeat,
    }
    if a.whole_process:
        out.update({
            "whole_process_seconds": round(min(whole), 2),
            "whole_process_images_per_s": round(report.added / min(whole), 1),
            "whole_process_images_per_s_median": round(report.added / statistics.median(whole), 1),
            "whole_process_target_images_per_s": 4000,
            "whole_process_cpu_s": round(min(cpu), 2),
            "ratio_whole_to_in_process": round(min(inside) / min(whole), 3),
        })
    out["load_avg_before"], out["load_avg_after"] = load_before, _load()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
