"""Device mistakes caught without a GPU.

- A helper must never move a module it was handed (``Module.to`` moves it in place, so the
  caller's other cells then see it on another device): a module whose ``_apply`` refuses, the
  method ``to``, ``cuda`` and ``float`` all go through, is passed to every helper that takes one.
- PyTorch's ``meta`` device stands in for a GPU where values need not be read: mixing a ``meta``
  and a ``cpu`` tensor in one operation raises, as mixing ``cuda`` and ``cpu`` does.
- A meta tensor has no values, so reading one on the host (``bool(t.any())``, ``.item()``,
  ``.cpu()``) raises too: a sampler's loop run on meta proves that its steps never make a GPU's
  host wait for the GPU.
"""

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import diffusion_lite as dl
from diffusion_lite import features
from diffusion_lite._random import randn, randn_like
from diffusion_lite._validate import inside_loop
from diffusion_lite.samplers import ddim_invert, ddim_sample, ddim_step, ddpm_sample, ddpm_step, run
from diffusion_lite.schedules import EpsilonFromV, FlowPath, NoiseSchedule
from diffusion_lite.solvers import flow_sample, ode_sample
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


LOOPS = ["ddpm", "ddpm_beta_inpaint", "ddim", "ddim_eta_guided", "invert", "ode_heun", "ode_sde",
         "flow_heun", "v_model"]


def run_loop_on(loop: str, device: str, generator=None, callback=None):
    """Run one sampler loop with its model, schedule and start on ``device``."""
    conditional = loop == "ddim_eta_guided"
    config = UNetConfig(image_size=8, base_channels=8, channel_mults=(1,), attention_resolutions=(),
                        num_classes=3 if conditional else None)
    model, schedule = UNet(config).eval().to(device), NoiseSchedule.linear(20)
    shape, common = (2, 1, 8, 8), dict(generator=generator, progress=False, callback=callback)
    if loop == "ddpm":
        return ddpm_sample(model, schedule, shape, **common)
    if loop == "ddpm_beta_inpaint":
        mask = torch.zeros(shape, dtype=torch.bool)               # given on the CPU, checked
        mask[..., :4] = True                                      # there once, then moved
        return ddpm_sample(model, schedule, shape, variance="beta", clip_x0=1.0,
                           inpaint=(torch.zeros(shape), mask), **common)
    if loop == "ddim":
        return ddim_sample(model, schedule, shape, num_steps=4, **common)
    if loop == "ddim_eta_guided":
        return ddim_sample(model, schedule, shape, num_steps=4, eta=1.0, clip_x0=1.0,
                           cond=torch.tensor([0, 2], device=device), guidance_scale=3.0, **common)
    if loop == "invert":
        return ddim_invert(model, schedule, torch.zeros(shape, device=device), num_steps=4,
                           progress=False, callback=callback)
    if loop.startswith("ode"):
        method = "heun" if loop == "ode_heun" else "euler_maruyama"
        return ode_sample(model, schedule, shape, num_steps=4, method=method, clip_x0=1.0, **common)
    if loop == "flow_heun":
        return flow_sample(model, FlowPath(), shape, num_steps=4, method="heun", **common)
    return ddim_sample(EpsilonFromV(model, schedule), schedule, shape, num_steps=4, **common)


