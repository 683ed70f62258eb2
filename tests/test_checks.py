"""Each exercise checker accepts the reference solution and rejects plausible wrong answers
with a message that says what is wrong."""

import pytest

from diffusion_lite import checks
from diffusion_lite.schedules import add_noise


def add_noise_ok(schedule, x0, t, noise):
    alpha_bar = schedule.alpha_bars[t][:, None]
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def add_noise_precise(schedule, x0, t, noise):   # 1 - alpha_bar_t from its own array
    alpha_bar, one_minus = schedule.alpha_bars[t][:, None], schedule.one_minus_alpha_bars[t][:, None]
    return alpha_bar.sqrt() * x0 + one_minus.sqrt() * noise


def epsilon_loss_ok(model, schedule, x0, t, noise):
    return ((model(add_noise(schedule, x0, t, noise), t) - noise) ** 2).mean()


def ddpm_step_ok(schedule, eps, x_t, t, z):
    alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
    mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
    return mean + beta.sqrt() * z if t > 1 else mean


def test_reference_solutions_pass(capsys):
    checks.check_add_noise(add_noise_ok)
    checks.check_add_noise(add_noise_precise)
    checks.check_add_noise(add_noise)
    checks.check_epsilon_loss(epsilon_loss_ok)
    checks.check_ddpm_step(ddpm_step_ok)
    assert capsys.readouterr().out.count("✅") == 5


def _add_noise_with(alpha_bars=lambda s, t: s.alpha_bars[t], a_op=lambda a: a.sqrt(),
                    b_op=lambda a: (1 - a).sqrt()):
    def wrong(schedule, x0, t, noise):
        a = alpha_bars(schedule, t)[:, None]
        return a_op(a) * x0 + b_op(a) * noise
    return wrong


@pytest.mark.parametrize("wrong, hint", [
    (_add_noise_with(a_op=lambda a: a, b_op=lambda a: 1 - a), "square root"),
    (_add_noise_with(b_op=lambda a: 1 - a), "is the variance"),
    (_add_noise_with(a_op=lambda a: (1 - a).sqrt(), b_op=lambda a: a.sqrt()), "which term"),
    (_add_noise_with(alpha_bars=lambda s, t: s.alpha_bars[t - 1]), "Off by one"),
    (_add_noise_with(alpha_bars=lambda s, t: s.alphas[t]), "alpha_t = 1 - beta_t"),
    (_add_noise_with(a_op=lambda a: 1), "must shrink"),
    (_add_noise_with(b_op=lambda a: 1), "noise must be scaled"),
    (lambda s, x0, t, n: x0 + n, "largest difference"),
    (lambda s, x0, t, n: s.alpha_bars[t].sqrt() * x0 + (1 - s.alpha_bars[t]).sqrt() * n, "reshape"),
    (lambda s, x0, t, n: add_noise_ok(s, x0, t, n).sum(1), "expected shape"),
    (lambda s, x0, t, n: x0.mul_(s.alpha_bars[t][:, None].sqrt()), "in place"),
    (lambda s, x0, t, n: None, "expected a torch.Tensor"),
])
def test_add_noise_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_add_noise(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, s, x0, t, n: ((m(x0, t) - n) ** 2).mean(), "noisy x_t"),
    (lambda m, s, x0, t, n: ((m(add_noise(s, x0, t, n), t) - x0) ** 2).mean(), "not the clean"),
    (lambda m, s, x0, t, n: ((m(add_noise(s, x0, t, n), t) - n) ** 2).sum(), "not a sum"),
    (lambda m, s, x0, t, n: (m(add_noise(s, x0, t, n), t) - n).abs().mean(), "Square the error"),
    (lambda m, s, x0, t, n: epsilon_loss_ok(m, s, x0, t, n).detach(), "carries no gradient"),
    (lambda m, s, x0, t, n: ((m(add_noise(s, x0, t, n), t) - n) ** 2).sum(1).mean(), "d times"),
    (lambda m, s, x0, t, n: ((m(add_noise(s, x0, t, n), t) - add_noise(s, x0, t, n)) ** 2).mean(),
     "not the noisy input"),
    (lambda m, s, x0, t, n: ((m(add_noise(s, x0, t - 1, n), t) - n) ** 2).mean(), "noised to step t - 1"),
    (lambda m, s, x0, t, n: ((m(add_noise(s, x0, t, n), t - 1) - n) ** 2).mean(), "you passed t - 1"),
])
def test_epsilon_loss_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_epsilon_loss(wrong)


