"""Run discovery, grid listing and metrics parsing on hand-made run folders (fast), and on the
runs the real trainers wrote (slow: the session's tiny training runs)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from curate.gallery import runs as gr
from tests.helpers.gallery import make_run
from trainers import runs as layout


def test_runs_are_found_in_the_workspace_env_and_admin_folders(tmp_path, monkeypatch):
    ws_runs, env_runs, added = tmp_path / "ws" / "runs", tmp_path / "env", tmp_path / "added"
    make_run(ws_runs / "a")
    make_run(env_runs / "b", "pix2pix")
    make_run(added)  # a folder that is itself a run
    (ws_runs / "not-a-run").mkdir()
    (ws_runs / "broken").mkdir()
    (ws_runs / "broken" / "config.json").write_text("{not json")
    monkeypatch.setenv(gr.ENV_RUNS, f"{env_runs}{os.pathsep}{tmp_path / 'missing'}")
    roots = gr.run_roots(ws_runs, [str(added)])  # the admin's folders (setting "run_roots")
    assert roots == [ws_runs.resolve(), env_runs.resolve(), added.resolve()]
    found = {r.name: r for r in gr.discover_runs(roots)}
    assert set(found) == {"a", "b", "added"}
    assert found["b"].trainer == "pix2pix" and found["b"].step_key == "epoch"
    assert found["b"].grid_dir == env_runs.resolve() / "b" / "samples"
    assert found["a"].config == {"trainer": "stylegan", "seed": 1}


def test_grids_sort_by_step_and_the_listing_is_cached_until_the_folder_changes(tmp_path, monkeypatch):
    run = gr.read_run(make_run(tmp_path / "r", grids=3))
    (run.grid_dir / ".000999.png.tmp").write_bytes(b"")  # a grid being written: ignored
    grids = gr.list_grids(run)
    assert [s for s, _ in grids] == [100, 200, 300]
    assert all(Path(p).is_file() for _, p in grids)

    calls = []
    real = os.scandir
    monkeypatch.setattr(gr.os, "scandir", lambda p: calls.append(p) or real(p))
    assert gr.list_grids(run) is grids and not calls  # unchanged folder: no listing
    time.sleep(0.01)
    Image.new("RGB", (8, 8)).save(run.grid_dir / "000400.png")
    assert [s for s, _ in gr.list_grids(run)][-1] == 400 and len(calls) == 1


def test_metrics_are_read_incrementally_and_survive_bad_lines(tmp_path):
    run = gr.read_run(make_run(tmp_path / "r", rows=4))
    path = run.path / "metrics.jsonl"
    assert list(gr.read_metrics(path)["iteration"]) == [100, 200, 300, 400]
    with open(path, "a") as f:
        f.write("garbage\n")
        f.write(json.dumps({"iteration": 500, "loss_d": 0.1}) + "\n")
        f.write('{"iteration": 600, "loss')  # a line still being written
    assert list(gr.read_metrics(path)["iteration"]) == [100, 200, 300, 400, 500]
    with open(path, "a") as f:
        f.write('_d": 0.2}\n')
    assert list(gr.read_metrics(path)["iteration"])[-1] == 600
    # A resumed run rewrites the file shorter: it is read again from the start.
    path.write_text(json.dumps({"iteration": 100, "loss_d": 9.0}) + "\n")
    frame = gr.read_metrics(path)
    assert list(frame["iteration"]) == [100] and frame["loss_d"].iloc[0] == 9.0
    assert gr.read_metrics(tmp_path / "nope.jsonl").empty


def test_curves_group_losses_quality_and_speed_and_thin_long_runs(tmp_path):
    run = gr.read_run(make_run(tmp_path / "r", rows=5000))
    charts = gr.curves(run)
    assert list(charts) == ["losses", "quality", "images per second"]
    assert list(charts["losses"].columns) == ["loss_d", "loss_g"]
    assert len(charts["losses"]) <= gr.MAX_POINTS + 1
    assert charts["losses"].index[-1] == 500_000  # the newest point is always kept
    assert list(charts["quality"].columns) == ["swd"] and (charts["quality"]["swd"] == 0.5).all()
    summary = gr.summary(run)
    assert summary["grids"] == 3 and summary["last"]["iteration"] == 500_000


@pytest.mark.slow
def test_the_trainers_runs_are_read(gallery):
    found = {r.name: r for r in gr.discover_runs(gr.run_roots(gallery.ws.runs_dir))}
    sg, p2p = found["stylegan-tiny"], found["pix2pix-tiny"]
    assert sg.trainer == "stylegan" and p2p.trainer == "pix2pix"
    assert [s for s, _ in gr.list_grids(sg)] == [2, 4, 6]
    assert [s for s, _ in gr.list_grids(p2p)] == [1, 2]
    assert {"losses", "quality", "images per second"} <= set(gr.curves(sg))
    assert list(gr.curves(p2p)["quality"].columns) == ["val_l1"]
    assert gr.curves(p2p)["losses"].index.name == "epoch"


def test_a_pix2pix_run_from_before_the_shared_layout_shows_its_epochs_grids(tmp_path):
    run = gr.read_run(make_run(tmp_path / "old", "pix2pix", grids=2))
    (run.path / "samples").rename(run.path / "epochs")
    assert run.grid_dir == run.path / "epochs"
    assert [s for s, _ in gr.list_grids(run)] == [100, 200]


def test_grid_at_picks_the_newest_grid_at_or_before_a_step(tmp_path):
    run = gr.read_run(make_run(tmp_path / "r", grids=3))
    mixing = run.path / "mixing"
    mixing.mkdir()
    for it in (200, 300):
        Image.new("RGB", (4, 4)).save(mixing / f"{it:06d}.png")
    grids = gr.list_grids(run, mixing)
    assert [s for s, _ in grids] == [200, 300]
    assert gr.grid_at(grids, 100) is None
    assert gr.grid_at(grids, 250)[0] == 200 and gr.grid_at(grids, 300)[0] == 300
    assert gr.list_grids(run, tmp_path / "absent") == []


def test_a_torn_last_line_is_skipped_until_the_file_is_rewritten(tmp_path):
    run = gr.read_run(make_run(tmp_path / "r", rows=3))
    with open(run.metrics_path, "ab") as f:
        f.write(b'{"iteration": 400, "loss_d": 0.\xe2')  # a crash mid-append, mid-character
    assert list(gr.read_metrics(run.metrics_path)["iteration"]) == [100, 200, 300]
    with open(run.metrics_path, "ab") as f:  # a writer that appended after the torn line
        f.write(json.dumps({"iteration": 500, "loss_d": 0.1}).encode() + b"\n")
    assert list(gr.read_metrics(run.metrics_path)["iteration"]) == [100, 200, 300]
    layout.truncate_metrics(run.path, "iteration", 300)  # what --resume does: a new file
    assert list(gr.read_metrics(run.metrics_path)["iteration"]) == [100, 200, 300]


def test_symlinks_leaving_the_root_are_not_listed_or_read(tmp_path):
    root, outside = tmp_path / "runs", tmp_path / "outside"
    make_run(root / "ok")
    secret = make_run(outside / "secret")
    (root / "linked").symlink_to(secret)  # a whole run elsewhere
    (root / "cfg").mkdir()
    (root / "cfg" / "config.json").symlink_to(secret / "config.json")
    (root / "ok" / "samples" / "000900.png").symlink_to(secret / "samples" / "000100.png")
    found = {r.name: r for r in gr.discover_runs([root.resolve()])}
    assert set(found) == {"ok"}
    assert [s for s, _ in gr.list_grids(found["ok"])] == [100, 200, 300]
    (root / "ok" / "metrics.jsonl").unlink()
    (root / "ok" / "metrics.jsonl").symlink_to(secret / "metrics.jsonl")
    assert gr.curves(found["ok"]) == {} and gr.summary(found["ok"])["last"] == {}
    (root / "inner").symlink_to(root / "ok")  # a symlink that stays inside is fine
    assert {r.name for r in gr.discover_runs([root.resolve()])} == {"ok"}  # the same run once