class HostReads(TorchDispatchMode):
    """Counts the reads of a tensor's value by the host (``bool(t.any())``, ``int(t.max())``,
    ``.item()``): on a GPU, each one waits until the GPU has caught up."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("loop", LOOPS)
def test_only_a_loops_first_step_reads_values_on_the_host(loop):
    """The first step checks its inputs (it reads values); the steps after it read none."""
    reads_after_step = []
    with HostReads() as reads:
        run_loop_on(loop, "cpu", torch.Generator().manual_seed(0),
                    callback=lambda i, t, x: reads_after_step.append(reads.count))
    assert reads_after_step[0] > 0, "the first step should check what it was given"
    assert reads_after_step[1:] == [reads_after_step[0]] * (len(reads_after_step) - 1)


@pytest.mark.parametrize("loop", LOOPS)
def test_with_value_checks_off_a_loop_runs_on_meta(loop):
    """Nothing else in a step needs the host: no ``t.cpu()`` to pick a coefficient, no count,
    no copy back. On meta, which has no values, any of them raises."""
    with inside_loop():
        x = run_loop_on(loop, "meta", torch.Generator().manual_seed(0))
    assert x.device.type == "meta" and x.shape == (2, 1, 8, 8)
    assert torch.isfinite(run_loop_on(loop, "cpu", torch.Generator().manual_seed(0))).all()


def test_a_step_that_reads_values_is_caught_both_ways():
    """The two checks above can fail: a step that asks whether its state is finite."""
    def careful_step(x, t, t_prev):
        if not torch.isfinite(x).all():
            raise ValueError("not finite")
        return x + 1
    reads_after_step = []
    with HostReads() as reads:
        run(torch.zeros(2), [3, 2, 1, 0], careful_step, desc="", progress=False,
            callback=lambda i, t, x: reads_after_step.append(reads.count))
    assert reads_after_step == [1, 2, 3]
    with pytest.raises((NotImplementedError, RuntimeError)), inside_loop():
        run(torch.zeros(2, device="meta"), [2, 1, 0], careful_step, desc="", progress=False)


def test_steps_called_by_hand_still_check_their_inputs():
    """Outside a sampler's loop the steps check what they are given, as before."""
    schedule, x = NoiseSchedule.linear(20), torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match="t: expected steps in \\[1, 20\\]"):
        ddpm_step(schedule, x, x, 21)
    with pytest.raises(ValueError, match="expected finite values"):
        ddim_step(schedule, x * float("nan"), x, 5, 3)
    with pytest.raises(ValueError, match="t_prev: expected 0 <= t_prev < t"):
        ddim_step(schedule, x, x, 5, 5)


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


# ----------------------------------------------------------------------------- zoo, losses

DIFFUSION_MODELS = [name for name, recipe in dl.zoo.all_recipes().items()
                    if isinstance(recipe, dl.zoo.Recipe)]


