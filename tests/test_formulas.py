"""The closed-form formulas printed in the book, evaluated as printed.

Each case names a labelled equation (``$$ ... $$ (label)``) on a page or in a chapter, pins its
LaTeX, and evaluates a line-by-line transcription of it at the code's ``t`` against the package.
If someone edits a printed formula, the pin fails and the transcription must be checked again;
if the package changes, the comparison fails. Together: the formula as printed computes what the
code computes, in the papers' numbering (t = 1 … T, ᾱ_0 = 1).
"""

import json
import math
import re
from pathlib import Path

import pytest
import torch

from diffusion_lite.samplers import ddim_step, ddpm_step
from diffusion_lite.schedules import (
    NoiseSchedule,
    add_noise,
    eps_from_velocity,
    posterior_mean_variance,
    predict_x0,
    velocity,
)

ROOT = Path(__file__).resolve().parent.parent


def _text(relative: str) -> str:
    path = ROOT / relative
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text()


def printed(relative: str, label: str) -> str:
    """The LaTeX of equation ``label`` in ``relative``, whitespace collapsed."""
    match = re.search(r"\$\$[ \t]*\n((?:(?!\$\$).)*?)\n\s*\$\$\s*\(" + re.escape(label) + r"\)",
                      _text(relative), re.DOTALL)
    assert match, f"{relative}: no equation labelled ({label})"
    return " ".join(match.group(1).split())


def pin(latex: str) -> str:
    return " ".join(latex.split())


# ----------------------------------------------------------------------------- the pins

PINS = {
    ("book/notation.md", "notation-closed-form"): r"""
q(x_t \mid x_0) = \mathcal N\!\left(\sqrt{\bar\alpha_t}\, x_0,\ (1 - \bar\alpha_t) I\right),
\qquad \bar\alpha_t = \prod_{s=1}^{t} (1 - \beta_s).""",
    ("book/notation.md", "notation-cosine"): r"""
f(t) = \cos^2\!\left(\frac{t/T + s}{1 + s} \cdot \frac{\pi}{2}\right),
\qquad \beta_t = \min\!\left(1 - \frac{f(t)}{f(t-1)},\ 0.999\right), \quad t = 1, \dots, T.""",
    ("book/notation.md", "notation-posterior"): r"""
\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1 - \bar\alpha_t}\, x_0
            + \frac{\sqrt{\alpha_t}\,(1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t}\, x_t
          = \frac{1}{\sqrt{\alpha_t}} \left(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\,\varepsilon\right),
\qquad \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\, \beta_t .""",
    ("book/notation.md", "notation-weights"): r"""
v = \sqrt{\bar\alpha_t}\,\varepsilon - \sqrt{1 - \bar\alpha_t}\, x_0, \qquad
\varepsilon = \sqrt{1 - \bar\alpha_t}\, x_t + \sqrt{\bar\alpha_t}\, v, \qquad
\|\varepsilon - \hat\varepsilon\|^2 = \mathrm{SNR}(t)\, \|x_0 - \hat x_0\|^2, \qquad
\|v - \hat v\|^2 = \left(1 + \mathrm{SNR}(t)\right) \|x_0 - \hat x_0\|^2 .""",
    ("notebooks/01_forward_process.ipynb", "closed-form"): r"""
q(x_t \mid x_0) = \mathcal{N}\!\left(x_t;\ \sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\right), \qquad\text{so}\qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\quad \varepsilon \sim \mathcal{N}(0, I).""",
    ("notebooks/01_forward_process.ipynb", "cosine"): r"""
f(t) = \cos^2\!\Big(\frac{t/T + s}{1+s}\cdot\frac{\pi}{2}\Big),\qquad \beta_t = \min\!\Big(1 - \frac{f(t)}{f(t-1)},\ \beta_\text{max}\Big),\qquad t = 1, \dots, T,""",
    ("notebooks/02_training_objective.ipynb", "posterior"): r"""
q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\big(x_{t-1};\ \tilde\mu_t(x_t, x_0),\ \tilde\beta_t I\big), \quad \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0 + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t, \quad \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t.""",
    ("notebooks/02_training_objective.ipynb", "eps-mean"): r"""
\tilde\mu_t = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon\Big),""",
    ("notebooks/02_training_objective.ipynb", "weights"): r"""
\lVert x_0 - \hat x_0\rVert^2 = \frac{\lVert \varepsilon - \hat\varepsilon \rVert^2}{\mathrm{SNR}(t)}, \qquad \lVert v - \hat v\rVert^2 = \Big(1 + \frac{1}{\mathrm{SNR}(t)}\Big)\lVert \varepsilon - \hat\varepsilon \rVert^2 = \big(1 + \mathrm{SNR}(t)\big)\lVert x_0 - \hat x_0 \rVert^2 .""",
    ("notebooks/02_training_objective.ipynb", "v-to-eps"): r"""
\varepsilon = \sqrt{1-\bar\alpha_t}\,x_t + \sqrt{\bar\alpha_t}\,v, \qquad x_0 = \sqrt{\bar\alpha_t}\,x_t - \sqrt{1-\bar\alpha_t}\,v .""",
    ("notebooks/03_ddpm_sampling.ipynb", "ddpm-step"): r"""
x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\, \varepsilon_\theta(x_t, t)\Big) + \sigma_t z, \qquad z \sim \mathcal{N}(0, I) \text{ if } t > 1, \text{ else } z = 0.""",
    ("notebooks/03_ddpm_sampling.ipynb", "ddim-step"): r"""
x_{t_\text{prev}} = \sqrt{\bar\alpha_{t_\text{prev}}}\;\hat x_0 + \sqrt{1-\bar\alpha_{t_\text{prev}}-\sigma_t^2}\;\varepsilon_\theta(x_t, t) + \sigma_t z, \qquad \sigma_t^2 = \eta^2\,\frac{1-\bar\alpha_{t_\text{prev}}}{1-\bar\alpha_t} \Big(1-\frac{\bar\alpha_t}{\bar\alpha_{t_\text{prev}}}\Big),""",
}


