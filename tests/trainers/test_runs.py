"""The run folder both trainers write and the galleries read (trainers.runs), and the one
settings convention of both trainers (trainers.cli_config)."""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from trainers import cli_config, runs
from trainers.pix2pix.config import Pix2PixConfig
from trainers.pix2pix.config import parse_args as pix2pix_args
from trainers.stylegan.config import Settings
from trainers.stylegan.config import parse_args as stylegan_args

TRAINERS = [(Settings, stylegan_args, "LMDB"), (Pix2PixConfig, pix2pix_args, "PAIRS")]


def test_one_default_run_name_pattern_for_both_trainers(tmp_path, monkeypatch):
    now = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    assert (runs.default_run_dir("stylegan", "runs", now=now).as_posix()
            == "runs/stylegan-20250304-050607")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROSTRO_WORKSPACE", raising=False)
    for (_, parse, positional), name in zip(TRAINERS, ("stylegan", "pix2pix")):
        cfg, _ = parse([positional])
        assert re.fullmatch(re.escape(str(tmp_path.resolve() / "runs")) + rf"/{name}-\d{{8}}-\d{{6}}",
                            cfg.out)
    assert list(tmp_path.iterdir()) == []  # parsing creates nothing


def test_runs_go_into_the_workspace_the_app_searches(tmp_path, monkeypatch):
    from curate.workspace import ENV_WORKSPACE, Workspace
    assert runs.ENV_WORKSPACE == ENV_WORKSPACE  # the trainers read the app's variable
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_WORKSPACE, raising=False)
    assert runs.runs_root() == tmp_path.resolve() / "runs"  # no workspace: ./runs
    (tmp_path / "workspace").mkdir()  # the app's default workspace is here
    assert runs.runs_root() == Workspace.resolve().runs_dir
    monkeypatch.setenv(ENV_WORKSPACE, str(tmp_path / "elsewhere"))  # a workspace set
    assert runs.runs_root() == Workspace.resolve().runs_dir == tmp_path / "elsewhere" / "runs"
    for (_, parse, positional), name in zip(TRAINERS, ("stylegan", "pix2pix")):
        out = Path(parse([positional])[0].out)
        assert out.parent == tmp_path / "elsewhere" / "runs" and out.name.startswith(f"{name}-")


@pytest.mark.parametrize("cls, parse, positional", TRAINERS)
def test_every_flag_in_both_spellings_with_help_beside_its_field(cls, parse, positional):
    parser = cli_config.build_parser(cls, "prog", "")
    options = {s for a in parser._actions for s in a.option_strings}
    assert {"--dry-run", "--dry_run"} <= options
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help"), f.name
        if f.metadata.get("positional"):
            continue
        assert {f"--{f.name}", f"--{f.name.replace('_', '-')}"} <= options, f.name
        if f.type in ("bool", bool):
            assert {f"--no-{f.name}", f"--no-{f.name.replace('_', '-')}"} <= options, f.name

    def argv(spell) -> list[str]:  # every option given once (values: the defaults)
        out = [positional, spell("dry_run")]
        for f in dataclasses.fields(cls):
            if f.metadata.get("positional") or f.name in ("out", "resume", "fid_inception"):
                continue
            if f.type in ("bool", bool):
                out.append(spell(f.name) if f.default else "--no-" + spell(f.name)[2:])
            else:
                out += [spell(f.name), str(f.default)]
        return out

    under, dash = parse(argv(lambda n: f"--{n}")), parse(argv(lambda n: f"--{n.replace('_', '-')}"))
    assert under[1] and dash[1]
    assert dataclasses.replace(under[0], out="") == dataclasses.replace(dash[0], out="")


def test_resume_of_another_trainers_run_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"trainer": "stylegan", "lmdb": "x"}))
    with pytest.raises(ValueError, match="not a pix2pix one"):
        pix2pix_args(["p", "--out", str(tmp_path), "--resume"])


