"""Model, losses, precision and the SWD metric."""

from __future__ import annotations

import math

import torch

from trainers.stylegan.config import Settings
from trainers.stylegan.model import Discriminator, Generator
from trainers.stylegan.step import Trainer, phase_at
from trainers.stylegan.swd import swd


def test_shapes_every_step_and_fused_resampling():
    torch.manual_seed(0)
    G, D = Generator(128, 16, 2, 8), Discriminator(128, 8)
    z = torch.randn(2, 16)
    for step in range(6):
        img = G(z, step, 0.5)
        assert img.shape == (2, 3, 4 * 2**step, 4 * 2**step)
        assert D(img, step, 0.5).shape == (2, 1)


def test_fade_in_starts_from_the_upsampled_previous_output():
    torch.manual_seed(0)
    G = Generator(16, 16, 2, 8)
    z, noise = torch.randn(2, 16), G.make_noise(2, 2, "cpu")
    low = G(z, 1, 1.0, noise=noise[:2])
    start = G(z, 2, 0.0, noise=noise)
    assert torch.allclose(start, low.repeat_interleave(2, 2).repeat_interleave(2, 3), atol=1e-5)


def test_style_mixing_changes_only_blocks_after_crossover():
    torch.manual_seed(0)
    G = Generator(16, 16, 2, 8)
    z1, z2, noise = torch.randn(1, 16), torch.randn(1, 16), G.make_noise(1, 2, "cpu")
    assert torch.equal(G(z1, 2, 1.0, z2, crossover=2, noise=noise), G(z1, 2, 1.0, noise=noise))
    assert not torch.equal(G(z1, 2, 1.0, z2, crossover=0, noise=noise), G(z1, 2, 1.0, noise=noise))


def _trainer(tiny_lmdb, **kw):
    cfg = Settings(lmdb=str(tiny_lmdb), init_size=8, max_size=8, batch=4, max_channels=16, latent_dim=16,
                   mapping_layers=2, **kw)
    torch.manual_seed(0)
    return cfg, Trainer(cfg, torch.device("cpu"))


def test_wgan_gp_lazy_r1_and_bf16_steps_are_finite(tiny_lmdb):
    for kw in ({"loss": "wgan-gp"}, {"r1_every": 2}):
        cfg, t = _trainer(tiny_lmdb, **kw)
        for it in range(1, 3):
            t.step(torch.rand(4, 3, 8, 8) * 2 - 1, phase_at(cfg, it - 1), it)
        logs = t.pop_logs()
        assert all(math.isfinite(v) for v in logs.values())
        assert ("gp" in logs) == (cfg.loss == "wgan-gp")
    cfg = Settings(lmdb=str(tiny_lmdb), init_size=8, max_size=8, batch=4, max_channels=16, latent_dim=16,
                   mapping_layers=2)
    t = Trainer(cfg, torch.device("cpu"), amp=True)  # the CUDA bf16 code path, on CPU
    t.step(torch.rand(4, 3, 8, 8) * 2 - 1, phase_at(cfg, 0), 1)
    assert all(math.isfinite(v) for v in t.pop_logs().values())


def test_phase_schedule_matches_reference_counting(tiny_lmdb):
    cfg = Settings(lmdb=str(tiny_lmdb), init_size=8, max_size=32, phase=100, batch=10)
    # 8 px: 2 * 100 // 10 + 1 = 21 iterations at alpha 1, then 16 px fades in over 100 images.
    assert phase_at(cfg, 20).size == 8 and phase_at(cfg, 20).alpha == 1.0
    p = phase_at(cfg, 21)
    assert (p.size, p.step, p.alpha) == (16, 2, 0.01)
    assert phase_at(cfg, 21 + 10).alpha == 1.0 and phase_at(cfg, 10**6).size == 32


def test_swd_is_small_for_the_same_distribution():
    torch.manual_seed(0)
    a = torch.rand(8, 3, 32, 32) * 2 - 1
    b = torch.rand(8, 3, 32, 32) * 2 - 1
    smooth = torch.nn.functional.avg_pool2d(torch.rand(8, 3, 32, 32), 5, 1, 2) * 2 - 1
    same, diff = swd(a, b)["swd"], swd(a, smooth)["swd"]
    assert set(swd(a, b)["swd_levels"]) == {32, 16}
    assert same < 0.75 * diff


