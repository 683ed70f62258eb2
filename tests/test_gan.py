"""The GAN of chapter 12: losses on known logits, the R1 penalty, a short training run."""

import math

import pytest
import torch

from diffusion_lite import data
from diffusion_lite.gan import (
    Discriminator,
    Generator,
    discriminator_loss,
    generator_loss,
    r1_penalty,
    train_gan,
)
from diffusion_lite.metrics import mode_coverage


def test_losses_on_known_logits():
    # logit 0 is D = 1/2: each term is log 2
    zero = torch.zeros(4)
    assert generator_loss(zero).item() == pytest.approx(math.log(2))
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    # a confident, correct discriminator has a loss near 0; the generator's is then large
    assert discriminator_loss(torch.full((3,), 20.0), torch.full((3,), -20.0)).item() < 1e-6
    assert generator_loss(torch.full((3,), -20.0)).item() == pytest.approx(20.0, rel=1e-6)
    # non-saturating: -log sigmoid(l), checked against the formula at mixed logits
    logits = torch.tensor([-3.0, 0.5, 2.0])
    assert generator_loss(logits).item() == pytest.approx(-torch.sigmoid(logits).log().mean().item())


def test_generator_gradient_does_not_saturate_where_fakes_are_rejected():
    logits = torch.tensor([-8.0], requires_grad=True)
    generator_loss(logits).backward()
    non_saturating = logits.grad.abs().item()
    logits.grad = None
    torch.log1p(-torch.sigmoid(logits)).mean().backward()      # the minimax form
    assert non_saturating > 0.99 and logits.grad.abs().item() < 1e-3


class _Affine(torch.nn.Module):
    def __init__(self, slope, constant=0.0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(slope))
        self.c = torch.nn.Parameter(torch.tensor(constant))

    def forward(self, x):
        return x @ self.w + self.c


def test_r1_is_zero_for_a_constant_discriminator_and_the_squared_slope_otherwise():
    real = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    assert r1_penalty(_Affine([0.0, 0.0], 3.0), real).item() == 0.0
    affine = _Affine([3.0, 4.0])
    penalty = r1_penalty(affine, real)
    assert penalty.item() == pytest.approx(25.0)                 # ||(3, 4)||² at every point
    penalty.backward()                                           # differentiable in the weights
    assert torch.allclose(affine.w.grad, torch.tensor([6.0, 8.0]))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="fake_logits"):
        generator_loss(torch.zeros(4, 1))
    with pytest.raises(ValueError, match="real_logits"):
        discriminator_loss(torch.zeros(0), torch.zeros(3))
    with pytest.raises(TypeError, match="fake_logits"):
        generator_loss(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="z"):
        Generator(latent_dim=4)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="steps"):
        train_gan(Generator(), Discriminator(), torch.zeros(10, 2), steps=0)
    with pytest.raises(ValueError, match="data"):
        train_gan(Generator(), Discriminator(), torch.zeros(10, 3), steps=1)
    with pytest.raises(ValueError, match="r1_gamma"):
        train_gan(Generator(), Discriminator(), torch.zeros(10, 2), steps=1, r1_gamma=-1.0)


def test_seeded_training_is_reproducible_and_keeps_snapshots():
    points = data.eight_gaussians(500, generator=torch.Generator().manual_seed(0))
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        g_net, d_net = Generator(hidden=16, num_layers=1), Discriminator(hidden=16, num_layers=1)
        history = train_gan(g_net, d_net, points, steps=20, batch_size=32, snapshot_every=10,
                            generator=torch.Generator().manual_seed(1), progress=False)
        results.append((history.g_loss, g_net.sample(5, generator=torch.Generator().manual_seed(2))))
    assert results[0][0] == results[1][0] and torch.equal(results[0][1], results[1][1])
    assert history.snapshot_steps == [10, 20] and history.snapshots[0].shape == (1000, 2)
    assert len(history.d_loss) == len(history.g_loss) == len(history.r1) == 20
    assert history.r1 == [0.0] * 20                                   # no penalty asked for


@pytest.mark.slow
def test_a_short_run_with_r1_covers_the_eight_modes():
    points = data.eight_gaussians(20_000, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    g_net, d_net = Generator(hidden=64), Discriminator(hidden=64)
    train_gan(g_net, d_net, points, steps=600, batch_size=128, lr=2e-3, r1_gamma=1.0,
              generator=torch.Generator().manual_seed(0), progress=False)
    shares = mode_coverage(g_net.sample(2000, generator=torch.Generator().manual_seed(1)),
                           data.eight_gaussian_centres())
    assert (shares > 0.2 / 8).all(), shares
    assert shares.sum() > 0.5
