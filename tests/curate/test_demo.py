"""The demo set builds deterministically, and its ground truth matches its attribute file."""
from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from curate import synth
from curate.celeba import read_attributes
from curate.cli import main
from db.engine import reading
from db.models import Annotator, Assignment, Image


def test_demo_workspace_is_ready_to_label(demo_workspace):
    engine = demo_workspace.open()
    with reading(engine) as s:
        assert s.scalar(select(func.count()).select_from(Image)) == 50
        names = set(s.scalars(select(Annotator.name)))
        assert names == {"admin", "ana", "luis"}
        assert s.scalar(select(func.count(func.distinct(Assignment.image_id)))) == 40


def test_ground_truth_matches_attributes(demo_workspace):
    celeba = demo_workspace.demo_dir / "celeba"
    truth = synth.read_truth(celeba / "ground_truth.csv")
    names, attrs = read_attributes(celeba / "list_attr_celeba.txt")
    assert len(names) == 40 and set(truth) == set(attrs)
    for f, row in truth.items():
        on = set(attrs[f])
        assert ("Young" in on) == (row["age"] < 40 or row["makeup_young"])
        assert ("Eyeglasses" in on) == row["glasses"]
        assert ("Wearing_Hat" in on) == row["hat"]
        assert ("Bald" in on) == row["bald"]
        assert ("Gray_Hair" in on) == (row["grey_hair"] and not row["bald"])
        verdict = row["expected_verdict"]
        assert verdict in ("accept", "reject")
        assert (verdict == "accept") == (row["age"] > 55 and row["looks_at_camera"] and
                                         (row["grey_hair"] or row["wrinkles"] or row["bald"]))
    peru = synth.read_truth(demo_workspace.demo_dir / "peruvian_face" / "ground_truth.csv")
    assert all(18 <= r["age"] <= 24 and not r["hat"] and not r["glasses"] and
               r["background"] == "white" for r in peru.values())


def test_same_seed_same_bytes(tmp_path):
    def digest(folder):
        return sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (folder / "img_align_celeba").iterdir())
    synth.write_celeba(tmp_path / "a", 6, seed=9)
    synth.write_celeba(tmp_path / "b", 6, seed=9)
    synth.write_celeba(tmp_path / "c", 6, seed=10)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_every_trait_appears_in_a_larger_set():
    import numpy as np
    truths = [synth.draw_truth(np.random.default_rng([0, i]), f"{i}.jpg") for i in range(400)]
    for trait in ("hat", "glasses", "text", "two_faces", "stretched", "grey_hair", "wrinkles",
                  "makeup_young", "bald"):
        assert any(getattr(t, trait) for t in truths), trait
    assert {t.pose for t in truths} == set(synth.POSES)
    assert {t.expected()[1] for t in truths} == {None, "too_young", "not_facing", "looks_young"}


def test_cli_demo_init_status_users(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert main(["--workspace", ws, "init"]) == 0
    assert main(["--workspace", ws, "demo", "--count", "12", "--peruvian", "4"]) == 0
    out = capsys.readouterr().out
    assert "admin/admin" in out and "12 CelebA-style" in out
    assert main(["--workspace", ws, "demo", "--if-missing"]) == 0
    assert "already there" in capsys.readouterr().out
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "eva-password-1"]) == 0
    assert main(["--workspace", ws, "users", "add", "eva", "--password", "eva-password-1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--workspace", ws, "status"]) == 0
    out = capsys.readouterr().out
    assert "source celeba: 12 images" in out and "3 annotator" in out
    assert main(["--workspace", ws, "ingest", str(tmp_path / "missing"), "--source", "x"]) == 2
    assert "image folder not found" in capsys.readouterr().err