def test_fused_resampling_equals_the_two_step_form(monkeypatch):
    """Each of the three forms (two steps, box, fused 4x4) gives the reference's function."""
    import torch.nn.functional as F

    from trainers.stylegan import model
    from trainers.stylegan.model import FusedDownsample, FusedUpsample

    torch.manual_seed(0)
    x = torch.randn(2, 5, 8, 8, dtype=torch.float64)
    up, down = FusedUpsample(5, 6, gain=0.25).double(), FusedDownsample(5, 6).double()
    up.bias.data.normal_()
    down.bias.data.normal_()
    ref_up = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), up.weight * up.scale / 4, up.bias, padding=1)
    ref_down = F.avg_pool2d(F.conv2d(x, down.weight * down.scale, down.bias, padding=1), 2)
    for two_step, fused_ratio in ((10**9, 10**9), (0, 10**9), (0, 0)):
        monkeypatch.setattr(model, "UP_TWO_STEP_PIXELS", two_step)
        monkeypatch.setattr(model, "FUSED_MAP_RATIO", fused_ratio)
        assert torch.allclose(up(x), ref_up, rtol=0, atol=1e-6)
        assert torch.allclose(down(x), ref_down, rtol=0, atol=1e-6)


def test_a_kernel_covering_the_map_is_a_matrix_product():
    import torch.nn.functional as F

    from trainers.stylegan.model import EqualConv2d

    torch.manual_seed(0)
    conv = EqualConv2d(5, 6, 4).double()
    conv.bias.data.normal_()
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64, requires_grad=True)
    out = conv(x)
    ref = F.conv2d(x, conv.weight * conv.scale, conv.bias)
    assert out.shape == ref.shape == (3, 6, 1, 1) and torch.allclose(out, ref, atol=1e-12)
    assert torch.autograd.gradcheck(conv, (x,)) and torch.autograd.gradgradcheck(conv, (x,))


def test_adain_normalises_each_map_in_any_memory_format():
    from trainers.stylegan.model import AdaIN

    torch.manual_seed(0)
    ada = AdaIN(4, 8)
    x = torch.randn(3, 4, 8, 8) * 5 + 2
    w = torch.randn(3, 8)
    out = ada(x, w)
    gamma, beta = ada.style(w)[:, :, None, None].chunk(2, dim=1)
    assert torch.allclose(out, gamma * torch.nn.functional.instance_norm(x) + beta, atol=1e-5)
    assert torch.allclose(ada(x.contiguous(memory_format=torch.channels_last), w), out, atol=1e-6)


def test_blur_gradients_through_double_backward_equal_autograds():
    """The blur's own backward (a symmetric kernel is self-adjoint) gives autograd's first and
    second derivatives, as the gradient penalties need them."""
    import torch.nn.functional as F

    from trainers.stylegan.model import Blur

    torch.manual_seed(0)
    blur = Blur(3).double()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 6, 6, dtype=torch.float64)

    def penalty(f):
        (g,) = torch.autograd.grad((f(x) * w).sin().sum(), x, create_graph=True)
        return torch.autograd.grad(g.pow(2).sum(), x)[0]

    plain = lambda t: F.conv2d(t, blur.kernel, padding=1, groups=3)  # noqa: E731
    assert torch.allclose(blur(x), plain(x), atol=1e-12)
    assert torch.allclose(penalty(blur), penalty(plain), atol=1e-10)
    assert torch.autograd.gradcheck(blur, (x,)) and torch.autograd.gradgradcheck(blur, (x,))


def test_discriminator_scores_groups_side_by_side_as_if_alone():
    torch.manual_seed(0)
    D = Discriminator(16, 8)
    a, b = torch.randn(3, 3, 16, 16), torch.randn(3, 3, 16, 16)
    joint = D(torch.cat([a, b]), 2, 0.5, groups=2)
    assert torch.allclose(joint, torch.cat([D(a, 2, 0.5), D(b, 2, 0.5)]), atol=1e-5)


def test_box_filters_are_average_pools_with_every_derivative():
    """The 2x2 box filters of the resampling (slices and adds, each the other's adjoint) give
    average pooling's values and first and second derivatives, as the penalties need them."""
    import torch.nn.functional as F

    from trainers.stylegan.model import _BoxPad, _BoxValid

    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(_BoxPad.apply(x), F.avg_pool2d(x, 2, stride=1, padding=1), atol=1e-12)
    assert torch.allclose(_BoxValid.apply(y), F.avg_pool2d(y, 2, stride=1), atol=1e-12)
    for f, t in ((_BoxPad.apply, x), (_BoxValid.apply, y)):
        assert torch.autograd.gradcheck(f, (t,)) and torch.autograd.gradgradcheck(f, (t,))