def _step_with(noise_at_zero=False, variance_scale=False, plain_beta=False, alpha_bar_div=False,
               off_by_one=False, beta_tilde=False, all_off_by_one=False, plus_one=False,
               no_noise_at_two=False, no_noise=False, in_place=False):
    def step(schedule, eps, x_t, t, z):
        s = t - 1 if all_off_by_one else t + 1 if plus_one else t
        alpha, alpha_bar, beta = schedule.alphas[s], schedule.alpha_bars[s], schedule.betas[s]
        if off_by_one:
            alpha_bar = schedule.alpha_bars[t - 1]
        coef = beta if plain_beta else beta / (1 - alpha_bar).sqrt()
        mean = (x_t - coef * eps) / (alpha_bar.sqrt() if alpha_bar_div else alpha.sqrt())
        sigma = beta if variance_scale else beta.sqrt()
        if beta_tilde:
            sigma = ((1 - schedule.alpha_bars[t - 1]) / (1 - alpha_bar) * beta).sqrt()
        if in_place:
            z *= sigma
            return mean + z if t > 1 else mean
        noisy = (t > 1 or noise_at_zero) and not no_noise and not (no_noise_at_two and t == 2)
        return mean + sigma * z if noisy else mean
    return step


def ddpm_step_precise(schedule, eps, x_t, t, z):   # 1 - alpha_bar_t from its own array
    alpha, one_minus, beta = schedule.alphas[t], schedule.one_minus_alpha_bars[t], schedule.betas[t]
    mean = (x_t - beta / one_minus.sqrt() * eps) / alpha.sqrt()
    return mean + beta.sqrt() * z if t > 1 else mean


def test_ddpm_step_accepts_the_precise_one_minus_alpha_bar(capsys):
    checks.check_ddpm_step(ddpm_step_precise)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (_step_with(noise_at_zero=True), "No noise is added at the last step"),
    (_step_with(variance_scale=True), "standard deviation"),
    (_step_with(plain_beta=True), r"beta_t / sqrt\(1 - alpha_bar_t\), not by beta_t alone"),
    (_step_with(alpha_bar_div=True), r"Divide by sqrt\(alpha_t\)"),
    (_step_with(off_by_one=True), r"alpha_bars\[t\] is"),
    (_step_with(beta_tilde=True), "You used beta_tilde_t"),
    (_step_with(all_off_by_one=True), "you read index t - 1"),
    (_step_with(plus_one=True), "IndexError.*neither t \\+ 1 nor t - 1"),
    (_step_with(no_noise_at_two=True), "the step from t = 2 returns x_1"),
    (_step_with(no_noise=True), "at every step but the last"),
    (_step_with(in_place=True), "in place"),
])
def test_ddpm_step_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_ddpm_step(wrong)


def test_ddpm_step_beta_tilde_is_named_from_one_case():
    """beta_tilde_t is far from beta_t at the first case the checker runs (t = 2, where
    beta_tilde_2 / beta_2 is under a half), so the mistake is named with one case alone,
    by a margin far above the checker's tolerance."""
    import torch as th

    from diffusion_lite.schedules import NoiseSchedule
    schedule = NoiseSchedule.linear(1000)
    z = th.randn(1000, generator=th.Generator().manual_seed(0))
    right, wrong = (_step_with()(schedule, th.zeros(1000), th.zeros(1000), 2, z),
                    _step_with(beta_tilde=True)(schedule, th.zeros(1000), th.zeros(1000), 2, z))
    assert (right - wrong).abs().max() > 100 * 1e-5
    with pytest.raises(checks.ExerciseError, match="You used beta_tilde_t"):
        checks.check_ddpm_step(_step_with(beta_tilde=True), cases=1)


