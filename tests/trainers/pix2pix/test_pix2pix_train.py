"""Training at 32 px on a handful of pairs: run folder, losses, LR drop, resume, predict."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainers.pix2pix.__main__ import main as train_cli
from trainers.pix2pix.config import Pix2PixConfig
from trainers.pix2pix.checkpoint import load_generator, rebuild
from trainers.pix2pix.predict import main as predict_cli
from trainers.pix2pix.train import train

KEYS = {"epoch", "step", "loss_g", "loss_g_gan", "loss_g_l1", "loss_d", "val_l1", "lr",
        "images_per_s"}


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(pairs_dir, tmp_path_factory) -> tuple[Pix2PixConfig, Path]:
    """2 epochs, 6 pairs, batch 2 (3 steps an epoch), the LR divided by 10 after epoch 1."""
    out = tmp_path_factory.mktemp("runs") / "r"
    cfg = Pix2PixConfig(pairs=str(pairs_dir), out=str(out), size=32, epochs=2, batch=2,
                        lr_drop_every=1, lr_drop_factor=0.1, grid_pairs=2, keep_checkpoints=5)
    return cfg, train(cfg)


def test_run_folder_has_config_grids_checkpoints_and_tensorboard(run):
    cfg, out = run
    config = json.loads((out / "config.json").read_text())
    assert config["trainer"] == "pix2pix" and config["size"] == 32 and config["batch"] == 2
    for epoch in (1, 2):
        grid = Image.open(out / "samples" / f"{epoch:04d}.png")
        assert grid.size == (3 * 32, 2 * 32)  # sketch | real | generated, one row per val pair
    assert (out / "checkpoints" / "checkpoint").is_file()
    assert sorted(p.name for p in (out / "checkpoints").glob("*.index")) == [
        "epoch-1.index", "epoch-2.index"]
    assert list((out / "tb").glob("events.out.tfevents.*"))


def test_metrics_are_finite_and_count_steps(run):
    _, out = run
    rows = metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert [r["step"] for r in rows] == [3, 6]
    for r in rows:
        assert KEYS <= r.keys()
        assert all(np.isfinite(r[k]) for k in KEYS)
        assert r["loss_g"] == pytest.approx(r["loss_g_gan"] + 100 * r["loss_g_l1"], rel=1e-4)


def test_learning_rate_drops_at_the_configured_epoch(run):
    _, out = run
    lrs = [r["lr"] for r in metrics(out)]
    assert lrs == [pytest.approx(2e-4), pytest.approx(2e-5)]


def test_resume_continues_at_the_next_epoch_and_step(run):
    cfg, out = run
    train(dataclasses.replace(cfg, epochs=3, resume=True))
    rows = metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["step"] == 9
    assert rows[-1]["lr"] == pytest.approx(2e-6)
    assert (out / "samples" / "0003.png").is_file()
    assert json.loads((out / "config.json").read_text())["epochs"] == 3


def test_resume_refuses_another_size_and_fresh_run_refuses_used_folder(run):
    cfg, out = run
    with pytest.raises(ValueError, match="trained at 32 px"):
        train(dataclasses.replace(cfg, size=64, resume=True))
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg)


def test_cli_reports_empty_pairs_folder_and_writes_no_run(tmp_path, capsys):
    (tmp_path / "pairs" / "train").mkdir(parents=True)
    code = train_cli([str(tmp_path / "pairs"), "--size", "32", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "holds no .jpg/.png pairs" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_rebuild_gives_an_image_of_the_inputs_size(run):
    _, out = run
    generator, config = load_generator(out)
    assert config.size == 32
    photo = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    face = rebuild(generator, photo)
    assert face.shape == (45, 70, 3) and face.dtype == np.uint8
    assert rebuild(generator, photo[:32, :32], is_sketch=True).shape == (32, 32, 3)
    with pytest.raises(ValueError, match="uint8"):
        rebuild(generator, photo.astype(np.float32))


def test_predict_cli_writes_pngs_and_exports(run, tmp_path):
    _, out = run
    src = tmp_path / "photo.jpg"
    Image.new("RGB", (50, 37), (200, 170, 150)).save(src)
    dest = tmp_path / "pred"
    assert predict_cli([str(out / "checkpoints" / "epoch-1"), str(src), "--out", str(dest),
                        "--export"]) == 0
    assert Image.open(dest / "photo.png").size == (50, 37)
    assert (dest / "generator.keras").is_file() and (dest / "saved_model").is_dir()


def test_checkpoint_from_another_size_is_refused(run, tmp_path):
    cfg, out = run
    # A copy of the run whose config.json claims 64 px: the checkpoint itself says 32.
    fake = tmp_path / "fake"
    (fake / "checkpoints").mkdir(parents=True)
    for f in (out / "checkpoints").iterdir():
        (fake / "checkpoints" / f.name).write_bytes(f.read_bytes())
    (fake / "checkpoints" / "checkpoint").write_text(
        (out / "checkpoints" / "checkpoint").read_text().replace(str(out / "checkpoints") + "/", ""))
    (fake / "config.json").write_text(json.dumps(dataclasses.replace(cfg, size=64).to_json()))
    with pytest.raises(ValueError, match="trained at 32 px"):
        load_generator(fake)


def test_a_crafted_file_in_place_of_a_checkpoint_is_refused_and_runs_nothing(run, tmp_path):
    import os
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    cfg, _ = run
    fake = tmp_path / "fake"
    (fake / "checkpoints").mkdir(parents=True)
    (fake / "config.json").write_text(json.dumps(cfg.to_json()))
    for suffix in (".index", ".data-00000-of-00001"):
        (fake / "checkpoints" / f"epoch-1{suffix}").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="epoch-1: cannot be read as a pix2pix checkpoint"):
        load_generator(fake)
    assert not (tmp_path / "PWNED").exists()


def test_resume_after_a_torn_metrics_line_and_a_killed_save(run):
    cfg, out = run
    done = len(metrics(out))
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"epoch": %d, "loss_g": 1.' % (done + 1))  # a crash mid-append
    (out / "checkpoints" / f"epoch-{done + 1}_temp").mkdir()  # TensorFlow's unfinished save
    train(dataclasses.replace(cfg, epochs=done + 1, resume=True))
    assert [r["epoch"] for r in metrics(out)] == list(range(1, done + 2))
    assert not list((out / "checkpoints").glob("*_temp*"))
