"""Issue 13 for the trainers and the galleries, performed as the attack or fault and asserted
to fail safely:

1. a crafted pickle checkpoint runs nothing, whichever loader meets it;
2. an annotator cannot make the galleries read outside the run roots; an admin adds a root;
6. a torn metrics line resumes, keeping the checkpoint's own row;
8. a full disk during training gives one error line and leaves no temp file.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curate.gallery import runs as gr
from tests.helpers import REPO
from tests.helpers import stylegan as helpers
from tests.helpers.curate import unescaped
from tests.helpers.gallery import make_run, run_page
from trainers import runs

SMALL = [*helpers.TINY, "--init_size", "8", "--max_size", "8", "--swd_every", "0", "--device", "cpu"]


def small(iterations: int, ckpt_every: int) -> list[str]:
    """The tiny StyleGAN settings at 8 px with the given schedule (later flags win)."""
    return [*SMALL, "--iterations", str(iterations), "--ckpt_every", str(ckpt_every),
            "--sample_every", str(ckpt_every)]


class Payload:
    """What an attacker pickles: unpickling it would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "the crafted checkpoint ran code"


def crafted_run(folder: Path, marker: Path, config: dict | None = None) -> Path:
    """A run folder whose checkpoint is a crafted pickle (torch's zip format)."""
    import torch

    (folder / runs.CHECKPOINTS).mkdir(parents=True)
    runs.write_config(folder, config or {"trainer": "stylegan", "max_size": 8})
    ckpt = runs.checkpoint_path(folder, 10)
    torch.save({"G_ema": Payload(marker), "config": {}, "iteration": 10}, ckpt)
    return ckpt


@pytest.fixture(scope="module")
def lmdb(tmp_path_factory) -> Path:
    return helpers.write_lmdb(tmp_path_factory.mktemp("data") / "tiny.lmdb")


