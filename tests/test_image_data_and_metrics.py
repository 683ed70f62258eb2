"""MNIST loaders (offline-safe), the digits classifier and the image metrics."""

import gzip
import hashlib
import io
import struct
import urllib.error

import numpy as np
import pytest
import torch

from diffusion_lite import datasets_online, features, metrics, zoo
from diffusion_lite.data import digits


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """A 5-image MNIST in IDX files, registered under a fake source with its real checksums."""
    images = np.arange(5 * 28 * 28).reshape(5, 28, 28) % 256
    labels = np.array([3, 1, 4, 1, 5])
    files = {}
    for prefix in ("train", "t10k"):
        for kind, array in (("images", images), ("labels", labels)):
            name = f"{prefix}-{kind}-idx{array.ndim}-ubyte.gz"
            data = gzip.compress(_idx_bytes(array))
            (tmp_path / "tiny").mkdir(exist_ok=True)
            (tmp_path / "tiny" / name).write_bytes(data)
            files[name] = ("sha256", hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(datasets_online.SOURCES, "tiny", ("http://127.0.0.1:9/", files))
    return tmp_path, images, labels


def test_idx_files_parse(tiny_mnist):
    root, images, labels = tiny_mnist
    x, y = datasets_online.load("tiny", "train", root=str(root))      # a folder given as a str
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(y, torch.from_numpy(labels))
    assert torch.allclose((x[:, 0] + 1) * 127.5, torch.from_numpy(images).float(), atol=1e-3)


class _Server:
    """Stands in for urllib.request.urlopen: serves ``files`` by name, or raises ``error``."""

    def __init__(self, files=None, error=None):
        self.files, self.error, self.requests = files or {}, error, []

    def __call__(self, url, timeout=None):
        self.requests.append((url, timeout))
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.files[url.rsplit("/", 1)[1]])


def test_a_damaged_cached_file_is_downloaded_again(tiny_mnist, monkeypatch):
    root, _, _ = tiny_mnist
    path = root / "tiny" / "t10k-images-idx3-ubyte.gz"
    good = path.read_bytes()
    path.write_bytes(good + b"tampered")
    server = _Server({path.name: good})
    monkeypatch.setattr(datasets_online.urllib.request, "urlopen", server)
    datasets_online.load("tiny", "test", root=root)
    assert path.read_bytes() == good and len(server.requests) == 1
    assert server.requests[0][1] == datasets_online.TIMEOUT_S


def test_a_bad_download_never_takes_the_final_name(tiny_mnist, monkeypatch):
    root, _, _ = tiny_mnist
    path = root / "tiny" / "t10k-images-idx3-ubyte.gz"
    path.unlink()
    monkeypatch.setattr(datasets_online.urllib.request, "urlopen",
                        _Server({path.name: b"not the published file"}))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: checksum mismatch"):
        datasets_online.load("tiny", "test", root=root)
    assert not path.exists() and not list(path.parent.glob("*.part"))


@pytest.mark.parametrize("error,expected", [
    (urllib.error.HTTPError("u", 404, "Not Found", None, None), r"answered 404 Not Found.*not where"),
    (TimeoutError("timed out"), r"did not answer within 60 s"),
    (urllib.error.URLError("network unreachable"), r"offline.*digits\(\)")])
def test_download_failures_say_what_happened(tmp_path, monkeypatch, error, expected):
    monkeypatch.setattr(datasets_online.urllib.request, "urlopen", _Server(error=error))
    with pytest.raises(RuntimeError, match=expected):
        datasets_online.load("mnist", "train", root=tmp_path)
    assert not list((tmp_path / "mnist").glob("*"))     # no partial file is left behind


def test_every_source_is_https():
    assert all(url.startswith("https://") for url, _ in datasets_online.SOURCES.values())


def test_read_idx_rejects_garbage():
    with pytest.raises(ValueError, match="expected an IDX file"):
        datasets_online.read_idx(b"not an idx file")


def test_shipped_classifier_is_accurate():
    x, y = digits("test")
    accuracy = (features.digits_classifier()(x).argmax(1) == y).float().mean().item()
    assert accuracy >= 0.97


@pytest.mark.slow
def test_classifier_recipe_reproduces_the_accuracy():
    model = zoo.train_recipe("digits_classifier", progress=False)
    x, y = digits("test")
    assert (model(x).argmax(1) == y).float().mean().item() >= 0.97


def test_frechet_distance_properties():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 4, generator=g), torch.randn(2000, 4, generator=g)
    assert abs(metrics.frechet_distance(a, a)) < 1e-6
    assert metrics.frechet_distance(a, b) < 0.05
    # a shift of the mean by 2 in every coordinate adds 4 per coordinate
    assert abs(metrics.frechet_distance(a, b + 2) - 16) < 0.3
    # scaling N(0, I) by 2: (2 - 1)² per coordinate
    assert abs(metrics.frechet_distance(a, 2 * b) - 4) < 0.4


def test_fd_tells_noise_from_digits():
    train, _ = digits("train")
    test, _ = digits("test")
    featurise = features.digit_features
    floor = metrics.frechet_distance(featurise(train[:297]), featurise(test))
    noise = metrics.frechet_distance(featurise(torch.rand(297, 1, 8, 8) * 2 - 1), featurise(test))
    assert noise > 10 * floor


def test_precision_recall_and_histograms():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(500, 2, generator=g)
    precision, recall = metrics.precision_recall(real, torch.randn(500, 2, generator=g))
    assert precision > 0.9 and recall > 0.9
    collapsed = torch.randn(500, 2, generator=g) * 0.05                 # all in one spot
    precision, recall = metrics.precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.3
    p = metrics.class_histogram(torch.tensor([0, 0, 1, 1]), 3)
    assert torch.equal(p, torch.tensor([0.5, 0.5, 0.0]))
    assert metrics.total_variation(p, torch.tensor([0.0, 0.0, 1.0])) == 1.0


def test_fd_floor_measures_the_distance_between_distributions():
    """Real data from the test set's distribution scores a small floor; shifting the reference
    by c adds about |c|² (the mean term of FD), and widening it adds the covariance term."""
    g = torch.Generator().manual_seed(0)
    reference, test = torch.randn(500, 4, generator=g), torch.randn(100, 4, generator=g)
    floor = metrics.fd_floor(reference, test)
    shift = torch.full((4,), 5.0)                                  # |c|² = 100
    assert floor < 1.0
    assert abs(metrics.fd_floor(reference + shift, test) - floor - 100) < 10
    # widening by 2: Tr(S + 4S - 2·2S) = Tr(S) ≈ 4 more
    assert abs(metrics.fd_floor(2 * reference, test) - floor - 4) < 2
    with pytest.raises(ValueError, match="reference_features"):
        metrics.fd_floor(reference[:400], test)