def test_checkpoints_of_both_trainers_are_found_newest_first(tmp_path):
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    for name in ("000010.pt", "000020.pt", ".000030.pt.x1.tmp", "12.pt", "epoch-3.index",
                 "epoch-3.data-00000-of-00001", "epoch-12.index", "checkpoint"):
        (ck / name).write_bytes(b"")
    assert runs.checkpoints(tmp_path) == [(20, ck / "000020.pt"), (12, ck / "epoch-12"),
                                          (10, ck / "000010.pt"), (3, ck / "epoch-3")]
    assert runs.newest_checkpoint(tmp_path) == ck / "000020.pt"
    assert runs.checkpoints(tmp_path / "absent") == [] and runs.newest_checkpoint(tmp_path / "absent") is None
    assert runs.checkpoint_path(tmp_path, 7) == ck / "000007.pt"


def test_names_carry_the_zero_padded_step_and_old_pix2pix_runs_keep_epochs(tmp_path):
    assert runs.sample_path(tmp_path, "stylegan", 20) == tmp_path / "samples" / "000020.png"
    assert runs.sample_path(tmp_path, "pix2pix", 3) == tmp_path / "samples" / "0003.png"
    (tmp_path / "epochs").mkdir()  # a pix2pix run made before the shared layout
    assert runs.samples_dir(tmp_path, "pix2pix") == tmp_path / "epochs"
    assert runs.sample_path(tmp_path, "pix2pix", 3) == tmp_path / "epochs" / "0003.png"
    assert runs.samples_dir(tmp_path, "stylegan") == tmp_path / "samples"
    for name in ("0001.png", "0010.png", ".0011.png", "0002.png.tmp", "notes.png"):
        (tmp_path / "epochs" / name).write_bytes(b"")
    assert [s for s, _ in runs.list_steps(tmp_path / "epochs")] == [1, 10]


def test_config_and_metrics_round_trip_and_truncate(tmp_path):
    runs.write_config(tmp_path, {"trainer": "pix2pix", "size": 32})
    assert runs.is_run(tmp_path) and runs.read_config(tmp_path) == {"trainer": "pix2pix", "size": 32}
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    for epoch in (1, 2, 3):
        runs.append_metrics(tmp_path, {"epoch": epoch, "loss": 1.0 / epoch})
    runs.truncate_metrics(tmp_path, "epoch", 2)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError):
        runs.read_config(tmp_path)


def test_truncate_metrics_drops_torn_lines_keeps_the_checkpoints_row_and_replaces_the_file(tmp_path, caplog):
    path = tmp_path / runs.METRICS
    rows = [json.dumps({"iteration": i, "loss": 0.5}) for i in (1, 2, 3, 4)]
    path.write_bytes(("\n".join(rows[:3]) + "\nnot json\n" + rows[3] + "\n").encode()
                     + b'{"iteration": 5, "lo\xe2')  # torn mid-character by a crash
    inode = path.stat().st_ino
    runs.truncate_metrics(tmp_path, "iteration", 3)
    assert [json.loads(ln)["iteration"] for ln in path.read_text().splitlines()] == [1, 2, 3]
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert "line 4" in caplog.text and "line 6" in caplog.text  # each dropped line is logged
    runs.truncate_metrics(tmp_path / "absent", "iteration", 3)  # no file: nothing to do


def test_clean_leftovers_removes_temp_files_of_both_trainers_and_nothing_else(tmp_path):
    run = tmp_path / "run"
    keep = ["config.json", "metrics.jsonl", "samples/000010.png", "mixing/000010.png",
            "checkpoints/000010.pt", "checkpoints/epoch-2.index",
            "checkpoints/epoch-2.data-00000-of-00001", "checkpoints/checkpoint"]
    leftovers = [".config.json.ab12.tmp", "samples/.000020.png.x1.tmp", "mixing/.000020.png.y.tmp",
                 "checkpoints/.000020.pt.z9.tmp", "checkpoints/epoch-3.index.tempstate123",
                 "checkpoints/checkpoint.tmp8f2e", "epochs/.0003.png.q.tmp"]
    for name in keep + leftovers:
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(b"x")
    (run / "checkpoints" / "epoch-3_temp").mkdir()  # TensorFlow's sharded save in progress
    (run / "checkpoints" / "epoch-3_temp" / "part-00000-of-00001.index").write_bytes(b"x")
    outside = tmp_path / "outside.tmp"
    outside.mkdir()
    (run / "samples" / ".link.tmp").symlink_to(outside)  # removed as a link, never followed
    removed = runs.clean_leftovers(run)
    assert len(removed) == len(leftovers) + 2
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()) == sorted(keep)
    assert outside.is_dir()
