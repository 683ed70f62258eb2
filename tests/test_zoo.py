"""The model zoo: recipes, offline loading with weights_only, and each shipped checkpoint's
quality bar (FD to the test digits within fd_bar × the floor)."""

import dataclasses

import pytest
import torch

from diffusion_lite import features, losses, metrics, zoo
from diffusion_lite.data import digits
from diffusion_lite.samplers import ddim_sample
from diffusion_lite.shapes import shapes

SHIPPED = [name for name in zoo.RECIPES if zoo.path(name).exists()]
SHIPPED_DIGITS = [name for name in SHIPPED if zoo.RECIPES[name].data == "digits"]
SHIPPED_SHAPES = [name for name in SHIPPED if zoo.RECIPES[name].data == "shapes"]
SHIPPED_SHAPE_IMAGES = [name for name in SHIPPED if zoo.RECIPES[name].data == "shapes_images"]
SHIPPED_LATENT = [name for name in SHIPPED if zoo.RECIPES[name].data == "shapes_latents"]
SHIPPED_VAES = [name for name in zoo.VAE_RECIPES if zoo.path(name).exists()]


def test_unknown_and_missing_names_give_clear_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="name: expected one of"):
        zoo.load("imagenet")
    with pytest.raises(ValueError, match="load_vae"):
        zoo.load("shapes_vae")
    with pytest.raises(ValueError, match="name: expected one of .'shapes_vae'"):
        zoo.load_vae("digits_unet")
    monkeypatch.setattr(zoo, "HERE", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m diffusion_lite.zoo train digits_unet"):
        zoo.load("digits_unet")


def test_save_refuses_to_overwrite(tmp_path):
    model = zoo.UNet(zoo.RECIPES["digits_unet"].config)
    target = zoo.save("digits_unet", model, to=tmp_path / "m.pt")
    with pytest.raises(FileExistsError, match="overwrite"):
        zoo.save("digits_unet", model, to=target)
    checkpoint = torch.load(target, weights_only=True)
    assert checkpoint["recipe"]["config"]["base_channels"] == 16


def test_label_dropout():
    labels = torch.arange(10).repeat(1000)
    dropped = losses.drop_labels(labels, 0.1, 10, torch.Generator().manual_seed(0))
    share = (dropped == 10).float().mean().item()
    assert abs(share - 0.1) < 0.01
    kept = dropped != 10
    assert torch.equal(dropped[kept], labels[kept])


@pytest.mark.parametrize("name", SHIPPED_DIGITS)
def test_shipped_checkpoint_is_small_and_meets_its_bar(name):
    assert zoo.path(name).stat().st_size <= 2 * 1024 * 1024
    model, schedule = zoo.load(name)
    test_images, test_labels = digits("test")
    train_images, _ = digits("train")
    cond = test_labels if model.config.num_classes else None
    samples = ddim_sample(model, schedule, tuple(test_images.shape), num_steps=50, cond=cond,
                          generator=torch.Generator().manual_seed(0), progress=False)
    featurise = features.digit_features
    fd = metrics.frechet_distance(featurise(samples), featurise(test_images))
    floor = metrics.fd_floor(featurise(train_images), featurise(test_images))
    assert fd <= zoo.RECIPES[name].fd_bar * floor, f"{name}: FD {fd:.1f}, floor {floor:.1f}"


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_SHAPES)
def test_shipped_text_to_image_model_draws_what_it_is_asked(name):
    """Four samples per seen combination (DDIM-50, guidance 3): the shapes checker must read at
    least accuracy_bar of them as their prompt."""
    from diffusion_lite.shapes import captions_of, describe, seen_combinations
    from diffusion_lite.text import shapes_tokenizer

    assert zoo.path(name).stat().st_size <= 2 * 1024 * 1024
    model, schedule = zoo.load(name)
    wanted = torch.tensor(seen_combinations()).repeat(4, 1)
    ids = shapes_tokenizer().encode(captions_of(wanted))
    size = model.config.image_size
    samples = ddim_sample(model, schedule, (len(ids), 3, size, size), num_steps=50, cond=ids,
                          guidance_scale=3.0,
                          generator=torch.Generator().manual_seed(0), progress=False)
    accuracy = (describe(samples) == wanted).all(dim=1).float().mean().item()
    assert accuracy >= zoo.RECIPES[name].accuracy_bar, f"{name}: accuracy {accuracy:.3f}"


def test_shapes_recipe_trains_on_seen_combinations_only():
    from diffusion_lite.shapes import HELD_OUT, parse_caption
    from diffusion_lite.text import shapes_tokenizer

    recipe = dataclasses.replace(zoo.RECIPES["shapes_text"], train_size=500)
    images, ids = zoo.shapes_training_set(recipe)
    assert images.shape == (500, 3, 16, 16)
    combos = {parse_caption(c) for c in shapes_tokenizer().decode(ids)}
    assert combos and not combos & set(HELD_OUT)
    dropped = losses.drop_prompts(ids, 1.0)
    assert (dropped == 0).all()


def test_shapes_classifier_reads_every_attribute():
    images, _, attributes = shapes(1000, generator=torch.Generator().manual_seed(100))
    with torch.no_grad():
        logits = features.shapes_classifier()(images)
    predicted = torch.stack([part.argmax(dim=1) for part in logits], dim=1)
    assert (predicted == attributes).all(dim=1).float().mean() >= 0.99


