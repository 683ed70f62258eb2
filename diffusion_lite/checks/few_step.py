"""Checkers for chapter 11, few-step sampling: the progressive-distillation target and the
distillation loss of one training batch."""

from __future__ import annotations

import math

import torch

from ._common import Exercise, ExerciseError, Mistake, _call_student, _diagnose, _passed, checker


@checker(forbid=("two_step_target",))
def check_distillation_target(fn, cases: int = 4) -> None:
    """Chapter 11. ``fn(x_t, x_next, a_t, s_t, a_next, s_next)`` must return the progressive-
    distillation target (x_next - (s_next / s_t) x_t) / (a_next - (s_next / s_t) a_t)."""
    g = torch.Generator().manual_seed(18)
    for case in range(cases):
        x_t, x_next = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
        ab_t = torch.rand(5, 1, generator=g) * 0.5 + 0.01
        ab_next = ab_t + (1 - ab_t) * torch.rand(5, 1, generator=g) * 0.9
        a_t, s_t, a_next, s_next = ab_t.sqrt(), (1 - ab_t).sqrt(), ab_next.sqrt(), (1 - ab_next).sqrt()
        ratio = s_next / s_t
        name = f"check_distillation_target (case {case})"
        _diagnose(name, _call_student(name, fn, x_t, x_next, a_t, s_t, a_next, s_next),
                  (x_next - ratio * x_t) / (a_next - ratio * a_t), {
            "The ratio is s_next / s_t (noise levels), not s_t / s_next.":
                (x_next - x_t * s_t / s_next) / (a_next - a_t * s_t / s_next),
            "The denominator is a_next - (s_next / s_t) · a_t: subtract, do not add.":
                (x_next - ratio * x_t) / (a_next + ratio * a_t),
            "The numerator is x_next - (s_next / s_t) · x_t: subtract, do not add.":
                (x_next + ratio * x_t) / (a_next - ratio * a_t),
            "The denominator is a_next - (s_next / s_t) · a_t: x_t holds a_t · x0, so the ratio "
            "multiplies a_t, not 1.": (x_next - ratio * x_t) / (a_next - ratio),
            "Use square roots: a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar); the arguments are "
            "already the roots, do not square them.":
                (x_next - (s_next / s_t) ** 2 * x_t) / (a_next**2 - (s_next / s_t) ** 2 * a_t**2),
            "You swapped x_t and x_next: the student starts at x_t, where the teacher started, "
            "and must land on the teacher's x_next.":
                (x_t - ratio * x_next) / (a_next - ratio * a_t),
            "That is the teacher's landing point x_next itself; the target is the x0 estimate that "
            "makes one DDIM step from x_t land there: solve the step for x0.": x_next,
            "Operator precedence in the numerator: (x_next - s_next) / s_t * x_t subtracts s_next "
            "from x_next first; the ratio s_next / s_t multiplies x_t, x_next - s_next / s_t * x_t "
            "(or compute ratio = s_next / s_t first).":
                ((x_next - s_next) / s_t * x_t) / (a_next - ratio * a_t),
            "Operator precedence: put the whole denominator in parentheses; ... / a_next - ratio "
            "* a_t divides by a_next alone and then subtracts ratio · a_t.":
                (x_next - ratio * x_t) / a_next - ratio * a_t,
            "Operator precedence: put the whole numerator in parentheses; x_next - ratio * x_t / "
            "(...) divides only ratio · x_t.": x_next - ratio * x_t / (a_next - ratio * a_t),
        }, atol=1e-4)
    _passed("check_distillation_target", cases)


class _TimedDenoiser(torch.nn.Module):
    """A small random network whose noise prediction depends strongly on the step t (a random
    MLP alone barely does), so that a network called at the wrong step changes the loss by far
    more than the checker's tolerance."""

    def __init__(self):
        super().__init__()
        from ..unet import MLPDenoiser
        self.net = MLPDenoiser(hidden=32, num_blocks=1)

    def forward(self, x: torch.Tensor, t, cond=None) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device).expand(len(x))
        phase = t.to(x.dtype)[:, None]
        return self.net(x, t.long()) + torch.cos(phase / 40) * x + torch.sin(phase / 70)


def _loss_case(seed: int):
    """A small teacher and student (different weights, the teacher's trainable, so that a
    gradient reaching it shows, and both strongly dependent on t), a schedule and one batch
    with its steps and noise, the last example on the final step, to the clean end."""
    from ..samplers import ddim_timesteps
    from ..schedules import NoiseSchedule
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        teacher, student = _TimedDenoiser(), _TimedDenoiser()
    schedule = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(seed)
    fine = ddim_timesteps(1000, 8)                                   # the teacher's grid: 8 steps
    fine_prev = torch.cat([fine[1:], torch.tensor([0])])
    pick = torch.randint(1, 4, (12,), generator=g) * 2              # t = 750, 500, 250: SNR
    pick[-3:] = torch.tensor([2, 4, 6])                              # below 1, near 1, above 1
    # (not t = T, where a random student's x0 estimate, divided by sqrt(alpha_bar_T), swamps the rest)
    x0, noise = torch.randn(12, 2, generator=g), torch.randn(12, 2, generator=g)
    return teacher, student, schedule, x0, fine[pick], fine[pick + 1], fine_prev[pick + 1], noise


def _loss_mistakes(student, teacher, schedule, x0, t, t_mid, t_prev, noise) -> dict[str, float]:
    """The losses that typical slips give, by the hint that names each."""
    from ..distill import two_step_target
    from ..samplers import ddim_step
    from ..schedules import add_noise, predict_x0
    with torch.no_grad():
        x_t = add_noise(schedule, x0, t, noise)
        x_mid = ddim_step(schedule, teacher(x_t, t), x_t, t, t_mid)
        x_prev = ddim_step(schedule, teacher(x_mid, t_mid), x_mid, t_mid, t_prev)
        target = two_step_target(schedule, x_t, t, t_prev, x_prev)
        eps = student(x_t, t)
        x0_student = predict_x0(schedule, x_t, t, eps)
        snr = schedule.snr(t)[:, None]
        weight = snr.clamp(min=1.0)

        def loss(weights, prediction, goal):
            return (weights * (prediction - goal).pow(2)).mean().item()

        def target_with(first_t, second_t):           # the teacher called at other steps
            mid = ddim_step(schedule, teacher(x_t, first_t), x_t, t, t_mid)
            return two_step_target(schedule, x_t, t, t_prev, ddim_step(
                schedule, teacher(mid, second_t), mid, t_mid, t_prev))

        def eps_of(x0_estimate):                       # the noise that an x0 estimate implies
            return (x_t - schedule.alpha_bars[t].sqrt()[:, None] * x0_estimate) \
                / schedule.one_minus_alpha_bars[t].sqrt()[:, None]

        reference = loss(weight, x0_student, target)
        batch, dims = x0.shape
        teacher_t = ("Call the teacher at the step of the state it sees: teacher(x_t, t) for its "
                     "first step, teacher(x_mid, t_mid) for its second; you called it at "
                     "another step.")
        return {
            "Weight each example's squared error by max(SNR_t, 1); you left the weight out.":
                loss(1.0, x0_student, target),
            "Clamp the weight from below at 1, max(SNR_t, 1): SNR alone nearly ignores the "
            "high-noise steps, where SNR_t is close to 0. (An unweighted loss in ε space, "
            "on ε and the ε that the target implies, is the same thing: an ε error is an x0 "
            "error times a_t / s_t.)": loss(snr, x0_student, target),
            "The weight is max(SNR_t, 1), the larger of the two, not SNR_t + 1: the two differ "
            "most where SNR_t is near 1.": loss(snr + 1, x0_student, target),
            "Read the weight at t, the step the student sees: max(SNR_t, 1), not SNR at t'.":
                loss(schedule.snr(t_mid)[:, None].clamp(min=1.0), x0_student, target),
            "The target is not the teacher's landing point x_t'' itself: solve one DDIM step "
            "from x_t for the x0 that lands there (two_step_target).":
                loss(weight, x0_student, x_prev),
            "That is the plain x0 loss, against the true x0; the target is the x0 estimate that "
            "lands on the teacher's two-step landing point (two_step_target of x_prev).":
                loss(weight, x0_student, x0),
            "The teacher takes two steps, t -> t' -> t'': the second starts from its first "
            "step's result x_t', at step t', not from x_t.":
                loss(weight, x0_student, two_step_target(schedule, x_t, t, t_prev, ddim_step(
                    schedule, teacher(x_t, t_mid), x_t, t_mid, t_prev))),
            "The teacher takes two steps, t -> t' -> t''; you took one, straight from t to t''.":
                loss(weight, x0_student, two_step_target(schedule, x_t, t, t_prev, ddim_step(
                    schedule, teacher(x_t, t), x_t, t, t_prev))),
            "The target is x0 at t'' reached by one step from t: two_step_target(schedule, x_t, "
            "t, t_prev, ...), not from t'.":
                loss(weight, x0_student, two_step_target(schedule, x_t, t_mid, t_prev, x_prev)),
            teacher_t + " (first step at t')": loss(weight, x0_student, target_with(t_mid, t_mid)),
            teacher_t + " (second step at t)": loss(weight, x0_student, target_with(t, t)),
            teacher_t + " (second step at t'')": loss(weight, x0_student, target_with(t, t_prev)),
            "Call the student at t, the step of x_t, student(x_t, t); you called it at another "
            "step.": loss(weight, predict_x0(schedule, x_t, t, student(x_t, t_mid)), target),
            "The student predicts the noise ε: turn it into its x0 estimate with predict_x0 "
            "before comparing it with the target.": loss(weight, eps, target),
            "The loss lives in x0 space: compare the student's x0 estimate (predict_x0) with the "
            "target, weighted by max(SNR_t, 1); you compared noises, an ε-space loss.":
                loss(weight, eps, eps_of(target)),
            "That is the plain ε loss against the drawn noise; distillation compares the "
            "student's x0 estimate with the teacher's target, weighted by max(SNR_t, 1).":
                loss(1.0, eps, noise),
            "The loss lives in x0 space; you compared the student's ε with the drawn noise "
            "(an ε-space loss): compare its x0 estimate with the teacher's target.":
                loss(weight, eps, noise),
            f"Average over the D = {dims} coordinates too: you summed them, so your loss is "
            f"exactly {dims} times the reference ((...).mean(), not .sum(dim=-1).mean()).":
                dims * reference,
            f"Average over the B = {batch} examples: you summed them, so your loss is exactly "
            f"{batch} times the reference ((...).mean(), not .sum(dim=0).mean()).":
                batch * reference,
            "Average the weighted squared errors (.mean()), do not sum them.":
                (weight * (x0_student - target).pow(2)).sum().item(),
            "You swapped the roles: the teacher takes the two steps, and the student's estimate "
            "is the one trained.":
                loss(weight, predict_x0(schedule, x_t, t, teacher(x_t, t)), two_step_target(
                    schedule, x_t, t, t_prev, ddim_step(schedule, student(ddim_step(
                        schedule, student(x_t, t), x_t, t, t_mid), t_mid),
                        ddim_step(schedule, student(x_t, t), x_t, t, t_mid), t_mid, t_prev))),
        }


@checker(forbid=("distillation_loss", "distillation_loss_at"))
def check_distillation_loss(fn, cases: int = 2) -> None:
    """Chapter 11. ``fn(student, teacher, schedule, x0, t, t_mid, t_prev, noise)`` must return
    the distillation loss of one batch as a 0-d tensor that carries the student's gradient, and
    none to the teacher: equal to ``diffusion_lite.distill.distillation_loss_at`` on the same
    inputs."""
    from ..distill import distillation_loss_at
    for case in range(cases):
        name = f"check_distillation_loss (case {case})"
        teacher, student, schedule, x0, t, t_mid, t_prev, noise = _loss_case(20 + case)
        reference = distillation_loss_at(student, teacher, schedule, x0, t, t_mid, t_prev, noise)
        answer = _call_student(name, fn, student, teacher, schedule, x0, t, t_mid, t_prev, noise)
        if not isinstance(answer, torch.Tensor):
            raise ExerciseError(f"{name}: expected a 0-d torch.Tensor that carries the student's "
                                f"gradient, got {type(answer).__name__}" + (
                                    "; .item() detaches the loss from the graph, so the "
                                    "optimiser could not train the student."
                                    if isinstance(answer, float) else ""))
        if answer.ndim != 0:
            raise ExerciseError(f"{name}: expected a 0-d tensor (one number for the batch), got "
                                f"shape {tuple(answer.shape)}: average over the examples too.")
        if not answer.requires_grad:
            raise ExerciseError(f"{name}: your loss carries no gradient, so it cannot train the "
                                "student: call the student outside torch.no_grad(), and keep the "
                                "loss a tensor (no .item(), no .detach()).")
        value = answer.item()
        if not math.isfinite(value):
            at_prev = bool((schedule.snr(t_prev) == float("inf")).any())
            raise ExerciseError(f"{name}: your loss is {value}. " + (
                "Read the weight at t: SNR at t'' = 0, the clean end (alpha_bar_0 = 1), is "
                "infinite; use SNR_t, the step the student sees." if at_prev else
                "Look for a division by zero, such as s = sqrt(1 - alpha_bar) at the clean end."))
        if abs(value - reference.item()) > 1e-4 * max(1.0, abs(reference.item())):
            for hint, wrong in _loss_mistakes(student, teacher, schedule, x0, t, t_mid, t_prev,
                                              noise).items():
                if abs(value - wrong) <= 1e-4 * max(1.0, abs(wrong)):
                    raise ExerciseError(f"{name}: not yet. {hint}")
            raise ExerciseError(f"{name}: your loss is {value:.5g}, the reference "
                                f"{reference.item():.5g}. Check each stage against the lesson: "
                                "x_t, the teacher's two steps, the target, the student's x0, "
                                "the weight max(SNR_t, 1).")
        answer.backward()
        if any(p.grad is not None and p.grad.abs().sum() > 0 for p in teacher.parameters()):
            raise ExerciseError(f"{name}: the teacher received gradients: run its two steps "
                                "(and the target) under torch.no_grad(), so that only the "
                                "student learns.")
    _passed("check_distillation_loss", cases)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _target(body: str) -> str:
    return ("def my_target(x_t, x_next, a_t, s_t, a_next, s_next):\n"
            "    ratio = s_next / s_t\n" + body)


