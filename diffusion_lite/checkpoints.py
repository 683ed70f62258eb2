"""Weight files written and read safely.

Writes are atomic: a file is written next to its target and renamed over it only once it is
complete, so an interrupted save never leaves a half-written checkpoint (or destroys the old one).
Reads go through one function that turns every way a file can be wrong (missing, empty,
truncated, corrupted, a Git LFS pointer, not a weight file at all) into a ``CheckpointError``
that names the file and the fix. The shipped weights are listed with their SHA-256 in
``zoo/SHA256SUMS`` (the format of ``sha256sum``), and a shipped file that does not match its
line is refused: garbled bytes in a weight tensor would otherwise load silently.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import torch

MANIFEST_NAME = "SHA256SUMS"
_LFS_POINTER = b"version https://git-lfs"


class CheckpointError(RuntimeError):
    """A weight file that cannot be used; the message names the file and how to fix it."""


def sha256(path) -> str:
    """The SHA-256 of a file, as 64 hex digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(folder) -> dict[str, str]:
    """``{file name: sha256}`` from ``folder/SHA256SUMS`` (empty if there is none)."""
    manifest = Path(folder) / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    entries = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.lstrip("*")] = digest
    return entries


def write_manifest(folder, names) -> Path:
    """Write ``folder/SHA256SUMS`` for the files ``names`` (sorted), atomically."""
    folder = Path(folder)
    text = "".join(f"{sha256(folder / name)}  {name}\n" for name in sorted(names))
    return _atomic_write(folder / MANIFEST_NAME, lambda handle: handle.write(text.encode()))


def atomic_save(obj, target) -> Path:
    """``torch.save(obj)`` to ``target`` through a temporary file in the same folder and a rename."""
    return _atomic_write(Path(target), lambda handle: torch.save(obj, handle))


def _atomic_write(target: Path, write) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def read(path, *, fix: str, expected_sha256: str | None = None):
    """Load a weight file with ``weights_only=True`` (no code runs from it).

    ``fix`` ends every error message: what the user should do. With ``expected_sha256`` the file
    must match it byte for byte. Raises ``FileNotFoundError`` for a missing file and
    ``CheckpointError`` for everything else that is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint; {fix}")
    data = path.read_bytes()
    if not data:
        raise CheckpointError(f"{path}: the file is empty; {fix}")
    if data.startswith(_LFS_POINTER):
        raise CheckpointError(f"{path}: a Git LFS pointer ({len(data)} bytes), not the weights: "
                              f"run `git lfs pull` in the repository, or {fix}")
    if expected_sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise CheckpointError(
                f"{path}: its SHA-256 is {digest[:16]}..., the shipped file's is "
                f"{expected_sha256[:16]}...: the file is corrupted, truncated or was replaced; {fix}")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:     # truncated zip, garbled pickle, a file of another kind
        raise CheckpointError(f"{path}: not a readable weight file ({type(error).__name__}: it "
                              f"may be truncated or corrupted); {fix}") from None
