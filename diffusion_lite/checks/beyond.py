"""Checkers for chapter 13 (the same machinery on other data): inpainting by replacement, the
whole inpainting loop, the Chamfer distance between point clouds, and what a shuffle does to a
denoiser's prediction."""

from __future__ import annotations

import torch

from ..metrics import chamfer_distance
from ..samplers import ddim_sample
from ..schedules import NoiseSchedule, add_noise
from ._common import (
    NOT_IMPLEMENTED,
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _diagnose,
    _passed,
    checker,
)


@checker(forbid=("replace_known",))
def check_replace_known(fn, cases: int = 3) -> None:
    """Check ``fn(schedule, x, known, mask, t_prev, noise)``: the state ``x`` at level ``t_prev``
    with its masked entries replaced by ``known`` noised to that level with ``noise``,
    sqrt(ᾱ_{t_prev}) known + sqrt(1 - ᾱ_{t_prev}) noise, the others kept."""
    g = torch.Generator().manual_seed(13)
    schedule = NoiseSchedule.cosine(100)
    for case in range(cases):
        x, known, noise = (torch.randn(4, 2, 12, generator=g) for _ in range(3))
        mask = torch.zeros(1, 1, 12, dtype=torch.bool)
        mask[..., : 3 + case] = True
        t_prev = torch.tensor([5, 40, 77, 99][: 4])[torch.randperm(4, generator=g)]
        name = f"check_replace_known (case {case})"
        answer = _answer_of(name, fn, (schedule, x, known, mask, t_prev, noise),
                            "x is (B, C, L), mask (1, 1, L) bool, t_prev a (B,) LongTensor.")

        def noised(t, known=known, noise=noise):
            return add_noise(schedule, known, t, noise)

        reference = torch.where(mask, noised(t_prev), x)
        _diagnose(name, answer, reference, {
            "Noise the known entries to the level t_prev before putting them in: the rest of x "
            "is that noisy, and the known part must match it.": torch.where(mask, known, x),
            "The mask marks the entries to KEEP from `known`; you replaced the others.":
                torch.where(mask, x, noised(t_prev)),
            "Noise the known entries to t_prev, the level x is at, not one step noisier.":
                torch.where(mask, noised((t_prev + 1).clamp(max=schedule.num_steps)), x),
            "Use sqrt(ᾱ) and sqrt(1 - ᾱ), not ᾱ and 1 - ᾱ.": torch.where(
                mask, schedule.alpha_bars[t_prev][:, None, None] * known
                + (1 - schedule.alpha_bars[t_prev][:, None, None]) * noise, x),
            "Keep the unknown entries of x as they are; only the masked ones change.":
                noised(t_prev),
            "Use ᾱ_{t_prev} (schedule.alpha_bars), the product of the alphas down to t_prev, not "
            "α_{t_prev} (schedule.alphas), the one step's factor: the state x is t_prev steps from "
            "the data.": torch.where(
                mask, schedule.alphas[t_prev][:, None, None].sqrt() * known
                + (1 - schedule.alphas[t_prev][:, None, None]).sqrt() * noise, x),
            "Noise the known entries to t_prev itself, the level x is at, not one step cleaner "
            "(t_prev - 1).": torch.where(mask, noised((t_prev - 1).clamp(min=0)), x),
            "t_prev holds one level per example, (B,): use each example's own level "
            "(schedule.alpha_bars[t_prev][:, None, None]), not the first example's, t_prev[0], "
            "for the whole batch.": torch.where(mask, noised(t_prev[:1].expand(len(x))), x),
        })
    _passed("check_replace_known", cases)


