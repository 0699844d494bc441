"""`python -m trainers.stylegan.convert`: the reference's checkpoints (both kinds) become run
folders whose networks compute what the reference-layout networks compute."""

from __future__ import annotations

import json
import logging
import pickle

import numpy as np
import pytest
import torch

from tests.helpers import reference_layout as ref
from tests.helpers.stylegan import read_metrics
from trainers.stylegan import checkpoint, convert, generate, mix, sampling
from trainers.stylegan.__main__ import main as train_main
from trainers.stylegan.model import Discriminator
from trainers.stylegan.step import Trainer

DIM, MLP, CAP = 16, 2, 16


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Every parameter random (noise strengths and biases too: none may hide a wrong mapping)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def _adam_step(gen, disc, opt_G, opt_D, seed: int) -> None:
    """Updates of each network at 8 and 128 px with seeded latents and noise; ``gen(z, noise,
    step)`` and ``disc(x, step)`` call either side's networks."""
    g = torch.Generator().manual_seed(seed)
    for step in (1, 5):
        z = torch.randn(2, DIM, generator=g)
        noise = [torch.randn(2, 1, 4 * 2**i, 4 * 2**i, generator=g) for i in range(step + 1)]
        opt_D.zero_grad()
        disc(gen(z, noise, step).detach(), step).mean().backward()
        opt_D.step()
        opt_G.zero_grad()
        gen(z, noise, step).square().mean().backward()
        opt_G.step()


def _ref_calls(G, D):
    return (lambda z, noise, step: G(z, noise, step)), (lambda x, step: D(x, step))


def reference_models(seed: int = 0):
    torch.manual_seed(seed)
    G, D = ref.StyledGenerator(DIM, MLP, CAP), ref.Discriminator(CAP)
    _randomize(G, seed)
    _randomize(D, seed + 1)
    opt_G = torch.optim.Adam(G.generator.parameters(), lr=1e-3, betas=(0.0, 0.99))
    opt_G.add_param_group({"params": G.style.parameters(), "lr": 1e-5, "mult": 0.01})
    opt_D = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.99))
    _adam_step(*_ref_calls(G, D), opt_G, opt_D, seed)
    G_ema = ref.StyledGenerator(DIM, MLP, CAP)
    G_ema.load_state_dict(G.state_dict())
    _randomize(G_ema.style, seed + 2)  # the EMA differs from G: each must land in its place
    return G, D, G_ema, opt_G, opt_D


@pytest.fixture(scope="module")
def ref_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    G, D, G_ema, opt_G, opt_D = reference_models()
    torch.save({"generator": G.state_dict(), "discriminator": D.state_dict(), "g_running": G_ema.state_dict(),
                "g_optimizer": opt_G.state_dict(), "d_optimizer": opt_D.state_dict()},
               folder / "train_step-6.model")
    torch.save(G_ema.state_dict(), folder / "010000.model")
    return folder, (G, D, G_ema)


def _noise(step: int, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 1, 4 * 2**i, 4 * 2**i, generator=g) for i in range(step + 1)]


@pytest.mark.parametrize("size", [8, 64, 128])
def test_train_step_checkpoint_converts_to_the_same_functions(ref_files, tmp_path, size):
    folder, (G_ref, D_ref, G_ema_ref) = ref_files
    out = tmp_path / "run"
    assert convert.main([str(folder / "train_step-6.model"), "--out", str(out), "--size", str(size)]) == 0
    G_ema, cfg, info = sampling.load_generator(out)
    assert (cfg.max_size, cfg.latent_dim, cfg.mapping_layers, cfg.max_channels) == (size, DIM, MLP, CAP)
    assert info == {"iteration": 0, "size": size, "step": info["step"], "alpha": 1.0}
    step = info["step"]
    z, noise = torch.randn(3, DIM, generator=torch.Generator().manual_seed(5)), _noise(step)
    with torch.no_grad():
        assert torch.allclose(G_ema(z, step, 1.0, noise=noise), G_ema_ref(z, noise, step), atol=1e-4)
        ckpt = checkpoint.load(out)
        G = sampling.Generator(size, DIM, MLP, CAP)
        G.load_state_dict(ckpt["G"])
        assert torch.allclose(G(z, step, 0.5, noise=noise), G_ref(z, noise, step, 0.5), atol=1e-4)  # fade-in
        D = Discriminator(size, CAP)
        D.load_state_dict(ckpt["D"])
        x = torch.randn(3, 3, size, size)
        for alpha in (1.0, 0.3):
            assert torch.allclose(D(x, step, alpha), D_ref(x, step, alpha), atol=1e-4)


