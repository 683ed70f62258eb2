"""Schedules: properties, the closed form against the chain, agreement with diffusers."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffusion_lite.schedules import (
    NoiseSchedule,
    add_noise,
    cosine_betas,
    eps_from_velocity,
    linear_betas,
    posterior_mean_variance,
    predict_eps,
    predict_x0,
    sigmoid_betas,
    velocity,
)

schedules = st.one_of(
    st.builds(NoiseSchedule.linear, st.integers(2, 2000),
              beta_start=st.floats(1e-5, 1e-3), beta_end=st.floats(5e-3, 0.05)),
    st.builds(NoiseSchedule.cosine, st.integers(2, 2000), s=st.floats(1e-4, 0.05)),
    st.builds(NoiseSchedule.sigmoid, st.integers(2, 2000), start=st.floats(-5, -1),
              end=st.floats(1, 5), tau=st.floats(0.3, 2.0)),
)


@settings(max_examples=60, deadline=None)
@given(schedules)
def test_alpha_bar_strictly_decreasing_in_unit_interval(schedule):
    # index 0 is the clean end
    assert schedule.alpha_bars[0] == 1 and schedule.one_minus_alpha_bars[0] == 0
    assert schedule.betas[0] == 0 and len(schedule.alpha_bars) == schedule.num_steps + 1
    # each step adds noise: in float32, alpha_bar falls or 1 - alpha_bar (kept precise by expm1)
    # rises at every step (one of the two can round to a tie, never both)
    alpha_bars, one_minus = schedule.alpha_bars, schedule.one_minus_alpha_bars
    assert (one_minus[1:] > 0).all()
    assert ((alpha_bars[1:] < alpha_bars[:-1]) | (one_minus[1:] > one_minus[:-1])).all()
    # float32 storage can round 1 - 3e-8 to 1 or tie neighbours: non-increasing within [0, 1]
    alpha_bars = schedule.alpha_bars
    assert ((alpha_bars > 0) & (alpha_bars <= 1)).all() and (alpha_bars[1:] <= alpha_bars[:-1]).all()


@settings(max_examples=60, deadline=None)
@given(schedules)
def test_snr_monotone(schedule):
    snr = schedule.snr().double()
    assert snr[0] == math.inf
    assert (snr[1:] <= snr[:-1]).all()
    assert (snr > 0).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-4, 0.5), min_size=1, max_size=60))
def test_closed_form_mean_and_variance_match_the_chain(betas):
    """Run the one-step recursion on mean and variance; it must land on the closed form."""
    schedule = NoiseSchedule.from_betas(torch.tensor(betas, dtype=torch.float64))
    mean_coef, variance = 1.0, 0.0                       # x_0: coefficient 1, variance 0
    for t, beta in enumerate(betas, start=1):
        mean_coef, variance = math.sqrt(1 - beta) * mean_coef, (1 - beta) * variance + beta
        assert math.isclose(mean_coef, schedule.alpha_bars[t].sqrt().item(), rel_tol=1e-4)
        assert math.isclose(variance, 1 - schedule.alpha_bars[t].item(), rel_tol=1e-4, abs_tol=1e-6)


def test_add_noise_matches_the_chain_by_simulation():
    g = torch.Generator().manual_seed(0)
    schedule = NoiseSchedule.linear(100)
    x0 = torch.tensor([[1.0, -2.0]]).expand(50_000, 2)
    x = x0
    for t in range(1, 101):                              # x_t = sqrt(1 - beta_t) x_{t-1} + ...
        beta = schedule.betas[t]
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=g)
    t = torch.full((len(x0),), 100)
    direct = add_noise(schedule, x0, t, torch.randn(x0.shape, generator=g))
    assert torch.allclose(x.mean(0), direct.mean(0), atol=0.03)
    assert torch.allclose(x.var(0), direct.var(0), rtol=0.03)


def test_identities_are_inverse_of_each_other():
    g = torch.Generator().manual_seed(1)
    schedule = NoiseSchedule.cosine(1000)
    x0, eps = torch.randn(64, 3, 4, 4, generator=g), torch.randn(64, 3, 4, 4, generator=g)
    t = torch.randint(1, 901, (64,), generator=g)
    x_t = add_noise(schedule, x0, t, eps)
    assert torch.allclose(predict_x0(schedule, x_t, t, eps), x0, atol=1e-3)
    assert torch.allclose(predict_eps(schedule, x_t, t, x0), eps, atol=1e-3)
    v = velocity(schedule, x0, t, eps)
    assert torch.allclose(eps_from_velocity(schedule, x_t, t, v), eps, atol=1e-4)


def test_posterior_at_first_step_is_x0_with_zero_variance():
    schedule = NoiseSchedule.linear(10)
    x0, x_t = torch.randn(4, 2), torch.randn(4, 2)
    mean, variance = posterior_mean_variance(schedule, x0, x_t, torch.ones(4, dtype=torch.long))
    assert torch.allclose(mean, x0, atol=1e-6)
    assert torch.all(variance == 0)


@pytest.mark.parametrize("ours, theirs", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
def test_schedules_agree_with_diffusers(ours, theirs):
    diffusers = pytest.importorskip("diffusers")
    reference = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=theirs)
    schedule = NoiseSchedule.from_name(ours, 1000)
    # their timestep k is our step t = k + 1: their arrays are ours without the clean end
    assert torch.allclose(schedule.betas[1:], reference.betas.float(), atol=1e-5)
    assert torch.allclose(schedule.alpha_bars[1:], reference.alphas_cumprod.float(), atol=1e-5)
    for k in (0, 499, 999):
        t = k + 1
        assert math.isclose(schedule.alpha_bars[t].item(), reference.alphas_cumprod[k].item(),
                            rel_tol=1e-5, abs_tol=1e-9)


def test_beta_functions_return_float64():
    for fn in (linear_betas, cosine_betas, sigmoid_betas):
        assert fn(10).dtype == torch.float64
    assert NoiseSchedule.linear(10).betas.dtype == torch.float32
