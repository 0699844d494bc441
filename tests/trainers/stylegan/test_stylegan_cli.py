"""Options and data are checked before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.stylegan import TINY, write_lmdb
from trainers.stylegan.__main__ import main
from trainers.runs import runs_root
from trainers.stylegan.config import Settings, parse_args


@pytest.mark.parametrize("bad, message", [
    (["--max_size", "48"], "power of two"),
    (["--init_size", "32", "--max_size", "16"], "larger than"),
    (["--batch", "0"], "--batch"),
    (["--lr", "-1"], "--lr"),
])
def test_impossible_options_fail_before_writing(tmp_path, tiny_lmdb, capsys, bad, message):
    out = tmp_path / "run"
    assert main([str(tiny_lmdb), *TINY, *bad, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_reference_option_names_and_defaults(tiny_lmdb):
    cfg, dry_run = parse_args([str(tiny_lmdb), "--init_size", "64", "--max_size", "64"])
    assert (cfg.batch, cfg.iterations, cfg.ckpt_every, cfg.sample_every, cfg.loss) == (16, 100_000, 10_000, 100, "r1")
    assert cfg.sizes() == [64] and dry_run is False
    assert parse_args([str(tiny_lmdb), "--init-size", "16", "--no-mixing", "--loss", "wgan-gp"])[0].mixing is False
    assert Path(cfg.out).parent == runs_root() and Path(cfg.out).name.startswith("stylegan-")


def test_dry_run_prints_config_and_writes_nothing(tmp_path, tiny_lmdb, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([str(tiny_lmdb), *TINY, "--dry-run"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["trainer"] == "stylegan" and cfg["max_size"] == 16
    assert Path(cfg["out"]).parent == runs_root() and Path(cfg["out"]).name.startswith("stylegan-")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["missing_size", "wrong_keys", "corrupt_jpeg", "no_length"])
def test_bad_lmdb_is_a_clear_error(tmp_path, capsys, kind):
    db = tmp_path / "bad.lmdb"
    if kind == "missing_size":
        write_lmdb(db, n=6, sizes=(8,))
        expect = "16-00000"
    elif kind == "wrong_keys":
        write_lmdb(db, n=6, key_fmt="{size}-{i}")
        expect = "missing"
    elif kind == "no_length":
        write_lmdb(db, n=6, length=b"six")
        expect = "length"
    else:
        import lmdb

        write_lmdb(db, n=6)
        env = lmdb.open(str(db), map_size=1 << 28)
        with env.begin(write=True) as txn:
            txn.put(b"8-00003", b"\xff\xd8" + b"\x00garbage" * 20 + b"\xff\xd9")
        env.close()
        expect = "8-00003"
    out = tmp_path / "run"
    assert main([str(db), *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expect in err
    assert not out.exists()


def test_reference_prepare_data_layout_trains(tmp_path):
    """An LMDB as the reference's prepare_data.py writes it: sizes 8..1024, map_size 1 TiB."""
    db = write_lmdb(tmp_path / "ref.lmdb", n=4, sizes=(8, 16, 32, 64, 128, 256, 512, 1024), map_size=1024**4)
    out = tmp_path / "run"
    args = [a if a not in ("20",) else "2" for a in TINY]
    assert main([str(db), *args, "--init_size", "16", "--max_size", "16", "--out", str(out)]) == 0
    assert (out / "checkpoints" / "000002.pt").exists()


def test_saved_config_reads_back_after_the_lmdb_moved(tmp_path, tiny_run):
    """Only training needs the LMDB; a run's config.json (and its checkpoints) read without it."""
    saved = json.loads((tiny_run / "config.json").read_text())
    assert saved["device"] == "auto"  # not chosen by hand: a resume on another machine picks again
    moved = {**saved, "lmdb": str(tmp_path / "moved-away.lmdb")}
    cfg = Settings.from_dict(moved)
    assert cfg.max_size == 16 and cfg.lmdb.endswith("moved-away.lmdb")
    with pytest.raises(ValueError, match="LMDB not found"):
        cfg.check_files()


def test_missing_lmdb_fails_before_writing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([str(tmp_path / "absent.lmdb"), *TINY, "--out", str(out)]) == 2
    assert "LMDB not found" in capsys.readouterr().err
    assert not out.exists()