def test_chapter_4_reference_solutions_pass(capsys):
    from diffusion_lite.nn import timestep_embedding
    checks.check_timestep_embedding(timestep_embedding)
    checks.check_conv_output_size(lambda size, k, s, p: (size + 2 * p - k) // s + 1)
    checks.check_untrained_loss(lambda: 1.0)
    assert capsys.readouterr().out.count("✅") == 3


def test_unet_shapes_are_measured_with_hooks(capsys):
    from diffusion_lite.checks.networks import _SHAPE_CONFIGS, _unet_shapes
    checks.check_unet_shapes(_unet_shapes)
    assert "✅" in capsys.readouterr().out
    assert len({len(c.channel_mults) for c in _SHAPE_CONFIGS}) == 3     # three depths
    with pytest.raises(checks.ExerciseError, match="mid.res.1: you predicted"):
        checks.check_unet_shapes(lambda c: {**_unet_shapes(c), "mid.res.1": (1, 1, 1)})


def _embedding(order="sin-cos", interleave=False, divisor="half", first_i=0, shift=0):
    import torch as th

    def fn(t, dim):
        half = dim // 2
        divisors = {"half": half, "dim": dim, "half-1": half - 1}
        freqs = 10_000.0 ** (-(th.arange(half) + first_i) / divisors[divisor])
        angles = (t + shift).float()[:, None] * freqs[None, :]
        first, second = (th.sin(angles), th.cos(angles))
        if order == "cos-sin":
            first, second = second, first
        if interleave:
            return th.stack([first, second], dim=2).flatten(1)
        return th.cat([first, second], dim=1)
    return fn


@pytest.mark.parametrize("wrong, hint", [
    (_embedding(order="cos-sin"), "Sines first"),
    (_embedding(interleave=True), "do not interleave"),
    (_embedding(divisor="dim"), r"you divided by dim\."),
    (_embedding(divisor="half-1"), r"dim / 2 - 1"),
    (_embedding(first_i=1), "i counts from 0"),
    (_embedding(shift=-1), "you embedded t - 1"),
    (_embedding(shift=1), r"you embedded t \+ 1"),
    (lambda t, dim: _embedding()(t, dim).double(), "expected dtype"),
    (lambda t, dim: _embedding()(t, dim).T, "expected shape"),
])
def test_embedding_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_timestep_embedding(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda size, k, s, p: (size + 2 * p - k) / s + 1, "expected an int"),
    (lambda size, k, s, p: (size + 2 * p - k) // s, "add 1"),
    (lambda size, k, s, p: (size + p - k) // s + 1, "both sides"),
    (lambda size, k, s, p: size + 2 * p - k + 1, "Divide by the stride"),
])
def test_conv_size_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_conv_output_size(wrong)


def test_chapter_5_reference_solutions_pass(capsys):
    from diffusion_lite.metrics import total_variation
    checks.check_ema_update(lambda ema, w, decay: decay * ema + (1 - decay) * w)
    checks.check_total_variation(total_variation, 0.9)
    checks.check_ema_share(1 - 0.995**200, 139)
    checks.check_kl_weight(0.5589, "small")
    assert capsys.readouterr().out.count("✅") == 4


def _in_place_ema(ema, w, decay):
    return ema.mul_(decay).add_((1 - decay) * w)


@pytest.mark.parametrize("wrong, hint", [
    (lambda ema, w, decay: (1 - decay) * ema + decay * w, "swapped"),
    (lambda ema, w, decay: (1 - decay) * w, "Keep the old average"),
    (lambda ema, w, decay: decay * ema + w, "sum to 1"),
    (_in_place_ema, "changed its input in place"),
    (lambda ema, w, decay: w, "as if decay were 0"),
    (lambda ema, w, decay: ema, "as if decay were 1"),
    (lambda ema, w, decay: 0.5 * (ema + w), "plain mean"),
    (lambda ema, w, decay: ema + (1 - decay) * (ema - w), "moved it away"),
    (lambda ema, w, decay: ema.flip(0), "largest difference"),
    (lambda ema, w, decay: ema[0], "expected shape"),
    (lambda ema, w, decay: ema @ w, "raised RuntimeError"),
])
def test_ema_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_ema_update(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, q: (p - q).abs().sum().item(), "Halve the sum"),
    (lambda p, q: 0.5 * (p - q).sum().item(), "absolute value"),
    (lambda p, q: 0.5 * ((p - q) ** 2).sum().item(), "not squared"),
    (lambda p, q: 0.5 * (p - q).abs().mean().item(), "do not average"),
    (lambda p, q: (p - q).abs().max().item(), "largest difference of a single class;"),
    (lambda p, q: 0.5 * (p - q).abs().max().item(), "single class, halved"),
    (lambda p, q: (p - q).pow(2).sum().sqrt().item(), "Euclidean"),
    (lambda p, q: (p - q).abs().sum() / 2, "a 0-d tensor is not a float"),
    (lambda p, q: __import__("torch").minimum(p, q).sum().item(), "overlap"),
    (lambda p, q: "0.1", "expected a number"),
    (lambda p, q: 0.25, "expected"),
])
def test_total_variation_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_total_variation(wrong, 0.9)


def renamed(fn, name: str = "answer"):
    """A copy of the package's function under another name: the reference answer, which the
    checkers refuse by name when a student calls it."""
    import types
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def test_total_variation_edge_cases_and_the_written_value():
    from diffusion_lite.metrics import total_variation
    total_variation = renamed(total_variation)
    with pytest.raises(checks.ExerciseError, match="disjoint histograms"):   # right on random pairs
        checks.check_total_variation(lambda p, q: min(total_variation(p, q), 0.9), 0.9)
    with pytest.raises(checks.ExerciseError, match="not answered yet"):
        checks.check_total_variation(total_variation, None)
    with pytest.raises(checks.ExerciseError, match="0-d tensor"):
        checks.check_total_variation(total_variation, __import__("torch").tensor(0.9))


def test_chapter_6_reference_solutions_pass(capsys):
    from diffusion_lite.samplers import slerp
    interpolate = renamed(slerp)

    def ddim(x_t, eps, ab_t, ab_prev):
        x0 = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
        return ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
    checks.check_ddim_step(ddim)
    checks.check_slerp(lambda a, b, alpha: interpolate(a, b, alpha)[0])
    assert capsys.readouterr().out.count("✅") == 2


