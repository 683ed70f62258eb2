"""Device mistakes caught without a GPU.

- A helper must never move a module it was handed (``Module.to`` moves it in place, so the
  caller's other cells then see it on another device): a module whose ``_apply`` refuses, the
  method ``to``, ``cuda`` and ``float`` all go through, is passed to every helper that takes one.
- PyTorch's ``meta`` device stands in for a GPU where values need not be read: mixing a ``meta``
  and a ``cpu`` tensor in one operation raises, as mixing ``cuda`` and ``cpu`` does.
"""

import pytest
import torch
from torch import nn

import diffusion_lite as dl
from diffusion_lite import features
from diffusion_lite._random import randn, randn_like
from diffusion_lite.samplers import ddim_invert, ddim_sample, ddpm_sample
from diffusion_lite.schedules import NoiseSchedule
from diffusion_lite.solvers import ode_sample
from diffusion_lite.train import EMA, train
from diffusion_lite.unet import UNet, UNetConfig


class MovedError(AssertionError):
    pass


def refuse_moves(module: nn.Module) -> nn.Module:
    """``module``, which now raises MovedError if anything moves or casts it in place."""
    def refuse(*args, **kwargs):
        raise MovedError(f"{type(module).__name__} was moved or cast by a helper it was handed to")
    for sub in module.modules():
        sub._apply = refuse
    return module


def small_unet() -> nn.Module:
    return UNet(UNetConfig(image_size=8, base_channels=8, channel_mults=(1,),
                                 attention_resolutions=())).eval()


def test_refuse_moves_catches_the_pattern_it_is_for():
    """The chapter-9 pattern: a helper that calls ``.to(device)`` on the module it was given."""
    def careless_decode(vae_like, z, device="cpu"):
        return vae_like.to(device)(z)
    with pytest.raises(MovedError):
        careless_decode(refuse_moves(nn.Linear(2, 2)), torch.zeros(1, 2))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "invert", "ode"])
def test_samplers_never_move_the_model(sampler):
    model, schedule = refuse_moves(small_unet()), NoiseSchedule.linear(20)
    g = torch.Generator().manual_seed(0)
    shape = (2, 1, 8, 8)
    if sampler == "ddpm":
        ddpm_sample(model, schedule, shape, generator=g, progress=False)
    elif sampler == "ddim":
        ddim_sample(model, schedule, shape, num_steps=4, generator=g, progress=False)
    elif sampler == "invert":
        ddim_invert(model, schedule, torch.zeros(shape), num_steps=4, progress=False)
    else:
        ode_sample(model, schedule, shape, num_steps=4, generator=g, progress=False)


def test_training_ema_and_features_never_move_what_they_are_handed():
    model = small_unet().train()
    ema = EMA(model, decay=0.9)
    refuse_moves(model)
    schedule = NoiseSchedule.linear(20)
    train(model, lambda m, x0: dl.losses.epsilon_loss(m, schedule, x0), torch.zeros(16, 1, 8, 8),
             steps=2, batch_size=4, ema=ema, progress=False)
    classifier = refuse_moves(features.DigitsClassifier())
    assert features.digit_features(torch.zeros(3, 1, 8, 8), classifier).device.type == "cpu"


def test_ema_follows_a_model_moved_after_it_was_made():
    """An EMA built before ``model.to(device)`` used to fail inside ``_foreach_lerp_``
    (tensors on different devices); the meta device plays the GPU."""
    model = nn.Linear(3, 3)
    ema = EMA(model, decay=0.5)
    model.to("meta")
    ema.update(model)
    assert next(ema.model.parameters()).device.type == "meta"


def test_noise_is_drawn_on_the_cpu_and_lands_on_the_device_asked():
    g = torch.Generator().manual_seed(3)
    x = randn((2, 3), g, "meta")
    assert x.device.type == "meta" and x.dtype == torch.float32
    assert randn_like(torch.empty(2, 3, device="meta"), g).device.type == "meta"
    same = randn((2, 3), torch.Generator().manual_seed(3))
    assert torch.equal(same, torch.randn(2, 3, generator=torch.Generator().manual_seed(3)))


def test_snr_of_steps_comes_back_on_their_device():
    schedule = NoiseSchedule.linear(10)
    t = torch.tensor([1, 5])
    assert torch.equal(schedule.snr(t), schedule.snr()[t])
    assert schedule.snr(t).device == t.device


def test_seed_everything_asks_for_cpu_like_numerics_on_a_gpu():
    dl.seed_everything(0)
    assert not torch.backends.cuda.matmul.allow_tf32
    assert not torch.backends.cudnn.allow_tf32
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


def test_a_schedule_is_refused_on_a_device_without_float64():
    schedule = NoiseSchedule.linear(10)
    with pytest.raises(ValueError, match="device: expected a device with float64.*got 'mps'"):
        schedule.to("mps")
    assert schedule.to("meta").alpha_bars.device.type == "meta"
