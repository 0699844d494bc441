"""sketch-pairs: exact layout (photo left, sketch right), the 80/20 split, seeds, manifest."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from curate.export.common import ExportError
from curate.export.sketch_pairs import export_sketch_pairs, pair, split, square_photo
from trainers.common.sketch import sketch


def manifest(folder):
    with open(folder / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_pair_layout_exact():
    photo = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    p = pair(photo)
    assert p.shape == (32, 64, 3)
    assert np.array_equal(p[:, :32], photo)
    assert np.array_equal(p[:, 32:], sketch(photo, 15, 3, 10))


def test_square_photo_centre_crop():
    img = Image.new("RGB", (40, 60), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 40, 10))  # the top 10 rows fall outside the centre square
    img.paste((0, 0, 255), (0, 50, 40, 60))
    sq = square_photo(img, 16)
    assert sq.shape == (16, 16, 3) and sq[1:-1, :, 2].max() <= 1  # Lanczos taps reach past the edge


def test_split_counts_and_seed():
    s = split(10, 0.2, seed=1)
    assert s.count("val") == 2 and s.count("train") == 8
    assert split(10, 0.2, seed=1) == s
    assert len({tuple(split(10, 0.2, seed=k)) for k in range(10)}) > 1
    assert split(754, 0.2, 0).count("val") == 151  # the seed's 754 pairs


def test_export_layout_split_and_reproducible(faces_dir, tmp_path):
    out = tmp_path / "pairs"
    r = export_sketch_pairs(None, out, faces_dir, size=32, val=0.25, seed=3, workers=1,
                            progress=False)
    assert r.counts == {"pairs": 12, "train": 9, "val": 3}
    rows = manifest(out)
    assert [x["relpath"] for x in rows] == sorted(p.name for p in faces_dir.glob("*.jpg"))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == sorted(
        x["name"] for x in rows)
    assert len(list((out / "val").glob("*.jpg"))) == 3
    for x in rows[:3]:
        img = Image.open(out / x["name"])
        assert img.format == "JPEG" and img.size == (64, 32)
        a = np.asarray(img.convert("RGB"), np.int16)
        photo = square_photo(Image.open(faces_dir / x["relpath"]).convert("RGB"), 32)
        assert np.abs(a[:, :32] - photo).mean() < 4  # left: the photo (JPEG-close)
        right = a[:, 32:]
        assert np.abs(right[..., 0] - right[..., 1]).max() <= 12  # right: grey sketch
        assert len(x["content_hash"]) == 64
    again = tmp_path / "again"
    export_sketch_pairs(None, again, faces_dir, size=32, val=0.25, seed=3, workers=2,
                        progress=False)
    assert (again / "manifest.csv").read_bytes() == (out / "manifest.csv").read_bytes()
    assert all((again / x["name"]).read_bytes() == (out / x["name"]).read_bytes() for x in rows)


def test_from_export_uses_manifest_order(labelled):
    from curate.export.old_celeba import export_old_celeba
    old = labelled.tmp / "old"
    export_old_celeba(labelled.engine, old, count=4, progress=False)
    out = labelled.tmp / "pairs"
    export_sketch_pairs(labelled.engine, out, old, size=16, workers=1, progress=False)
    rows = manifest(out)
    assert [x["relpath"] for x in rows] == ["000001.jpg", "000002.jpg", "000004.jpg", "000006.jpg"]
    assert rows[2]["provenance"] == "adjudicated by admin"


def test_refusals(faces_dir, tmp_path):
    with pytest.raises(ExportError, match="power of two"):
        export_sketch_pairs(None, tmp_path / "o", faces_dir, size=100, progress=False)
    with pytest.raises(ExportError, match="--val"):
        export_sketch_pairs(None, tmp_path / "o", faces_dir, val=1.5, progress=False)
    with pytest.raises(ExportError, match="no images"):
        export_sketch_pairs(None, tmp_path / "o", tmp_path, progress=False)
    (tmp_path / "lmdb_like").mkdir()
    (tmp_path / "lmdb_like" / "x").write_text("x")
    with pytest.raises(ExportError, match="not empty"):
        export_sketch_pairs(None, tmp_path / "lmdb_like", faces_dir, progress=False)


def test_crash_mid_export_leaves_nothing(faces_dir, tmp_path, monkeypatch):
    from curate.export import sketch_pairs
    real, calls = sketch_pairs._work, []

    def boom(args):
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(args)

    monkeypatch.setattr(sketch_pairs, "_work", boom)
    with pytest.raises(KeyboardInterrupt):
        export_sketch_pairs(None, tmp_path / "pairs", faces_dir, size=16, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []
