"""Every public sampler follows one contract (see the ``samplers`` module docstring): the model,
the schedule (a ``FlowPath`` for flow models) and the shape first; the rest keyword-only, with
the same names and meaning everywhere; guidance through the ``Guided`` wrapper."""

import inspect

import pytest
import torch

from diffusion_lite import samplers, solvers
from diffusion_lite.samplers import Guided
from diffusion_lite.schedules import FlowPath, NoiseSchedule

SHARED = ["num_steps", "x_T", "cond", "guidance_scale", "uncond", "device", "generator",
          "progress", "callback", "return_trajectory"]


def public_samplers():
    found = []
    for module in (samplers, solvers):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_sample") and fn.__module__ == module.__name__:
                found.append(fn)
    return found


SAMPLERS = public_samplers()


class Toy(torch.nn.Module):
    """A smooth stand-in for a network: it reads x, t and the class label."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.3))

    def forward(self, x, t, cond=None):
        label = 0.0 if cond is None else cond.float().reshape(-1, 1)
        level = t.float().reshape(-1, 1) / (1 if t.is_floating_point() else 20)
        return self.w * x + 0.05 * label + 0.1 * level


def schedule_for(sampler):
    return FlowPath() if sampler is solvers.flow_sample else NoiseSchedule.cosine(20)


def call(sampler, model=None, **kwargs):
    kwargs.setdefault("progress", False)
    if sampler is not samplers.ddpm_sample:
        kwargs.setdefault("num_steps", 5)
    return sampler(model or Toy(), schedule_for(sampler), (4, 2), **kwargs)


def test_every_sampler_is_found():
    names = {fn.__name__ for fn in SAMPLERS}
    assert names == {"ddpm_sample", "ddim_sample", "ode_sample", "flow_sample"}


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda fn: fn.__name__)
def test_signature(sampler):
    parameters = list(inspect.signature(sampler).parameters.values())
    assert [p.name for p in parameters[:3]] in (["model", "schedule", "shape"],
                                                ["model", "path", "shape"])
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters[:3])
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[3:])
    names = {p.name for p in parameters}
    expected = [n for n in SHARED if not (n == "num_steps" and sampler is samplers.ddpm_sample)]
    assert set(expected) <= names, set(expected) - names
    defaults = {p.name: p.default for p in parameters[3:]}
    assert defaults["generator"] is None and defaults["callback"] is None
    assert defaults["progress"] is True and defaults["return_trajectory"] is False


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda fn: fn.__name__)
def test_seeded_noise_and_given_start(sampler):
    a = call(sampler, generator=torch.Generator().manual_seed(0))
    b = call(sampler, generator=torch.Generator().manual_seed(0))
    c = call(sampler, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 2) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the first draw is x_T: passing that x_T, and the generator after it, gives the same result
    generator = torch.Generator().manual_seed(0)
    x_T = torch.randn(4, 2, generator=generator)
    assert torch.allclose(call(sampler, x_T=x_T, generator=generator), a)
    with pytest.raises(ValueError, match="x_T: expected shape"):
        call(sampler, x_T=torch.zeros(3, 2))


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda fn: fn.__name__)
def test_callback_sees_the_trajectory(sampler):
    seen = []
    x, trajectory = call(sampler, generator=torch.Generator().manual_seed(0),
                         callback=lambda i, t, x: seen.append((i, t, x.clone())),
                         return_trajectory=True)
    assert trajectory.shape[1:] == (4, 2) and len(seen) == len(trajectory) - 1 >= 1
    assert [i for i, _, _ in seen] == list(range(len(seen)))
    assert all(torch.equal(state, trajectory[i + 1]) for i, _, state in seen)
    assert torch.equal(trajectory[-1], x)
    assert seen[-1][1] == 0                                   # the last step reaches the data
    with pytest.raises(TypeError, match="callback"):
        call(sampler, callback="print")


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda fn: fn.__name__)
def test_guidance_is_the_guided_wrapper(sampler):
    labels, w = torch.tensor([0, 1, 2, 3]), 2.5
    x_T = torch.randn(4, 2, generator=torch.Generator().manual_seed(2))
    model = Toy()
    guided = call(sampler, model, x_T=x_T, cond=labels, guidance_scale=w,
                  generator=torch.Generator().manual_seed(3))
    wrapped = call(sampler, Guided(model, labels, w), x_T=x_T,
                   generator=torch.Generator().manual_seed(3))
    plain = call(sampler, model, x_T=x_T, generator=torch.Generator().manual_seed(3))
    assert torch.equal(guided, wrapped) and not torch.allclose(guided, plain)
    with pytest.raises(ValueError, match="guidance_scale"):
        call(sampler, cond=labels, guidance_scale=float("nan"))
    with pytest.raises(ValueError, match="cond"):
        call(sampler, guidance_scale=2.0)


def test_inversion_follows_the_contract_with_data_in_place_of_shape():
    parameters = list(inspect.signature(samplers.ddim_invert).parameters.values())
    assert [p.name for p in parameters[:3]] == ["model", "schedule", "x0"]
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[3:])
    assert {"num_steps", "cond", "device", "progress", "callback", "return_trajectory"} <= {
        p.name for p in parameters}
    seen = []
    x0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    noise, trajectory = samplers.ddim_invert(Toy(), NoiseSchedule.cosine(20), x0, num_steps=5,
                                             progress=False, return_trajectory=True,
                                             callback=lambda i, t, x: seen.append(t))
    assert torch.equal(trajectory[0], x0) and torch.equal(trajectory[-1], noise)
    assert seen == [4, 8, 12, 16, 20]


def test_clip_default_comes_from_the_model():
    """``clip_x0="model"`` (the default) uses the model's own ``clip_x0``; a zoo model carries
    its data's range. Clipping at 0.01 pins DDIM's last x0 estimate, and so its result."""
    schedule, x_T = NoiseSchedule.cosine(20), 3 * torch.randn(4, 2)
    model = Toy()
    unclipped = samplers.ddim_sample(model, schedule, (4, 2), x_T=x_T, num_steps=5, progress=False)
    model.clip_x0 = 0.01
    clipped = samplers.ddim_sample(model, schedule, (4, 2), x_T=x_T, num_steps=5, progress=False)
    explicit = samplers.ddim_sample(Toy(), schedule, (4, 2), x_T=x_T, num_steps=5, clip_x0=0.01,
                                    progress=False)
    off = samplers.ddim_sample(model, schedule, (4, 2), x_T=x_T, num_steps=5, clip_x0=None,
                               progress=False)
    assert clipped.abs().max() <= 0.01 + 1e-6 < unclipped.abs().max()
    assert torch.equal(clipped, explicit) and torch.equal(off, unclipped)
    assert Guided(model, torch.zeros(4)).clip_x0 == 0.01
    with pytest.raises(ValueError, match="clip_x0"):
        samplers.ddim_sample(model, schedule, (4, 2), clip_x0="auto", progress=False)
