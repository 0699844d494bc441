"""Settings: the seed's defaults, validation before anything is written, --dry-run."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest

from trainers.pix2pix.__main__ import main
from trainers.pix2pix.config import Pix2PixConfig, load_config, parse_args


def test_defaults_are_the_seeds_recipe():
    cfg = Pix2PixConfig(pairs="p")
    assert (cfg.size, cfg.epochs, cfg.batch) == (256, 150, 1)
    assert (cfg.lr, cfg.beta1, cfg.l1_lambda, cfg.optimizer) == (2e-4, 0.5, 100.0, "adam")
    assert (cfg.lr_drop_every, cfg.lr_drop_factor) == (50, 0.1)


def test_learning_rate_drops_after_every_block_of_epochs():
    cfg = Pix2PixConfig(pairs="p", lr=1e-3, lr_drop_every=50, lr_drop_factor=0.1)
    assert cfg.lr_at(1) == cfg.lr_at(50) == 1e-3
    assert cfg.lr_at(51) == pytest.approx(1e-4)
    assert cfg.lr_at(101) == pytest.approx(1e-5)
    assert Pix2PixConfig(pairs="p", lr_drop_every=0).lr_at(1000) == 2e-4


@pytest.mark.parametrize("field, value", [("size", 100), ("size", 1024), ("batch", 0),
                                          ("optimizer", "sgd"), ("val", 1.0), ("lr", 0.0)])
def test_bad_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field.replace("_", "-")):
        Pix2PixConfig(pairs="p", **{field: value})


def test_cli_rejects_bad_size_without_creating_anything(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="--size 96"):
        parse_args([str(tmp_path), "--size", "96", "--out", str(out)])
    assert main([str(tmp_path), "--size", "96", "--out", str(out)]) == 2
    assert "--size 96" in capsys.readouterr().err
    assert not out.exists()


def test_dry_run_prints_resolved_config_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "trainers.pix2pix", str(tmp_path), "--size", "64", "--batch", "4",
         "--optimizer", "radam", "--no-mirror", "--out", str(out), "--dry-run"],
        capture_output=True, text=True, check=True)
    printed = json.loads(proc.stdout)
    assert printed["trainer"] == "pix2pix"
    assert (printed["size"], printed["batch"], printed["optimizer"], printed["mirror"]) == (
        64, 4, "radam", False)
    assert not out.exists()
    assert "tensorflow" not in proc.stderr.lower()  # a dry run does not even load TensorFlow


def test_default_out_is_the_shared_run_name_pattern(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROSTRO_WORKSPACE", raising=False)
    cfg, dry = parse_args(["pairs", "--dry-run"])
    assert dry and re.fullmatch(re.escape(str(tmp_path.resolve() / "runs")) + r"/pix2pix-\d{8}-\d{6}",
                                cfg.out)
    assert not (tmp_path / "runs").exists()


def test_both_flag_spellings_are_accepted():
    dash, dry_dash = parse_args(["p", "--l1-lambda", "50", "--lr-drop-every", "5", "--no-mirror",
                                 "--grid-pairs", "2", "--dry-run"])
    under, dry_under = parse_args(["p", "--l1_lambda", "50", "--lr_drop_every", "5", "--no-mirror",
                                   "--grid_pairs", "2", "--dry_run"])
    assert dry_dash and dry_under
    assert dataclasses.replace(dash, out="") == dataclasses.replace(under, out="")
    assert (dash.l1_lambda, dash.lr_drop_every, dash.mirror, dash.grid_pairs) == (50.0, 5, False, 2)


def test_every_option_has_help_declared_beside_its_field():
    for f in dataclasses.fields(Pix2PixConfig):
        assert f.metadata.get("help"), f.name


def test_resume_fills_unspecified_options_from_the_saved_config(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    saved = Pix2PixConfig(pairs="somewhere/moved", out=str(run), size=32, epochs=2, batch=4)
    (run / "config.json").write_text(json.dumps(saved.to_json()))
    cfg, _ = parse_args(["p", "--out", str(run), "--resume", "--epochs", "5"])
    assert (cfg.size, cfg.batch, cfg.epochs, cfg.resume) == (32, 4, 5, True)
    assert load_config(run) == saved  # read back without its pairs folder


def test_trainer_never_imports_torch():
    code = ("import sys, trainers.pix2pix.__main__, trainers.pix2pix.train, "
            "trainers.pix2pix.predict; "
            "sys.exit(any(m.split('.')[0] == 'torch' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
