"""In float64 the trainer's networks compute the reference's function to rounding: the fast
forms (fused resampling kernels, the box filters, the matmul 4x4 conv, the instance norm,
the per-group minibatch stddev) are exact rewrites, so any gap above float64 noise is a
mistake, or a step that silently ran in float32 (``model.double()`` must run in float64 all
the way through).

Bound: 1e-12 on outputs whose magnitude is of order 1-100 (float64 rounding here is ~1e-14;
one float32 step anywhere gives ~1e-6). Tiny channel counts keep it fast at 8-128 px."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import reference_layout as ref
from trainers.stylegan import reference
from trainers.stylegan.model import Discriminator, Generator

DIM, MLP, CAP, SIZE = 8, 2, 4, 128
BOUND = 1e-12


def _random(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


@pytest.fixture(scope="module")
def pairs():
    """The reference-layout G and D with random float32 weights, and ours holding the same
    values (converted as ``convert`` does), both then cast to float64."""
    torch.manual_seed(0)
    G_ref, D_ref = ref.StyledGenerator(DIM, MLP, CAP), ref.Discriminator(CAP)
    _random(G_ref, 1)
    _random(D_ref, 2)
    blocks = reference.step_of(SIZE) + 1
    G, D = Generator(SIZE, DIM, MLP, CAP), Discriminator(SIZE, CAP)
    g_sd, d_sd = G_ref.state_dict(), D_ref.state_dict()
    G.load_state_dict(reference.convert_weights(g_sd, reference.generator_pairs(g_sd, blocks), G.state_dict()))
    D.load_state_dict(reference.convert_weights(d_sd, reference.discriminator_pairs(d_sd, blocks), D.state_dict()))
    return G_ref.double(), D_ref.double(), G.double(), D.double()


def _gap(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.dtype == b.dtype == torch.float64
    return (a - b).abs().max().item()


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128])
def test_float64_generator_matches_the_reference_layout(pairs, size):
    G_ref, _, G, _ = pairs
    step = reference.step_of(size)
    g = torch.Generator().manual_seed(size)
    z = torch.randn(3, DIM, generator=g, dtype=torch.float64)
    noise = [torch.randn(3, 1, 4 * 2**i, 4 * 2**i, generator=g, dtype=torch.float64) for i in range(step + 1)]
    with torch.no_grad():
        for alpha in (1.0, 0.4):
            ours, theirs = G(z, step, alpha, noise=noise), G_ref(z, noise, step, alpha)
            assert ours.shape == (3, 3, size, size)
            assert _gap(ours, theirs) < BOUND, f"{size} px, alpha {alpha}"


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128])
def test_float64_discriminator_and_its_input_gradient_match(pairs, size):
    """Scores, and the gradient of the scores with respect to the images: R1's quantity."""
    _, D_ref, _, D = pairs
    step = reference.step_of(size)
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(size), dtype=torch.float64)
    for alpha in (1.0, 0.4):
        a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ours, theirs = D(a, step, alpha), D_ref(b, step, alpha)
        assert _gap(ours, theirs) < BOUND * max(1.0, theirs.abs().max().item()), f"{size} px, alpha {alpha}"
        (ga,) = torch.autograd.grad(ours.sum(), a)
        (gb,) = torch.autograd.grad(theirs.sum(), b)
        assert _gap(ga, gb) < BOUND * max(1.0, gb.abs().max().item()), f"{size} px gradient, alpha {alpha}"
