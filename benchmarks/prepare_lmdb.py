"""Images per second of `curate prepare` against a straightforward single-process Pillow loop.

Both run on the same CelebA-size (178×218) synthetic JPEGs, at sizes 8…128, in this script:
the baseline opens each file, resizes it to each size with LANCZOS (short side, then centre
crop, as the reference prepare_data.py does), encodes JPEG quality 100 and puts it in one LMDB
write transaction. Files are generated once with curate.synth and cached (default
/tmp/rostro_bench_celeba). Prints one JSON line: both rates and their ratio, the rate of
`prepare` with one worker (what the resampling alone gains), the 1-minute load average before
and after (other jobs on the machine starve the pool), and the setup.

    python benchmarks/prepare_lmdb.py [--count 2000] [--rounds 2] [--workers N]
    python benchmarks/prepare_lmdb.py --whole-process [--count 4000] [--rounds 3]

``--whole-process`` times each side as a whole command, start to exit, the way a user runs it:
``python -m curate prepare --from DIR OUT`` (a fresh workspace, so the database is created
too) against ``python -c`` running the plain loop above in one process. Rounds alternate; the
median of each is reported.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lmdb
from PIL import Image

SIZES = (8, 16, 32, 64, 128)


def images(cache: Path, count: int) -> list[Path]:
    from curate import synth
    from curate.export.common import image_files

    folder = cache / "img_align_celeba"
    if not folder.is_dir() or len(image_files(folder)) < count:
        shutil.rmtree(cache, ignore_errors=True)
        synth.write_celeba(cache, count, seed=0)
    return [folder / r for r in image_files(folder)[:count]]


def baseline(files: list[Path], out: Path) -> None:
    with lmdb.open(str(out), map_size=1 << 32, readahead=False) as env:
        with env.begin(write=True) as txn:
            for i, f in enumerate(files):
                img = Image.open(f).convert("RGB")
                w, h = img.size
                for s in SIZES:
                    nw, nh = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
                    r = img.resize((nw, nh), Image.LANCZOS)
                    top, left = int(round((nh - s) / 2.0)), int(round((nw - s) / 2.0))
                    buf = io.BytesIO()
                    r.crop((left, top, left + s, top + s)).save(buf, format="JPEG", quality=100)
                    txn.put(f"{s}-{i:05d}".encode(), buf.getvalue())
            txn.put(b"length", str(len(files)).encode())


BASELINE_PROCESS = """
import runpy, sys
from pathlib import Path
baseline = runpy.run_path({bench!r}, run_name="baseline_only")["baseline"]
baseline(sorted(Path({src!r}).iterdir()), Path({out!r}))
"""


def whole_process(src: Path, count: int, rounds: int, workers: int | None) -> dict:
    """Wall time of each side as a whole process (interpreter start to exit)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    sizes = ",".join(map(str, SIZES))
    base, ours, loads = [], [], []
    with tempfile.TemporaryDirectory(prefix="rostro-bench-") as tmp:
        for r in range(rounds):
            loads.append(os.getloadavg()[0])
            code = BASELINE_PROCESS.format(bench=str(Path(__file__).resolve()), src=str(src), out=f"{tmp}/base{r}")
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            base.append(time.perf_counter() - t)
            cmd = [sys.executable, "-m", "curate", "--workspace", f"{tmp}/ws{r}", "prepare", "--from", str(src),
                   "--sizes", sizes, f"{tmp}/ours{r}"] + (["--workers", str(workers)] if workers else [])
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ours.append(time.perf_counter() - t)
    loads.append(os.getloadavg()[0])
    b, o = statistics.median(base), statistics.median(ours)
    return {"benchmark": "prepare_lmdb --whole-process", "images": count, "sizes": list(SIZES),
            "baseline_s": round(b, 2), "prepare_s": round(o, 2), "ratio": round(b / o, 2),
            "baseline_rounds_s": [round(x, 2) for x in base], "prepare_rounds_s": [round(x, 2) for x in ours],
            "load_avg_1min": [round(x, 2) for x in loads], "workers": workers or os.cpu_count(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "pillow": Image.__version__}


def main() -> None:
    # Imported here: the whole-process baseline runs this file for `baseline` alone, with
    # nothing but Pillow and lmdb loaded, as a plain script would.
    from curate import synth
    from curate.export.lmdb import prepare

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=2000, help="images (default 2000)")
    p.add_argument("--rounds", type=int, default=2, help="alternating runs of each; best kept")
    p.add_argument("--workers", type=int, default=None, help="curate prepare processes (default all)")
    p.add_argument("--cache", default="/tmp/rostro_bench_celeba", help="where the JPEGs are kept")
    p.add_argument("--whole-process", action="store_true",
                   help="time both sides as whole processes (the command a user runs)")
    a = p.parse_args()
    files = images(Path(a.cache), a.count)
    src = Path(a.cache) / "bench_input"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir()
    for f in files:  # exactly these files, as a plain folder for `prepare`
        os.link(f, src / f.name)
    for f in files:
        f.read_bytes()  # warm the page cache for both
    if a.whole_process:
        print(json.dumps(whole_process(src, len(files), a.rounds, a.workers)))
        return
    load_before = os.getloadavg()[0]
    best_base = best_ours = best_one = float("inf")
    with tempfile.TemporaryDirectory(prefix="rostro-bench-") as tmp:
        for r in range(a.rounds):  # alternate, so a change in machine load hits all alike
            t = time.perf_counter()
            baseline(files, Path(tmp) / f"base{r}")
            best_base = min(best_base, time.perf_counter() - t)
            t = time.perf_counter()
            prepare(None, Path(tmp) / f"ours{r}", src, sizes=SIZES, workers=a.workers, progress=False)
            best_ours = min(best_ours, time.perf_counter() - t)
            t = time.perf_counter()
            prepare(None, Path(tmp) / f"one{r}", src, sizes=SIZES, workers=1, progress=False)
            best_one = min(best_one, time.perf_counter() - t)
    base_rate, ours_rate = len(files) / best_base, len(files) / best_ours
    one_rate = len(files) / best_one
    print(json.dumps({
        "benchmark": "prepare_lmdb", "images": len(files), "image_size": list(synth.CELEBA_SIZE),
        "sizes": list(SIZES), "baseline_img_per_s": round(base_rate, 1),
        "prepare_img_per_s": round(ours_rate, 1), "ratio": round(ours_rate / base_rate, 2),
        "prepare_1_worker_img_per_s": round(one_rate, 1),
        "ratio_1_worker": round(one_rate / base_rate, 2),
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "workers": a.workers or os.cpu_count(), "cpus": os.cpu_count(), "rounds": a.rounds,
        "python": platform.python_version(), "pillow": Image.__version__,
    }))


if __name__ == "__main__":
    main()