def test_loop_checkers_refuse_the_package_sampler():
    from diffusion_lite import samplers  # called as an attribute, as a notebook's global is

    def wrapped(model, schedule, x_T, num_steps):
        return samplers.ddim_sample(model, schedule, x_T.shape, x_T=x_T, num_steps=num_steps,
                                    clip_x0=None, progress=False)
    with pytest.raises(checks.ExerciseError, match="calls the package's ddim_sample"):
        checks.check_ddim_sample(wrapped)
    with pytest.raises(checks.ExerciseError, match="calls the package's slerp"):
        checks.check_slerp(lambda a, b, alpha: samplers.slerp(a, b, alpha)[0])


def test_a_students_own_function_may_share_a_forbidden_name():
    """A helper the student wrote, named like the package's answer, is not the answer."""
    namespace = {}
    exec("def interpolate(x0, noise, t):\n"
         "    tt = t[:, None]\n"
         "    return (1 - tt) * x0 + tt * noise\n\n"
         "def my_flow_pair(x0, noise, t):\n"
         "    return interpolate(x0, noise, t), noise - x0\n", namespace)
    checks.check_flow_pair(namespace["my_flow_pair"])


def test_loop_checkers_see_the_package_sampler_under_another_name():
    """Bound to a variable of another name, or called from a helper of the student's own."""
    from diffusion_lite.samplers import ddim_sample as sample
    from diffusion_lite.samplers import slerp as interpolate

    def helper(model, schedule, x_T, num_steps):
        return sample(model, schedule, x_T.shape, x_T=x_T, num_steps=num_steps, clip_x0=None,
                      progress=False)

    def via_helper(model, schedule, x_T, num_steps):
        return helper(model, schedule, x_T, num_steps)
    with pytest.raises(checks.ExerciseError, match="calls the package's ddim_sample"):
        checks.check_ddim_sample(via_helper)
    with pytest.raises(checks.ExerciseError, match="calls the package's slerp"):
        checks.check_slerp(lambda a, b, alpha: interpolate(a, b, alpha)[0])


def _ddim(kind):
    def fn(x_t, eps, ab_t, ab_prev):
        if kind == "swap":
            ab_t, ab_prev = ab_prev, ab_t
        noise = (1 - ab_t) * eps if kind == "variance" else (1 - ab_t).sqrt() * eps
        x0 = (x_t + noise if kind == "plus" else x_t - noise) / (ab_t if kind == "no-sqrt" else ab_t.sqrt())
        if kind == "x_t":
            x0 = x_t
        if kind == "no-direction":
            return ab_prev.sqrt() * x0
        if kind == "x0":
            return x0
        if kind == "direction-at-t":
            return ab_prev.sqrt() * x0 + (1 - ab_t).sqrt() * eps
        if kind == "variance":
            return ab_prev.sqrt() * x0 + (1 - ab_prev) * eps
        if kind == "in-place":
            x_t -= noise
        return ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
    return fn


@pytest.mark.parametrize("wrong, hint", [
    (_ddim("no-direction"), "noise direction"),
    (_ddim("no-sqrt"), "square root"),
    (_ddim("swap"), "swapped"),
    (_ddim("variance"), "standard deviation"),
    (_ddim("x0"), "x0_hat itself"),
    (_ddim("direction-at-t"), "level you move to"),
    (_ddim("plus"), "you added it"),
    (_ddim("x_t"), "not x_t"),
    (_ddim("in-place"), "in place"),
])
def test_ddim_step_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_ddim_step(wrong)


def _unnormalised_slerp(a, b, alpha):
    import torch as th
    theta = th.arccos(((a.flatten() @ b.flatten()) / a.numel()).clamp(-1, 1))
    return (th.sin(th.tensor(1 - alpha) * theta) * a + th.sin(th.tensor(alpha) * theta) * b) / th.sin(theta)


def _slerp_variant(a, b, alpha, kind):
    """Slerp with one common mistake: an unnormalised dot product (NaN from arccos, or, clamped,
    theta = 0 or pi), no division by sin(theta), the cosine as the angle, or unit vectors."""
    import torch as th
    dot = a.flatten() @ b.flatten()
    cos = dot if kind == "dot" else dot.clamp(-1, 1) if kind == "dot-clamped" else dot / (a.norm() * b.norm())
    theta = cos if kind == "cos" else th.arccos(cos)
    if kind == "unit":
        a, b = a / a.norm(), b / b.norm()
    weight_a, weight_b = th.sin(th.tensor(1 - alpha) * theta), th.sin(th.tensor(alpha) * theta)
    if kind == "no-sin":
        return weight_a * a + weight_b * b
    return (weight_a * a + weight_b * b) / th.sin(theta)


