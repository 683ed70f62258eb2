"""Progressive distillation (Salimans & Ho 2022): a student learns to take in one DDIM step what
its teacher takes in two, halving the number of sampling steps per round (chapter 11).

``two_step_target`` is a pure function: given the teacher's two noise predictions it returns
the clean-image estimate that makes *one* deterministic DDIM step land exactly where the
teacher's two steps did. ``distillation_loss_at`` compares the student's estimate with that
target for given steps and noise, and ``distillation_loss`` draws them.
"""

from __future__ import annotations

import torch

from ._random import randn_like
from .samplers import ddim_step, ddim_timesteps
from .schedules import NoiseSchedule, add_noise, batch_timesteps, extract, predict_x0


def two_step_target(schedule: NoiseSchedule, x_t: torch.Tensor, t, t_prev,
                    x_prev_teacher: torch.Tensor) -> torch.Tensor:
    """The x0 such that one DDIM step (eta = 0) from (x_t, t) to ``t_prev`` gives
    ``x_prev_teacher`` (Salimans & Ho 2022, Algorithm 2):
    x0 = (x_prev - (s_prev / s_t) x_t) / (a_prev - (s_prev / s_t) a_t), a = sqrt(ᾱ), s = sqrt(1 - ᾱ)."""
    batch = x_t.shape[0]
    t = batch_timesteps(t, batch, x_t.device)
    t_prev = batch_timesteps(t_prev, batch, x_t.device)
    alpha_bars, one_minus = schedule.alpha_bars, schedule.one_minus_alpha_bars
    a_t, a_prev = extract(alpha_bars, t, x_t).sqrt(), extract(alpha_bars, t_prev, x_t).sqrt()
    s_t, s_prev = extract(one_minus, t, x_t).sqrt(), extract(one_minus, t_prev, x_t).sqrt()
    ratio = s_prev / s_t
    return (x_prev_teacher - ratio * x_t) / (a_prev - ratio * a_t)


def distillation_loss_at(student, teacher, schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor,
                         t_mid: torch.Tensor, t_prev: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The distillation loss for given steps t > t_mid > t_prev ((B,) each) and noise: the
    teacher's two DDIM steps t -> t_mid -> t_prev from x_t = add_noise(x0, t, noise), the target
    that one step t -> t_prev must predict to land there, and the student's x0 estimate at t,
    compared in squared error weighted by max(SNR_t, 1) ("truncated SNR" weighting, which for an
    ε-model keeps the high-noise steps from being ignored). Chapter 11."""
    # 1. the noisy input, as in training
    x_t = add_noise(schedule, x0, t, noise)
    # 2. the teacher's two deterministic steps, and the x0 that one step must predict
    with torch.no_grad():
        x_mid = ddim_step(schedule, teacher(x_t, t), x_t, t, t_mid)
        x_prev = ddim_step(schedule, teacher(x_mid, t_mid), x_mid, t_mid, t_prev)
        target = two_step_target(schedule, x_t, t, t_prev, x_prev)
    # 3. the student's estimate at t, and the weighted squared error
    x0_student = predict_x0(schedule, x_t, t, student(x_t, t))
    snr = extract(schedule.snr(), t, x_t).clamp(min=1.0)
    return (snr * (x0_student - target).pow(2)).flatten(1).mean(dim=1).mean()


def distillation_loss(student, teacher, schedule: NoiseSchedule, x0: torch.Tensor, *,
                      student_steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """One batch of progressive distillation towards a student that samples in
    ``student_steps`` DDIM steps, from a teacher that samples in twice as many (both on trailing
    steps): a random step of the student's grid per example, then ``distillation_loss_at``."""
    fine = ddim_timesteps(schedule.num_steps, 2 * student_steps)             # teacher's grid
    fine_prev = torch.cat([fine[1:], torch.tensor([0])])
    pick = torch.randint(0, student_steps, (x0.shape[0],), generator=generator) * 2
    t, t_mid = fine[pick].to(x0.device), fine[pick + 1].to(x0.device)
    t_prev = fine_prev[pick + 1].to(x0.device)
    noise = randn_like(x0, generator)
    return distillation_loss_at(student, teacher, schedule, x0, t, t_mid, t_prev, noise)