@pytest.mark.parametrize("where", sorted(PINS))
def test_printed_formula_is_the_one_transcribed_here(where):
    assert printed(*where) == pin(PINS[where]), (
        f"{where[0]} ({where[1]}) changed: check the transcription in this file, then update the pin")


# ----------------------------------------------------------------------------- transcriptions

T = 1000
STEPS = [1, 2, 10, 500, 999, 1000]


def _schedules():
    return [NoiseSchedule.linear(T), NoiseSchedule.cosine(T), NoiseSchedule.sigmoid(T)]


def _batch(seed: int, n: int = 3):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 4, generator=g, dtype=torch.float64) for _ in range(3))


@pytest.mark.parametrize("schedule", _schedules(), ids=["linear", "cosine", "sigmoid"])
def test_closed_form_as_printed(schedule):
    betas = schedule.betas.double()
    for t in [0] + STEPS:
        alpha_bar_t = math.prod(1 - betas[s].item() for s in range(1, t + 1))   # ∏_{s=1}^{t}
        assert math.isclose(alpha_bar_t, schedule.alpha_bars[t].item(), rel_tol=1e-4, abs_tol=1e-12)
        x0, noise, _ = _batch(t)
        printed_mean, printed_std = math.sqrt(alpha_bar_t) * x0, math.sqrt(1 - alpha_bar_t)
        ours = add_noise(schedule, x0.float(), torch.full((3,), t), noise.float())
        assert torch.allclose(ours.double(), printed_mean + printed_std * noise, atol=1e-5)
    assert schedule.alpha_bars[0] == 1                                           # empty product


def test_cosine_schedule_as_printed():
    s, big_t = 0.008, T

    def f(t):
        return math.cos((t / big_t + s) / (1 + s) * math.pi / 2) ** 2

    schedule = NoiseSchedule.cosine(T)
    for t in STEPS:
        beta_t = min(1 - f(t) / f(t - 1), 0.999)
        assert math.isclose(beta_t, schedule.betas[t].item(), rel_tol=1e-5)
    # without the clip, alpha_bar_t = f(t) / f(0); the clip acts at t = T only
    for t in STEPS[:-1]:
        assert math.isclose(f(t) / f(0), schedule.alpha_bars[t].item(), rel_tol=1e-4)
    assert 1 - f(T) / f(T - 1) > 0.999 and schedule.alpha_bars[T] > 0


@pytest.mark.parametrize("schedule", _schedules(), ids=["linear", "cosine", "sigmoid"])
def test_posterior_as_printed(schedule):
    a, ab, b = (v.double() for v in (schedule.alphas, schedule.alpha_bars, schedule.betas))
    one_minus = schedule.one_minus_alpha_bars.double()       # 1 - ᾱ, as the schedule holds it
    for t in STEPS:
        x0, x_t, _ = _batch(t)
        mean = (ab[t - 1].sqrt() * b[t] / one_minus[t] * x0
                + a[t].sqrt() * one_minus[t - 1] / one_minus[t] * x_t)
        beta_tilde = one_minus[t - 1] / one_minus[t] * b[t]
        ours_mean, ours_var = posterior_mean_variance(schedule, x0.float(), x_t.float(),
                                                      torch.full((3,), t))
        assert torch.allclose(ours_mean.double(), mean, atol=1e-4), t
        assert torch.allclose(ours_var.double(), beta_tilde.expand_as(x_t), rtol=1e-4, atol=1e-9), t
        # the ε-form: with x0 = x̂0(x_t, ε), the two printed means agree
        eps = (x_t - ab[t].sqrt() * x0) / one_minus[t].sqrt()
        eps_form = (x_t - b[t] / one_minus[t].sqrt() * eps) / a[t].sqrt()
        assert torch.allclose(eps_form, mean, rtol=1e-6, atol=1e-6), t
        x0_pred = predict_x0(schedule, x_t.float(), torch.full((3,), t), eps.float())
        assert torch.allclose(x0_pred.double(), x0, atol=1e-3 / max(ab[t].sqrt().item(), 1e-3)), t


