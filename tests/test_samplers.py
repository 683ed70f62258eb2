"""Samplers: determinism, DDIM(eta=1) = DDPM, agreement with diffusers, the loops."""

import pytest
import torch

from diffusion_lite.samplers import (ddim_sample, ddim_step, ddim_timesteps, ddpm_sample,
                                     ddpm_step)
from diffusion_lite.schedules import NoiseSchedule, posterior_mean_variance, predict_x0
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


@pytest.mark.parametrize("t", [999, 500, 37, 1, 0])
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


def test_ddpm_step_adds_no_noise_at_t0():
    x_t, eps = _batch()
    a = ddpm_step(schedule, eps, x_t, 0, generator=torch.Generator().manual_seed(1))
    b = ddpm_step(schedule, eps, x_t, 0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert torch.allclose(a, predict_x0(schedule, x_t, torch.zeros(16, dtype=torch.long), eps),
                          atol=1e-5)


def test_ddim_timesteps_trailing():
    steps = ddim_timesteps(1000, 50)
    assert steps[0] == 999 and steps[-1] == 19 and len(steps) == 50
    assert (steps[1:] < steps[:-1]).all()
    assert torch.equal(ddim_timesteps(10, 10), torch.arange(9, -1, -1))


@pytest.mark.parametrize("variance, theirs", [("beta_tilde", "fixed_small"), ("beta", "fixed_large")])
@pytest.mark.parametrize("t", [999, 400, 10, 3])
def test_ddpm_step_agrees_with_diffusers(variance, theirs, t):
    """At t < 3 diffusers forms 1 - alpha_bar in float32 from alpha_bar ~ 0.9999 and loses about
    1e-4 in relative precision; there we compare with a float64 reference instead (next test)."""
    diffusers = pytest.importorskip("diffusers")
    reference = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                        variance_type=theirs, clip_sample=False)
    x_t, eps = _batch(t)
    ours = ddpm_step(schedule, eps, x_t, t, variance=variance,
                     generator=torch.Generator().manual_seed(7))
    expected = reference.step(eps, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    assert torch.allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_agrees_with_diffusers(eta):
    diffusers = pytest.importorskip("diffusers")
    reference = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                        clip_sample=False, set_alpha_to_one=True,
                                        timestep_spacing="trailing")
    reference.set_timesteps(50)
    assert torch.equal(reference.timesteps, ddim_timesteps(1000, 50))
    steps = ddim_timesteps(1000, 50).tolist()
    for t, t_prev in [(steps[0], steps[1]), (steps[25], steps[26]), (steps[-1], -1)]:
        x_t, eps = _batch(t)
        ours = ddim_step(schedule, eps, x_t, t, t_prev, eta=eta,
                         generator=torch.Generator().manual_seed(9))
        expected = reference.step(eps, t, x_t, eta=eta,
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


@pytest.mark.parametrize("t", [0, 1, 2])
def test_ddpm_step_matches_float64_reference_at_small_t(t):
    betas = schedule.betas.double()
    alpha_bars = torch.cumprod(1 - betas, 0)
    alpha_bar_prev = alpha_bars[t - 1] if t > 0 else torch.tensor(1.0, dtype=torch.float64)
    x_t, eps = (v.double() for v in _batch(t))
    x0 = (x_t - (1 - alpha_bars[t]).sqrt() * eps) / alpha_bars[t].sqrt()
    mean = (alpha_bar_prev.sqrt() * betas[t] * x0
            + (1 - betas[t]).sqrt() * (1 - alpha_bar_prev) * x_t) / (1 - alpha_bars[t])
    ours = ddpm_step(schedule, eps.float(), x_t.float(), t, variance="beta_tilde",
                     generator=torch.Generator().manual_seed(7))
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7)).double()
    sigma = (betas[t] * (1 - alpha_bar_prev) / (1 - alpha_bars[t])).sqrt()
    assert torch.allclose(ours.double(), mean + sigma * z, atol=1e-5)
