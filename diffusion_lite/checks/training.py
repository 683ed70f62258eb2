"""Checkers for the training chapters: the loss, the weight of a KL term and a training loop
(chapter 2); the moving average, the share of its last steps and the class-histogram distance
(chapter 5)."""

from __future__ import annotations

import torch

from ..losses import epsilon_loss
from ..schedules import NoiseSchedule, add_noise
from ..unet import MLPDenoiser
from ._common import (
    NOT_IMPLEMENTED,
    Exercise,
    ExerciseError,
    Mistake,
    _answer_of,
    _call_student,
    _diagnose,
    _passed,
    checker,
)


class _NoiseOracle(torch.nn.Module):
    """A "model" whose output is a fixed, known function of (x_t, t), for checking losses."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, x_t, t, cond=None):
        return self.scale * x_t + t.float()[:, None] / 1000


@checker(forbid=("epsilon_loss",))
def check_epsilon_loss(fn, cases: int = 5) -> None:
    """Chapter 2. ``fn(model, schedule, x0, t, noise)`` must return the mean squared error
    between ``noise`` and the model's prediction at x_t = add_noise(schedule, x0, t, noise)."""
    name = "check_epsilon_loss"
    if _uses(fn, ("epsilon_loss",)):
        raise ExerciseError(f"{name}: your function calls the package's epsilon_loss; write the "
                            "loss yourself (add_noise and the model are yours to use).")
    g = torch.Generator().manual_seed(2)
    schedule, model = NoiseSchedule.linear(1000), _NoiseOracle()
    for _ in range(cases):
        x0, noise = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
        t = torch.randint(1, 1001, (16,), generator=g)
        x_t = add_noise(schedule, x0, t, noise)
        x_t_prev = add_noise(schedule, x0, t - 1, noise)       # the off-by-one mistake
        answer = _answer_of("check_epsilon_loss", fn, (model, schedule, x0, t, noise),
                            "x0 and noise have shape (B, D), t shape (B,); add_noise(schedule, "
                            "x0, t, noise) gives x_t, and model(x_t, t) the noise estimate.")
        reference = epsilon_loss(model, schedule, x0, t=t, noise=noise)
        if isinstance(answer, torch.Tensor) and answer.shape == (len(x0),):
            raise ExerciseError("check_epsilon_loss: you returned one loss per sample, shape "
                                f"({len(x0)},); average over the batch too: the loss is a 0-d "
                                "tensor (you will call .backward() on it).")
        if isinstance(answer, (float, int)) and not isinstance(answer, bool):
            raise ExerciseError("check_epsilon_loss: expected a 0-d tensor (you will call "
                                f".backward() on it), got the Python {type(answer).__name__} "
                                f"{answer:.4g}: do not call .item() or float() on the loss.")
        again = _answer_of("check_epsilon_loss", fn, (model, schedule, x0, t, noise), "")
        if (isinstance(answer, torch.Tensor) and isinstance(again, torch.Tensor)
                and answer.shape == again.shape
                and not torch.allclose(answer, again, rtol=0, atol=0, equal_nan=True)):
            raise ExerciseError("check_epsilon_loss: not yet. Your function returns a different "
                                "loss each time it is called with the same inputs: it draws noise "
                                "of its own. Use the `noise` argument: the loss compares the "
                                "model's estimate with that noise.")
        with torch.no_grad():
            _diagnose("check_epsilon_loss", answer.detach() if isinstance(answer, torch.Tensor)
                      else answer, reference.detach(), {
                "The model should see the noisy x_t, not the clean x0.":
                    ((model(x0, t) - noise) ** 2).mean(),
                "The target is the noise, not the clean sample x0.":
                    ((model(x_t, t) - x0) ** 2).mean(),
                "Average over the elements (a mean), not a sum.":
                    ((model(x_t, t) - noise) ** 2).sum(),
                "You summed over the d coordinates of each sample (the squared norm of Ho et "
                "al.'s eq. 14) and averaged over the batch: that is d times the book's loss, "
                "which averages over the coordinates too, (1/d)||eps - eps_theta||^2, as "
                "epsilon_loss does. Take the mean over every element.":
                    ((model(x_t, t) - noise) ** 2).sum(1).mean(),
                "The target is the noise eps, not the noisy input x_t.":
                    ((model(x_t, t) - x_t) ** 2).mean(),
                "Off by one: add_noise(schedule, x0, t, noise) takes the step t itself (t = 1 "
                "... T, schedule.alpha_bars[t] is alpha_bar_t); you noised to step t - 1.":
                    ((model(x_t_prev, t) - noise) ** 2).mean(),
                "The model must be told the step t that x_t was noised to; you passed t - 1.":
                    ((model(x_t, t - 1) - noise) ** 2).mean(),
                "Square the error: the loss is a mean *squared* error.":
                    (model(x_t, t) - noise).abs().mean(),
                "You averaged over the coordinates but summed over the batch: that is B times "
                "the loss, and grows with the batch size; take the mean over the batch too.":
                    ((model(x_t, t) - noise) ** 2).mean(1).sum(),
                "That is the root of the mean squared error (RMSE); the loss is the mean squared "
                "error itself, without the square root.":
                    ((model(x_t, t) - noise) ** 2).mean().sqrt(),
            })
        if not answer.requires_grad:
            raise ExerciseError("check_epsilon_loss: the loss carries no gradient; do not "
                                "detach it or compute it under torch.no_grad().")
    return _passed("check_epsilon_loss", cases)


def _uses(fn, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that the student's function calls (as a name or an attribute)."""
    code = getattr(fn, "__code__", None)
    return next((n for n in names if code is not None and n in code.co_names), None)


def _not_answered(name: str, *values) -> None:
    if any(v is None or v is Ellipsis for v in values):
        raise ExerciseError(f"{name}: {NOT_IMPLEMENTED}") from None


def _number(name: str, label: str, value) -> float:
    """``value`` as a float, if it is a Python number (a 0-d tensor is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExerciseError(f"{name}: expected a Python number for {label}, got "
                            f"{type(value).__name__} {value!r:.40}; a 0-d tensor is not a "
                            "number here: convert with float(...) or .item().") from None
    return float(value)


def check_kl_weight(weight_at_2, larger_at) -> None:
    """Chapter 2. ``weight_at_2``: the weight of eq. (kl-as-mse) at t = 2 for the cosine
    schedule with T = 1000 and sigma_t² = beta_tilde_t, a number; ``larger_at``: "small" or
    "large", whether that weight is larger at t = 2 or at t = 500 (the cosine schedule's
    clipped betas make it spike again at the last few steps, which the question leaves aside)."""
    __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
    name = "check_kl_weight"
    _not_answered(name, weight_at_2, larger_at)
    value = _number(name, "weight_at_2", weight_at_2)
    cosine, linear = NoiseSchedule.cosine(1000), NoiseSchedule.linear(1000)

    def weight(s: NoiseSchedule, t: int, sigma2: str = "beta_tilde") -> float:
        beta, alpha = s.betas.double()[t], s.alphas.double()[t]
        one_minus = s.one_minus_alpha_bars.double()[t - 1 if sigma2 == "beta_tilde" else t]
        return (beta / (2 * alpha * one_minus)).item()

    reference = weight(cosine, 2)
    if abs(value - reference) > 0.01 * reference:
        beta, alpha = cosine.betas.double()[2], cosine.alphas.double()[2]
        mistakes = {
            "That is the weight for sigma_t² = beta_t; with sigma_t² = beta_tilde_t = beta_t (1 - "
            "alpha_bar_{t-1}) / (1 - alpha_bar_t) the denominator has 1 - alpha_bar_{t-1}.":
                weight(cosine, 2, "beta"),
            "Twice the weight: the KL divides the squared distance by 2 sigma_t², keep the 1/2.":
                2 * reference,
            "That is the distance factor beta_t² / (alpha_t (1 - alpha_bar_t)) alone; the weight "
            "divides it by 2 sigma_t².": (beta**2 / (alpha * cosine.one_minus_alpha_bars.double()[2])).item(),
            "That is the linear schedule's weight, printed in the chapter; the question is about "
            "the cosine schedule, NoiseSchedule.cosine(1000).": weight(linear, 2),
            "Off by one: at t = 2 the weight uses beta_2, alpha_2 and 1 - alpha_bar_1 (index t - 1 "
            "= 1 of schedule.one_minus_alpha_bars); you evaluated it at t = 3.": weight(cosine, 3),
        }
        for hint, wrong in mistakes.items():
            if abs(value - wrong) <= 0.01 * abs(wrong):
                raise ExerciseError(f"{name}: not yet. {hint}") from None
        raise ExerciseError(f"{name}: your weight_at_2 = {value:.4g} is not the weight at t = 2; "
                            "write the weight with sigma_t² = beta_tilde_t substituted, then "
                            "take beta_2, alpha_2 and 1 - alpha_bar_1 from the cosine schedule's "
                            "arrays.") from None
    if not isinstance(larger_at, str) or larger_at.strip().lower() not in ("small", "large"):
        raise ExerciseError(f"{name}: expected larger_at = \"small\" or \"large\", got "
                            f"{larger_at!r:.40}") from None
    if larger_at.strip().lower() == "large":
        raise ExerciseError(f"{name}: not yet: the weight is beta_t / (2 alpha_t (1 - "
                            "alpha_bar_{t-1})). beta_t grows with t, but 1 - alpha_bar_{t-1} grows "
                            "from almost 0 (it is beta_1 at t = 2) to nearly 1 by mid-chain, "
                            "much faster: "
                            f"compare your weight at t = 2, {reference:.3g}, with the one at "
                            f"t = 500, {weight(cosine, 500):.3g}.") from None
    print(f"✅ {name}: correct: the weight is {reference:.4g} at t = 2, {weight(cosine, 500):.3g} "
          f"at t = 500 (cosine schedule, sigma_t² = beta_tilde_t): far larger at small t "
          f"(and at t = T = 1000, where the clipped beta_T = 0.999 makes it "
          f"{weight(cosine, 1000):.3g}).")


class _Recorder(torch.nn.Module):
    """A small denoiser that records what each call sees: x_t, t and its weights."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net, self.calls = net, []

    def forward(self, x_t, t, cond=None):
        self.calls.append((x_t.detach().clone(), t.detach().clone(),
                           [p.detach().clone() for p in self.net.parameters()]))
        return self.net(x_t, t)


def _sgd_replay(name: str, net: MLPDenoiser, schedule: NoiseSchedule, point: torch.Tensor,
                calls: list, losses: list, final: list, lr: float) -> None:
    """Check each recorded step: the loss returned, and the update, one SGD step on it."""
    grads = []
    for k, (x_t, t, weights) in enumerate(calls):
        alpha_bar = schedule.alpha_bars[t][:, None]
        noise = (x_t - alpha_bar.sqrt() * point) / (1 - alpha_bar).sqrt()
        with torch.no_grad():
            for p, w in zip(net.parameters(), weights):
                p.copy_(w)
        net.zero_grad()
        out = net(x_t, t)
        loss = ((out - noise) ** 2).mean()
        loss.backward()
        grads.append([p.grad.clone() for p in net.parameters()])
        with torch.no_grad():
            candidates = {
                "The target is the noise, not the clean x0.": ((out - point) ** 2).mean(),
                "Average the squared error over the elements (a mean), not a sum.":
                    ((out - noise) ** 2).sum(),
                "You summed over the coordinates and averaged over the batch: d times the "
                "chapter's loss, which averages over every element.": ((out - noise) ** 2).sum(1).mean(),
            }
        if abs(losses[k] - loss.item()) > 1e-4 * max(1.0, loss.item()):
            for hint, wrong in candidates.items():
                if abs(losses[k] - wrong.item()) <= 1e-4 * max(1.0, wrong.item()):
                    raise ExerciseError(f"{name}: not yet. {hint}")
            raise ExerciseError(f"{name}: at step {k + 1} you returned the loss {losses[k]:.4f}, "
                                f"but the epsilon-loss of what the model saw is {loss.item():.4f}. "
                                "Append the loss of each step, the one you call backward() on.")
        after = calls[k + 1][2] if k + 1 < len(calls) else final
        expected = [w - lr * g for w, g in zip(weights, grads[-1])]
        accumulated = [w - lr * sum(gs[i] for gs in grads) for i, w in enumerate(weights)]

        def same(a, b):
            return all(torch.allclose(x, y, atol=1e-6, rtol=1e-4) for x, y in zip(a, b))
        if same(after, expected):
            continue
        if same(after, weights):
            raise ExerciseError(f"{name}: not yet: the weights never changed at step {k + 1}. "
                                "Call loss.backward() and then optimizer.step(), and zero the "
                                "gradients before backward(), not between backward() and step().")
        if k > 0 and same(after, accumulated):
            raise ExerciseError(f"{name}: not yet: the gradients accumulate from step to step. "
                                "Call optimizer.zero_grad() in every step, before loss.backward().")
        raise ExerciseError(f"{name}: not yet: the update at step {k + 1} is not one optimiser "
                            "step on that step's loss: one zero_grad(), one backward(), one "
                            "step() per training step.")


@checker
def check_training_loop(fn, cases: int = 1) -> None:
    """Chapter 2. ``fn(model, optimizer, schedule, data, steps, batch_size, generator)`` must
    train ``model`` for ``steps`` steps of the epsilon-loss, each on a fresh random batch of
    ``data`` with one step t in 1 ... T and fresh noise per point, and return the loss of every
    step as a list of floats. The checker replays a few steps, then trains on the swiss roll."""
    name = "check_training_loop"
    # 1. a replay: every point of the data is the same x0, so x0 and the noise are known
    torch.manual_seed(0)
    net, schedule = MLPDenoiser(hidden=16, num_blocks=1), NoiseSchedule.linear(10)
    recorder, point, lr = _Recorder(net), torch.tensor([[0.7, -1.2]]), 0.05
    data, batch_size, steps = point.repeat(50, 1), 16, 6
    optimizer = torch.optim.SGD(recorder.parameters(), lr=lr)
    losses = _answer_of(name, fn, (recorder, optimizer, schedule, data, steps, batch_size,
                                   torch.Generator().manual_seed(1)),
                        "data has shape (N, 2); draw batch_size indices with torch.randint, and "
                        "t of shape (batch_size,).")
    if not isinstance(losses, list) or len(losses) != steps:
        raise ExerciseError(f"{name}: expected a list of {steps} losses, one per step, got "
                            f"{type(losses).__name__} {losses!r:.60}")
    if not all(isinstance(v, float) for v in losses):
        kind = type(next(v for v in losses if not isinstance(v, float))).__name__
        raise ExerciseError(f"{name}: expected the losses as Python floats, got {kind}: append "
                            "loss.item(), which also lets each step's graph be freed.")
    calls = recorder.calls
    if len(calls) != steps:
        raise ExerciseError(f"{name}: the model was called {len(calls)} times in {steps} steps; "
                            "call it once per step, on the whole batch.")
    t_all = torch.cat([t for _, t, _ in calls])
    if any(x_t.shape != (batch_size, 2) for x_t, _, _ in calls):
        raise ExerciseError(f"{name}: the model saw a batch of shape {tuple(calls[0][0].shape)}; "
                            f"draw batch_size = {batch_size} points of the data each step.")
    if t_all.min() < 1:
        raise ExerciseError(f"{name}: you drew t = 0: the steps are t = 1 ... T; "
                            "torch.randint(1, T + 1, ...) draws them (its upper end is excluded).")
    if t_all.max() > schedule.num_steps:
        raise ExerciseError(f"{name}: you drew t > T: the steps are t = 1 ... T.")
    if not (t_all == schedule.num_steps).any():
        raise ExerciseError(f"{name}: you never drew t = T in {len(t_all)} draws: torch.randint's "
                            "upper end is excluded, so t = 1 ... T is torch.randint(1, T + 1, ...).")
    if all((t == t[0]).all() for _, t, _ in calls):
        raise ExerciseError(f"{name}: every point of a batch got the same t; draw one t per point, "
                            "a tensor of shape (batch_size,).")
    if any(torch.allclose(x_t, point.expand_as(x_t)) for x_t, _, _ in calls):
        raise ExerciseError(f"{name}: the model saw the clean x0; give it x_t = "
                            "add_noise(schedule, x0, t, noise).")
    # every point of the data is the same x0, so the noise of each row can be read off x_t
    noises = [(x_t - schedule.alpha_bars[t][:, None].sqrt() * point)
              / schedule.one_minus_alpha_bars[t][:, None].sqrt() for x_t, t, _ in calls]
    if all(torch.allclose(n, n[:1].expand_as(n), atol=1e-3) for n in noises):
        raise ExerciseError(f"{name}: not yet: every point of a batch got the same noise vector. "
                            "Draw one noise vector per point, a tensor of the batch's shape, "
                            "(batch_size, 2).")
    if all(torch.allclose(a, b, atol=1e-3) for a, b in zip(noises, noises[1:])):
        raise ExerciseError(f"{name}: not yet: the noise is the same at every step. Draw fresh "
                            "noise inside the loop, at each step.")
    _sgd_replay(name, net, schedule, point, calls, losses,
                [p.detach().clone() for p in net.parameters()], lr)
    _check_sampling(name, fn)
    # 2. the result: a short training run on the swiss roll must beat predicting zero by far
    g = torch.Generator().manual_seed(2)
    data, schedule = _swiss_roll(2000, g), NoiseSchedule.linear(1000)
    torch.manual_seed(3)
    model = MLPDenoiser(hidden=64, num_blocks=2)
    held_out = _swiss_roll(1000, g)
    t, noise = torch.randint(1, 1001, (1000,), generator=g), torch.randn(1000, 2, generator=g)
    with torch.no_grad():
        before = epsilon_loss(model, schedule, held_out, t=t, noise=noise).item()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    fn(model, optimizer, schedule, data, 150 * cases, 128, torch.Generator().manual_seed(4))
    with torch.no_grad():
        after = epsilon_loss(model, schedule, held_out, t=t, noise=noise).item()
    print(f"{name}: held-out epsilon-loss on the swiss roll {before:.3f} before training, "
          f"{after:.3f} after {150 * cases} steps of your loop (predicting zero scores 1).")
    if not after < 0.75 * min(before, 1.0):
        raise ExerciseError(f"{name}: after {150 * cases} steps the held-out loss is {after:.3f} "
                            f"(it was {before:.3f}); expected well under 1.")
    _passed(name, steps + 1)


class _Spy(torch.nn.Module):
    """A "model" with one weight that records the x_t and t of every call."""

    def __init__(self):
        super().__init__()
        self.weight, self.calls = torch.nn.Parameter(torch.tensor(0.0)), []

    def forward(self, x_t, t, cond=None):
        self.calls.append((x_t.detach().clone(), t.detach().clone()))
        return self.weight * x_t


def _check_sampling(name: str, fn) -> None:
    """Run ``fn`` on data whose points can be told apart (point k is (k, -k)) under a schedule
    that adds almost no noise, so that the rows each step drew can be read off x_t; then check
    that the rows vary, and that the run depends on ``generator`` alone."""
    schedule = NoiseSchedule.from_betas(torch.full((10,), 1e-7))
    data = torch.arange(50.0)[:, None] * torch.tensor([[1.0, -1.0]])
    batch_size, steps = 16, 4

    def run(seed: int, global_seed: int) -> list:
        torch.manual_seed(global_seed)
        spy = _Spy()
        _answer_of(name, fn, (spy, torch.optim.SGD(spy.parameters(), lr=0.0), schedule, data,
                              steps, batch_size, torch.Generator().manual_seed(seed)), "")
        return spy.calls

    calls = run(1, 10)
    rows = [x_t[:, 0].round().long() for x_t, _ in calls]
    if all(torch.equal(r, torch.arange(batch_size)) for r in rows):
        raise ExerciseError(f"{name}: not yet: every step trained on the first {batch_size} "
                            "points of data (data[:batch_size]); the others were never seen. Draw "
                            "batch_size random indices each step, torch.randint(0, len(data), "
                            "(batch_size,), generator=generator), and take data[indices].")
    if all(torch.equal(r, rows[0]) for r in rows):
        raise ExerciseError(f"{name}: not yet: every step trained on the same batch of points. "
                            "Draw the batch's indices inside the loop, afresh at each step.")
    again = run(1, 11)
    if len(again) != len(calls) or not all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                                           for a, b in zip(calls, again)):
        raise ExerciseError(f"{name}: not yet: two runs with the same generator drew different "
                            "batches, steps or noise, because you drew from PyTorch's global random "
                            "generator. Pass generator=generator to every torch.randint and "
                            "torch.randn, so that a run can be repeated.")
    other = run(2, 10)
    if all(torch.equal(a[0], b[0]) for a, b in zip(calls, other)):
        raise ExerciseError(f"{name}: not yet: runs with different generators drew the same "
                            "batches and noise: draw from the `generator` argument, not from a "
                            "generator of your own with a fixed seed.")


def _swiss_roll(n: int, generator: torch.Generator) -> torch.Tensor:
    from ..data import toy_2d
    return toy_2d("swiss_roll", n, generator=generator)


@checker
def check_ema_update(fn, cases: int = 4) -> None:
    """Chapter 5. ``fn(ema_weight, weight, decay)`` must return the averaged weight after one
    step: decay · ema_weight + (1 - decay) · weight (a new tensor; the inputs stay unchanged)."""
    g = torch.Generator().manual_seed(5)
    for decay in [0.9, 0.99, 0.995, 0.5][:cases]:
        ema_weight, weight = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
        answer = _call_student("check_ema_update", fn, ema_weight, weight, decay)
        _diagnose(f"check_ema_update (decay={decay})", answer,
                  decay * ema_weight + (1 - decay) * weight, {
            "The old average gets the weight `decay`, the new weights get `1 - decay`: "
            "you have them swapped.": (1 - decay) * ema_weight + decay * weight,
            "Keep the old average too: decay · ema_weight + (1 - decay) · weight.":
                (1 - decay) * weight,
            "The two weights must sum to 1: use 1 - decay for the new weights.":
                decay * ema_weight + weight,
            "You returned the new weights unchanged, as if decay were 0: the average must "
            "move only a step (1 - decay) towards them.": weight,
            "You returned the old average unchanged, as if decay were 1: it must move a step "
            "(1 - decay) towards the new weights.": ema_weight,
            "That is the plain mean of the two, decay = 0.5 whatever decay you are given.":
                0.5 * (ema_weight + weight),
            "Move the average towards the new weights, ema_weight + (1 - decay) · (weight - "
            "ema_weight); you moved it away from them.":
                ema_weight + (1 - decay) * (ema_weight - weight),
            "Sign error: the new weights are added, + (1 - decay) · weight; you subtracted them.":
                decay * ema_weight - (1 - decay) * weight,
        })
    _passed("check_ema_update", cases)


