"""Chapter 13's pieces: generated non-image data and its ground truth, the Chamfer distance and
spectrum features, the sequence and point-set denoisers, and inpainting by replacement."""

import math

import pytest
import torch

from diffusion_lite import generated, metrics
from diffusion_lite.denoisers import PointSetDenoiser, SequenceDenoiser
from diffusion_lite.features import spectrum_features
from diffusion_lite.losses import epsilon_loss
from diffusion_lite.samplers import ddim_sample, ddpm_sample, replace_known
from diffusion_lite.schedules import NoiseSchedule
from diffusion_lite.train import train


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- waveforms


def test_waveforms_shape_range_and_seed():
    x = generated.waveforms(16, generator=seeded())
    assert x.shape == (16, 1, generated.WAVEFORM_LENGTH) and x.dtype == torch.float32
    assert x.abs().max() <= 1 and (x.abs().amax(dim=2) > 0.1).all()        # no silent clip
    assert generated.WAVEFORM_LENGTH / generated.WAVEFORM_RATE >= 0.1       # long enough to hear
    assert torch.equal(x, generated.waveforms(16, generator=seeded()))
    assert not torch.equal(x, generated.waveforms(16, generator=seeded(1)))
    assert generated.waveforms(3, length=100, sample_rate=8000).shape == (3, 1, 100)


def test_waveforms_are_plucks_in_the_audible_band():
    """Each clip's strongest frequency lies in PLUCK_FREQUENCIES (at the sample rate asked for),
    and it decays: the first quarter is louder than the last."""
    for rate in (generated.WAVEFORM_RATE, 8000):
        x = generated.waveforms(32, length=1024, sample_rate=rate, generator=seeded())[:, 0].double()
        peak = torch.fft.rfft(x, dim=1).abs().argmax(dim=1) * rate / x.shape[1]   # Hz
        low, high = generated.PLUCK_FREQUENCIES
        assert ((peak > low - 10) & (peak < high + 10)).all(), peak
        first, last = x[:, :256].pow(2).mean(1), x[:, -256:].pow(2).mean(1)
        assert (first > 4 * last).all()


def test_waveforms_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="n: expected an int >= 1, got 0"):
        generated.waveforms(0)
    with pytest.raises(TypeError, match="length: expected an int, got float"):
        generated.waveforms(2, length=100.0)
    with pytest.raises(ValueError, match="sample_rate: expected more than 1000 Hz"):
        generated.waveforms(2, sample_rate=900)


# ----------------------------------------------------------------------------- point clouds


def test_point_clouds_lie_on_their_surface():
    clouds = generated.point_clouds(8, num_points=200, generator=seeded())
    assert clouds.shape == (8, 200, 3) and clouds.dtype == torch.float32
    assert clouds.abs().max() <= 1.4 + 1e-5
    assert torch.equal(clouds, generated.point_clouds(8, num_points=200, generator=seeded()))
    assert generated.surface_distance(clouds).max() < 1e-5
    assert torch.equal(generated.which_surface(clouds), torch.arange(8) % 2)   # even sphere, odd torus
    noise = torch.randn(8, 200, 3, generator=seeded(1))
    assert generated.surface_distance(noise).min() > 0.3
    noisy = generated.point_clouds(8, num_points=200, noise=0.05, generator=seeded())
    assert 0.02 < generated.surface_distance(noisy).mean() < 0.06          # about 0.05 · sqrt(2/π)
    assert torch.equal(generated.which_surface(noisy), torch.arange(8) % 2)


def test_point_clouds_are_uniform_on_each_surface():
    """Area-uniform, not parameter-uniform: on the sphere z is uniform on [-1, 1] (Archimedes),
    so mean |z| = 1/2; on the torus the outer half (cos v > 0) holds 1/2 + (r/R)/π of the area."""
    clouds = generated.point_clouds(40, num_points=500, generator=seeded()).double()
    sphere, torus = clouds[0::2].reshape(-1, 3), clouds[1::2].reshape(-1, 3)
    assert abs(sphere[:, 2].abs().mean() - 0.5) < 0.01
    big, small = generated.TORUS_RADII
    outer = (torus[:, :2].norm(dim=1) > big).double().mean()
    assert abs(outer - (0.5 + small / big / math.pi)) < 0.01


