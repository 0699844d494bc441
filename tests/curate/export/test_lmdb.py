"""curate prepare: keys, decoded sizes, the reference layout both ways, refusals, atomicity."""
from __future__ import annotations

import io
import shutil

import lmdb
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from curate.export import lmdb as lmdb_export
from curate.cli import main
from curate.export.common import ExportError
from curate.export.lmdb import prepare, resize_all
from curate.export.registry import parse_sizes
from db.engine import reading
from db.models import Export

from .lmdb_read import read_lmdb

SIZES = (8, 16, 32, 64)


def reference_resize(img: Image.Image, size: int) -> Image.Image:
    """prepare_data.py's resize_and_convert before encoding: torchvision resize(size) (short
    side to size, long side int(size·long/short), Lanczos) then center_crop(size), in Pillow."""
    w, h = img.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    r = img.resize((nw, nh), Image.Resampling.LANCZOS)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return r.crop((left, top, left + size, top + size))


def write_reference_lmdb(path, files, sizes=(8, 16, 32, 64, 128)):
    """The layout prepare_data.py writes: one transaction, keys f"{size}-{i:05d}", length."""
    with lmdb.open(str(path), map_size=1 << 28, readahead=False) as env:
        with env.begin(write=True) as txn:
            for i, f in enumerate(files):
                img = Image.open(f).convert("RGB")
                for s in sizes:
                    buf = io.BytesIO()
                    reference_resize(img, s).save(buf, format="jpeg", quality=100)
                    txn.put(f"{s}-{str(i).zfill(5)}".encode("utf-8"), buf.getvalue())
            txn.put("length".encode("utf-8"), str(len(files)).encode("utf-8"))


def test_keys_and_decoded_sizes(faces_dir, tmp_path):
    out = tmp_path / "lmdb"
    r = prepare(None, out, faces_dir, sizes="8,16,32,64", workers=1, progress=False)
    assert r.counts == {"images": 12, "sizes": 4}
    with lmdb.open(str(out), readonly=True, lock=False) as env, env.begin() as txn:
        keys = sorted(k for k, _ in txn.cursor())
        assert txn.get(b"length") == b"12"
    assert keys == sorted([b"length"] + [f"{s}-{i:05d}".encode() for s in SIZES for i in range(12)])
    db = read_lmdb(out)
    assert (db.length, db.sizes) == (12, SIZES)
    for s in SIZES:
        for i in (0, 11):
            assert db.image(s, i).shape == (s, s, 3)
            assert Image.open(io.BytesIO(db.jpeg(s, i))).format == "JPEG"
    assert db.jpeg(8, 12) is None  # no image past the length


@pytest.mark.parametrize("exact,max_diff,mean_diff", [(True, 1, 0.05), (False, 6, 1.0)])
def test_resampling_matches_reference(celeba_dir, exact, max_diff, mean_diff):
    for f in sorted(celeba_dir.glob("*.jpg"))[:4]:
        data = f.read_bytes()
        ours = resize_all(data, (8, 16, 32, 64, 128), exact=exact)
        img = Image.open(io.BytesIO(data)).convert("RGB")
        for s, im in ours.items():
            d = np.abs(np.asarray(im, np.int16) - np.asarray(reference_resize(img, s), np.int16))
            assert d.max() <= max_diff and d.mean() <= mean_diff, (f.name, s, d.max(), d.mean())


def test_reads_reference_layout(celeba_dir, tmp_path):
    ref = tmp_path / "ref"
    files = sorted(celeba_dir.glob("*.jpg"))[:3]
    write_reference_lmdb(ref, files)
    db = read_lmdb(ref)
    assert db.length == 3 and db.sizes == (8, 16, 32, 64, 128)
    assert db.image(128, 2).shape == (128, 128, 3)