@pytest.mark.parametrize("wrong, hint", [
    (lambda a, b, alpha: (1 - alpha) * a + alpha * b, "straight line"),
    (_unnormalised_slerp, "both norms"),
    (lambda a, b, alpha: a, "largest difference"),
    (lambda a, b, alpha: _slerp_variant(a, b, alpha, "dot"), "NaN"),
    (lambda a, b, alpha: _slerp_variant(a, b, alpha, "dot-clamped"), "unnormalised"),
    (lambda a, b, alpha: _slerp_variant(a, b, alpha, "no-sin"), "Divide both weights"),
    (lambda a, b, alpha: _slerp_variant(a, b, alpha, "cos"), "cosine itself"),
    (lambda a, b, alpha: _slerp_variant(a, b, alpha, "unit"), "unit sphere"),
])
def test_slerp_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_slerp(wrong)


def test_chapter_7_reference_solutions_pass(capsys):
    from diffusion_lite.losses import drop_labels
    checks.check_guided_eps(lambda c, u, w: u + w * (c - u))
    checks.check_drop_labels(drop_labels)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("wrong, hint", [
    (lambda c, u, w: c + w * (c - u), "start from"),
    (lambda c, u, w: u + w * (u - c), "not the reverse"),
    (lambda c, u, w: (1 + w) * c - w * u, "Ho & Salimans"),
    (lambda c, u, w: w * (c - u), "Add the unconditional"),
    (lambda c, u, w: c + w * (u - c), "swapped the roles"),
    (lambda c, u, w: u + w * c, "subtract"),
    (lambda c, u, w: u.add_(w * (c - u)), "in place"),
    (lambda c, u, w: u + w * (c - u).sum(1), "expected shape"),
    (lambda c, u, w: u + w * (c - u).view(3, 16, 2), "raised RuntimeError"),
])
def test_guidance_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_guided_eps(wrong)


def _drop(kind):
    import torch as th

    def fn(labels, p, null_class, generator):
        draw = th.rand(labels.shape, generator=generator if kind != "global" else None)
        drop = draw > p if kind == "flipped" else draw < p
        if kind == "fixed-seed":
            drop = th.rand(labels.shape, generator=th.Generator().manual_seed(0)) < p
        if kind == "zero":
            return th.where(drop, th.zeros_like(labels), labels)
        if kind == "mask":
            return drop
        if kind == "float":
            return labels * ~drop + null_class * drop.float()
        if kind == "in-place":
            labels[drop] = null_class
            return labels
        return th.where(drop, th.full_like(labels, null_class), labels)
    return fn


@pytest.mark.parametrize("wrong, hint", [
    (_drop("flipped"), "below"),
    (_drop("zero"), "null_class"),
    (_drop("in-place"), "changed its input"),
    (_drop("global"), "same seed"),
    (_drop("fixed-seed"), "different generators"),
    (_drop("mask"), "mask"),
    (_drop("float"), "dtype"),
])
def test_drop_labels_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_drop_labels(wrong)


def test_chapter_8_reference_solutions_pass(capsys):
    import torch as th
    checks.check_cross_attention(
        lambda q, k, v: th.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1) @ v)
    checks.check_prompt_accuracy(lambda d, a: (d == a).all(dim=1).float().mean().item())
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2), dim=-1) @ v, "1 / sqrt"),
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2) / q.shape[-1], dim=-1) @ v,
     "not d"),
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=1) @ v,
     "over the keys"),
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2) * q.shape[-1] ** 0.5, dim=-1) @ v,
     "do not multiply"),
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2) / k.shape[1] ** 0.5, dim=-1) @ v,
     "number of words"),
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1) @ k,
     "not the keys"),
    (lambda q, k, v: __import__("torch").softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1),
     "attention weights"),
    (lambda q, k, v: __import__("torch").softmax(q @ k / q.shape[-1] ** 0.5, dim=-1) @ v, "raised"),
])
def test_cross_attention_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_cross_attention(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, a: (d == a).float().mean().item(), "averaged over attributes"),
    (lambda d, a: (d == a).any(dim=1).float().mean().item(), "not any"),
    (lambda d, a: "all", "expected a float"),
    (lambda d, a: (d == a).all(dim=1).float().mean(), r"\.item\(\)"),
    (lambda d, a: (d == a).all(dim=1).sum().item(), "how many rows"),
    (lambda d, a: 100 * (d == a).all(dim=1).float().mean().item(), "percentage"),
    (lambda d, a: (d != a).any(dim=1).float().mean().item(), "with a mistake"),
    (lambda d, a: (d == a).all(dim=0).float(), "one number per attribute"),
])
def test_prompt_accuracy_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_prompt_accuracy(wrong)


def test_attention_diagnosis_passes_and_answers_none_as_unanswered(capsys):
    checks.check_attention_diagnosis({"A": "b", "B": "a", "C": "c"})
    assert capsys.readouterr().out.count("✅") == 1
    with pytest.raises(checks.ExerciseError, match="not answered yet"):
        checks.check_attention_diagnosis(None)


def test_attention_suspects_each_have_a_different_fault():
    import torch as th

    from diffusion_lite.checks.conditioning import SUSPECTS, _with_fault
    q, k, v = th.randn(1, 6, 9), th.randn(1, 4, 9), th.randn(1, 4, 9)
    faults = [next(f for f in "abcd" if th.allclose(fn(q, k, v)[0], _with_fault(f, q, k, v)[0]))
              for fn in SUSPECTS.values()]
    assert sorted(faults) == ["a", "b", "c"]