def _loss(target: str = "two_step_target(schedule, x_t, t, t_prev, x_prev)",
          first: str = "ddim_step(schedule, teacher(x_t, t), x_t, t, t_mid)",
          second: str = "ddim_step(schedule, teacher(x_mid, t_mid), x_mid, t_mid, t_prev)",
          student: str = "predict_x0(schedule, x_t, t, student(x_t, t))",
          weight: str = "schedule.snr(t)[:, None].clamp(min=1.0)",
          reduce: str = ".mean()", guard: str = "with torch.no_grad():") -> str:
    return ("def my_distillation_loss(student, teacher, schedule, x0, t, t_mid, t_prev, noise):\n"
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            f"    {guard}\n"
            f"        x_mid = {first}\n"
            f"        x_prev = {second}\n"
            f"        target = {target}\n"
            f"    x0_student = {student}\n"
            f"    return ({weight} * (x0_student - target) ** 2){reduce}\n")


EXERCISES: dict[str, Exercise] = {
    "ex-few-target": Exercise("transcription", reference="diffusion_lite.distill.two_step_target",
                              mistakes=(
        Mistake("s_next / s_t \\(noise levels\\)", _target(
            "    return (x_next - s_t / s_next * x_t) / (a_next - s_t / s_next * a_t)\n")),
        Mistake("subtract, do not add", _target(
            "    return (x_next - ratio * x_t) / (a_next + ratio * a_t)\n")),
        Mistake("multiplies a_t, not 1", _target(
            "    return (x_next - ratio * x_t) / (a_next - ratio)\n")),
        Mistake("swapped x_t and x_next", _target(
            "    return (x_t - ratio * x_next) / (a_next - ratio * a_t)\n")),
        Mistake("precedence in the numerator", _target(
            "    return (x_next - s_next) / s_t * x_t / (a_next - ratio * a_t)\n")),
        Mistake("whole denominator in parentheses", _target(
            "    return (x_next - ratio * x_t) / a_next - ratio * a_t\n")),
        Mistake("whole numerator in parentheses", _target(
            "    return x_next - ratio * x_t / (a_next - ratio * a_t)\n")),
        Mistake("do not square them", _target(
            "    return (x_next - ratio**2 * x_t) / (a_next**2 - ratio**2 * a_t**2)\n")),
        Mistake("calls the package's two_step_target", _target(
            "    return two_step_target(schedule, x_t, 1, 0, x_next)\n")),
        Mistake("changed its input in place", _target(
            "    x_next -= ratio * x_t\n    return x_next / (a_next - ratio * a_t)\n")),
    )),
    "ex-few-last": Exercise("written"),
    "ex-few-loss": Exercise("loop", reference="diffusion_lite.distill.distillation_loss_at",
                            mistakes=(
        Mistake("left the weight out", _loss(weight="1.0")),
        Mistake("Clamp the weight", _loss(weight="schedule.snr(t)[:, None]")),
        Mistake("not the teacher's landing point", _loss(target="x_prev")),
        Mistake("second starts from its first", _loss(
            second="ddim_step(schedule, teacher(x_t, t_mid), x_t, t_mid, t_prev)")),
        Mistake("you took one", _loss(
            first="x_t", second="ddim_step(schedule, teacher(x_t, t), x_t, t, t_prev)")),
        Mistake("not from t'", _loss(target="two_step_target(schedule, x_t, t_mid, t_prev, x_prev)")),
        Mistake("predicts the noise", _loss(student="student(x_t, t)")),
        Mistake("do not sum", _loss(reduce=".sum()")),
        Mistake("teacher received gradients", _loss(guard="if True:")),
        Mistake("detaches the loss", _loss(reduce=".mean().item()")),
        Mistake("exactly 2 times the reference", _loss(reduce=".sum(dim=-1).mean()")),
        Mistake("exactly 12 times the reference", _loss(reduce=".sum(dim=0).mean()")),
        Mistake("SNR at t'' = 0.*is infinite; use SNR_t", _loss(
            weight="schedule.snr(t_prev)[:, None].clamp(min=1.0)")),
        Mistake("not SNR at t'", _loss(weight="schedule.snr(t_mid)[:, None].clamp(min=1.0)")),
        Mistake("not SNR_t \\+ 1", _loss(weight="(schedule.snr(t)[:, None] + 1)")),
        Mistake("plain x0 loss", _loss(target="x0")),
        Mistake("you compared noises, an ε-space loss", _loss(
            student="student(x_t, t)",
            target="(x_t - schedule.alpha_bars[t].sqrt()[:, None] * two_step_target("
                   "schedule, x_t, t, t_prev, x_prev)) / (1 - schedule.alpha_bars[t]).sqrt()[:, None]")),
        Mistake("unweighted loss in ε space", _loss(
            student="student(x_t, t)", weight="1.0",
            target="(x_t - schedule.alpha_bars[t].sqrt()[:, None] * two_step_target("
                   "schedule, x_t, t, t_prev, x_prev)) / (1 - schedule.alpha_bars[t]).sqrt()[:, None]")),
        Mistake("plain ε loss against the drawn noise", _loss(
            student="student(x_t, t)", weight="1.0", target="noise")),
        Mistake("Call the teacher at the step of the state it sees", _loss(
            second="ddim_step(schedule, teacher(x_mid, t), x_mid, t_mid, t_prev)")),
        Mistake("Call the teacher at the step of the state it sees", _loss(
            first="ddim_step(schedule, teacher(x_t, t_mid), x_t, t, t_mid)")),
        Mistake("Call the student at t", _loss(
            student="predict_x0(schedule, x_t, t, student(x_t, t_mid))")),
        Mistake("calls the package's distillation_loss_at", (
            "def my_distillation_loss(student, teacher, schedule, x0, t, t_mid, t_prev, noise):\n"
            "    return distillation_loss_at(student, teacher, schedule, x0, t, t_mid, t_prev, noise)\n")),
    )),
}