def test_every_stylegan_loader_refuses_a_crafted_pickle(tmp_path, marker, capsys):
    from trainers.stylegan import checkpoint, generate, mix

    ckpt = crafted_run(tmp_path / "run", marker)
    with pytest.raises(ValueError, match=f"{ckpt}: refused.*posix.system"):
        checkpoint.load(ckpt)
    old_style = tmp_path / "plain.pt"  # the pre-zip pickle format
    old_style.write_bytes(pickle.dumps({"G_ema": Payload(marker), "config": {}, "iteration": 1}))
    with pytest.raises(ValueError, match=str(old_style)):
        checkpoint.load(old_style)
    for cli in (generate.main, mix.main):
        assert cli([str(ckpt), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and str(ckpt) in err[0]
    assert not (tmp_path / "out").exists()


def test_resume_refuses_a_crafted_pickle(tmp_path, marker, lmdb, capsys):
    from trainers.stylegan.__main__ import main
    from trainers.stylegan.config import parse_args

    cfg, _ = parse_args([str(lmdb), *small(4, 2), "--out", str(tmp_path / "run")])
    ckpt = crafted_run(tmp_path / "run", marker, cfg.to_dict())
    assert main([str(lmdb), "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and str(ckpt) in err[0] and "refused" in err[0]


# The galleries ---------------------------------------------------------------------------------

def shown(at: AppTest) -> str:
    """Every text the page put on screen (markdown, captions, code, json, messages, options)."""
    out = []
    for kind in ("markdown", "caption", "code", "json", "info", "error", "warning", "success",
                 "text", "metric"):
        out += [str(getattr(e, "value", "")) + str(getattr(e, "proto", "")) for e in at.get(kind)]
    out += [str(o) for box in at.selectbox for o in box.options]
    return "\n".join(out)


def test_an_annotator_cannot_make_the_galleries_read_outside_the_roots(app, tmp_path, marker):

    ana = app("ana")
    outside = tmp_path / "outside"
    secret = make_run(outside / "secret")
    (secret / "config.json").write_text(json.dumps({"trainer": "stylegan", "aws_key": "AKIA-SECRET"}))
    crafted_run(outside / "evil", marker)
    make_run(app.ws.runs_dir / "mine")
    (app.ws.runs_dir / "linked").symlink_to(secret)  # a run folder pointing outside
    (app.ws.runs_dir / "evil").symlink_to(outside / "evil")
    (app.ws.runs_dir / "cfg").mkdir()
    (app.ws.runs_dir / "cfg" / "config.json").symlink_to(secret / "config.json")

    # The old attack: folders typed on the Runs page, kept in session state for the other pages.
    old_key = {"gallery_runs_extra": str(outside), "runs_extra": str(outside)}
    at = run_page("gallery_runs.py", ana, **old_key)
    assert not at.exception and not at.text_input  # no folder to type
    labels = at.selectbox(key="runs_run").options
    assert len(labels) == 1 and "mine" in labels[0]
    at.session_state["runs_tab"] = "Config"
    at.run()
    assert "AKIA-SECRET" not in shown(at) and str(outside) not in shown(at)

    at = run_page("gallery_mixing.py", ana, **old_key)  # the crafted checkpoint is never offered
    assert not at.exception and "No StyleGAN checkpoints" in at.info[0].value
    at = run_page("gallery_sketch.py", ana, **old_key)
    assert not at.exception and "No pix2pix checkpoints" in at.info[0].value

    # A checkpoint symlinked out of a run inside the root is not offered either.
    ckpts = app.ws.runs_dir / "mine" / runs.CHECKPOINTS
    ckpts.mkdir()
    (ckpts / "000010.pt").symlink_to(outside / "evil" / runs.CHECKPOINTS / "000010.pt")
    at = run_page("gallery_mixing.py", ana)
    assert not at.exception and "No StyleGAN checkpoints" in at.info[0].value


def test_a_crafted_checkpoint_inside_a_root_is_refused_by_the_style_mixing_page(app, marker):
    crafted_run(app.ws.runs_dir / "evil", marker)
    at = run_page("gallery_mixing.py", app("ana"))
    assert not at.exception
    assert [e.value for e in at.error][0].startswith("This checkpoint cannot be loaded:")
    assert "refused" in at.error[0].value and not at.get("image")


def test_only_an_admin_adds_a_run_root_and_its_runs_appear(app, tmp_path):

    elsewhere = tmp_path / "shared-runs"
    make_run(elsewhere / "team-run", "pix2pix")
    ana, admin = app("ana"), app("boss", admin=True)
    assert "No runs yet" in run_page("gallery_runs.py", ana).info[0].value

    at = run_page("gallery_runs.py", admin)
    for bad, says in (("relative/runs", "absolute"), (str(tmp_path / "nope"), "not a folder"),
                      ("/", "filesystem's root")):
        at.text_input(key="runs_root_new").set_value(bad)
        at.button(key="runs_root_add").click().run()
        assert says in unescaped(at.error[0].value)
    at.text_input(key="runs_root_new").set_value(str(elsewhere))
    at.button(key="runs_root_add").click().run()
    assert not at.exception and "team-run" in at.selectbox(key="runs_run").options[0]
    assert gr.admin_roots(app.engine) == [str(elsewhere.resolve())]

    at = run_page("gallery_runs.py", ana)  # everyone now sees it; still nothing to type
    assert "team-run" in at.selectbox(key="runs_run").options[0] and not at.text_input
    at = run_page("gallery_runs.py", admin)
    at.button(key="runs_root_rm_0").click().run()
    assert gr.admin_roots(app.engine) == []
    assert "No runs yet" in run_page("gallery_runs.py", ana).info[0].value


# Torn metrics and a full disk ------------------------------------------------------------------

def test_a_torn_metrics_line_resumes_and_keeps_the_checkpoints_row(tmp_path, lmdb, monkeypatch):
    from trainers.stylegan import checkpoint
    from trainers.stylegan.__main__ import main

    out = tmp_path / "run"
    real_save = checkpoint.save
    saved_with_rows = []

    def save(ckpt, path):  # what a kill right after this save would leave in metrics.jsonl
        saved_with_rows.append((ckpt["iteration"], helpers.read_metrics(out)[-1]["iteration"]))
        return real_save(ckpt, path)

    monkeypatch.setattr(checkpoint, "save", save)
    assert main([str(lmdb), *small(4, 2), "--out", str(out)]) == 0
    assert saved_with_rows == [(2, 2), (4, 4)]  # each checkpoint's row is written before it

    (out / "checkpoints" / "000004.pt").unlink()  # the kill came after iteration 3's row...
    rows = (out / "metrics.jsonl").read_text().splitlines()
    (out / "metrics.jsonl").write_text("\n".join(rows[:3]) + '\n{"iteration": 4, "loss_d": 1.')
    (out / "checkpoints" / ".000004.pt.x1.tmp").write_bytes(b"half a checkpoint")
    inode = (out / "metrics.jsonl").stat().st_ino
    assert main([str(lmdb), "--out", str(out), "--resume", "--iterations", "5"]) == 0
    assert [r["iteration"] for r in helpers.read_metrics(out)] == [1, 2, 3, 4, 5]
    assert (out / "metrics.jsonl").stat().st_ino != inode  # replaced (temp + rename), not edited
    assert not list(out.rglob(".*.tmp"))


@pytest.mark.slow
def test_a_full_disk_gives_one_error_line_and_leaves_no_temp_file(tmp_path, lmdb):
    disk = tmp_path / "disk"
    disk.mkdir()
    # Room for the first checkpoint (about 370 KB) but not the second.
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        out = disk / "run"
        cmd = [sys.executable, "-m", "trainers.stylegan", str(lmdb), *small(6, 3), "--out", str(out)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr[-3000:]
        errors = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "No space left on device" in errors[0], done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        assert not [p for p in out.rglob("*") if p.name.startswith(".") or "tmp" in p.name]
        assert [p.name for p in (out / "checkpoints").iterdir()] == ["000003.pt"]

        # Space freed: --resume continues from the checkpoint that was whole.
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        done = subprocess.run(cmd[:4] + ["--out", str(out), "--resume"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert [r["iteration"] for r in helpers.read_metrics(out)] == [1, 2, 3, 4, 5, 6]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