def test_chapter_10_reference_solutions_pass(capsys):
    import torch

    def euler(model, x_T, n):
        times, x = torch.linspace(1, 0, n + 1), x_T
        for t, t_next in zip(times[:-1], times[1:]):
            x = x + (t_next - t) * model(x, torch.full((x.shape[0],), t.item()))
        return x

    checks.check_score(lambda eps, ab: -eps / (1 - ab).sqrt())
    checks.check_flow_pair(lambda x0, n, t: ((1 - t[:, None]) * x0 + t[:, None] * n, n - x0))
    checks.check_flow_euler(euler)
    checks.check_flow_heun_calls(lambda n: 2 * n - 1)
    assert capsys.readouterr().out.count("✅") == 4


def test_flow_euler_names_a_midpoint_loop():
    import torch

    def midpoint(model, x_T, n):
        x, times = x_T, torch.linspace(1, 0, n + 1)
        for t, t_next in zip(times[:-1], times[1:]):
            t_mid = torch.full((len(x),), ((t + t_next) / 2).item())
            x = x + (t_next - t) * model(x, t_mid)
        return x
    with pytest.raises(checks.ExerciseError, match="Euler's method on num_steps equal steps"):
        checks.check_flow_euler(midpoint)


@pytest.mark.parametrize("wrong, hint", [
    (lambda eps, ab: eps / (1 - ab).sqrt(), "minus sign"),
    (lambda eps, ab: -eps / (1 - ab), "standard deviation"),
    (lambda eps, ab: -eps / ab.sqrt(), "noise level"),
    (lambda eps, ab: -eps * (1 - ab).sqrt(), "do not multiply"),
    (lambda eps, ab: -eps * (ab / (1 - ab)).sqrt(), "sigma form"),
    (lambda eps, ab: -eps / (1 - ab[:, 0]).sqrt(), "raised"),
])
def test_score_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_score(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x0, n, t: (t[:, None] * x0 + (1 - t[:, None]) * n, n - x0), "At t = 0"),
    (lambda x0, n, t: ((1 - t[:, None]) * x0 + t[:, None] * n, x0 - n), "not x0 - noise"),
    (lambda x0, n, t: ((1 - t[:, None]) * x0 + t[:, None] * n, n), "not the noise alone"),
    (lambda x0, n, t: n - x0, "expected a pair"),
    (lambda x0, n, t: ((1 - t) * x0 + t * n, n - x0), r"t\[:, None\]"),
    (lambda x0, n, t: (x0 + t[:, None] * n, n - x0), "shrinks the data"),
    (lambda x0, n, t: ((1 - t[:, None]) * x0 + t[:, None] * n, x0), "x0-prediction"),
    (lambda x0, n, t: ((1 - t[:, None]) * x0 + t[:, None] * n, t[:, None] * (n - x0)), "no factor t"),
    (lambda x0, n, t: ((1 - t[:, None]) * x0 + t[:, None] * n,
                       (1 - t[:, None]).sqrt() * n - t[:, None].sqrt() * x0), "v-prediction"),
    (lambda x0, n, t: (x0.mul_(2), n - x0), "in place"),
])
def test_flow_pair_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_flow_pair(wrong)


def test_chapter_11_reference_solutions_pass(capsys):
    from diffusion_lite.distill import distillation_loss_at
    checks.check_distillation_target(
        lambda x, xn, a, s, an, sn: (xn - sn / s * x) / (an - sn / s * a))
    checks.check_distillation_loss(distillation_loss_at)
    assert capsys.readouterr().out.count("✅") == 2


def test_distillation_loss_at_is_the_drawn_loss():
    import torch as th

    from diffusion_lite.distill import distillation_loss, distillation_loss_at
    from diffusion_lite.samplers import ddim_timesteps
    from diffusion_lite.schedules import NoiseSchedule
    from diffusion_lite.unet import MLPDenoiser
    schedule, x0 = NoiseSchedule.cosine(1000), th.randn(8, 2)
    teacher, student = MLPDenoiser(hidden=16, num_blocks=1), MLPDenoiser(hidden=16, num_blocks=1)
    drawn = distillation_loss(student, teacher, schedule, x0, student_steps=2,
                              generator=th.Generator().manual_seed(3))
    g = th.Generator().manual_seed(3)                 # the same draws, in the same order
    fine = ddim_timesteps(1000, 4)
    pick = th.randint(0, 2, (8,), generator=g) * 2
    t_prev = th.cat([fine[1:], th.tensor([0])])[pick + 1]
    noise = th.randn(x0.shape, generator=g)
    given = distillation_loss_at(student, teacher, schedule, x0, fine[pick], fine[pick + 1],
                                 t_prev, noise)
    assert th.allclose(drawn, given)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, xn, a, s, an, sn: (xn - s / sn * x) / (an - s / sn * a), "not s_t / s_next"),
    (lambda x, xn, a, s, an, sn: (xn - sn / s * x) / (an + sn / s * a), "subtract"),
    (lambda x, xn, a, s, an, sn: (xn + sn / s * x) / (an - sn / s * a), "numerator"),
    (lambda x, xn, a, s, an, sn: (xn - sn / s * x) / (an - sn / s), "multiplies a_t"),
    (lambda x, xn, a, s, an, sn: (x - sn / s * xn) / (an - sn / s * a), "swapped x_t and x_next"),
    (lambda x, xn, a, s, an, sn: xn, "landing point"),
    (lambda x, xn, a, s, an, sn: ((xn - sn) / s * x) / (an - sn / s * a), "precedence"),
    (lambda x, xn, a, s, an, sn: (xn - sn / s * x) / an - sn / s * a, "denominator in parentheses"),
])
def test_distillation_target_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_distillation_target(wrong)