def test_converted_adam_state_continues_the_reference_optimizer(ref_files, tmp_path):
    """One more Adam step on each side gives the same networks: the moments and step counts
    reached the right parameters. Tolerances: Adam divides by sqrt(v), so float32 noise in
    the near-zero gradients of biases before AdaIN moves G's images by up to ~1e-4 here; fresh
    moments instead of the converted ones move them by 4e-2 (D: 2e-4), scaled ones by 9e-2."""
    folder, _ = ref_files
    G_ref, D_ref, _, opt_G_ref, opt_D_ref = reference_models()  # the same state as the file
    out = tmp_path / "run"
    assert convert.main([str(folder / "train_step-6.model"), "--out", str(out), "--size", "128"]) == 0
    ckpt = checkpoint.load(out)
    from trainers.stylegan.config import Settings

    t = Trainer(Settings.from_dict(ckpt["config"]), torch.device("cpu"))
    t.load_state_dict(ckpt)
    for opt, lrs in ((t.opt_G, (1e-3, 1e-5)), (t.opt_D, (1e-3,))):
        for g, lr in zip(opt.param_groups, lrs):
            g["lr"] = lr
    _adam_step(*_ref_calls(G_ref, D_ref), opt_G_ref, opt_D_ref, seed=7)
    _adam_step(lambda z, noise, step: t.G(z, step, 1.0, noise=noise), lambda x, step: t.D(x, step),
               t.opt_G, t.opt_D, seed=7)
    z, noise = torch.randn(3, DIM), _noise(5, seed=9)
    with torch.no_grad():
        assert torch.allclose(t.G(z, 5, 1.0, noise=noise), G_ref(z, noise, 5), atol=2e-3)
        x = torch.randn(3, 3, 128, 128)
        assert torch.allclose(t.D(x, 5), D_ref(x, 5), atol=1e-5)


def test_ema_only_checkpoint_names_its_iteration(ref_files, tmp_path):
    folder, (_, _, G_ema_ref) = ref_files
    out = tmp_path / "run"
    assert convert.main([str(folder / "010000.model"), "--out", str(out), "--size", "64"]) == 0
    ckpt = checkpoint.load(out / "checkpoints" / "010000.pt")
    assert set(ckpt) >= {"G_ema", "config", "iteration"} and "D" not in ckpt and ckpt["iteration"] == 10000
    G, _, info = sampling.load_generator(out)
    z, noise = torch.randn(3, DIM), _noise(4)
    with torch.no_grad():
        assert torch.allclose(G(z, 4, 1.0, noise=noise), G_ema_ref(z, noise, 4), atol=1e-4)


def test_size_comes_from_the_file_name_or_the_trained_layers(ref_files, tmp_path):
    folder, (_, _, G_ema_ref) = ref_files
    assert convert.main([str(folder / "train_step-6.model"), "--out", str(tmp_path / "a")]) == 0
    assert checkpoint.load(tmp_path / "a")["size"] == 128  # train_step-6: saved on leaving 128 px
    sd = G_ema_ref.state_dict()
    for i in range(4, 9):  # blocks 64 px and up never trained: their noise strengths stay zero
        for n in ("1", "2"):
            sd[f"generator.progression.{i}.noise{n}.weight_orig"] = torch.zeros_like(
                sd[f"generator.progression.{i}.noise{n}.weight_orig"])
    torch.save(sd, tmp_path / "000500.model")
    assert convert.main([str(tmp_path / "000500.model"), "--out", str(tmp_path / "b")]) == 0
    assert checkpoint.load(tmp_path / "b")["size"] == 32


def test_tools_and_resume_work_on_converted_runs(ref_files, tmp_path, tiny_lmdb, caplog):
    folder, _ = ref_files
    caplog.set_level(logging.INFO, logger="trainers.stylegan.train")
    for name in ("train_step-6.model", "010000.model"):
        out = tmp_path / name.split(".")[0]
        assert convert.main([str(folder / name), "--out", str(out), "--size", "8", "--batch", "4"]) == 0
        # Converted on the CPU, but a resume on a GPU machine must not stay there.
        assert json.loads((out / "config.json").read_text())["device"] == "auto"
        assert mix.main([str(out), "--out", str(tmp_path / "m.png"), "--device", "cpu", "--sources", "2",
                         "--styles", "2"]) == 0
        assert generate.main([str(out), "--n", "4", "--steps", "2", "--out", str(tmp_path / "g"),
                              "--device", "cpu"]) == 0
        start = checkpoint.load(out)["iteration"]
        assert train_main([str(tiny_lmdb), "--out", str(out), "--resume", "--iterations", str(start + 2),
                           "--log_every", "1", "--swd_every", "0"]) == 0
        assert [r["iteration"] for r in read_metrics(out)] == [start + 1, start + 2]
        expected = "cuda" if torch.cuda.is_available() else "cpu"
        assert f"at iteration {start} on {expected}" in caplog.text
        assert all(np.isfinite(r["loss_d"]) for r in read_metrics(out))


def test_files_that_are_not_reference_checkpoints_are_refused(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    bad = tmp_path / "train_step-3.model"
    bad.write_bytes(pickle.dumps({"generator": Evil()}))
    assert convert.main([str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr()
    assert f"{bad}: refused, not a data-only reference StyleGAN checkpoint" in err.err and "ran" not in err.out
    torch.save({"weights": [1, 2]}, bad)
    assert convert.main([str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "not a reference StyleGAN checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
