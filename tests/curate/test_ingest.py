"""Ingest: every good file in, every bad file reported with a reason, re-runs idempotent."""
from __future__ import annotations

import os
import shutil
import zlib
import struct

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from curate import synth
from curate.ingest import ingest
from curate.status import problems, status
from db.engine import reading
from db.models import Image, IngestProblem, Source


def _png_bomb(path, side=20_000):
    """A valid PNG header claiming side×side pixels (400 M), with a tiny compressed body."""
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    raw = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def _face(seed=0):
    t = synth.draw_truth(np.random.default_rng(seed), "x.jpg")
    return synth.render(t, seed)


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    good = {}
    for i in range(6):
        _face(i).save(root / f"good{i}.jpg", quality=90)
        good[f"good{i}.jpg"] = "RGB"
    _face(10).save(root / "sub" / "g.png")
    _face(11).save(root / "sub" / "deeper" / "g.webp")
    _face(12).convert("CMYK").save(root / "cmyk.jpg")
    _face(13).convert("P").save(root / "palette.png")
    rgba = _face(14).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(root / "alpha.png")
    arr16 = (np.asarray(_face(15).convert("L"), dtype=np.uint16) * 257)
    PILImage.fromarray(arr16).save(root / "sixteen.png")
    good.update({"sub/g.png": 1, "sub/deeper/g.webp": 1, "cmyk.jpg": 1, "palette.png": 1,
                 "alpha.png": 1, "sixteen.png": 1})
    # bad ones
    (root / "zero.jpg").write_bytes(b"")
    (root / "notanimage.jpg").write_text("hello, I am text")
    data = (root / "good0.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    _png_bomb(root / "bomb.png")
    outside = tmp_path / "outside.jpg"
    _face(20).save(outside)
    os.symlink(outside, root / "escape.jpg")
    os.symlink(tmp_path, root / "escape_dir")
    shutil.copy(root / "good1.jpg", root / "sub" / "copy_of_good1.jpg")
    (root / "readme.txt").write_text("not looked at")
    return root, good


def test_ingest_takes_good_files_and_reports_each_bad_one(engine, messy_folder):
    root, good = messy_folder
    report = ingest(engine, root, "messy", workers=2, progress=False)
    with reading(engine) as s:
        rels = set(s.scalars(select(Image.relpath)))
    assert rels == set(good)
    bad = dict(report.bad)
    assert set(bad) == {"zero.jpg", "notanimage.jpg", "truncated.jpg", "corrupt.png", "bomb.png",
                        "escape.jpg", "escape_dir"}
    assert "empty" in bad["zero.jpg"]
    assert "not an image" in bad["notanimage.jpg"]
    assert "truncated" in bad["truncated.jpg"]
    assert "bomb" in bad["bomb.png"]
    assert "leaves the image root" in bad["escape.jpg"]
    assert "leaves the image root" in bad["escape_dir"]
    assert report.duplicates == [("sub/copy_of_good1.jpg", "good1.jpg")]
    st = status(engine)
    assert st.sources[0]["problems"]["bad"] == 7
    assert st.sources[0]["problems"]["duplicate"] == 1
    assert len(problems(engine, "bad")) == 7
    with reading(engine) as s:
        modes = dict(s.execute(select(Image.relpath, Image.mode)).all())
    assert modes["cmyk.jpg"] == "CMYK" and modes["palette.png"] == "P"


def test_reingest_is_idempotent_adds_new_and_reports_vanished(engine, tmp_path):
    root = tmp_path / "c"
    synth.write_celeba(root, 8, seed=1)
    images = root / "img_align_celeba"
    first = ingest(engine, images, "celeba", progress=False, workers=1)
    assert first.added == 8 and first.with_attributes == 8
    again = ingest(engine, images, "celeba", progress=False)
    assert (again.added, again.already, again.vanished) == (0, 8, [])
    (images / "000003.jpg").unlink()
    _face(99).save(images / "new.jpg")
    third = ingest(engine, images, "celeba", progress=False)
    assert third.added == 1 and third.vanished == ["000003.jpg"]
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Image)) == 9  # vanished rows are kept
        gone = s.scalar(select(Image.missing_since).where(Image.relpath == "000003.jpg"))
        assert gone is not None
        assert s.scalar(select(func.count()).select_from(IngestProblem).where(
            IngestProblem.kind == "vanished")) == 1


def test_celeba_attributes_and_partition_are_read(engine, tmp_path):
    truths = synth.write_celeba(tmp_path / "c", 12, seed=4)
    ingest(engine, tmp_path / "c" / "img_align_celeba", "celeba", progress=False, workers=1)
    with reading(engine) as s:
        rows = {r.relpath: r for r in s.scalars(select(Image))}
        names = s.scalar(select(Source.attribute_names))
    assert len(names) == 40 and names[-1] == "Young"
    for t in truths:
        attrs = set(rows[t.file].attributes)
        expected = {a for a, v in t.celeba_attributes().items() if v == 1}
        assert attrs == expected
    assert [rows[t.file].partition for t in truths] == [0] * 9 + [1] + [2] * 2