def test_chapter_9_reference_solutions_pass(capsys):
    from diffusion_lite.losses import kl_to_standard_normal

    checks.check_kl(kl_to_standard_normal)
    checks.check_reparameterise(lambda m, lv, n: m + (0.5 * lv).exp() * n)
    checks.check_flop_ratio(lambda: 15.5)
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("prediction, hint", [(12.0, "numbers in an image"), (30.0, "fewer than"),
                                              (8.0, "more than")])
def test_flop_ratio_grades_the_prediction(prediction, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_flop_ratio(lambda: prediction)


def _kl_terms(m, lv):
    return (m.pow(2) + lv.exp() - 1 - lv).flatten(1)


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, lv: _kl_terms(m, lv).sum(dim=1), "Halve the sum"),
    (lambda m, lv: 0.5 * (m.pow(2) + (0.5 * lv).exp() - 1 - lv).flatten(1).sum(dim=1), "not exp"),
    (lambda m, lv: 0.5 * (m.pow(2) + lv.exp() - 1 + lv).flatten(1).sum(dim=1), "Subtract log"),
    (lambda m, lv: 0.5 * _kl_terms(m, lv).mean(dim=1), "do not average"),
    (lambda m, lv: 0.5 * _kl_terms(m, lv).sum(), "expected shape"),
    (lambda m, lv: 0.5 * _kl_terms(m, lv).sum(), "summed .or averaged. over the batch"),
    (lambda m, lv: 0.5 * (m.pow(2) + (2 * lv).exp() - 1 - 2 * lv).flatten(1).sum(dim=1), "not log s"),
    (lambda m, lv: 0.5 * (m.pow(2) + lv.exp() - lv).flatten(1).sum(dim=1), "The − 1 is missing"),
    (lambda m, lv: 0.5 * (lv.exp() - 1 - lv).flatten(1).sum(dim=1), "Include μ²"),
    (lambda m, lv: 0.5 * (m + lv.exp() - 1 - lv).flatten(1).sum(dim=1), "Square the mean"),
    (lambda m, lv: -0.5 * _kl_terms(m, lv).sum(dim=1), "never negative"),
    (lambda m, lv: 0.5 * ((1 + m.pow(2)) / lv.exp() - 1 + lv).flatten(1).sum(dim=1), "other direction"),
    (lambda m, lv: 0.5 * (m.pow_(2) + lv.exp() - 1 - lv).flatten(1).sum(dim=1), "in place"),
    (lambda m, lv: 0.5 * _kl_terms(m, lv.numpy()).sum(dim=1), "raised"),
])
def test_kl_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_kl(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, lv, n: m + lv.exp() * n, "not the variance"),
    (lambda m, lv, n: m + 0.5 * lv * n, "logvar is a log"),
    (lambda m, lv, n: (0.5 * lv).exp() * n, "Add the mean"),
    (lambda m, lv, n: (m + (0.5 * lv).exp() * n).detach(), "no gradient"),
    (lambda m, lv, n: m + (-0.5 * lv).exp() * n, "is 1 / s"),
    (lambda m, lv, n: m + n, "Scale the noise by the standard deviation s"),
    (lambda m, lv, n: m + (0.5 * lv).exp(), "Multiply the standard deviation by the noise"),
    (lambda m, lv, n: m + (0.5 * lv).exp() * n.clone().normal_(), "do not draw your own"),
    (lambda m, lv, n: m.add_((0.5 * lv).exp() * n), "in place"),
])
def test_reparameterise_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_reparameterise(wrong)


def test_common_failures_get_a_hint_not_a_torch_error():
    with pytest.raises(checks.ExerciseError, match="expected dtype torch.float32, got torch.float64"):
        checks.check_add_noise(lambda s, x0, t, n: add_noise_ok(s, x0, t, n).double())
    with pytest.raises(checks.ExerciseError, match="NaN or infinity"):
        checks.check_add_noise(lambda s, x0, t, n: add_noise_ok(s, x0, t, n) / 0 * 0)
    with pytest.raises(ValueError, match="cases: expected at least 1 test case, got 0"):
        checks.check_add_noise(add_noise_ok, cases=0)


