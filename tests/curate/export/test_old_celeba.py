"""old-celeba: verdict rules, counts, refusals, seeds, hashes, atomicity, the database record."""
from __future__ import annotations

import csv
import os

import pytest
from sqlalchemy import select

from curate.cli import main
from curate.export import common
from curate.export.common import ExportError
from curate.export.old_celeba import accepted, export_old_celeba
from db.engine import reading
from db.models import Export
from tests.helpers.labelled import ACCEPTED, label


def rows(folder):
    with open(folder / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_verdict_rules_single_overlap_adjudicated(labelled):
    got = {it.relpath: it.provenance for it in accepted(labelled.engine)}
    assert got == {"000001.jpg": "ana", "000002.jpg": "ana+luis",
                   "000004.jpg": "adjudicated by admin", "000006.jpg": "ana"}
    # 3: overlap disagree; 5: adjudicated reject; 7: undone; 8: overlap, one still to decide


def test_exclude_tag(labelled):
    got = [it.relpath for it in accepted(labelled.engine, ["two_faces"])]
    assert got == ["000001.jpg", "000002.jpg", "000004.jpg"]
    with pytest.raises(ExportError, match="unknown tag"):
        accepted(labelled.engine, ["bald"])


def test_export_copies_originals_and_records(labelled):
    out = labelled.tmp / "old"
    r = export_old_celeba(labelled.engine, out, count=4, progress=False)
    m = rows(out)
    assert [x["name"] for x in m] == ["000001.jpg", "000002.jpg", "000003.jpg", "000004.jpg"]
    assert [x["relpath"] for x in m] == list(ACCEPTED)
    for x in m:
        assert (out / x["name"]).read_bytes() == (labelled.root / x["relpath"]).read_bytes()
        assert x["image_id"] == str(labelled.ids[x["relpath"]])
        assert x["source"] == "celeba"
    assert r.counts == {"images": 4, "qualifying": 4}
    with reading(labelled.engine) as s:
        e = s.scalar(select(Export).where(Export.id == r.export_id))
    assert e.kind == "old_celeba" and e.path == str(out) and e.manifest_sha256 == r.manifest_sha256
    assert (out / "export.json").is_file()


def test_too_few_refused_with_count_then_allow_fewer(labelled):
    out = labelled.tmp / "old"
    with pytest.raises(ExportError, match=r"only 4 image\(s\) are accepted, fewer than --count 10"):
        export_old_celeba(labelled.engine, out, count=10, progress=False)
    assert not out.exists()
    r = export_old_celeba(labelled.engine, out, count=10, allow_fewer=True, progress=False)
    assert r.counts["images"] == 4


def test_seeded_sample_reproducible(labelled):
    a, b, c = (labelled.tmp / n for n in "abc")
    export_old_celeba(labelled.engine, a, count=2, seed=7, progress=False)
    export_old_celeba(labelled.engine, b, count=2, seed=7, progress=False)
    assert (a / "manifest.csv").read_bytes() == (b / "manifest.csv").read_bytes()
    picks = {tuple(x["relpath"] for x in rows(a))}
    for seed in range(8):
        export_old_celeba(labelled.engine, c, count=2, seed=seed, progress=False)
        picks.add(tuple(x["relpath"] for x in rows(c)))
    assert len(picks) > 1  # the seed does choose


def test_changed_and_vanished_files_listed(labelled):
    out = labelled.tmp / "old"
    (labelled.root / "000002.jpg").write_bytes(b"not the same bytes")
    os.remove(labelled.root / "000004.jpg")
    with pytest.raises(ExportError) as e:
        export_old_celeba(labelled.engine, out, count=4, progress=False)
    msg = str(e.value)
    assert "2 source file(s) vanished or changed" in msg
    assert "changed since ingest" in msg and "000002.jpg" in msg
    assert "vanished" in msg and "000004.jpg" in msg
    assert not out.exists()


def test_crash_mid_export_keeps_earlier_export(labelled, monkeypatch):
    out = labelled.tmp / "old"
    export_old_celeba(labelled.engine, out, count=4, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def boom(item):
        calls.append(item)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle
        return real(item)

    real = common.check_file
    monkeypatch.setattr(common, "check_file", boom)
    with pytest.raises(KeyboardInterrupt):
        export_old_celeba(labelled.engine, out, count=3, seed=1, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


def test_non_empty_destination_refused(labelled):
    out = labelled.tmp / "precious"
    out.mkdir()
    (out / "thesis.txt").write_text("do not lose")
    with pytest.raises(ExportError, match="not empty and is not an export this database recorded"):
        export_old_celeba(labelled.engine, out, count=1, progress=False)
    assert (out / "thesis.txt").read_text() == "do not lose"


def test_cli_refusal_exit_2(celeba_dir, tmp_path, capsys):
    from curate.workspace import Workspace
    from db.migrate import upgrade
    import shutil
    ws = Workspace.resolve(tmp_path / "ws")
    engine = ws.engine()
    upgrade(engine)
    shutil.copytree(celeba_dir, tmp_path / "celeba")
    label(engine, tmp_path / "celeba")
    rc = main(["--workspace", str(ws.root), "export", "old-celeba", str(tmp_path / "o"), "--count", "50"])
    assert rc == 2
    assert "error: only 4 image(s) are accepted, fewer than --count 50" in capsys.readouterr().err
    rc = main(["--workspace", str(ws.root), "export", "old-celeba", str(tmp_path / "o"),
               "--count", "2", "--exclude-tag", "two_faces", "deformity", "--seed", "3"])
    assert rc == 0 and len(rows(tmp_path / "o")) == 2