def check_ema_share(share_last_200, steps_for_half) -> None:
    """Chapter 5. With decay = 0.995: ``share_last_200``, the share of the EMA that the weights
    of the last 200 steps carry (a number), and ``steps_for_half``, the fewest last steps that
    carry at least half of it (an int). The checker measures both on the package's EMA."""
    __tracebackhide__ = True        # noqa: F841 (read by IPython and pytest)
    name, decay = "check_ema_share", 0.995
    _not_answered(name, share_last_200, steps_for_half)
    share = _number(name, "share_last_200", share_last_200)
    if isinstance(steps_for_half, bool) or not isinstance(steps_for_half, int):
        raise ExerciseError(f"{name}: expected a Python int for steps_for_half, got "
                            f"{type(steps_for_half).__name__} {steps_for_half!r:.40}") from None
    # The experiment: weight j of a model is 1 during the last j + 1 of 1,000 steps and 0 before,
    # so after them the EMA of weight j is the share that the last j + 1 steps carry.
    from ..train import EMA
    model = torch.nn.Linear(1000, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = EMA(model, decay=decay)
    window = torch.arange(1, 1001)                        # weight j: the last j + 1 steps
    for step in range(1000):
        with torch.no_grad():
            model.weight.copy_((window >= 1000 - step).float()[None])
        ema.update(model)
    measured = ema.model.weight[0].double()               # measured[n - 1]: the last n steps
    measured_share = measured[199].item()
    measured_half = int((measured >= 0.5).nonzero()[0]) + 1
    print(f"{name}: you predicted {share:.4g} and {steps_for_half}; measured on dl.train.EMA "
          f"(decay {decay}): the last 200 steps carry {measured_share:.4f}, and the last "
          f"{measured_half} steps are the fewest that carry half.")
    exact = 1 - decay**200
    if abs(share - exact) > 3e-4:
        mistakes = {
            "Off by one: the last 200 steps carry 1 - decay^200; decay^199 leaves out one of "
            "them.": 1 - decay**199,
            "That is 1 - 1/e, the limit of 1 - decay^n when n (1 - decay) = 1 and decay tends to "
            "1; with decay = 0.995 the share is 1 - decay^200 exactly, a little more.":
                1 - torch.e**-1,
            "That is the share of the steps *before* the last 200, decay^200; the last 200 carry "
            "the rest.": decay**200,
            "Adding 200 shares of 1 - decay treats every step alike; each older step's share is "
            "smaller by a factor decay than the next one's.": 200 * (1 - decay),
            "Half is what a plain average over 400 steps would give; the EMA's shares fall "
            "geometrically with age.": 0.5,
            "That is the share of the last step alone, 1 - decay.": 1 - decay,
        }
        for hint, wrong in mistakes.items():
            if abs(share - wrong) <= 3e-4:
                raise ExerciseError(f"{name}: not yet. {hint}") from None
        if abs(share - exact) <= 0.01:
            raise ExerciseError(f"{name}: close, but not yet: your share_last_200 = {share:.4g} "
                                "is off in the third decimal. Compute it exactly rather than "
                                "from an approximation, and keep at least four decimals.") from None
        raise ExerciseError(f"{name}: not yet: your share_last_200 = {share:.4g} is not what "
                            "the EMA measures. Write the average after many steps as a sum of "
                            "the weights with their shares, and add the shares of the last "
                            "200.") from None
    if steps_for_half != measured_half:
        mistakes = {
            "Round up: the share after that many steps is still just under a half; the fewest "
            "steps that carry at least half is the next integer.": measured_half - 1,
            "That is 1 / (1 - decay), the steps that carry about 1 - 1/e of the average, more "
            "than half.": round(1 / (1 - decay)),
            "Half of 1 / (1 - decay) steps would carry half if every step carried 1 - decay; "
            "but each older step carries a factor decay less than the next, so more steps are "
            "needed.": round(0.5 / (1 - decay)),
        }
        for hint, wrong in mistakes.items():
            if steps_for_half == wrong:
                raise ExerciseError(f"{name}: not yet. {hint}") from None
        raise ExerciseError(f"{name}: not yet: solve 1 - decay^n >= 1/2 for the smallest whole "
                            "n.") from None
    print(f"✅ {name}: correct, and it matches the measurement.")


@checker(forbid=("total_variation",))
def check_total_variation(fn, only_ones, cases: int = 4) -> None:
    """Chapter 5. ``fn(p, q)`` must return the total variation distance between two
    histograms (1-d tensors that each sum to 1) as a Python float: half the sum of |p - q|.
    ``only_ones``: its value for a model that draws only ones, on ten equally common digits."""
    name = "check_total_variation"
    if _uses(fn, ("total_variation",)):
        raise ExerciseError(f"{name}: your function calls the package's total_variation; write "
                            "the distance yourself from p and q.")
    g = torch.Generator().manual_seed(6)
    uniform, ones = torch.full((10,), 0.1), torch.nn.functional.one_hot(torch.tensor(1), 10).float()
    pairs = []
    for _ in range(cases):
        p, q = torch.rand(10, generator=g) + 0.1, torch.rand(10, generator=g) + 0.1
        pairs.append((p / p.sum(), q / q.sum()))
    pairs += [(uniform, uniform), (ones, torch.roll(ones, 1))]      # equal: 0; disjoint: 1
    for case, (p, q) in enumerate(pairs):
        answer = _call_student(name, fn, p, q)
        if isinstance(answer, torch.Tensor):
            raise ExerciseError(f"{name}: expected a Python float, got a tensor of shape "
                                f"{tuple(answer.shape)}; a 0-d tensor is not a float: return "
                                "its .item().")
        if isinstance(answer, bool) or not isinstance(answer, (float, int)):
            raise ExerciseError(f"{name}: expected a number, a Python float, got "
                                f"{type(answer).__name__}")
        reference = 0.5 * (p - q).abs().sum().item()
        if abs(answer - reference) <= 1e-6:
            continue
        mistakes = {
            "Halve the sum: total variation is 0.5 · Σ|p - q|, so that it lies in [0, 1].":
                (p - q).abs().sum().item(),
            "Take the absolute value of each difference before summing.": 0.5 * (p - q).sum().item(),
            "Use absolute differences, not squared ones.": 0.5 * ((p - q) ** 2).sum().item(),
            "Sum over the classes; do not average.": 0.5 * (p - q).abs().mean().item(),
            "That is the mean of |p - q| over the classes; total variation sums them over the "
            "classes, then halves the sum.": (p - q).abs().mean().item(),
            "That is the largest difference of a single class; total variation adds the "
            "differences of all classes, then halves the sum.": (p - q).abs().max().item(),
            "That is the largest difference of a single class, halved; sum over all classes.":
                0.5 * (p - q).abs().max().item(),
            "That is the Euclidean (L2) distance; total variation adds absolute differences.":
                (p - q).pow(2).sum().sqrt().item(),
            "That is the overlap Σ_k min(p_k, q_k), which equals 1 - total variation: it is 1 "
            "for equal histograms, where the distance must be 0.": torch.minimum(p, q).sum().item(),
        }
        for hint, wrong in mistakes.items():
            if abs(answer - wrong) <= 1e-6:
                raise ExerciseError(f"{name}: not yet. {hint}")
        if case >= cases:       # the edge cases, after the random ones that tell mistakes apart
            label = "equal histograms" if case == cases else "disjoint histograms"
            raise ExerciseError(f"{name} ({label}): expected {reference:.4f}, got {answer:.4f}. "
                                "Equal histograms are at distance 0, disjoint ones at 1.")
        raise ExerciseError(f"{name} (case {case}): expected {reference:.4f}, got "
                            f"{answer:.4f}. Write out 0.5 · Σ_k |p_k - q_k| for two classes by hand.")
    # The written part: a model that draws only ones, against ten equally common digits
    if only_ones is None or only_ones is Ellipsis:
        raise NotImplementedError
    value = _number(name, "only_ones", only_ones)
    reference = 0.5 * (ones - uniform).abs().sum().item()
    if abs(value - reference) > 1e-3:
        mistakes = {
            "Halve the sum: the ones' class differs by 1 - 1/10 and each of the nine others "
            "by 1/10; total variation is half the total.": 2 * reference,
            "Count the nine other digits too: each misses its share of 1/10.":
                0.5 * (1 - 0.1),
            "That is the share of ones in the data; the distance counts the mass that must move.":
                0.1,
            "Not 1: the histograms overlap on the ones, where the data has 1/10.": 1.0,
        }
        for hint, wrong in mistakes.items():
            if abs(value - wrong) <= 1e-3:
                raise ExerciseError(f"{name} (only ones): not yet. {hint}")
        raise ExerciseError(f"{name} (only ones): not yet: write p = (0, 1, 0, ..., 0) and q = "
                            "(1/10, ..., 1/10) and add |p_k - q_k| over the ten digits.")
    _passed(name, len(pairs) + 1)


# The exercises this module checks, by label: their kind and the typical wrong answers
# each checker must name (tools/exercise_audit.py runs them).
def _loss(body: str) -> str:
    return "def my_epsilon_loss(model, schedule, x0, t, noise):\n" + body


def _loop(draw: str = "    t = torch.randint(1, schedule.num_steps + 1, (batch_size,), generator=generator)\n",
          step: str = "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n",
          keep: str = "loss.item()", model_input: str = "x_t", before: str = "",
          pick: str = "data[torch.randint(0, len(data), (batch_size,), generator=generator)]",
          noise: str = "torch.randn(x0.shape, generator=generator)") -> str:
    return ("def my_train(model, optimizer, schedule, data, steps, batch_size, generator):\n"
            + before + "    losses = []\n    for _ in range(steps):\n"
            f"        x0 = {pick}\n"
            + "    " + draw
            + f"        noise = {noise}\n"
            "        x_t = add_noise(schedule, x0, t, noise)\n"
            f"        loss = ((model({model_input}, t) - noise) ** 2).mean()\n"
            + "".join("    " + line + "\n" for line in step.splitlines())
            + f"        losses.append({keep})\n    return losses\n")


def _tv(body: str, only_ones: str = "0.9") -> str:
    return f"def my_total_variation(p, q):\n{body}\n\ntv_only_ones = {only_ones}\n"


_TV_OK = "    return 0.5 * (p - q).abs().sum().item()"

EXERCISES: dict[str, Exercise] = {
    "ex-objective-epsilon-loss": Exercise("transcription", reference="diffusion_lite.losses.epsilon_loss",
                                          mistakes=(
        Mistake("summed over the d coordinates", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).sum(1).mean()\n")),
        Mistake("not a sum", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n    return ((model(x_t, t) - noise) ** 2).sum()\n")),
        Mistake("not the clean sample", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n    return ((model(x_t, t) - x0) ** 2).mean()\n")),
        Mistake("should see the noisy x_t", _loss(
            "    return ((model(x0, t) - noise) ** 2).mean()\n")),
        Mistake("not the noisy input", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n    return ((model(x_t, t) - x_t) ** 2).mean()\n")),
        Mistake("noised to step t - 1", _loss(
            "    x_t = add_noise(schedule, x0, t - 1, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).mean()\n")),
        Mistake("you passed t - 1", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t - 1) - noise) ** 2).mean()\n")),
        Mistake("Square the error", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n    return (model(x_t, t) - noise).abs().mean()\n")),
        Mistake("one loss per sample", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).mean(1)\n")),
        Mistake("carries no gradient", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).mean().detach()\n")),
        Mistake("changed its input in place", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n    noise -= model(x_t, t)\n"
            "    return (noise ** 2).mean()\n")),
        Mistake("0-d tensor \\(you will call .backward\\(\\) on it\\), got the Python float", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).mean().item()\n")),
        Mistake("summed over the batch", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).mean(1).sum()\n")),
        Mistake("RMSE", _loss(
            "    x_t = add_noise(schedule, x0, t, noise)\n"
            "    return ((model(x_t, t) - noise) ** 2).mean().sqrt()\n")),
        Mistake("draws noise of its own", _loss(
            "    eps = torch.randn_like(x0)\n    x_t = add_noise(schedule, x0, t, eps)\n"
            "    return ((model(x_t, t) - eps) ** 2).mean()\n")),
        Mistake("calls the package's epsilon_loss", _loss(
            "    return epsilon_loss(model, schedule, x0, t=t, noise=noise)\n")),
    )),
    "ex-objective-training-loop": Exercise("loop", mistakes=(
        Mistake("you drew t = 0", _loop(
            draw="    t = torch.randint(0, schedule.num_steps, (batch_size,), generator=generator)\n")),
        Mistake("never drew t = T", _loop(
            draw="    t = torch.randint(1, schedule.num_steps, (batch_size,), generator=generator)\n")),
        Mistake("same t; draw one t per point", _loop(
            draw="    t = torch.randint(1, schedule.num_steps + 1, (1,), generator=generator)"
                 ".expand(batch_size)\n")),
        Mistake("gradients accumulate", _loop(step="    loss.backward()\n    optimizer.step()\n")),
        Mistake("weights never changed", _loop(step="    optimizer.zero_grad()\n    loss.backward()\n")),
        Mistake("weights never changed", _loop(
            step="    loss.backward()\n    optimizer.zero_grad()\n    optimizer.step()\n")),
        Mistake("as Python floats", _loop(keep="loss")),
        Mistake("saw the clean x0", _loop(model_input="x0")),
        Mistake("same noise vector", _loop(noise="torch.randn(1, x0.shape[1], generator=generator)"
                                                 ".expand_as(x0)")),
        Mistake("noise is the same at every step", _loop(
            before="    fixed_noise = torch.randn(batch_size, 2, generator=generator)\n",
            noise="fixed_noise")),
        Mistake("data\\[:batch_size\\]", _loop(pick="data[:batch_size]")),
        Mistake("same batch of points", _loop(
            before="    idx = torch.randint(0, len(data), (batch_size,), generator=generator)\n",
            pick="data[idx]")),
        Mistake("global random generator", _loop(
            draw="    t = torch.randint(1, schedule.num_steps + 1, (batch_size,))\n",
            noise="torch.randn(x0.shape)")),
        Mistake("generator of your own", _loop(
            before="    generator = torch.Generator().manual_seed(0)\n")),
    )),
    "ex-objective-weight": Exercise("written-checkable", mistakes=(
        Mistake("sigma_t² = beta_t;", "larger_at = 'small'\n"
                "s = NoiseSchedule.cosine(1000)\n"
                "weight_at_2 = (s.betas[2] / (2 * s.alphas[2] * s.one_minus_alpha_bars[2])).item()\n"),
        Mistake("keep the 1/2", "s = NoiseSchedule.cosine(1000)\nlarger_at = 'small'\n"
                "weight_at_2 = (s.betas[2] / (s.alphas[2] * s.one_minus_alpha_bars[1])).item()\n"),
        Mistake("linear schedule's weight", "s = NoiseSchedule.linear(1000)\nlarger_at = 'small'\n"
                "weight_at_2 = (s.betas[2] / (2 * s.alphas[2] * s.one_minus_alpha_bars[1])).item()\n"),
        Mistake("evaluated it at t = 3", "s = NoiseSchedule.cosine(1000)\nlarger_at = 'small'\n"
                "weight_at_2 = (s.betas[3] / (2 * s.alphas[3] * s.one_minus_alpha_bars[2])).item()\n"),
        Mistake("grows from almost 0", "s = NoiseSchedule.cosine(1000)\nlarger_at = 'large'\n"
                "weight_at_2 = (s.betas[2] / (2 * s.alphas[2] * s.one_minus_alpha_bars[1])).item()\n"),
        Mistake("0-d tensor", "s = NoiseSchedule.cosine(1000)\nlarger_at = 'small'\n"
                "weight_at_2 = s.betas[2] / (2 * s.alphas[2] * s.one_minus_alpha_bars[1])\n"),
    )),
    "ex-objective-v": Exercise("written"),
    "ex-train-ema": Exercise("transcription", mistakes=(
        Mistake("swapped", "def my_ema_update(ema_weight, weight, decay):\n"
                "    return (1 - decay) * ema_weight + decay * weight\n"),
        Mistake("Keep the old average", "def my_ema_update(ema_weight, weight, decay):\n"
                "    return (1 - decay) * weight\n"),
        Mistake("sum to 1", "def my_ema_update(ema_weight, weight, decay):\n"
                "    return decay * ema_weight + weight\n"),
        Mistake("changed its input in place", "def my_ema_update(ema_weight, weight, decay):\n"
                "    return ema_weight.mul_(decay).add_((1 - decay) * weight)\n"),
        Mistake("moved it away", "def my_ema_update(ema_weight, weight, decay):\n"
                "    return ema_weight + (1 - decay) * (ema_weight - weight)\n"),
        Mistake("Sign error", "def my_ema_update(ema_weight, weight, decay):\n"
                "    return decay * ema_weight - (1 - decay) * weight\n"),
    )),
    "ex-train-ema-share": Exercise("prediction", setup="ema = dl.train.EMA(torch.nn.Linear(1, 1), decay=0.995)",
                                   mistakes=(
        Mistake("steps \\*before\\* the last 200", "share_last_200 = 0.995 ** 200\nsteps_for_half = 139\n"),
        Mistake("treats every step alike", "share_last_200 = 200 * (1 - 0.995)\nsteps_for_half = 139\n"),
        Mistake("geometrically with age", "share_last_200 = 0.5\nsteps_for_half = 139\n"),
        Mistake("Off by one: the last 200", "share_last_200 = 1 - 0.995 ** 199\nsteps_for_half = 139\n"),
        Mistake("1 - 1/e", "import math\nshare_last_200 = 1 - math.exp(-1)\nsteps_for_half = 139\n"),
        Mistake("off in the third decimal", "share_last_200 = 0.63\nsteps_for_half = 139\n"),
        Mistake("Round up", "share_last_200 = 1 - 0.995 ** 200\nsteps_for_half = 138\n"),
        Mistake("about 1 - 1/e", "share_last_200 = 1 - 0.995 ** 200\nsteps_for_half = 200\n"),
        Mistake("carried 1 - decay", "share_last_200 = 1 - 0.995 ** 200\nsteps_for_half = 100\n"),
    )),
    "ex-train-tv": Exercise("transcription", reference="diffusion_lite.metrics.total_variation",
                            mistakes=(
        Mistake("Halve the sum", _tv("    return (p - q).abs().sum().item()")),
        Mistake("absolute value of each", _tv("    return 0.5 * (p - q).sum().item()")),
        Mistake("not squared", _tv("    return 0.5 * ((p - q) ** 2).sum().item()")),
        Mistake("do not average", _tv("    return 0.5 * (p - q).abs().mean().item()")),
        Mistake("mean of \\|p - q\\|", _tv("    return (p - q).abs().mean().item()")),
        Mistake("calls the package's total_variation", _tv(
            "    return dl.metrics.total_variation(p, q)")),
        Mistake("overlap", _tv("    return torch.minimum(p, q).sum().item()")),
        Mistake("0-d tensor is not a float", _tv("    return 0.5 * (p - q).abs().sum()")),
        Mistake("Euclidean", _tv("    return (p - q).pow(2).sum().sqrt().item()")),
        Mistake("only ones\\): not yet. Halve", _tv(_TV_OK, "1.8")),
        Mistake("nine other digits", _tv(_TV_OK, "0.45")),
        Mistake("overlap on the ones", _tv(_TV_OK, "1.0")),
    )),
    "ex-train-floor": Exercise("written"),
}
