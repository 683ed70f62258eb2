"""Classifier-free guidance, DDIM inversion and slerp (chapters 6 and 7)."""

import pytest
import torch

from diffusion_lite import zoo
from diffusion_lite.data import digits
from diffusion_lite.samplers import (
    ddim_inversion_step,
    ddim_invert,
    ddim_sample,
    ddim_step,
    guided_eps,
    slerp,
)
from diffusion_lite.schedules import NoiseSchedule
from diffusion_lite.unet import UNet, UNetConfig


@pytest.fixture(scope="module")
def conditional():
    torch.manual_seed(0)
    model = UNet(UNetConfig(base_channels=8, num_classes=10)).eval()
    for p in model.parameters():          # random weights everywhere, so that cond matters
        torch.nn.init.normal_(p, std=0.05)
    return model


def test_guidance_scale_one_is_conditional_and_zero_unconditional(conditional):
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    t = torch.full((6,), 300)
    labels = torch.arange(6)
    with torch.no_grad():
        cond, uncond = conditional(x, t, cond=labels), conditional(x, t, cond=None)
        assert not torch.allclose(cond, uncond)
        assert torch.allclose(guided_eps(conditional, x, t, labels, 1.0), cond, atol=1e-6)
        assert torch.allclose(guided_eps(conditional, x, t, labels, 0.0), uncond, atol=1e-6)
        w3 = guided_eps(conditional, x, t, labels, 3.0)
        assert torch.allclose(w3, uncond + 3 * (cond - uncond), atol=1e-5)
        assert torch.equal(guided_eps(conditional, x, t, labels, None), cond)


def test_guidance_needs_a_condition(conditional):
    with pytest.raises(ValueError, match="cond"):
        guided_eps(conditional, torch.randn(2, 1, 8, 8), torch.tensor([1, 2]), None, 2.0)


def test_guided_sampling_with_scale_one_equals_conditional_sampling(conditional):
    schedule = NoiseSchedule.cosine(100)
    labels = torch.arange(4)
    kwargs = dict(num_steps=10, cond=labels, progress=False)
    a = ddim_sample(conditional, schedule, (4, 1, 8, 8), generator=torch.Generator().manual_seed(2),
                    guidance_scale=1.0, **kwargs)
    b = ddim_sample(conditional, schedule, (4, 1, 8, 8), generator=torch.Generator().manual_seed(2),
                    **kwargs)
    assert torch.allclose(a, b, atol=1e-5)


def test_inversion_step_undoes_a_ddim_step_with_the_same_eps():
    schedule = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(3)
    x_t, eps = torch.randn(5, 1, 8, 8, generator=g), torch.randn(5, 1, 8, 8, generator=g)
    x_prev = ddim_step(schedule, eps, x_t, 700, 680)
    assert torch.allclose(ddim_inversion_step(schedule, eps, x_prev, 680, 700), x_t, atol=1e-4)
    with pytest.raises(ValueError, match="t_prev"):
        ddim_inversion_step(schedule, eps, x_prev, 700, 680)


def test_ddim_inversion_round_trips_on_a_trained_model():
    """Image -> noise -> image with the zoo's digits U-Net, to step 981 (alpha_bar 9e-4): the
    reconstruction is close to the digit (error far below the digit's own variance) and the
    inverted noise looks Gaussian."""
    model, schedule = zoo.load("digits_unet")
    x0 = digits("test")[0][:32]
    noise = ddim_invert(model, schedule, x0, num_steps=50, end_step=981, progress=False)
    back = ddim_sample(model, schedule, tuple(x0.shape), x_T=noise, num_steps=50, start_step=981,
                       progress=False)
    error = (back - x0).pow(2).mean().item()
    assert error < 0.02 * x0.var().item(), error
    assert abs(noise.std().item() - 1) < 0.1


def test_start_and_end_steps_are_checked():
    model, schedule = zoo.load("digits_unet")
    with pytest.raises(ValueError, match="end_step"):
        ddim_invert(model, schedule, torch.zeros(1, 1, 8, 8), end_step=1001, progress=False)
    with pytest.raises(ValueError, match="start_step"):
        ddim_sample(model, schedule, (1, 1, 8, 8), start_step=-1, progress=False)


def test_slerp_endpoints_and_norm():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(1, 8, 8, generator=g), torch.randn(1, 8, 8, generator=g)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert path.shape == (5, 1, 8, 8)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    norms = path.flatten(1).norm(dim=1)
    assert (norms > 0.9 * min(a.norm(), b.norm())).all()           # no dip in the middle
    straight = 0.5 * (a + b)
    assert straight.norm() < 0.85 * path[2].norm()                  # which a straight line has
    with pytest.raises(ValueError, match="alpha"):
        slerp(a, b, 1.5)