def test_surface_distance_is_exact():
    big, small = generated.TORUS_RADII
    points = torch.tensor([[[0.0, 0.0, 1.3]],                      # 0.3 above the sphere's pole
                           [[big + small + 0.1, 0.0, 0.0]]])       # 0.1 outside the torus
    assert torch.allclose(generated.surface_distance(points), torch.tensor([0.3, 0.1]), atol=1e-6)
    with pytest.raises(ValueError, match=r"points: expected clouds of shape \(B, N, 3\)"):
        generated.surface_distance(torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="noise: expected a number >= 0"):
        generated.point_clouds(2, noise=-0.1)
    with pytest.raises(ValueError, match="num_points: expected an int >= 1"):
        generated.point_clouds(2, num_points=0)


# ----------------------------------------------------------------------------- trajectories


def roll_out(first: torch.Tensor, second: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """Frames after two given ones (n, 2), by the stated rule: fall, move, bounce."""
    x, y = second[:, 0].double(), second[:, 1].double()
    vx, vy = x - first[:, 0].double(), y - first[:, 1].double()
    frames = []
    for _ in range(steps):
        vy = vy - generated.GRAVITY
        x, y = x + vx, y + vy
        below = y < generated.FLOOR
        y = torch.where(below, generated.FLOOR + (generated.FLOOR - y) * generated.RESTITUTION, y)
        vy = torch.where(below, -vy * generated.RESTITUTION, vy)
        frames.append(torch.stack([x, y], 1))
    return frames


def test_trajectories_are_determined_by_their_first_frames():
    paths = generated.trajectories(32, generator=seeded())
    assert paths.shape == (32, 2, generated.TRAJECTORY_LENGTH) and paths.dtype == torch.float32
    assert paths.abs().max() <= 1 + 1e-6 and (paths[:, 1] >= generated.FLOOR - 1e-6).all()
    assert torch.equal(paths, generated.trajectories(32, generator=seeded()))
    assert (paths[:, 1].diff(dim=1).sign().diff(dim=1) > 0).any()       # some ball bounces
    # two consecutive frames (speed taken as their difference, exact before any bounce) roll
    # out the rest; frames 0 and 1 are before any bounce for balls that start high enough
    start_high = paths[:, 1, :2].amin(dim=1) > generated.FLOOR + 0.1
    rolled = torch.stack(roll_out(paths[:, :, 0], paths[:, :, 1], paths.shape[2] - 2), -1)
    assert torch.allclose(rolled[start_high], paths[start_high, :, 2:].double(), atol=1e-4)


def test_trajectories_bad_input():
    with pytest.raises(ValueError, match="length: expected an int >= 2, got 1"):
        generated.trajectories(4, length=1)
    with pytest.raises(TypeError, match="n: expected an int"):
        generated.trajectories(4.0)


# ----------------------------------------------------------------------------- metrics and features


def test_chamfer_distance_properties():
    a = torch.randn(3, 20, 3, generator=seeded())
    b = torch.randn(3, 30, 3, generator=seeded(1))
    assert torch.equal(metrics.chamfer_distance(a, a), torch.zeros(3))
    ab = metrics.chamfer_distance(a, b)
    assert ab.shape == (3,) and (ab > 0).all()
    assert torch.allclose(ab, metrics.chamfer_distance(b, a))
    assert torch.allclose(ab, metrics.chamfer_distance(a[:, torch.randperm(20)], b[:, torch.randperm(30)]))
    one = metrics.chamfer_distance(torch.zeros(1, 1, 3), torch.tensor([[[3.0, 4.0, 0.0]]]))
    assert torch.allclose(one, torch.tensor([50.0]))                 # 25 each way, squared
    with pytest.raises(ValueError, match=r"b: expected \(3, M, 3\) to pair with a's"):
        metrics.chamfer_distance(a, b[:2])
    with pytest.raises(ValueError, match="a: expected a tensor with 3 dimensions"):
        metrics.chamfer_distance(a[0], b[0])
    with pytest.raises(ValueError, match="b: expected point clouds"):
        metrics.chamfer_distance(a, b[:, :0])


def test_spectrum_features_separate_real_from_noise():
    x = generated.waveforms(600, generator=seeded())
    features = spectrum_features(x, bands=16)
    assert features.shape == (600, 16 + 5) and torch.isfinite(features).all()
    assert torch.equal(features, spectrum_features(x[:, 0], bands=16))     # (B, L) works too
    test, reference = features[:100], features[100:]
    floor = metrics.fd_floor(reference, test)
    noise = spectrum_features(0.2 * torch.randn(100, 1, x.shape[2], generator=seeded(1)))
    assert metrics.frechet_distance(noise, test) > 30 * floor
    # a pure tone's power sits in the band that holds its frequency
    rate, length = generated.WAVEFORM_RATE, generated.WAVEFORM_LENGTH
    tone = torch.sin(2 * math.pi * 700 * torch.arange(length) / rate)[None]
    band = int(spectrum_features(tone, bands=8)[0, :8].argmax())
    assert band == int(700 / (rate / 2) * 8)
    with pytest.raises(ValueError, match=r"x: expected waveforms of shape \(B, 1, L\)"):
        spectrum_features(torch.zeros(2, 2, 512))
    with pytest.raises(ValueError, match="bands: expected an int >= 1, got 0"):
        spectrum_features(x[:2], bands=0)


# ----------------------------------------------------------------------------- denoisers


def test_sequence_denoiser_shapes_and_errors():
    for channels, length in [(1, 512), (2, 64), (2, 37)]:
        model = SequenceDenoiser(channels)
        x = torch.randn(3, channels, length)
        assert model(x, torch.tensor([1, 500, 1000])).shape == x.shape
        assert model(x, 7).shape == x.shape                                   # an int step
    model = SequenceDenoiser(2)
    assert 10_000 < sum(p.numel() for p in model.parameters()) < 100_000
    assert model.receptive_field >= 64
    with pytest.raises(ValueError, match=r"x_t: expected shape \(B, 2, L\), got \(3, 1, 64\)"):
        model(torch.randn(3, 1, 64), 5)
    with pytest.raises(TypeError, match="x_t: expected a torch.Tensor, got list"):
        model([[0.0]], 5)
    with pytest.raises(ValueError, match="cond: SequenceDenoiser is unconditional"):
        model(torch.randn(3, 2, 64), 5, cond=torch.zeros(3))
    with pytest.raises(ValueError, match="time_dim: expected an even number"):
        SequenceDenoiser(1, time_dim=33)


def test_point_set_denoiser_is_permutation_equivariant():
    model = PointSetDenoiser(3).eval()
    assert 10_000 < sum(p.numel() for p in model.parameters()) < 100_000
    x, t = torch.randn(2, 50, 3, generator=seeded()), torch.tensor([10, 600])
    perm = torch.randperm(50, generator=seeded(1))
    with torch.no_grad():
        out = model(x, t)
        assert out.shape == x.shape
        assert torch.allclose(model(x[:, perm], t), out[:, perm], atol=1e-5)
    with pytest.raises(ValueError, match=r"x_t: expected shape \(B, N, 3\), got \(2, 50, 2\)"):
        model(torch.randn(2, 50, 2), t)
    with pytest.raises(ValueError, match="heads: expected a divisor of hidden=48, got 5"):
        PointSetDenoiser(3, heads=5)


@pytest.mark.parametrize("kind", ["waveforms", "trajectories", "clouds"])
def test_short_training_lowers_the_epsilon_loss(kind):
    generator, schedule = seeded(), NoiseSchedule.cosine(1000)
    if kind == "waveforms":
        data = generated.waveforms(256, length=256, generator=generator)
        model = SequenceDenoiser(1, hidden=16, num_layers=4)
    elif kind == "trajectories":
        data, model = generated.trajectories(256, generator=generator), SequenceDenoiser(2, hidden=16, num_layers=4)
    else:
        data = generated.point_clouds(256, num_points=32, generator=generator)
        model = PointSetDenoiser(3, hidden=32, num_layers=2)
    # one fixed batch, steps and noise, measured before and after 50 Adam steps
    x0 = data[:64]
    t = torch.randint(1, 1001, (64,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)

    def held_out_loss():
        with torch.no_grad():
            return epsilon_loss(model, schedule, x0, t=t, noise=noise).item()

    before = held_out_loss()
    train(model, lambda m, batch: epsilon_loss(m, schedule, batch, generator=generator), data,
          steps=50, batch_size=16, lr=3e-3, generator=generator, progress=False)
    assert held_out_loss() < 0.5 * before


# ----------------------------------------------------------------------------- inpainting


class Toy(torch.nn.Module):
    """A smooth stand-in for a network."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.3))

    def forward(self, x, t, cond=None):
        return self.w * x + 0.1 * t.float().reshape(-1, *[1] * (x.ndim - 1)) / 50


SAMPLERS = {"ddpm": lambda *a, **k: ddpm_sample(*a, progress=False, **k),
            "ddim": lambda *a, **k: ddim_sample(*a, num_steps=5, eta=0.5, progress=False, **k)}


@pytest.mark.parametrize("name", SAMPLERS)
def test_inpainting_keeps_the_known_part(name):
    sampler, schedule = SAMPLERS[name], NoiseSchedule.cosine(50)
    known = generated.trajectories(4, length=12, generator=seeded())
    for mask in [torch.arange(12) < 4,                                        # broadcast (L,)
                 (torch.rand(4, 2, 12, generator=seeded(1)) < 0.5).float()]:  # 0/1, full shape
        x = sampler(Toy(), schedule, known.shape, inpaint=(known, mask), generator=seeded(2))
        keep = mask.bool().expand(known.shape)
        assert torch.equal(x[keep], known[keep])
        assert not torch.allclose(x[~keep], known[~keep], atol=0.05)          # the rest is generated


@pytest.mark.parametrize("name", SAMPLERS)
def test_inpainting_with_nothing_known_is_plain_sampling(name):
    sampler, schedule = SAMPLERS[name], NoiseSchedule.cosine(50)
    known = torch.randn(4, 2, 12)
    plain = sampler(Toy(), schedule, known.shape, generator=seeded(3))
    nothing = sampler(Toy(), schedule, known.shape, inpaint=(known, torch.zeros(12, dtype=torch.bool)),
                      generator=seeded(3))
    assert torch.equal(plain, nothing)


def test_replace_known_noises_to_the_level():
    schedule, known = NoiseSchedule.cosine(50), torch.full((2000, 3), 0.5)
    mask = torch.tensor([True, False, True])
    x = torch.zeros(2000, 3)
    assert torch.equal(replace_known(schedule, x, known, mask, 0), torch.tensor([0.5, 0.0, 0.5]).expand(2000, 3))
    noised = replace_known(schedule, x, known, mask, 25, generator=seeded())
    alpha_bar = schedule.alpha_bars[25]
    assert abs(noised[:, 0].mean() - alpha_bar.sqrt() * 0.5) < 0.05
    assert abs(noised[:, 0].std() - (1 - alpha_bar).sqrt()) < 0.05
    assert torch.equal(noised[:, 1], x[:, 1])


def test_inpaint_is_validated():
    schedule, known = NoiseSchedule.cosine(20), torch.zeros(4, 2, 12)
    mask = torch.arange(12) < 4

    def call(inpaint):
        return ddim_sample(Toy(), schedule, known.shape, num_steps=4, inpaint=inpaint, progress=False)

    with pytest.raises(TypeError, match=r"inpaint: expected a pair \(known, mask\)"):
        call(known)
    with pytest.raises(ValueError, match=r"known: expected a float tensor of the sample's shape \(4, 2, 12\)"):
        call((known[:2], mask))
    with pytest.raises(ValueError, match="mask: expected bool or 0/1 values"):
        call((known, mask * 0.5))
    for wrong in [torch.ones(5, dtype=torch.bool), torch.ones(8, 2, 12, dtype=torch.bool)]:
        with pytest.raises(ValueError, match=r"mask: expected a shape that broadcasts to the sample's \(4, 2, 12\)"):
            call((known, wrong))
    with pytest.raises(ValueError, match="known: expected finite values"):
        call((known + float("nan"), mask))
    with pytest.raises(ValueError, match="mask: expected bool or 0/1"):           # the step alone
        replace_known(schedule, known, known, torch.full((12,), 2), 3)
