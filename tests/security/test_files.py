"""Issue 19, points 4, 7 and 8: the Datasets page's manifest reader, special files (FIFO, device
node, symlink loop, a very deep tree) under ingest and sketch-pairs, and a queued image swapped
for a symlink to a private file — each tried as the attacker did."""
from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from curate import display, labeling, synth
from curate.assign import assign
from curate.export import ExportError
from curate.gallery import datasets as gd
from curate.imaging import BadImage
from curate.ingest import ingest
from curate.users import add_user
from curate.workspace import Workspace
from db.engine import reading
from db.models import Annotator
from tests.security.clirun import cli

SECRET_RGB = (255, 0, 255)  # the private picture: a magenta square


def _faces(root: Path, n: int = 3) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        t = synth.draw_truth(np.random.default_rng(i), f"{i:05d}.jpg")
        synth.render(t, i).save(root / t.file, quality=90)
    return root


def _private(tmp: Path) -> Path:
    (tmp / "private").mkdir(exist_ok=True)
    path = tmp / "private" / "secret.jpg"
    PILImage.new("RGB", (64, 64), SECRET_RGB).save(path)
    return path


# --- point 4: the Datasets page reads through the one manifest reader -------------------------
def _export_folder(tmp: Path, entries: list[str]) -> Path:
    folder = _faces(tmp / "export", 2)
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "source", "relpath", "image_id", "content_hash", "provenance"])
        for name in entries:
            w.writerow([name, "celeba", "x.jpg", "", "", ""])
    return folder


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_the_datasets_page_reads_nothing_outside_an_export(sqlite_engine, tmp_path, how):
    # An absolute path or `../` in a manifest showed a private image to the admin.
    secret = _private(tmp_path)
    folder_entries = {"dotdot": ["00000.jpg", "../private/secret.jpg"],
                      "absolute": ["00000.jpg", str(secret)],
                      "symlink": ["00000.jpg", "link.jpg"]}[how]
    folder = _export_folder(tmp_path, folder_entries)
    (folder / "link.jpg").symlink_to(secret)
    dataset = gd.Dataset("export:1", "crafted", path=str(folder), kind="old_celeba")
    try:
        page = gd.export_page(sqlite_engine, dataset)
    except ExportError as e:
        assert "leaves the folder" in str(e)
        return
    outside = [t.path for t in page.tiles
               if not os.path.realpath(t.path).startswith(str(folder.resolve()) + os.sep)]
    assert outside == [], "the page would show files outside the export"


# --- point 7: regular files only ----------------------------------------------------------------
def _ingest_cli(tmp: Path, folder: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return cli("--workspace", tmp / "ws", "ingest", folder, "--source", "s", "--workers", "1",
                   timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`curate ingest` did not finish in {timeout} s (hung on a special file)")


def test_a_fifo_named_jpg_does_not_hang_ingest(tmp_path):
    folder = _faces(tmp_path / "in")
    os.mkfifo(folder / "pipe.jpg")
    r = _ingest_cli(tmp_path, folder)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "3 added" in r.stdout and "pipe.jpg" in r.stdout and "FIFO" in r.stdout


def test_a_fifo_does_not_hang_sketch_pairs_from(tmp_path):
    folder = _faces(tmp_path / "in")
    os.mkfifo(folder / "pipe.jpg")
    try:
        r = cli("--workspace", tmp_path / "ws", "export", "sketch-pairs", tmp_path / "pairs",
                "--from", folder, "--size", "32", "--workers", "1", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("`curate export sketch-pairs --from` hung on a FIFO")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "pipe.jpg (not a regular file)" in r.stderr  # skipped and reported
    assert len(list((tmp_path / "pairs").rglob("*.jpg"))) == 3


def test_a_device_node_named_jpg_is_not_read(tmp_path):
    # A device node named `.jpg` was read until the kernel killed the ingest at 23 GB.
    folder = _faces(tmp_path / "in")
    try:
        os.mknod(folder / "zero.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    # Bounded in case it is read anyway: the ingest fails instead of eating the machine's memory.
    prefix = ("prlimit", f"--as={6 * 1024 ** 3}", "--") if shutil.which("prlimit") else ()
    try:
        r = cli("--workspace", tmp_path / "ws", "ingest", folder, "--source", "s",
                "--workers", "1", prefix=prefix, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("`curate ingest` kept reading a device node")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "zero.jpg: refused" in r.stdout and "character device" in r.stdout


def test_a_symlink_loop_is_reported_not_a_traceback(tmp_path):
    folder = _faces(tmp_path / "in")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "a.jpg").symlink_to(folder / "b.jpg")
    (folder / "b.jpg").symlink_to(folder / "a.jpg")
    (folder / "sub").symlink_to(folder / "sub")
    r = _ingest_cli(tmp_path, folder)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "3 added" in r.stdout and "loop.jpg" in r.stdout


def test_a_very_deep_tree_is_walked(tmp_path):
    # A 30,000-deep tree raised RecursionError in os.walk; 1,500 levels (below PATH_MAX) are
    # past Python's recursion limit all the same.
    folder = _faces(tmp_path / "in")
    fds = [os.open(folder, os.O_RDONLY)]
    try:
        for _ in range(1500):
            os.mkdir("d", dir_fd=fds[-1])
            fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
        r = _ingest_cli(tmp_path, folder)
    finally:  # bottom up: pytest's own clean-up (shutil.rmtree) recurses too
        for parent in reversed(fds[:-1]):
            os.close(fds.pop())
            os.rmdir("d", dir_fd=parent)
        os.close(fds.pop())
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "3 added" in r.stdout


# --- point 8: a queued image swapped for a private file is not shown -----------------------------
@pytest.mark.parametrize("swap", ["symlink", "other bytes"])
def test_a_swapped_source_file_is_not_shown(tmp_path, swap):
    secret = _private(tmp_path)
    folder = _faces(tmp_path / "in", 2)
    ws = Workspace.resolve(tmp_path / "ws")
    engine = ws.open()
    ingest(engine, folder, "s", workers=1, progress=False)
    add_user(engine, "ana", "ana")
    assign(engine, per_annotator=2, overlap=0.0, order="random", seed=0)
    with reading(engine) as s:
        ana = s.scalar(select(Annotator.id).where(Annotator.name == "ana"))
    item = labeling.items(engine, ana, 0, 1)[0]
    target = Path(str(item.path))
    target.unlink()
    if swap == "symlink":
        target.symlink_to(secret)
    else:
        PILImage.new("RGB", (64, 64), SECRET_RGB).save(target)
    display.DISPLAY.clear()
    with pytest.raises(BadImage):
        display.display_image(item.path)


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path):
    folder = _faces(tmp_path / "in")
    (folder / "huge.jpg").write_bytes(b"\xff\xd8" + b"\0" * 300_000)
    try:
        r = cli("--workspace", tmp_path / "ws", "ingest", folder, "--source", "s", "--workers", "1",
                prefix=("env", "ROSTRO_MAX_FILE_BYTES=200000"), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("`curate ingest` did not finish")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "huge.jpg: refused" in r.stdout and "over the cap of 200,000" in r.stdout