@checker(forbid=("chamfer_distance",))
def check_chamfer_distance(fn, cases: int = 3) -> None:
    """Check ``fn(a, b)`` for point clouds (B, N, D) and (B, M, D), N != M: per pair, the mean
    squared distance from each point of a to its nearest point of b plus the same from b to a,
    (B,); and 0 between a cloud and itself shuffled."""
    g = torch.Generator().manual_seed(31)
    for case in range(cases):
        a = torch.randn(3, 7 + case, 3, generator=g)
        b = torch.randn(3, 5, 3, generator=g)
        name = f"check_chamfer_distance (case {case})"
        answer = _answer_of(name, fn, (a, b), "a is (B, N, D) and b is (B, M, D), with N != M.")
        if isinstance(answer, torch.Tensor) and answer.shape != (len(a),):
            raise ExerciseError(f"{name}: expected one number per pair of clouds, shape "
                                f"({len(a)},), got {tuple(answer.shape)}: average over the points "
                                "of each cloud (dim=1), not over the batch too.")
        d2 = torch.cdist(a, b) ** 2                                             # (B, N, M)
        a_to_b, b_to_a = d2.min(dim=2).values, d2.min(dim=1).values           # (B, N), (B, M)
        _diagnose(name, answer, chamfer_distance(a, b), {
            "Add both directions: a's points to their nearest in b, and b's to their nearest in "
            "a; one direction alone ignores points of b that nothing in a comes near.":
                a_to_b.mean(1),
            "That is only b to a; add a to b too.": b_to_a.mean(1),
            "Use squared distances (the book's convention), not distances.":
                d2.sqrt().min(dim=2).values.mean(1) + d2.sqrt().min(dim=1).values.mean(1),
            "Average each direction over its points (mean), do not sum: clouds of different "
            "sizes must stay comparable.": a_to_b.sum(1) + b_to_a.sum(1),
            "Take the nearest point (min over the other cloud), not the mean over all its "
            "points.": d2.mean(dim=2).mean(1) + d2.mean(dim=1).mean(1),
            "You squared the distances twice: torch.cdist gives distances, and their squares are "
            "what the nearest-point terms average, not their fourth powers.":
                (d2 ** 2).min(dim=2).values.mean(1) + (d2 ** 2).min(dim=1).values.mean(1),
            "Average each direction over its own points and add the two means; you pooled the "
            "N + M nearest distances into one mean, which weighs the larger cloud more.":
                torch.cat([a_to_b, b_to_a], dim=1).mean(1),
            "Add the two directions; the book's convention does not halve their sum.":
                (a_to_b.mean(1) + b_to_a.mean(1)) / 2,
            "Take the nearest point with min, not the farthest with max.":
                d2.max(dim=2).values.mean(1) + d2.max(dim=1).values.mean(1),
            **{f"You took the min over the same axis twice (dim={axis}), so one direction counts "
               "twice and the other not at all. In squared (B, N, M), a's point i finds its "
               "nearest in b with the min over b's points (dim=2), and b's point j its nearest in "
               "a with the min over a's points (dim=1).": 2 * d2.min(dim=axis).values.mean(1)
               for axis in (1, 2)},
        }, atol=1e-4)
        shuffled = b[:, torch.randperm(b.shape[1], generator=g)]
        same = _answer_of(name, fn, (b, shuffled), "a is (B, N, D) and b is (B, M, D).")
        if not isinstance(same, torch.Tensor) or same.abs().max() > 1e-4:
            raise ExerciseError(f"{name}: a cloud and the same cloud with its points shuffled "
                                f"must be at distance 0, got {same!r:.80}: every point has "
                                "itself as its nearest point.")
    _passed("check_chamfer_distance", cases)


