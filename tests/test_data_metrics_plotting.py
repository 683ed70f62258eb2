"""Data sets, metrics and plotting helpers."""

import pytest
import torch

from diffusion_lite import data, metrics, plotting
from diffusion_lite.schedules import NoiseSchedule, add_noise


@pytest.mark.parametrize("name", sorted(data.TOY_DATASETS))
def test_toy_sets_are_seeded_and_finite(name):
    a = data.toy_2d(name, 500, generator=torch.Generator().manual_seed(0))
    b = data.toy_2d(name, 500, generator=torch.Generator().manual_seed(0))
    assert a.shape == (500, 2) and a.dtype == torch.float32
    assert torch.equal(a, b) and torch.isfinite(a).all()
    assert a.abs().max() < 3.5


def test_eight_gaussians_sit_on_their_centres():
    points = data.eight_gaussians(8000, generator=torch.Generator().manual_seed(0))
    shares = metrics.mode_coverage(points, data.eight_gaussian_centres())
    assert shares.sum() > 0.99
    assert ((shares - 1 / 8).abs() < 0.02).all()


def test_grid_gaussians_sit_on_their_25_centres():
    centres = data.grid_gaussian_centres()
    assert centres.shape == (25, 2)
    assert torch.allclose(centres.mean(0), torch.zeros(2))                     # centred grid
    gaps = torch.cdist(centres, centres) + 1e9 * torch.eye(25)
    assert gaps.min().item() == pytest.approx(1.0)                            # spacing 1
    assert centres.abs().max().item() == pytest.approx(2.0)                   # spans [-2, 2]²
    points = data.grid_gaussians(25_000, generator=torch.Generator().manual_seed(0))
    shares = metrics.mode_coverage(points, centres)
    assert shares.sum() > 0.99
    assert ((shares - 1 / 25).abs() < 0.008).all()
    with pytest.raises(ValueError, match="spacing"):
        data.grid_gaussian_centres(spacing=0.0)


def test_digits_range_shape_labels_and_split():
    train_x, train_y = data.digits("train")
    test_x, _ = data.digits("test")
    all_x, _ = data.digits("all")
    assert train_x.shape == (1500, 1, 8, 8) and test_x.shape == (297, 1, 8, 8)
    assert all_x.shape == (1797, 1, 8, 8)
    assert train_x.min() == -1 and train_x.max() == 1
    assert set(train_y.tolist()) == set(range(10))
    flat_train = {tuple(x.flatten().tolist()) for x in train_x}
    assert sum(tuple(x.flatten().tolist()) in flat_train for x in test_x) < 10   # few exact duplicates
    assert torch.equal(data.digits("train")[1], train_y)                          # fixed split


def test_sample_photo():
    photo = data.sample_photo(size=32)
    assert photo.shape == (1, 3, 32, 32)
    assert photo.min() >= -1 and photo.max() <= 1 and photo.std() > 0.1


def test_sliced_wasserstein_properties():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=g)
    assert metrics.sliced_wasserstein(x, x, generator=g) == 0
    near = metrics.sliced_wasserstein(x, torch.randn(2000, 2, generator=g), generator=g)
    far = metrics.sliced_wasserstein(x, torch.randn(2000, 2, generator=g) + 1.0, generator=g)
    assert near < 0.1 < far
    # a unit shift along a random direction: E|<shift, u>|^2 = 1/2 in 2-D
    assert abs(metrics.sliced_wasserstein(x, x + torch.tensor([1.0, 0.0]),
                                          num_projections=4000, generator=g) - 0.5**0.5) < 0.03


def test_mmd_separates_distributions():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(500, 2, generator=g), torch.randn(500, 2, generator=g)
    assert abs(metrics.rbf_mmd(x, y)) < 0.01
    assert metrics.rbf_mmd(x, y * 2) > 0.05


def test_floor_is_small_for_real_data_and_shrinks_with_n():
    real = data.toy_2d("moons", 20_000, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    small = metrics.metric_floor(metrics.sliced_wasserstein, real, 200, generator=g, num_projections=64)
    large = metrics.metric_floor(metrics.sliced_wasserstein, real, 5000, generator=g, num_projections=64)
    assert large < small


def test_mode_coverage_counts_only_nearby_samples():
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    samples = torch.tensor([[0.1, 0.0], [2.9, 0.0], [1.5, 0.0], [0.0, 0.2]])
    shares = metrics.mode_coverage(samples, centres)
    assert torch.allclose(shares, torch.tensor([0.5, 0.25]))


def test_plotting_helpers_run():
    images = torch.rand(6, 3, 8, 8) * 2 - 1
    ax = plotting.show_images(images, nrow=2)
    assert ax.images[0].get_array().shape == (2 * 9 - 1, 3 * 9 - 1, 3)      # 2 rows of 3
    grid = plotting._image_grid(images, 2)
    assert grid.shape == (2 * 9 - 1, 3 * 9 - 1, 3)
    schedules = {"linear": NoiseSchedule.linear(100), "cosine": NoiseSchedule.cosine(100)}
    assert len(plotting.plot_schedule(schedules)) == 2
    anim = plotting.animate_points(torch.randn(10, 50, 2), num_frames=3)
    html = plotting.to_jshtml(anim).data
    assert "<script" in html and html.count("data:image/png") >= 3
    assert "http" not in html and "fa-" not in html        # controls need no icon font from a CDN
    assert "\u25b6" in html and "||" in html                  # play and pause still have a face
    framed = plotting.animate_points(torch.randn(4, 50, 2), background=torch.randn(30, 2),
                                     markers=torch.zeros(3, 2))
    collections = framed._fig.axes[0].collections
    assert [len(c.get_offsets()) for c in collections] == [30, 3, 50]        # data, modes, samples
    with pytest.raises(ValueError, match="background"):
        plotting.animate_points(torch.randn(4, 50, 2), background=torch.randn(30))
    turntable = plotting.animate_point_clouds(torch.randn(2, 40, 3), titles=["a", "b"], num_frames=3)
    assert plotting.to_jshtml(turntable).data.count("data:image/png") >= 3
    with pytest.raises(ValueError, match="clouds: expected"):
        plotting.animate_point_clouds(torch.randn(2, 40, 2))
    with pytest.raises(ValueError, match="titles"):
        plotting.animate_point_clouds(torch.randn(2, 40, 3), titles=["only one"])
    source = plotting.show_source(add_noise).data
    assert "def add_noise" in source and "diffusion_lite/schedules.py" in source