@pytest.mark.parametrize("schedule", _schedules(), ids=["linear", "cosine", "sigmoid"])
def test_parameterisations_and_their_weights_as_printed(schedule):
    ab = schedule.alpha_bars.double()
    for t in STEPS[:-1]:                      # at ᾱ_T ≈ 0 the cosine's x0 weight is degenerate
        x0, eps, x0_hat = _batch(t)
        snr = ab[t] / (1 - ab[t])
        x_t = ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * eps
        v = ab[t].sqrt() * eps - (1 - ab[t]).sqrt() * x0
        tt = torch.full((3,), t)
        assert torch.allclose(velocity(schedule, x0.float(), tt, eps.float()).double(), v, atol=1e-5)
        eps_from_v = (1 - ab[t]).sqrt() * x_t + ab[t].sqrt() * v
        assert torch.allclose(eps_from_v, eps, atol=1e-8)
        assert torch.allclose(ab[t].sqrt() * x_t - (1 - ab[t]).sqrt() * v, x0, atol=1e-8)
        assert torch.allclose(eps_from_velocity(schedule, x_t.float(), tt, v.float()).double(),
                              eps, atol=1e-4)
        # a wrong x̂0 at the same x_t implies ε̂ and v̂; the printed weights relate the errors
        eps_hat = (x_t - ab[t].sqrt() * x0_hat) / (1 - ab[t]).sqrt()
        v_hat = ab[t].sqrt() * eps_hat - (1 - ab[t]).sqrt() * x0_hat
        err_x0, err_eps, err_v = ((p - q).pow(2).sum(1) for p, q in
                                  ((x0, x0_hat), (eps, eps_hat), (v, v_hat)))
        assert torch.allclose(err_eps, snr * err_x0, rtol=1e-6)
        assert torch.allclose(err_v, (1 + snr) * err_x0, rtol=1e-6)


@pytest.mark.parametrize("schedule", _schedules(), ids=["linear", "cosine", "sigmoid"])
def test_ddpm_step_as_printed(schedule):
    """Chapter 3's step with σ_t² = β̃_t (the package's default) and the same z."""
    a, ab, b = (v.double() for v in (schedule.alphas, schedule.alpha_bars, schedule.betas))
    one_minus = schedule.one_minus_alpha_bars.double()
    for t in STEPS:
        x_t, eps, _ = _batch(t)
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t)).double()
        sigma = (one_minus[t - 1] / one_minus[t] * b[t]).sqrt()
        x_prev = (x_t - b[t] / one_minus[t].sqrt() * eps) / a[t].sqrt() + (sigma * z if t > 1 else 0)
        ours = ddpm_step(schedule, eps.float(), x_t.float(), t,
                         generator=torch.Generator().manual_seed(t))
        assert torch.allclose(ours.double(), x_prev, atol=2e-4), t


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_as_printed(eta):
    schedule = NoiseSchedule.cosine(T)
    ab, one_minus = schedule.alpha_bars.double(), schedule.one_minus_alpha_bars.double()
    for t, t_prev in [(1000, 980), (500, 480), (20, 0), (2, 1)]:
        x_t, eps, _ = _batch(t)
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t)).double()
        x0_hat = (x_t - one_minus[t].sqrt() * eps) / ab[t].sqrt()
        sigma2 = eta**2 * one_minus[t_prev] / one_minus[t] * (1 - ab[t] / ab[t_prev])
        x_prev = (ab[t_prev].sqrt() * x0_hat + (one_minus[t_prev] - sigma2).sqrt() * eps
                  + sigma2.sqrt() * z)
        ours = ddim_step(schedule, eps.float(), x_t.float(), t, t_prev, eta=eta,
                         generator=torch.Generator().manual_seed(t))
        assert torch.allclose(ours.double(), x_prev, rtol=1e-4, atol=1e-4), (t, t_prev)
