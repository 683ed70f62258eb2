"""Device mistakes caught without a GPU.

- A helper must never move a module it was handed (``Module.to`` moves it in place, so the
  caller's other cells then see it on another device): a module whose ``_apply`` refuses, the
  method ``to``, ``cuda`` and ``float`` all go through, is passed to every helper that takes one.
- PyTorch's ``meta`` device stands in for a GPU where values need not be read: mixing a ``meta``
  and a ``cpu`` tensor in one operation raises, as mixing ``cuda`` and ``cpu`` does.
"""

import ast
import json
import re
from pathlib import Path

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

ROOT = Path(__file__).resolve().parent.parent


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


# ----------------------------------------------------------------------------- the chapters

_MODULE_MAKERS = re.compile(r"(^|\.)(load|load_vae|load_classifier|UNet|VAE|\w*Denoiser|Generator|"
                            r"Discriminator|\w*Classifier|Linear|Sequential)$")


def _called_name(call: ast.Call) -> str:
    return ast.unparse(call.func) if isinstance(call, ast.Call) else ""


def modules_moved_inside_functions(source: str, modules: set[str]) -> list[str]:
    """``name.to(...)`` or ``name.cuda()`` inside a function, where ``name`` is not the
    function's own but one of the chapter's ``modules``: the helper would move, in place, a
    module the rest of the chapter uses where it is."""
    tree = ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.MULTILINE))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.Lambda)):
            continue
        own = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        own |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(fn):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("to", "cuda") and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in modules - own):
                found.append(f"{getattr(fn, 'name', 'lambda')} moves {node.func.value.id}")
    return found


def chapter_modules(sources: list[str]) -> set[str]:
    """The names a chapter binds to networks: ``x = zoo.load_vae(...)``, ``x, s = zoo.load(...)``,
    ``x = UNet(...)`` and the like."""
    names = set()
    for source in sources:
        tree = ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.MULTILINE))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _MODULE_MAKERS.search(_called_name(node.value)):
                target = node.targets[0]
                first = target.elts[0] if isinstance(target, ast.Tuple) else target
                if isinstance(first, ast.Name):
                    names.add(first.id)
    return names


def test_the_check_finds_the_chapter_9_pattern():
    setup = 'vae = zoo.load_vae("shapes_vae")\nimages = torch.zeros(3)\n'
    careless = ("def sample_latent(n):\n    images.to(device)\n"
                "    return vae.to(device).decode(z.to(device))\n")
    careful = ("def sample_latent(n):\n    vae_device = next(vae.parameters()).device\n"
               "    return vae.decode(z.to(vae_device))\n")
    modules = chapter_modules([setup])
    assert modules == {"vae"}
    assert modules_moved_inside_functions(careless, modules) == ["sample_latent moves vae"]
    assert modules_moved_inside_functions(careful, modules) == []


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")), ids=lambda p: p.name[:2])
def test_no_chapter_helper_moves_a_network_it_did_not_make(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    modules = chapter_modules(sources)
    assert [m for s in sources for m in modules_moved_inside_functions(s, modules)] == []
