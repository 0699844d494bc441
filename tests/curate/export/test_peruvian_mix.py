"""peruvian-mix: counts and ratio, the sources it takes, refusals, seeds."""
from __future__ import annotations

import csv
from collections import Counter

import pytest

from curate.export.common import ExportError
from curate.export.old_celeba import export_old_celeba
from curate.export.peruvian_mix import export_peruvian_mix, split_count
from curate.ingest import ingest


def manifest(folder):
    with open(folder / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_split_count():
    assert split_count(8, 0.5, 4, 12, False) == (4, 4)
    assert split_count(5000, 0.5, 2500, 5000, False) == (2500, 2500)
    with pytest.raises(ExportError, match="needs 5 old_celebA and 5 Peruvian images; there are 4 and 12"):
        split_count(10, 0.5, 4, 12, False)
    assert split_count(10, 0.5, 4, 12, True) == (4, 4)
    assert split_count(10, 0.25, 1, 12, True) == (1, 3)
    assert split_count(6, 0.0, 0, 12, False) == (0, 6)


def test_mix_from_folder_and_db_verdicts(labelled, faces_dir):
    out = labelled.tmp / "mix"
    r = export_peruvian_mix(labelled.engine, out, peruvian=faces_dir, count=8, seed=1,
                            progress=False)
    assert r.counts == {"images": 8, "old_celeba": 4, "peruvian": 4}
    rows = manifest(out)
    assert Counter(x["source"] == "celeba" for x in rows) == {True: 4, False: 4}
    assert [x["name"] for x in rows] == [f"{i:06d}.jpg" for i in range(1, 9)]
    assert {x["relpath"] for x in rows if x["source"] == "celeba"} == {
        "000001.jpg", "000002.jpg", "000004.jpg", "000006.jpg"}
    again = labelled.tmp / "again"
    export_peruvian_mix(labelled.engine, again, peruvian=faces_dir, count=8, seed=1, progress=False)
    assert (again / "manifest.csv").read_bytes() == (out / "manifest.csv").read_bytes()
    export_peruvian_mix(labelled.engine, again, peruvian=faces_dir, count=8, seed=2, progress=False)
    assert (again / "manifest.csv").read_bytes() != (out / "manifest.csv").read_bytes()


def test_mix_from_source_name_and_old_export(labelled, faces_dir):
    ingest(labelled.engine, faces_dir, "peruvian_face", workers=1, progress=False)
    old = labelled.tmp / "old"
    export_old_celeba(labelled.engine, old, count=2, seed=0, progress=False)
    out = labelled.tmp / "mix"
    r = export_peruvian_mix(labelled.engine, out, peruvian="peruvian_face", old=old, count=8,
                            ratio=0.25, seed=0, progress=False)
    assert r.counts == {"images": 8, "old_celeba": 2, "peruvian": 6}
    rows = manifest(out)
    old_rel = {x["relpath"] for x in manifest(old)}
    assert {x["relpath"] for x in rows if x["source"] == "celeba"} == old_rel
    assert all(x["image_id"] and len(x["content_hash"]) == 64 for x in rows)


def test_refusals(labelled, faces_dir):
    out = labelled.tmp / "mix"
    with pytest.raises(ExportError, match="there are 4 and 12"):
        export_peruvian_mix(labelled.engine, out, peruvian=faces_dir, count=10, progress=False)
    with pytest.raises(ExportError, match="no source of that name"):
        export_peruvian_mix(labelled.engine, out, peruvian="nowhere", count=4, progress=False)
    r = export_peruvian_mix(labelled.engine, out, peruvian=faces_dir, count=10, allow_fewer=True,
                            progress=False)
    assert r.counts == {"images": 8, "old_celeba": 4, "peruvian": 4}