@pytest.mark.parametrize("name", DIFFUSION_MODELS)
def test_a_zoo_model_samples_on_the_device_it_was_loaded_to(name):
    """``zoo.load(device=...)`` puts every weight there, and nothing the model holds (a
    v-prediction's schedule, a text encoder) stays behind: two DDIM steps run on meta."""
    model, schedule = dl.zoo.load(name, device="meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert {b.device.type for b in model.buffers()} <= {"meta"}
    config = model.config if hasattr(model, "config") else model.net.config
    shape = (2, config.in_channels, config.image_size, config.image_size)
    cond = None
    if name == "digits_unet_cond":
        cond = torch.tensor([3, 7], device="meta")
    elif name == "shapes_text":
        cond = dl.text.shapes_tokenizer().encode(["a red circle", "a blue square"]).to("meta")
    with inside_loop():
        x = ddim_sample(model, schedule, shape, num_steps=2, cond=cond, progress=False)
    assert x.device.type == "meta" and x.shape == shape


def test_a_zoo_vae_and_classifier_load_on_the_device_asked():
    assert {p.device.type for p in dl.zoo.load_vae("shapes_vae", device="meta").parameters()} == {"meta"}
    classifier = dl.zoo.load_classifier("digits_classifier", device="meta")
    assert {p.device.type for p in classifier.parameters()} == {"meta"}


@pytest.mark.parametrize("loss", ["epsilon", "x0", "v", "flow"])
def test_losses_draw_their_steps_and_noise_onto_the_models_device(loss):
    """A loss on a model and a batch on meta: its steps, noise and targets follow them."""
    model, x0 = small_unet().to("meta"), torch.zeros(4, 1, 8, 8, device="meta")
    schedule, g = NoiseSchedule.linear(20), torch.Generator().manual_seed(0)
    with inside_loop():
        if loss == "flow":
            value = dl.losses.flow_matching_loss(model, FlowPath(), x0, generator=g)
        else:
            value = getattr(dl.losses, f"{loss}_loss")(model, schedule, x0, generator=g)
    assert value.device.type == "meta" and value.shape == ()


# ----------------------------------------------------------------------------- metrics, plots


class Elsewhere(torch.Tensor):
    """A CPU tensor that behaves as one on a GPU where it matters here: an operation mixing it
    with an ordinary tensor that is not a 0-d scalar raises (as ``cuda`` with ``cpu`` does),
    ``.numpy()`` raises, and ``.cpu()`` or ``.to("cpu")`` bring back an ordinary tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.numpy:
            raise TypeError("can't convert a tensor on another device to numpy: call .cpu() first")
        if func is torch.Tensor.cpu or (func is torch.Tensor.to and _to_cpu(args[1:], kwargs)):
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs).as_subclass(torch.Tensor)
        tensors = [a for a in _leaves(args, kwargs) if isinstance(a, torch.Tensor)]
        plain = [a for a in tensors if type(a) is torch.Tensor and a.ndim > 0]
        indexing = func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__)
        if plain and any(isinstance(a, Elsewhere) for a in tensors) and not indexing:
            raise RuntimeError(f"{func.__name__}: expected all tensors to be on the same device, "
                               "got one elsewhere and one on the cpu")
        return super().__torch_function__(func, types, args, kwargs)


def _to_cpu(args, kwargs) -> bool:
    for value in [*args, kwargs.get("device")]:
        if isinstance(value, (str, torch.device)) and torch.device(value).type == "cpu":
            return True
        if type(value) is torch.Tensor:
            return True
    return False


def _leaves(args, kwargs):
    for value in [*args, *kwargs.values()]:
        if isinstance(value, (list, tuple)):
            yield from _leaves(value, {})
        else:
            yield value


def elsewhere(x: torch.Tensor) -> Elsewhere:
    return x.as_subclass(Elsewhere)


def test_elsewhere_raises_where_a_gpu_tensor_would():
    """The stand-in can fail: mixing, and numpy, raise; moving back works."""
    x = elsewhere(torch.ones(3))
    with pytest.raises(RuntimeError, match="same device"):
        x + torch.ones(3)
    with pytest.raises(TypeError, match="numpy"):
        x.numpy()
    assert type(x.cpu()) is torch.Tensor and type(x.to("cpu") + torch.ones(3)) is torch.Tensor
    assert isinstance(x * 2 + x, Elsewhere)


def test_metrics_take_sets_from_any_device():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 2, generator=g), torch.randn(40, 2, generator=g) + 0.5
    m = dl.metrics
    for metric in [lambda x, y: m.sliced_wasserstein(x, y, generator=torch.Generator().manual_seed(1)),
                   m.rbf_mmd, m.frechet_distance, m.precision_recall,
                   lambda x, y: m.mode_coverage(x, y[:5])]:
        moved, here = metric(elsewhere(a), elsewhere(b)), metric(a, b)
        if isinstance(here, torch.Tensor):
            assert torch.equal(torch.as_tensor(moved).cpu(), here)
        else:
            assert moved == here
    labels = torch.tensor([0, 1, 1, 3])
    hist = m.class_histogram(elsewhere(labels), 4)
    assert torch.equal(torch.as_tensor(hist).cpu(), m.class_histogram(labels, 4))
    assert m.total_variation(elsewhere(hist.cpu()), torch.full((4,), 0.25)) == \
        m.total_variation(hist.cpu(), torch.full((4,), 0.25))


def test_plots_and_features_take_tensors_from_any_device():
    import matplotlib.pyplot as plt
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    dl.plotting.show_images(elsewhere(images), nrow=2)
    dl.plotting.plot_points(elsewhere(torch.randn(30, 2, generator=g)))
    schedule = NoiseSchedule.linear(10)
    moved = NoiseSchedule(*(elsewhere(v) for v in (schedule.betas, schedule.alphas,
                                                   schedule.alpha_bars, schedule.one_minus_alpha_bars)))
    dl.plotting.plot_schedule({"linear": moved})
    dl.plotting.animate_points(elsewhere(torch.randn(3, 30, 2, generator=g)), num_frames=2)
    plt.close("all")
    classifier = features.DigitsClassifier()
    assert torch.equal(features.digit_features(elsewhere(images), classifier),
                       features.digit_features(images, classifier))


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