def test_bad_attribute_file_is_a_clear_error(engine, tmp_path):
    from curate.celeba import AttributeFileError
    synth.write_celeba(tmp_path / "c", 2)
    (tmp_path / "c" / "list_attr_celeba.txt").write_text("2\nYoung Bald\n000001.jpg 1\n")
    with pytest.raises(AttributeFileError, match="expected a file name and 2 values"):
        ingest(engine, tmp_path / "c" / "img_align_celeba", "celeba", progress=False)
    assert status(engine).sources == []  # a failed ingest leaves no source behind


def test_near_duplicates_are_reported(engine, tmp_path):
    root = tmp_path / "n"
    root.mkdir()
    img = _face(5)
    img.save(root / "a.jpg", quality=95)
    img.save(root / "b.jpg", quality=60)  # same picture, other bytes
    _face(6).save(root / "c.jpg")
    report = ingest(engine, root, "n", progress=False, workers=1)
    assert report.added == 3
    assert [(a, b) for a, b, _ in report.near_duplicates] == [("b.jpg", "a.jpg")] or \
        [(a, b) for a, b, _ in report.near_duplicates] == [("a.jpg", "b.jpg")]


def test_missing_folder_is_a_clear_error(engine, tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        ingest(engine, tmp_path / "nope", "x", progress=False)


def _folder(path, seeds):
    path.mkdir(parents=True)
    for i in seeds:
        _face(i).save(path / f"{i:03d}.jpg")
    return path


def _racing(monkeypatch, trigger, rival):
    """Run `rival()` when the ingest of folder `trigger` starts decoding: after it has read what
    the database holds and before it writes, as a concurrent ingest would."""
    import curate.ingest as ingest_mod
    real = ingest_mod._probe_all
    fired = []

    def probe(root, rels, workers, progress):
        if root == trigger.resolve() and not fired:  # once: the rival's own ingest passes here
            fired.append(True)
            rival()
        yield from real(root, rels, workers, progress)
    monkeypatch.setattr(ingest_mod, "_probe_all", probe)


def _hash_counts(engine):
    with reading(engine) as s:
        return s.execute(select(func.count(), func.count(Image.content_hash.distinct()))
                         .select_from(Image)).one()


def test_identical_files_ingested_at_once_from_two_folders_are_recorded_once(engine, tmp_path,
                                                                          monkeypatch):
    a = _folder(tmp_path / "a", range(4))
    b = tmp_path / "b"
    shutil.copytree(a, b)
    _face(9).save(b / "own.jpg")
    _racing(monkeypatch, b, lambda: ingest(engine, a, "a", workers=1, progress=False))
    report = ingest(engine, b, "b", workers=1, progress=False)
    assert report.added == 1
    assert sorted(report.duplicates) == [(f"{i:03d}.jpg", f"{i:03d}.jpg (a)") for i in range(4)]
    assert tuple(_hash_counts(engine)) == (5, 5)
    assert len(problems(engine, "duplicate")) == 4


def test_one_folder_ingested_twice_at_once_is_recorded_once(engine, tmp_path, monkeypatch):
    a = _folder(tmp_path / "a", range(4))
    _racing(monkeypatch, a, lambda: ingest(engine, a, "a", workers=1, progress=False))
    report = ingest(engine, a, "a", workers=1, progress=False)
    assert (report.added, report.already, report.duplicates) == (0, 4, [])
    assert tuple(_hash_counts(engine)) == (4, 4)
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 1


def test_a_failed_ingest_leaves_no_source(engine, tmp_path, monkeypatch):
    import curate.ingest as ingest_mod
    a = _folder(tmp_path / "a", range(3))

    def broken(*args):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(ingest_mod, "_record", broken)
    with pytest.raises(RuntimeError):
        ingest(engine, a, "a", workers=1, progress=False)
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0


def test_an_empty_folder_records_nothing(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    report = ingest(engine, tmp_path / "empty", "e", progress=False)
    assert not report.recorded and "nothing recorded" in report.summary()
    assert status(engine).sources == []


def test_file_names_that_are_not_utf8_are_reported_and_skipped(engine, tmp_path):
    root = _folder(tmp_path / "u", range(2))
    raw = os.fsencode(root)
    for name in (b"caf\xe9.jpg", b"d\xff"):
        if name.endswith(b".jpg"):
            with open(raw + b"/" + name, "wb") as f:
                _face(5).save(f, format="JPEG")
        else:
            os.mkdir(raw + b"/" + name)
            with open(raw + b"/" + name + b"/x.jpg", "wb") as f:
                _face(6).save(f, format="JPEG")
    report = ingest(engine, root, "u", workers=1, progress=False)
    assert report.added == 2
    assert sorted(n for n, _ in report.bad) == ["caf\\xe9.jpg", "d\\xff/x.jpg"]
    assert all("not valid UTF-8" in why for _, why in report.bad)
    report.summary().encode("utf-8")  # printable
    assert sorted(p[1] for p in problems(engine, "bad")) == ["caf\\xe9.jpg", "d\\xff/x.jpg"]


def test_phash_thresholds_on_the_median_as_before(tmp_path):
    """The hash must not change for recorded images: np.partition's 32nd value is np.median's."""
    from curate.imaging import _DCT, phash

    def by_median(img):
        a = np.asarray(img.convert("L").resize((32, 32), PILImage.Resampling.BILINEAR),
                       dtype=np.float64)
        low = (_DCT @ a @ _DCT.T)[:8, :8].ravel()
        value = int(np.packbits(low > np.median(low[1:])).view(">u8")[0])
        return value - (1 << 64) if value >= (1 << 63) else value

    rng = np.random.default_rng(3)
    images = [_face(i) for i in range(20)]
    images += [PILImage.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
               for _ in range(20)]
    images += [PILImage.new("RGB", (178, 218), (v, v, v)) for v in (0, 128, 255)]  # all ties
    for img in images:
        assert phash(img) == by_median(img)


def test_decoding_started_before_the_database_gives_the_same_report(engine, messy_folder,
                                                                    tmp_path):
    from curate.probing import EarlyProbes
    from db import migrate
    from db.engine import make_engine
    root, good = messy_folder
    (root / "many").mkdir()
    for i in range(70):  # enough files for a worker pool
        _face(100 + i).save(root / "many" / f"{i:03d}.jpg", quality=90)
    with EarlyProbes(root, 2) as early:
        assert early.started
        report = ingest(engine, root, "messy", progress=False, early=early)
    plain_engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    migrate.upgrade(plain_engine)
    plain = ingest(plain_engine, root, "messy", workers=2, progress=False)

    def rows(e):
        with reading(e) as s:
            return s.execute(select(Image.relpath, Image.content_hash, Image.phash, Image.width,
                                    Image.height, Image.mode, Image.file_size)
                             .order_by(Image.id)).all()
    assert report.added == plain.added == len(good) + 70
    assert (report.bad, report.duplicates, report.near_duplicates) == (
        plain.bad, plain.duplicates, plain.near_duplicates)
    assert rows(engine) == rows(plain_engine)
    plain_engine.dispose()


def test_early_results_of_files_recorded_meanwhile_are_not_taken_again(engine, tmp_path):
    from curate.probing import EarlyProbes
    a = _folder(tmp_path / "a", range(70))
    with EarlyProbes(a, 2) as early:
        rival = ingest(engine, a, "a", workers=1, progress=False)  # after the decoding started
        report = ingest(engine, a, "a", progress=False, early=early)
    assert rival.added == 70
    assert (report.added, report.already, report.duplicates) == (0, 70, [])
    assert tuple(_hash_counts(engine)) == (70, 70)


def test_the_ingest_command_decodes_before_sqlalchemy_loads_and_imports_nothing_heavy(tmp_path):
    """On a new workspace the worker pool starts before SQLAlchemy is imported, and the
    command never imports the app's, the exports' or the trainers' libraries."""
    import subprocess
    import sys
    from pathlib import Path
    folder = _folder(tmp_path / "imgs", range(70))
    repo = Path(__file__).resolve().parents[2]
    code = f"""
import runpy, sys
import trainers.common.workers as workers
real = workers.worker_pool
def pool(n):
    print("sqlalchemy at pool start:", "sqlalchemy" in sys.modules)
    return real(n)
workers.worker_pool = pool
sys.argv = ["curate", "--workspace", {str(tmp_path / "ws")!r}, "ingest", {str(folder)!r},
            "--source", "x", "--workers", "2"]
try:
    runpy.run_module("curate", run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
heavy = ("pandas", "pyarrow", "torch", "tensorflow", "streamlit", "lmdb", "matplotlib", "scipy")
print("heavy:", [m for m in heavy if m in sys.modules])
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(repo)), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "70 added" in r.stdout
    assert "sqlalchemy at pool start: False" in r.stdout
    assert "heavy: []" in r.stdout
    # The command closed its connections before exiting: the database file holds every commit.
    assert not (tmp_path / "ws" / "rostro.db-wal").exists()


@pytest.mark.parametrize("bits", [0, 2, 4, 7])
def test_close_pairs_are_every_pair_within_the_distance(bits):
    """The banded search finds what comparing all pairs finds: groups small and large (over
    SMALL_GROUP: 100 copies of one hash), new against old and new against new."""
    from curate.ingest import SMALL_GROUP, close_pairs
    rng = np.random.default_rng(bits)
    hashes = []
    for base in rng.integers(0, 2**63, 60):
        for _ in range(rng.integers(1, 9)):
            h = int(base)
            for bit in rng.integers(0, 64, rng.integers(0, 7)):
                h ^= 1 << int(bit)
            hashes.append(h)
    hashes += [12345] * (SMALL_GROUP + 36)
    hashes = np.array(hashes, dtype=np.uint64)
    is_new = rng.random(len(hashes)) < 0.6
    dist = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    expected = {(a, m) for a, m in zip(*np.nonzero(dist <= bits))
                if is_new[a] and a != m and not (is_new[m] and m < a)}
    assert close_pairs(hashes, is_new, bits) == {(int(a), int(m)) for a, m in expected}
