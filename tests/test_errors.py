"""Bad input gets a clear error naming the argument, what was expected and what was given."""

import pytest
import torch

from diffusion_lite import data, metrics
from diffusion_lite.losses import epsilon_loss
from diffusion_lite.samplers import ddim_sample, ddim_step, ddim_timesteps, ddpm_step
from diffusion_lite.schedules import NoiseSchedule, add_noise, linear_betas, predict_x0
from diffusion_lite.unet import MLPDenoiser

schedule = NoiseSchedule.linear(100)
x0 = torch.randn(4, 2)


def test_unknown_schedule_name():
    with pytest.raises(ValueError, match=r"name: expected one of .*'cosine'.* got 'cosin'"):
        NoiseSchedule.from_name("cosin")


def test_timestep_out_of_range():
    with pytest.raises(ValueError, match=r"t: expected steps in \[0, 100\] .*got min 0, max 101"):
        add_noise(schedule, x0, torch.tensor([0, 1, 2, 101]), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"t: expected steps in \[0, 100\]"):
        add_noise(schedule, x0, torch.tensor([-1, 1, 2, 3]), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"t: expected steps in \[1, 100\]"):
        predict_x0(schedule, x0, torch.tensor([0, 1, 2, 3]), torch.randn(4, 2))


def test_timestep_wrong_type_and_shape():
    with pytest.raises(TypeError, match=r"t: expected an integer tensor .* got torch.float32"):
        add_noise(schedule, x0, torch.zeros(4), torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"t: expected shape \(4,\), one step per sample, got \(3,\)"):
        add_noise(schedule, x0, torch.zeros(3, dtype=torch.long), torch.randn(4, 2))


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"noise: expected the shape of x0 \(4, 2\), got \(4, 3\)"):
        add_noise(schedule, x0, torch.zeros(4, dtype=torch.long), torch.randn(4, 3))


def test_nan_input():
    bad = x0.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="x0: expected finite values, got NaN or inf"):
        add_noise(schedule, bad, torch.zeros(4, dtype=torch.long), torch.randn(4, 2))
    with pytest.raises(ValueError, match="x_t: expected finite values"):
        ddpm_step(schedule, torch.randn(4, 2), bad, 5)


def test_not_a_tensor():
    with pytest.raises(TypeError, match="x0: expected a torch.Tensor, got list"):
        add_noise(schedule, [[0.0, 0.0]], torch.zeros(1, dtype=torch.long), torch.randn(1, 2))


def test_bad_betas():
    with pytest.raises(ValueError, match=r"betas: expected every value in \(0, 1\)"):
        NoiseSchedule.from_betas(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="beta_start, beta_end"):
        linear_betas(10, beta_start=0.5, beta_end=0.1)
    with pytest.raises(ValueError, match="num_steps: expected an int >= 1, got 0"):
        NoiseSchedule.linear(0)


def test_ddim_step_order():
    with pytest.raises(ValueError, match="t_prev: expected 0 <= t_prev < t"):
        ddim_step(schedule, torch.randn(4, 2), x0, 10, 10)
    with pytest.raises(ValueError, match="eta: expected a value >= 0, got -1"):
        ddim_step(schedule, torch.randn(4, 2), x0, 10, 5, eta=-1)


def test_ddim_timesteps_bounds():
    with pytest.raises(ValueError, match="num_sample_steps: expected at most num_train_steps=100"):
        ddim_timesteps(100, 101)


def test_unknown_ddpm_variance():
    with pytest.raises(ValueError, match=r"variance: expected one of \['beta', 'beta_tilde'\]"):
        ddpm_step(schedule, torch.randn(4, 2), x0, 5, variance="learned")


def test_wrong_x_T_shape():
    with pytest.raises(ValueError, match=r"x_T: expected shape \(4, 2\), got \(3, 2\)"):
        ddim_sample(MLPDenoiser(), schedule, (4, 2), num_steps=5, x_T=torch.randn(3, 2),
                    progress=False)


def test_model_input_shape():
    with pytest.raises(ValueError, match=r"x_t: expected shape \(B, 2\), got \(4, 3\)"):
        MLPDenoiser()(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_loss_reduction_name():
    with pytest.raises(ValueError, match="reduction: expected one of"):
        epsilon_loss(MLPDenoiser(), schedule, x0, reduction="sum")


def test_data_arguments():
    with pytest.raises(ValueError, match="name: expected one of .*'moons'.* got 'moon'"):
        data.toy_2d("moon", 10)
    with pytest.raises(ValueError, match="split: expected one of"):
        data.digits("validation")
    with pytest.raises(TypeError, match="n: expected an int, got float"):
        data.toy_2d("moons", 10.0)


def test_metric_arguments():
    with pytest.raises(ValueError, match="y: expected as many points as x"):
        metrics.sliced_wasserstein(torch.randn(10, 2), torch.randn(9, 2))
    with pytest.raises(ValueError, match="real: expected at least 2.n = 20 points, got 15"):
        metrics.metric_floor(metrics.sliced_wasserstein, torch.randn(15, 2), 10)
