"""Inputs that used to give a silent wrong answer (NaN, exactly the noise, (0, 0)) or an error
that named the wrong thing now give one clear error naming the argument, what was expected and
what was given; property-based tests look for more of their kind."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffusion_lite import features, metrics, train
from diffusion_lite.losses import epsilon_loss
from diffusion_lite.samplers import ddim_sample, guided_eps, slerp
from diffusion_lite.schedules import NoiseSchedule, add_noise
from diffusion_lite.text import TextEncoder
from diffusion_lite.unet import MLPDenoiser, UNet, UNetConfig

schedule = NoiseSchedule.linear(100)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_add_noise_refuses_integer_images(dtype):
    images = torch.randint(0, 255, (2, 1, 4, 4)).to(dtype)
    with pytest.raises(TypeError, match=f"x0: expected a floating-point tensor .* got {dtype}"):
        add_noise(schedule, images, torch.tensor([10, 50]), torch.randn(2, 1, 4, 4))


def test_slerp_refuses_zero_and_nan_directions():
    with pytest.raises(ValueError, match="a: expected a finite tensor with nonzero norm .* norm 0"):
        slerp(torch.zeros(4), torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="b: .* NaN or inf"):
        slerp(torch.ones(4), torch.full((4,), float("nan")), 0.5)


def test_two_d_metrics_refuse_empty_and_too_small_sets():
    empty, one, many = torch.zeros(0, 2), torch.zeros(1, 2), torch.randn(10, 2)
    with pytest.raises(ValueError, match=r"x: expected at least 1 rows .* got 0"):
        metrics.sliced_wasserstein(empty, empty)
    with pytest.raises(ValueError, match=r"x: expected at least 2 rows .*pairs.* got 1"):
        metrics.rbf_mmd(one, many)
    with pytest.raises(ValueError, match=r"samples: expected at least 1 rows .* got 0"):
        metrics.mode_coverage(empty, many)


def test_feature_distances_refuse_nan_single_samples_and_wrong_sizes():
    points = torch.randn(20, 8)
    with pytest.raises(ValueError, match="real: expected finite values, got NaN"):
        metrics.precision_recall(torch.full((20, 8), float("nan")), points)
    with pytest.raises(ValueError, match=r"fake: expected at least 4 rows .*k = 3.* got 3"):
        metrics.precision_recall(points, points[:3])
    with pytest.raises(ValueError, match=r"features_b: expected at least 2 rows .*covariance.* got 1"):
        metrics.frechet_distance(points, points[:1])
    with pytest.raises(ValueError, match=r"images: expected shape \(B, 1, 8, 8\) .* got \(2, 1, 28, 28\)"):
        features.digit_features(torch.zeros(2, 1, 28, 28))


@pytest.mark.parametrize("t", [500, 500.0, np.array([500, 500]), torch.tensor(500)])
def test_networks_name_a_step_that_is_not_a_batch_of_steps(t):
    model = MLPDenoiser(hidden=16, num_blocks=1)
    with pytest.raises(TypeError, match=r"t: expected a \(B,\) tensor of steps.*torch.full"):
        model(torch.randn(2, 2), t)


def test_labels_and_token_ids_out_of_range():
    unet = UNet(UNetConfig(base_channels=8, num_classes=10))
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 2])
    with pytest.raises(ValueError, match=r"cond: expected class labels in \[0, 9\] .* max 11"):
        unet(x, t, cond=torch.tensor([3, 11]))
    with pytest.raises(ValueError, match=r"cond: expected \(2,\) integer class labels, got torch.float32"):
        unet(x, t, cond=torch.tensor([3.0, 1.0]))
    encoder = TextEncoder(16, dim=8, layers=1, max_len=4)
    with pytest.raises(ValueError, match=r"ids: expected integer token ids in \[0, 15\] .* max 16"):
        encoder(torch.tensor([[1, 2, 16, 0]]))


def test_guidance_scale_must_be_a_finite_number():
    unet = UNet(UNetConfig(base_channels=8, num_classes=10))
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 2])
    for w in [float("nan"), float("inf"), "3"]:
        with pytest.raises(ValueError, match="guidance_scale: expected a finite number"):
            guided_eps(unet, x, t, torch.tensor([1, 2]), w)


def test_float64_starting_noise_is_named():
    model = MLPDenoiser(hidden=16, num_blocks=1)
    with pytest.raises(TypeError, match=r"x_T: expected dtype torch.float32 .* torch.float64"):
        ddim_sample(model, schedule, (3, 2), x_T=torch.randn(3, 2, dtype=torch.float64),
                    num_steps=5, progress=False)


def test_training_refuses_empty_or_ragged_data():
    model = MLPDenoiser(hidden=16, num_blocks=1)

    def loss(m, x0):
        return epsilon_loss(m, schedule, x0)

    with pytest.raises(ValueError, match="data: expected at least one training example"):
        train.train(model, loss, torch.zeros(0, 2), steps=1, progress=False)
    with pytest.raises(ValueError, match=r"data: expected tensors sharing .* \[4, 3\]"):
        train.train(model, loss, (torch.zeros(4, 2), torch.zeros(3)), steps=1, progress=False)


# ----------------------------------------------------------------------------- properties

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 5), dim=st.integers(1, 6), t=st.integers(0, 100), scale=finite)
def test_add_noise_is_finite_and_exact_at_both_ends(batch, dim, t, scale):
    x0 = torch.full((batch, dim), scale)
    noise = torch.randn(batch, dim)
    out = add_noise(schedule, x0, torch.full((batch,), t), noise)
    assert out.shape == x0.shape and out.dtype == x0.dtype and torch.isfinite(out).all()
    if t == 0:
        assert torch.equal(out, x0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 6), bad=st.sampled_from(["nan", "inf", "empty", "ok"]))
def test_two_d_metrics_never_return_nan(n, bad):
    x, y = torch.randn(n, 2), torch.randn(n, 2)
    if bad == "nan" and n:
        x[0, 0] = float("nan")
    if bad == "inf" and n:
        y[-1, 1] = float("inf")
    if bad == "empty":
        x, y = x[:0], y[:0]
    for metric in (metrics.sliced_wasserstein, metrics.rbf_mmd):
        try:
            value = metric(x, y)
        except ValueError as error:
            assert str(error).split(":")[0] in {"x", "y"}
        else:
            assert math.isfinite(value)


@settings(max_examples=30, deadline=None)
@given(n_real=st.integers(0, 8), n_fake=st.integers(0, 8), k=st.integers(1, 3))
def test_precision_recall_is_a_share_or_a_clear_error(n_real, n_fake, k):
    try:
        precision, recall = metrics.precision_recall(torch.randn(n_real, 3),
                                                     torch.randn(n_fake, 3), k=k)
    except ValueError as error:
        assert str(error).split(":")[0] in {"real", "fake"}
    else:
        assert 0 <= precision <= 1 and 0 <= recall <= 1