def test_ours_decodes_like_reference_reader(faces_dir, tmp_path):
    """MultiResolutionDataset.__getitem__: f'{resolution}-{str(index).zfill(5)}', Image.open."""
    out = tmp_path / "lmdb"
    prepare(None, out, faces_dir, sizes=(8, 32), workers=2, progress=False)
    env = lmdb.open(str(out), max_readers=32, readonly=True, lock=False, readahead=False,
                    meminit=False)
    with env.begin(write=False) as txn:
        length = int(txn.get("length".encode("utf-8")).decode("utf-8"))
        img = Image.open(io.BytesIO(txn.get(f"32-{str(length - 1).zfill(5)}".encode("utf-8"))))
    env.close()
    assert length == 12 and img.size == (32, 32)


def test_pool_and_inline_give_same_bytes(faces_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ra = prepare(None, a, faces_dir, sizes=(8, 16), workers=1, progress=False)
    rb = prepare(None, b, faces_dir, sizes=(8, 16), workers=2, progress=False)
    assert ra.manifest_sha256 == rb.manifest_sha256
    x, y = read_lmdb(a), read_lmdb(b)
    assert all(x.jpeg(16, i) == y.jpeg(16, i) for i in range(12))


@pytest.mark.parametrize("sizes", ["8,12", "0", "8,4096", "a"])
def test_unsupported_sizes(sizes):
    with pytest.raises(ExportError):
        parse_sizes(sizes)


def test_cli_unsupported_size_and_missing_input(faces_dir, tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert main(["--workspace", ws, "prepare", str(tmp_path / "o"), "--from", str(faces_dir),
                 "--sizes", "8,24"]) == 2
    assert "error: size 24 is not supported" in capsys.readouterr().err
    assert main(["--workspace", ws, "prepare", str(tmp_path / "o"), "--from",
                 str(tmp_path / "nope")]) == 2
    assert "error: input not found" in capsys.readouterr().err
    assert main(["--workspace", ws, "prepare", str(tmp_path / "o"), "--from", str(faces_dir),
                 "--sizes", "8", "--workers", "1"]) == 0


def test_crash_mid_prepare_keeps_earlier_lmdb(faces_dir, tmp_path, monkeypatch, sqlite_engine):
    out = tmp_path / "lmdb"
    prepare(sqlite_engine, out, faces_dir, sizes=(8,), workers=1, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real, calls = lmdb_export._work, []

    def boom(args):
        calls.append(args)
        if len(calls) == 5:
            raise RuntimeError("disk on fire")
        return real(args)

    monkeypatch.setattr(lmdb_export, "_work", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        prepare(sqlite_engine, out, faces_dir, sizes=(8, 16), workers=1, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with reading(sqlite_engine) as s:  # the failed run's pending row is gone
        assert s.execute(select(Export.path, Export.state)).all() == [(str(out), "done")]


def test_changed_file_in_export_stops_prepare(labelled):
    from curate.export.old_celeba import export_old_celeba
    old = labelled.tmp / "old"
    export_old_celeba(labelled.engine, old, count=4, progress=False)
    (old / "000003.jpg").write_bytes((old / "000001.jpg").read_bytes())
    with pytest.raises(ExportError, match=r"changed since ingest .*000003\.jpg"):
        prepare(labelled.engine, labelled.tmp / "lmdb", old, sizes=(8,), workers=1, progress=False)
    assert not (labelled.tmp / "lmdb").exists()


def test_prepare_from_export_keeps_order_and_provenance(labelled):
    from curate.export.old_celeba import export_old_celeba
    old = labelled.tmp / "old"
    export_old_celeba(labelled.engine, old, count=4, progress=False)
    out = labelled.tmp / "lmdb"
    r1 = prepare(labelled.engine, out, old, sizes=(8,), workers=1, progress=False)
    text = (out / "manifest.csv").read_text()
    assert "00003,celeba,000006.jpg" in text and "adjudicated by admin" in text
    shutil.rmtree(out)
    r2 = prepare(labelled.engine, out, old, sizes=(8,), workers=1, progress=False)
    assert r1.manifest_sha256 == r2.manifest_sha256 and r1.export_id != r2.export_id