@pytest.mark.parametrize("name", SHIPPED_VAES)
def test_shipped_vae_reconstructs_what_the_checker_reads(name):
    """The decoder of the encoder's mean gives back an image the shapes checker reads exactly,
    for at least 99% of fresh shapes, with a small pixel error."""
    from diffusion_lite.shapes import describe

    assert zoo.path(name).stat().st_size <= 2 * 1024 * 1024
    vae = zoo.load_vae(name)
    images, _, attributes = shapes(500, generator=torch.Generator().manual_seed(101))
    with torch.no_grad():
        reconstructions = vae.decode(vae.encode(images)[0])
    assert (describe(reconstructions) == attributes).all(dim=1).float().mean() >= 0.99
    assert (reconstructions - images).pow(2).mean() < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_SHAPE_IMAGES + SHIPPED_LATENT)
def test_shipped_shapes_model_meets_its_bar(name):
    """500 DDIM-50 samples (latent ones decoded): FD to fresh shapes within fd_bar × the floor
    of real shapes."""
    assert zoo.path(name).stat().st_size <= 2 * 1024 * 1024
    recipe = zoo.RECIPES[name]
    model, schedule = zoo.load(name)
    shape = (500, recipe.config.in_channels, recipe.config.image_size, recipe.config.image_size)
    latent = recipe.data == "shapes_latents"
    samples = ddim_sample(model, schedule, shape, num_steps=50,
                          generator=torch.Generator().manual_seed(0), progress=False)
    if latent:
        with torch.no_grad():
            samples = zoo.load_vae(recipe.autoencoder).decode(samples / model.latent_scale).clamp(-1, 1)
    featurise = features.shape_features
    test = featurise(zoo.shapes_images(500, seed=102))
    fd = metrics.frechet_distance(featurise(samples), test)
    floor = metrics.fd_floor(featurise(zoo.shapes_images(2500, seed=103)), test)
    assert fd <= zoo.RECIPES[name].fd_bar * floor, f"{name}: FD {fd:.2f}, floor {floor:.2f}"


def test_v_prediction_recipes_load_as_epsilon_networks(monkeypatch, tmp_path):
    """A recipe with prediction="v" trains the U-Net on v_loss and loads wrapped in EpsilonFromV,
    so that samplers receive ε; the round trip through save and load keeps the weights."""
    from diffusion_lite.schedules import EpsilonFromV

    recipe = zoo.RECIPES["shapes_unet"]
    assert recipe.prediction == "v"
    model = zoo.build(recipe)
    assert isinstance(model, EpsilonFromV)
    text_v = zoo.build(dataclasses.replace(zoo.RECIPES["shapes_text"], prediction="v"))
    assert isinstance(text_v, EpsilonFromV) and isinstance(text_v.net, zoo.TextConditionedUNet)
    with pytest.raises(ValueError, match="recipe.prediction: expected one of"):
        zoo.build(dataclasses.replace(recipe, prediction="x0"))
    with pytest.raises(ValueError, match="recipe.data: expected one of .* got 'digit'"):
        zoo.build(dataclasses.replace(recipe, data="digit"))       # a typo no longer trains on digits
    target = zoo.save("shapes_unet", model, to=tmp_path / "shapes_unet.pt")
    loaded, _ = zoo.load("shapes_unet", file=target)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([10, 900])
    with torch.no_grad():
        assert torch.allclose(loaded(x, t), model.eval()(x, t), atol=1e-2)


def test_zoo_models_carry_their_sampling_defaults():
    """The samplers' default ``clip_x0="model"`` reads the range of the model's data; images
    are clipped to [-1, 1], latents are not."""
    for name in SHIPPED:
        model, _ = zoo.load(name)
        expected = None if zoo.RECIPES[name].data == "shapes_latents" else 1.0
        assert model.clip_x0 == expected, name


@pytest.mark.slow
def test_latent_model_stores_the_scale_it_was_trained_with(tmp_path):
    recipe = zoo.RECIPES["shapes_latent"]
    model, _ = zoo.load("shapes_latent")
    _, scale = zoo.latent_training_set(recipe)           # encodes the 20,000 training images
    assert model.latent_scale == pytest.approx(scale, rel=1e-6)
    del model.latent_scale
    with pytest.raises(ValueError, match="latent_scale"):
        zoo.save("shapes_latent", model, to=tmp_path / "x.pt")
    state = torch.load(zoo.path("shapes_latent"), weights_only=True)
    del state["latent_scale"]
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(zoo.checkpoints.CheckpointError, match="no latent_scale"):
        zoo.load("shapes_latent", file=tmp_path / "old.pt")


def test_feature_classifiers_are_zoo_models():
    """The classifiers FD reads are registered in the zoo like every other shipped model: a
    recipe, a manifest entry, the recipe stored in the file; the wrong loader is refused."""
    for name, recipe in zoo.CLASSIFIER_RECIPES.items():
        assert zoo.path(name).exists() and name + ".pt" in zoo.checkpoints.read_manifest(zoo.HERE)
        model = zoo.load_classifier(name)
        assert isinstance(model, (features.DigitsClassifier, features.ShapesClassifier))
        assert not any(p.requires_grad for p in model.parameters())
        stored = torch.load(zoo.path(name), weights_only=True)["recipe"]
        assert stored == dataclasses.asdict(recipe)
    with pytest.raises(ValueError, match="load it with zoo.load_classifier"):
        zoo.load("digits_classifier")
    with pytest.raises(ValueError, match="name: expected one of .*shapes_classifier"):
        zoo.load_classifier("digits_unet")