def test_chapter_12_reference_solutions_pass(capsys):
    from diffusion_lite.gan import generator_loss, r1_penalty

    checks.check_generator_loss(generator_loss)
    checks.check_r1_penalty(r1_penalty)
    assert capsys.readouterr().out.count("✅") == 2


def _noised(schedule, known, t, noise):
    alpha_bar = schedule.alpha_bars[t][:, None, None]
    return alpha_bar.sqrt() * known + (1 - alpha_bar).sqrt() * noise


def _chamfer_parts(a, b):
    import torch as th

    d2 = th.cdist(a, b) ** 2
    return d2.min(dim=2).values, d2.min(dim=1).values


def test_chapter_13_reference_solutions_pass(capsys):
    import torch as th

    checks.check_replace_known(
        lambda s, x, known, mask, t, noise: th.where(mask, _noised(s, known, t, noise), x))
    checks.check_chamfer_distance(
        lambda a, b: sum(part.mean(1) for part in _chamfer_parts(a, b)))
    assert capsys.readouterr().out.count("✅") == 2


def test_chapter_12_gan_step_agrees_with_train_gan_written_another_way(capsys):
    import torch as th
    import torch.nn.functional as F

    def step(g_net, d_net, opt_g, opt_d, real, z_d, z_g, r1_gamma):
        d_loss = F.softplus(-d_net(real)).mean() + F.softplus(d_net(g_net(z_d).detach())).mean()
        x = real.detach().requires_grad_(True)
        (grad,) = th.autograd.grad(d_net(x).sum(), x, create_graph=True)
        opt_d.zero_grad()
        (d_loss + r1_gamma / 2 * grad.pow(2).sum(1).mean()).backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = -F.logsigmoid(d_net(g_net(z_g))).mean()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    checks.check_gan_step(step)
    assert "✅" in capsys.readouterr().out


def test_chapter_12_saturation_slopes_are_measured():
    checks.check_saturation(-0.01, -0.99)
    checks.check_saturation(-0.2, -0.8, d_fake=0.2)           # the reference follows d_fake
    with pytest.raises(checks.ExerciseError, match="not answered yet"):
        checks.check_saturation(None, None)
    with pytest.raises(checks.ExerciseError, match="swapped"):
        checks.check_saturation(-0.8, -0.2, d_fake=0.2)
    with pytest.raises(ValueError, match="d_fake"):
        checks.check_saturation(-0.01, -0.99, d_fake=1.0)


def test_chapter_13_the_package_sampler_answers_the_loop_and_choices_are_measured(capsys):
    from diffusion_lite.samplers import ddim_sample
    ddim_sample = renamed(ddim_sample.__wrapped__)          # without its no_grad wrapper

    checks.check_inpaint_loop(lambda model, schedule, known, mask, n, g: ddim_sample(
        model, schedule, known.shape, num_steps=n, eta=1.0, clip_x0=1.0, inpaint=(known, mask),
        generator=g, progress=False))
    checks.check_flatten("c", "b")
    assert capsys.readouterr().out.count("✅") == 2
    with pytest.raises(checks.ExerciseError, match="must be one of"):
        checks.check_flatten("c", "B")


def test_chapter_1_and_2_predictions_and_loop_pass(capsys):
    import torch

    from diffusion_lite.losses import epsilon_loss
    from diffusion_lite.schedules import NoiseSchedule

    def forgetting(schedule, data_std, level):
        alpha_bar = schedule.alpha_bars.double()
        corr = alpha_bar.sqrt() * data_std / (alpha_bar * data_std**2 + 1 - alpha_bar).sqrt()
        return int((corr < level).nonzero()[0])

    def train(model, optimizer, schedule, data, steps, batch_size, generator):
        losses = []
        for _ in range(steps):
            x0 = data[torch.randint(0, len(data), (batch_size,), generator=generator)]
            t = torch.randint(1, schedule.num_steps + 1, (batch_size,), generator=generator)
            loss = epsilon_loss(model, schedule, x0, t=t, noise=torch.randn(x0.shape, generator=generator))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    checks.check_forgetting_step(forgetting)
    below = {name: int((getattr(NoiseSchedule, name)(1000).alpha_bars.sqrt() < 0.05).nonzero()[0])
             for name in ("linear", "cosine")}
    checks.check_signal_below(below)
    checks.check_training_loop(train)
    out = capsys.readouterr().out
    assert out.count("✅") == 3 and "measured on 100,000 points" in out
    with pytest.raises(checks.ExerciseError, match="not answered yet"):
        checks.check_signal_below(None)
    with pytest.raises(checks.ExerciseError, match="keys 'linear' and 'cosine'"):
        checks.check_signal_below({"linear": below["linear"]})
