"""Samplers: determinism, DDIM(eta=1) = DDPM, agreement with diffusers, the loops."""

import pytest
import torch

from diffusion_lite.samplers import ddim_sample, ddim_step, ddim_timesteps, ddpm_sample, ddpm_step
from diffusion_lite.schedules import (
    NoiseSchedule,
    linear_betas,
    posterior_mean_variance,
    predict_x0,
)
from diffusion_lite.unet import MLPDenoiser

schedule = NoiseSchedule.linear(1000)


def _batch(seed=0, shape=(16, 2)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def test_ddim_eta0_is_deterministic():
    x_t, eps = _batch()
    a = ddim_step(schedule, eps, x_t, 500, 480, generator=torch.Generator().manual_seed(1))
    b = ddim_step(schedule, eps, x_t, 500, 480, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


@pytest.mark.parametrize("t", [1000, 500, 37, 2, 1])
def test_ddim_eta1_one_step_is_ddpm_posterior(t):
    """With t_prev = t - 1 and eta = 1, DDIM's sigma_t^2 is the posterior variance and its mean
    the posterior mean, so the step equals DDPM's with variance beta_tilde (same noise)."""
    x_t, eps = _batch(t)
    ddim = ddim_step(schedule, eps, x_t, t, t - 1, eta=1.0, generator=torch.Generator().manual_seed(3))
    ddpm = ddpm_step(schedule, eps, x_t, t, variance="beta_tilde",
                     generator=torch.Generator().manual_seed(3))
    assert torch.allclose(ddim, ddpm, atol=1e-5)


def test_ddim_eta1_variance_equals_beta_tilde():
    x_t, eps = _batch()
    t = 300
    mean, beta_tilde = posterior_mean_variance(
        schedule, predict_x0(schedule, x_t, torch.full((16,), t), eps), x_t, torch.full((16,), t))
    draws = torch.stack([ddim_step(schedule, eps, x_t, t, t - 1, eta=1.0,
                                   generator=torch.Generator().manual_seed(s)) for s in range(4000)])
    assert torch.allclose(draws.var(0).mean(), beta_tilde[0, 0], rtol=0.05)
    assert torch.allclose(draws.mean(0), mean, atol=4 * beta_tilde[0, 0].sqrt() / 60)


def test_full_ddim_with_eta1_reproduces_ddpm_sampling():
    model = MLPDenoiser(hidden=16, num_blocks=1)
    small = NoiseSchedule.linear(50)
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    a = ddpm_sample(model, small, (8, 2), x_T=x_T, generator=torch.Generator().manual_seed(5),
                    progress=False)
    b = ddim_sample(model, small, (8, 2), num_steps=50, eta=1.0, x_T=x_T,
                    generator=torch.Generator().manual_seed(5), progress=False)
    assert torch.allclose(a, b, atol=1e-4)


def test_ddpm_step_adds_no_noise_at_the_last_step():
    """The step from t = 1 returns x_0 = x̂0, with no noise; the step from t = 2 adds some."""
    x_t, eps = _batch()
    a = ddpm_step(schedule, eps, x_t, 1, generator=torch.Generator().manual_seed(1))
    b = ddpm_step(schedule, eps, x_t, 1, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert torch.allclose(a, predict_x0(schedule, x_t, torch.ones(16, dtype=torch.long), eps),
                          atol=1e-5)
    c = ddpm_step(schedule, eps, x_t, 2, generator=torch.Generator().manual_seed(1))
    d = ddpm_step(schedule, eps, x_t, 2, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(c, d)


def test_steps_outside_one_to_T_are_refused():
    x_t, eps = _batch()
    for t in (0, 1001):
        with pytest.raises(ValueError, match=r"t: expected steps in \[1, 1000\]"):
            ddpm_step(schedule, eps, x_t, t)


def test_ddim_timesteps_trailing():
    steps = ddim_timesteps(1000, 50)
    assert steps[0] == 1000 and steps[-1] == 20 and len(steps) == 50
    assert (steps[1:] < steps[:-1]).all()
    assert torch.equal(ddim_timesteps(10, 10), torch.arange(10, 0, -1))


@pytest.mark.parametrize("num_train_steps", [100, 980, 1000])
def test_ddim_timesteps_gives_exactly_the_steps_asked_for(num_train_steps):
    """Every count from 1 to T gives that many distinct steps in [1, T], starting at T (a grid
    built with arange(T, 0, -T/n) gets an extra step at 0 for 62 counts n <= 1000, e.g. 61)."""
    for n in range(1, num_train_steps + 1):
        steps = ddim_timesteps(num_train_steps, n)
        assert len(steps) == n and steps[0] == num_train_steps and steps.min() >= 1, n
        assert (steps[1:] < steps[:-1]).all(), n


@pytest.mark.parametrize("variance, theirs", [("beta_tilde", "fixed_small"), ("beta", "fixed_large")])
@pytest.mark.parametrize("t", [1000, 401, 11, 4])
def test_ddpm_step_agrees_with_diffusers(variance, theirs, t):
    """Our step t is their timestep k = t - 1. At k < 3 diffusers forms 1 - alpha_bar in float32
    from alpha_bar ~ 0.9999 and loses about 1e-4 in relative precision; there we compare with a
    float64 reference instead (the last test)."""
    diffusers = pytest.importorskip("diffusers")
    reference = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                        variance_type=theirs, clip_sample=False)
    x_t, eps = _batch(t)
    ours = ddpm_step(schedule, eps, x_t, t, variance=variance,
                     generator=torch.Generator().manual_seed(7))
    expected = reference.step(eps, t - 1, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    assert torch.allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_agrees_with_diffusers(eta):
    diffusers = pytest.importorskip("diffusers")
    reference = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                        clip_sample=False, set_alpha_to_one=True,
                                        timestep_spacing="trailing")
    reference.set_timesteps(50)
    assert torch.equal(reference.timesteps + 1, ddim_timesteps(1000, 50))     # t = k + 1
    steps = ddim_timesteps(1000, 50).tolist()
    for t, t_prev in [(steps[0], steps[1]), (steps[25], steps[26]), (steps[-1], 0)]:
        x_t, eps = _batch(t)
        ours = ddim_step(schedule, eps, x_t, t, t_prev, eta=eta,
                         generator=torch.Generator().manual_seed(9))
        expected = reference.step(eps, t - 1, x_t, eta=eta,
                                  generator=torch.Generator().manual_seed(9)).prev_sample
        assert torch.allclose(ours, expected, atol=1e-5), (t, t_prev)


def test_samplers_return_trajectories():
    model = MLPDenoiser(hidden=16, num_blocks=1)
    small = NoiseSchedule.linear(20)
    x, traj = ddpm_sample(model, small, (5, 2), return_trajectory=True, progress=False)
    assert traj.shape == (21, 5, 2) and torch.equal(traj[-1], x)
    x, traj = ddim_sample(model, small, (5, 2), num_steps=4, return_trajectory=True, progress=False)
    assert traj.shape == (5, 5, 2) and torch.equal(traj[-1], x)


def test_seeded_sampling_is_reproducible():
    model = MLPDenoiser(hidden=16, num_blocks=1)
    small = NoiseSchedule.linear(20)
    a = ddpm_sample(model, small, (5, 2), generator=torch.Generator().manual_seed(0), progress=False)
    b = ddpm_sample(model, small, (5, 2), generator=torch.Generator().manual_seed(0), progress=False)
    assert torch.equal(a, b)


@pytest.mark.parametrize("t", [1, 2, 3])
def test_ddpm_step_matches_float64_reference_at_small_t(t):
    """Eq. 7 as printed, in float64 from the betas: index 0 of every array is the clean end."""
    betas = torch.cat([torch.zeros(1, dtype=torch.float64), linear_betas(1000)])
    alpha_bars = torch.cumprod(1 - betas, 0)
    alpha_bar_prev = alpha_bars[t - 1]
    x_t, eps = (v.double() for v in _batch(t))
    x0 = (x_t - (1 - alpha_bars[t]).sqrt() * eps) / alpha_bars[t].sqrt()
    mean = (alpha_bar_prev.sqrt() * betas[t] * x0
            + (1 - betas[t]).sqrt() * (1 - alpha_bar_prev) * x_t) / (1 - alpha_bars[t])
    ours = ddpm_step(schedule, eps.float(), x_t.float(), t, variance="beta_tilde",
                     generator=torch.Generator().manual_seed(7))
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7)).double()
    sigma = (betas[t] * (1 - alpha_bar_prev) / (1 - alpha_bars[t])).sqrt()
    assert torch.allclose(ours.double(), mean + sigma * z, atol=1e-5)
