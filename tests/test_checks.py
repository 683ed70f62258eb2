"""Each exercise checker accepts the reference solution and rejects plausible wrong answers
with a message that says what is wrong."""

import pytest

from diffusion_lite import checks
from diffusion_lite.schedules import add_noise


def add_noise_ok(x0, alpha_bar, noise):
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def epsilon_loss_ok(model, schedule, x0, t, noise):
    return ((model(add_noise(schedule, x0, t, noise), t) - noise) ** 2).mean()


def ddpm_step_ok(schedule, eps, x_t, t, z):
    alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
    mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
    return mean + beta.sqrt() * z if t > 0 else mean


def test_reference_solutions_pass(capsys):
    checks.check_add_noise(add_noise_ok)
    checks.check_epsilon_loss(epsilon_loss_ok)
    checks.check_ddpm_step(ddpm_step_ok)
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("wrong, hint", [
    (lambda x0, a, n: a * x0 + (1 - a) * n, "square root"),
    (lambda x0, a, n: a.sqrt() * x0 + (1 - a) * n, "is the variance"),
    (lambda x0, a, n: (1 - a).sqrt() * x0 + a.sqrt() * n, "which term"),
    (lambda x0, a, n: x0 + n, "largest difference"),
    (lambda x0, a, n: (a.sqrt() * x0 + (1 - a).sqrt() * n).sum(1), "expected shape"),
    (lambda x0, a, n: None, "expected a torch.Tensor"),
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
])
def test_epsilon_loss_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_epsilon_loss(wrong)


def _step_with(noise_at_zero=False, variance_scale=False, plain_beta=False, alpha_bar_div=False):
    def step(schedule, eps, x_t, t, z):
        alpha, alpha_bar, beta = schedule.alphas[t], schedule.alpha_bars[t], schedule.betas[t]
        coef = beta if plain_beta else beta / (1 - alpha_bar).sqrt()
        mean = (x_t - coef * eps) / (alpha_bar.sqrt() if alpha_bar_div else alpha.sqrt())
        sigma = beta if variance_scale else beta.sqrt()
        return mean + sigma * z if (t > 0 or noise_at_zero) else mean
    return step


@pytest.mark.parametrize("wrong, hint", [
    (_step_with(noise_at_zero=True), "No noise is added at the last step"),
    (_step_with(variance_scale=True), "standard deviation"),
    (_step_with(plain_beta=True), r"beta_t / sqrt\(1 - alpha_bar_t\)"),
    (_step_with(alpha_bar_div=True), r"Divide by sqrt\(alpha_t\)"),
])
def test_ddpm_step_mistakes_are_named(wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        checks.check_ddpm_step(wrong)


def test_chapter_4_reference_solutions_pass(capsys):
    from diffusion_lite.nn import timestep_embedding
    checks.check_timestep_embedding(timestep_embedding)
    checks.check_conv_output_size(lambda size, k, s, p: (size + 2 * p - k) // s + 1)
    assert capsys.readouterr().out.count("✅") == 2


def _embedding(order="sin-cos", interleave=False, divisor="half"):
    import torch as th

    def fn(t, dim):
        half = dim // 2
        freqs = 10_000.0 ** (-th.arange(half) / (half if divisor == "half" else dim))
        angles = t.float()[:, None] * freqs[None, :]
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
    (_embedding(divisor="dim"), r"i / \(dim / 2\)"),
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