class _StandIn(torch.nn.Module):
    """A stand-in denoiser for signals (B, 2, L): a convolution whose output depends on t."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x, t):
        return self.conv(x) * (1 + t[:, None, None] / 100)


@checker(forbid=("ddim_sample", "ddpm_sample"))
def check_inpaint_loop(fn, cases: int = 2) -> None:
    """Check ``fn(model, schedule, known, mask, num_steps, generator)``: DDIM with η = 1 and
    x0 clipped to [-1, 1] from noise drawn from ``generator``, with ``replace_known`` at the
    start and after every step, which must equal ``ddim_sample(..., inpaint=(known, mask))``
    drawn from a generator seeded alike."""
    for case in range(cases):
        seed = 130 + case
        torch.manual_seed(seed)
        model = _StandIn()
        schedule = NoiseSchedule.cosine(200)
        known = torch.randn(3, 2, 16, generator=torch.Generator().manual_seed(seed))
        mask = torch.zeros(1, 1, 16, dtype=torch.bool)
        mask[..., : 4 + 2 * case] = True
        name = f"check_inpaint_loop (case {case})"
        args = (model, schedule, known, mask, 10)
        answer = _answer_of(name, fn, args + (torch.Generator().manual_seed(seed),),
                            "model(x, t) takes x (B, C, L) and t a (B,) LongTensor.")
        with torch.no_grad():
            reference = ddim_sample(model, schedule, known.shape, num_steps=10, eta=1.0,
                                    clip_x0=1.0, inpaint=(known, mask), progress=False,
                                    generator=torch.Generator().manual_seed(seed))
            wrong = {hint: _inpaint_loop(*args, torch.Generator().manual_seed(seed), slip=slip)
                     for slip, hint in _INPAINT_SLIPS.items()}
        try:
            _diagnose(name, answer, reference, wrong, atol=1e-4)
        except ExerciseError as error:
            if "largest difference" not in str(error):
                raise
            _known_at_the_end(name, answer, schedule, known, mask, num_steps=10)
            raise
    _passed("check_inpaint_loop", cases)


def _known_at_the_end(name: str, answer: torch.Tensor, schedule, known, mask, num_steps: int):
    """Name what the known entries of a wrong loop's samples show: not ``known`` exactly (the
    replacement at level 0 is missing), or ``known`` noised to the last strided level (the
    replacements run one level behind: at t rather than t_prev, or the loop stops before 0)."""
    from ..samplers import ddim_timesteps

    keep = mask.expand_as(known)
    if torch.equal(answer[keep], known[keep]):
        return
    last = int(ddim_timesteps(schedule.num_steps, num_steps)[-1])
    alpha_bar = schedule.alpha_bars[last]
    z = (answer[keep] - alpha_bar.sqrt() * known[keep]) / (1 - alpha_bar).sqrt()
    if z.abs().max() < 5 and 0.5 < z.std().item() < 1.6 and z.mean().abs() < 0.7:
        raise ExerciseError(
            f"{name}: not yet. At the end your known entries are `known` noised to level {last}, "
            "the last strided level, not `known` itself: your replacements run one level behind. "
            "The step from t to t_prev arrives at t_prev, so replace at t_prev (not t), and go on "
            "to the last step's t_prev = 0, where replace_known puts `known` back exactly.")
    raise ExerciseError(
        f"{name}: not yet. At the end your known entries are not exactly `known` (largest gap "
        f"{(answer[keep] - known[keep]).abs().max().item():.3g}): replace after every step, the "
        "last one included; at its t_prev = 0, replace_known puts `known` back exactly.")


_INPAINT_SLIPS = {
    "no start": "Replace the known part at the start too, in x_T at the level of the first step, "
                "before the model sees it.",
    "before": "Replace after each step, at the level t_prev the step arrived at, not before it "
              "at the level t it starts from.",
    "at t": "After the step from t to t_prev, noise the known part to t_prev, the level x is "
            "now at, not to t.",
    "no final": "Go down to level 0: the last step ends at t_prev = 0, where the known part is "
                "put back exactly; ddim_timesteps alone stops at the last strided step.",
    "eta 0": "Use η = 1 (the stochastic setting) in ddim_step, as the chapter's sampler does.",
    "no clip": "Clip the estimate of x0 to [-1, 1] (clip_x0=1.0), as the chapter's sampler does.",
    "inverted": "The mask is True on the entries to keep from `known`; you replaced the others.",
    "from known": "Start from pure noise x_T drawn from the generator, not from the known signal.",
}


def _inpaint_loop(model, schedule, known, mask, num_steps, generator, *, slip: str = ""):
    """The inpainting loop written out, or with ``slip`` one typical mistake in it."""
    from ..samplers import ddim_step, ddim_timesteps, replace_known

    def replace(x, level):
        keep = ~mask if slip == "inverted" else mask
        return replace_known(schedule, x, known, keep, level, generator=generator)

    steps = ddim_timesteps(schedule.num_steps, num_steps).tolist()
    levels = steps if slip == "no final" else steps + [0]
    x = known.clone() if slip == "from known" else torch.randn(known.shape, generator=generator)
    if slip != "no start":
        x = replace(x, levels[0])
    for t, t_prev in zip(levels[:-1], levels[1:]):
        if slip == "before":
            x = replace(x, t)
        eps_pred = model(x, torch.full((len(x),), t, dtype=torch.long))
        x = ddim_step(schedule, eps_pred, x, t, t_prev, eta=0.0 if slip == "eta 0" else 1.0,
                      clip_x0=None if slip == "no clip" else 1.0, generator=generator)
        if slip != "before":
            x = replace(x, t if slip == "at t" else t_prev)
    return x


FLATTEN_CHOICES = {
    "a": "the same prediction for both inputs",
    "b": "the first prediction with its points shuffled the same way",
    "c": "neither, in general",
}


def check_flatten(mlp_answer, set_transformer_answer) -> None:
    """Chapter 13. What a denoiser predicts for a cloud listed in a shuffled order, for an MLP
    on the flattened cloud and for the set transformer (one of ``FLATTEN_CHOICES``); measured
    here on untrained networks."""
    __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
    from ..denoisers import PointSetDenoiser

    name = "check_flatten"
    if mlp_answer is None or set_transformer_answer is None:
        raise ExerciseError(f"{name}: {NOT_IMPLEMENTED}") from None
    for label, given in (("mlp_answer", mlp_answer), ("set_transformer_answer", set_transformer_answer)):
        if given not in FLATTEN_CHOICES:
            raise ExerciseError(f"{name}: {label} must be one of {sorted(FLATTEN_CHOICES)}, got "
                                f"{given!r:.40}") from None
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(2, 16, 3, generator=g), torch.tensor([500, 500])
    order = torch.randperm(16, generator=g)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 64), torch.nn.SiLU(),
                              torch.nn.Linear(64, 48), torch.nn.Unflatten(1, (16, 3)))
    nets = {"mlp_answer": lambda y, t: mlp(y),
            "set_transformer_answer": PointSetDenoiser(3, hidden=16, num_layers=1, heads=2)}
    measured = {}
    with torch.no_grad():
        for label, net in nets.items():
            first, second = net(x, t), net(x[:, order], t)
            same, shuffled = (first - second).abs().max().item(), (first[:, order] - second).abs().max().item()
            measured[label] = "a" if same < 1e-5 else "b" if shuffled < 1e-5 else "c"
            print(f"{label[:-7]}: largest change {same:.2g} against the first prediction, "
                  f"{shuffled:.2g} against it shuffled: {FLATTEN_CHOICES[measured[label]]}")
    why = {
        ("mlp_answer", "a"): "the flattened cloud is a different vector once shuffled, and nothing "
                             "ties the MLP's output for one position to the point that sits there.",
        ("mlp_answer", "b"): "that would be permutation equivariance, which an MLP does not have: "
                             "its weights for position 3 and position 7 are unrelated.",
        ("set_transformer_answer", "a"): "its output is one noise vector per point, so it must move "
                                         "with the points; it is the same only up to the shuffle.",
        ("set_transformer_answer", "c"): "attention with no positional encoding treats the points "
                                         "as a set: shuffling the input shuffles the output alike.",
    }
    for label, given in (("mlp_answer", mlp_answer), ("set_transformer_answer", set_transformer_answer)):
        if given != measured[label]:
            raise ExerciseError(f"{name}: {label} = {given!r} is not what was measured "
                                f"({measured[label]!r}): {why[label, given]}") from None
    print(f"✅ {name}: both predictions agree with what was measured.")


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _replace(expression: str, body: str = "") -> str:
    return ("def my_replace_known(schedule, x, known, mask, t_prev, noise):\n"
            "    alpha_bar = schedule.alpha_bars[t_prev][:, None, None]\n" + body
            + f"    return {expression}\n")


_NOISED = "alpha_bar.sqrt() * known + (1 - alpha_bar).sqrt() * noise"


def _loop(start: str = "    x = replace_known(schedule, x, known, {keep}, levels[0], generator=generator)\n",
          levels: str = "levels = ddim_timesteps(schedule.num_steps, num_steps).tolist() + [0]",
          noise: str = "torch.randn(known.shape, generator=generator)",
          step: str = "eta=1.0, clip_x0=1.0", after: str = "t_prev", keep: str = "mask",
          replace: str = "        x = replace_known(schedule, x, known, {keep}, {after}, generator=generator)\n",
          ) -> str:
    return ("def my_inpaint(model, schedule, known, mask, num_steps, generator):\n"
            f"    {levels}\n    x = {noise}\n" + start.format(keep=keep)
            + "    for t, t_prev in zip(levels[:-1], levels[1:]):\n"
            "        eps_pred = model(x, torch.full((len(x),), t))\n"
            f"        x = ddim_step(schedule, eps_pred, x, t, t_prev, {step}, generator=generator)\n"
            + replace.format(keep=keep, after=after) + "    return x\n")


def _chamfer(expression: str) -> str:
    return ("def my_chamfer(a, b):\n    squared = torch.cdist(a, b) ** 2\n"
            f"    return {expression}\n")


_A_TO_B, _B_TO_A = "squared.min(dim=2).values", "squared.min(dim=1).values"

EXERCISES: dict[str, Exercise] = {
    "ex-inpaint": Exercise("transcription", reference="diffusion_lite.samplers.replace_known", mistakes=(
        Mistake("Noise the known entries to the level", _replace("torch.where(mask, known, x)")),
        Mistake("KEEP", _replace(f"torch.where(mask, x, {_NOISED})")),
        Mistake("one step noisier", _replace(
            f"torch.where(mask, {_NOISED}, x)",
            "    alpha_bar = schedule.alpha_bars[(t_prev + 1).clamp(max=schedule.num_steps)][:, None, None]\n")),
        Mistake("schedule.alphas\\), the one step", _replace(
            f"torch.where(mask, {_NOISED}, x)",
            "    alpha_bar = schedule.alphas[t_prev][:, None, None]\n")),
        Mistake("not one step cleaner", _replace(
            f"torch.where(mask, {_NOISED}, x)",
            "    alpha_bar = schedule.alpha_bars[t_prev - 1][:, None, None]\n")),
        Mistake("not the first example's", _replace(
            f"torch.where(mask, {_NOISED}, x)", "    alpha_bar = schedule.alpha_bars[t_prev[0]]\n")),
        Mistake("not ᾱ and 1 - ᾱ", _replace("torch.where(mask, alpha_bar * known + (1 - alpha_bar) * noise, x)")),
        Mistake("Keep the unknown entries", _replace(_NOISED)),
        Mistake("changed its input in place", _replace("x", f"    x[mask.expand_as(x)] = ({_NOISED})[mask.expand_as(x)]\n")),
    )),
    "ex-inpaint-loop": Exercise("loop", reference="diffusion_lite.samplers.ddim_sample",
                                setup="from diffusion_lite.samplers import ddim_step, ddim_timesteps, replace_known\n",
                                mistakes=(
        Mistake("at the start too", _loop(start="")),
        Mistake("Go down to level 0", _loop(levels="levels = ddim_timesteps(schedule.num_steps, num_steps).tolist()")),
        Mistake("not to t", _loop(after="t")),
        Mistake("stochastic setting", _loop(step="eta=0.0, clip_x0=1.0")),
        Mistake("Clip the estimate", _loop(step="eta=1.0")),
        Mistake("entries to keep", _loop(keep="~mask")),
        Mistake("not from the known signal", _loop(noise="known.clone()")),
        Mistake("not exactly `known`.*the last one included", _loop(
            replace="        if t_prev > 0:\n    "
                    "        x = replace_known(schedule, x, known, {keep}, t_prev, generator=generator)\n")),
        Mistake("one level behind", _loop(start="", after="t")),
    )),
    "ex-chamfer": Exercise("transcription", reference="diffusion_lite.metrics.chamfer_distance", mistakes=(
        Mistake("Add both directions", _chamfer(f"{_A_TO_B}.mean(dim=1)")),
        Mistake("only b to a", _chamfer(f"{_B_TO_A}.mean(dim=1)")),
        Mistake("Use squared distances", "def my_chamfer(a, b):\n    d = torch.cdist(a, b)\n"
                "    return d.min(dim=2).values.mean(dim=1) + d.min(dim=1).values.mean(dim=1)\n"),
        Mistake("squared the distances twice", _chamfer(
            f"({_A_TO_B} ** 2).mean(dim=1) + ({_B_TO_A} ** 2).mean(dim=1)")),
        Mistake("do not sum", _chamfer(f"{_A_TO_B}.sum(dim=1) + {_B_TO_A}.sum(dim=1)")),
        Mistake("pooled", _chamfer(f"torch.cat([{_A_TO_B}, {_B_TO_A}], dim=1).mean(dim=1)")),
        Mistake("does not halve", _chamfer(f"({_A_TO_B}.mean(dim=1) + {_B_TO_A}.mean(dim=1)) / 2")),
        Mistake("nearest point", _chamfer("squared.mean(dim=2).mean(dim=1) + squared.mean(dim=1).mean(dim=1)")),
        Mistake("same axis twice", _chamfer(f"{_A_TO_B}.mean(dim=1) + squared.min(dim=2).values.mean(dim=1)")),
        Mistake("same axis twice", _chamfer(f"{_B_TO_A}.mean(dim=1) + squared.min(dim=1).values.mean(dim=1)")),
        Mistake("one number per pair", _chamfer(f"{_A_TO_B}.mean() + {_B_TO_A}.mean()")),
    )),
    "ex-flatten": Exercise("written-checkable", mistakes=(
        Mistake("MLP does not have", "mlp_answer = 'b'\nset_transformer_answer = 'b'\n"),
        Mistake("different vector once shuffled", "mlp_answer = 'a'\nset_transformer_answer = 'b'\n"),
        Mistake("must move", "mlp_answer = 'c'\nset_transformer_answer = 'a'\n"),
        Mistake("treats the points", "mlp_answer = 'c'\nset_transformer_answer = 'c'\n"),
    )),
}
