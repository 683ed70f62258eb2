"""MNIST and Fashion-MNIST, for readers who are online: downloaded on request from the
canonical sources, verified by checksum, cached, and parsed from the IDX format.

Nothing in the book's tested path calls these; offline, they fail with a clear message that
points to ``data.digits()``, which needs no download.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

from ._validate import check_choice

# (file name, hash algorithm, hex digest), per data set; the digests are the publishers'.
SOURCES = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
    }),
    "fashion_mnist": ("https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/", {
        "train-images-idx3-ubyte.gz":
            ("sha256", "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"),
        "train-labels-idx1-ubyte.gz":
            ("sha256", "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"),
        "t10k-images-idx3-ubyte.gz":
            ("sha256", "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"),
        "t10k-labels-idx1-ubyte.gz":
            ("sha256", "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"),
    }),
}


def cache_dir() -> Path:
    """Where downloads are kept: $DIFFUSION_LITE_CACHE, else ~/.cache/diffusion_lite."""
    return Path(os.environ.get("DIFFUSION_LITE_CACHE", Path.home() / ".cache" / "diffusion_lite"))


def read_idx(data: bytes) -> np.ndarray:
    """Parse an IDX file (the MNIST format): a magic number giving the type and rank, the
    sizes as big-endian int32, then the values."""
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise ValueError("data: expected an IDX file starting with two zero bytes")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    type_code, rank = data[2], data[3]
    if type_code not in dtypes:
        raise ValueError(f"data: unknown IDX type code 0x{type_code:02x}")
    shape = struct.unpack(f">{rank}i", data[4:4 + 4 * rank])
    values = np.frombuffer(data, dtype=dtypes[type_code], offset=4 + 4 * rank)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"data: IDX header says shape {shape}, but holds {values.size} values")
    return values.reshape(shape)


TIMEOUT_S = 60          # seconds without an answer before a download gives up


def verify(path: Path, algorithm: str, digest: str, *, name: str | None = None) -> None:
    actual = hashlib.new(algorithm, path.read_bytes()).hexdigest()
    if actual != digest:
        raise ValueError(f"{name or path.name}: checksum mismatch ({algorithm} {actual}, expected "
                         f"{digest}); the file is corrupt or not the published one")


def _download(url: str, partial: Path, name: str) -> None:
    offline_hint = ("Every chapter of the book runs offline with diffusion_lite.data.digits(), "
                    "scikit-learn's 8×8 digits, which needs no download.")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"Could not download {name}: the server answered {error.code} "
                           f"{error.reason} for {url}. The machine is online, but the file is not "
                           f"where it used to be; please report it. {offline_hint}") from error
    except TimeoutError as error:
        raise RuntimeError(f"Could not download {name}: {url} did not answer within {TIMEOUT_S} s. "
                           f"Try again later. {offline_hint}") from error
    except (urllib.error.URLError, OSError) as error:
        raise RuntimeError(f"Could not download {name} ({error}). This machine seems to be "
                           f"offline. {offline_hint}") from error


def fetch(name: str, filename: str, *, root: str | Path | None = None) -> Path:
    """The verified local copy of one file of data set ``name``, downloading it if needed.

    The download goes to a ``.part`` file, is verified, and only then takes its final name, so a
    failed or corrupt download never stays in the cache; a cached file that no longer matches
    its checksum is downloaded again."""
    base_url, files = SOURCES[name]
    algorithm, digest = files[filename]
    path = (Path(root) if root is not None else cache_dir()) / name / filename
    if path.exists():
        try:
            verify(path, algorithm, digest)
            return path
        except ValueError:
            path.unlink()                       # damaged since it was cached: fetch it again
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        _download(base_url + filename, partial, name)
        verify(partial, algorithm, digest, name=filename)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return path


def load(name: str, split: str = "train", *, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 1, 28, 28) in [-1, 1], labels (N,)) of MNIST or Fashion-MNIST."""
    check_choice("name", name, SOURCES)
    check_choice("split", split, {"train", "test"})
    prefix = "train" if split == "train" else "t10k"
    arrays = [read_idx(gzip.decompress(fetch(name, f"{prefix}-{kind}-idx{rank}-ubyte.gz",
                                              root=root).read_bytes()))
              for kind, rank in (("images", 3), ("labels", 1))]
    images = torch.from_numpy(arrays[0].astype(np.float32) / 127.5 - 1).unsqueeze(1)
    return images, torch.from_numpy(arrays[1].astype(np.int64))
