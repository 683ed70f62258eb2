"""Checkpoints a user can trust: every shipped file matches its SHA-256, and every way a weight
file can be wrong gives one clear error that names the file and the fix, never torch's advice to
retry with ``weights_only=False``."""

import dataclasses
import shutil

import pytest
import torch

from diffusion_lite import checkpoints, features, zoo

SHIPPED = sorted(f.name for f in zoo.HERE.glob("*.pt"))


def test_every_shipped_file_is_in_the_manifest_and_matches_it():
    manifest = checkpoints.read_manifest(zoo.HERE)
    assert sorted(manifest) == SHIPPED
    for name in SHIPPED:
        assert checkpoints.sha256(zoo.HERE / name) == manifest[name], name


def test_shipped_checkpoints_store_recipe_versions_and_date():
    for name in [n for n in list(zoo.RECIPES) + list(zoo.VAE_RECIPES) if zoo.path(n).exists()]:
        stored = torch.load(zoo.path(name), map_location="cpu", weights_only=True)
        assert zoo._recipe_differences(stored["recipe"], zoo._plain(zoo._recipe(name))) == [], name
        assert {"package_version", "torch_version", "date"} <= set(stored), name


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """The zoo folder copied to tmp_path (weights and manifest), with zoo.HERE pointing at it."""
    for name in SHIPPED + [checkpoints.MANIFEST_NAME]:
        shutil.copy(zoo.HERE / name, tmp_path / name)
    monkeypatch.setattr(zoo, "HERE", tmp_path)
    return tmp_path


def _damage(file, how):
    data = bytearray(file.read_bytes())
    if how == "garbled":                       # 1,000 bytes in the middle of the weights
        middle = len(data) // 2
        data[middle:middle + 1000] = bytes((b + 1) % 256 for b in data[middle:middle + 1000])
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = bytearray()
    elif how == "lfs pointer":
        data = bytearray(b"version https://git-lfs.github.com/spec/v1\noid sha256:"
                         + b"0" * 64 + b"\nsize 392407\n")
    file.write_bytes(bytes(data))


DAMAGE = {"garbled": "SHA-256", "truncated": "SHA-256", "empty": "empty",
          "lfs pointer": "Git LFS pointer"}


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_shipped_checkpoint_is_refused_with_the_fix(shipped_copy, how):
    _damage(shipped_copy / "digits_unet.pt", how)
    with pytest.raises(checkpoints.CheckpointError) as error:
        zoo.load("digits_unet")
    message = str(error.value)
    assert DAMAGE[how] in message and "digits_unet.pt" in message
    assert "reinstall" in message and "python -m diffusion_lite.zoo train digits_unet" in message
    assert "weights_only" not in message


@pytest.mark.parametrize("how,expected", [("truncated", "not a readable weight file"),
                                          ("empty", "empty"), ("lfs pointer", "Git LFS pointer")])
def test_a_damaged_file_of_ones_own_is_refused_with_the_fix(tmp_path, how, expected):
    target = zoo.save("digits_unet", zoo.build(zoo.RECIPES["digits_unet"]), to=tmp_path / "m.pt")
    _damage(target, how)
    with pytest.raises(checkpoints.CheckpointError, match=expected) as error:
        zoo.load("digits_unet", file=target)
    assert str(target) in str(error.value) and "weights_only" not in str(error.value)


def test_a_plain_state_dict_is_refused(tmp_path):
    target = tmp_path / "plain.pt"
    torch.save(zoo.build(zoo.RECIPES["digits_unet"]).state_dict(), target)
    with pytest.raises(checkpoints.CheckpointError, match="expected a zoo checkpoint .* zoo.save"):
        zoo.load("digits_unet", file=target)


def test_a_stale_recipe_is_refused_naming_the_fields(tmp_path, monkeypatch):
    model = zoo.build(zoo.RECIPES["digits_unet"])
    target = zoo.save("digits_unet", model, to=tmp_path / "m.pt")
    changed = dataclasses.replace(zoo.RECIPES["digits_unet"], lr=1e-3, fd_bar=3.0)
    monkeypatch.setitem(zoo.RECIPES, "digits_unet", changed)
    with pytest.raises(checkpoints.CheckpointError) as error:
        zoo.load("digits_unet", file=target)
    message = str(error.value)
    assert "lr: file 0.002, code 0.001" in message and "fd_bar: file 2.0, code 3.0" in message
    assert "python -m diffusion_lite.zoo train digits_unet" in message


def test_a_damaged_classifier_is_refused(tmp_path, monkeypatch):
    for name in ["digits_classifier.pt", checkpoints.MANIFEST_NAME]:
        shutil.copy(zoo.HERE / name, tmp_path / name)
    monkeypatch.setattr(zoo, "HERE", tmp_path)
    _damage(tmp_path / "digits_classifier.pt", "garbled")
    with pytest.raises(checkpoints.CheckpointError,
                       match="SHA-256.*zoo train digits_classifier.*zoo.load_classifier"):
        features.digits_classifier()


def test_save_is_atomic_and_never_writes_into_the_package(tmp_path, monkeypatch):
    model = zoo.build(zoo.RECIPES["digits_unet"])
    monkeypatch.chdir(tmp_path)
    target = zoo.save("digits_unet", model)
    assert target.resolve() == (tmp_path / "zoo" / "digits_unet.pt").resolve()
    stored = torch.load(target, weights_only=True)
    assert stored["package_version"] and stored["torch_version"] == torch.__version__
    before = target.read_bytes()

    def interrupted(obj, handle):               # a save that dies half-way through
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        zoo.save("digits_unet", model, overwrite=True)
    assert target.read_bytes() == before                      # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["digits_unet.pt"]   # no debris
