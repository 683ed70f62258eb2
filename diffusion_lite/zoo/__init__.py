"""The model zoo: small pretrained checkpoints shipped inside the package, each with the exact
recipe that made it. Later chapters load these instead of retraining (chapter 5 trains its own).

    model, schedule = zoo.load("digits_unet")            # offline, weights_only=True, SHA-256 checked
    vae = zoo.load_vae("shapes_vae")                     # the autoencoder of chapter 9
    python -m diffusion_lite.zoo train digits_unet       # reproduce it into zoo/digits_unet.pt here
    zoo.load("digits_unet", file="zoo/digits_unet.pt")   # ... and use the reproduction
    classifier = zoo.load_classifier("digits_classifier")  # the feature network of FD
    python -m diffusion_lite.zoo list
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import checkpoints
from .._validate import check_choice
from ..data import digits
from ..features import (
    DigitsClassifier,
    ShapesClassifier,
    train_digits_classifier,
    train_shapes_classifier,
)
from ..losses import drop_labels, drop_prompts, epsilon_loss, v_loss, vae_loss
from ..runtime import seed_everything
from ..schedules import EpsilonFromV, NoiseSchedule
from ..shapes import all_combinations, seen_combinations, shapes
from ..text import TextConditionedUNet, TextEncoder, shapes_tokenizer
from ..train import EMA, train
from ..unet import UNet, UNetConfig
from ..vae import VAE, VAEConfig, latent_scale

HERE = Path(__file__).parent


# each kind of training data, and the range a sampler clips its x0 estimates to (``clip_x0``):
# images are scaled to [-1, 1]; latents have no fixed range
DATA_CLIP = {"digits": 1.0, "shapes": 1.0, "shapes_images": 1.0, "shapes_latents": None}
DATA_KINDS = set(DATA_CLIP)


@dataclass(frozen=True)
class Recipe:
    """Everything needed to reproduce one checkpoint."""

    config: UNetConfig          # the network
    schedule: str               # noise schedule name
    num_steps: int              # T
    train_steps: int            # optimiser steps
    batch_size: int             # images per step
    lr: float                   # Adam learning rate, decayed to 0 along a cosine
    ema_decay: float            # the shipped weights are the moving average
    label_dropout: float = 0.0  # share of labels replaced by "no class" (classifier-free guidance)
    seed: int = 0               # seeds every random draw
    fd_bar: float = 1.5         # quality bar: FD to the test images within this × the floor
    data: str = "digits"        # "digits" (class labels), "shapes" (captions, a text encoder),
                                # "shapes_images" (all 48 combinations, no conditioning) or
                                # "shapes_latents" (those images encoded by ``autoencoder``)
    train_size: int = 0         # shapes: how many images to generate for training
    text_dim: int = 64          # shapes: width of the text encoder (= the U-Net's context_dim)
    text_layers: int = 2        # shapes: Transformer layers of the text encoder
    accuracy_bar: float = 0.8   # shapes: share of samples the checker reads as the prompt
    prediction: str = "eps"     # what the network predicts: "eps", or "v" (loaded wrapped in
                                # EpsilonFromV, so that every sampler sees an ε-prediction)
    autoencoder: str = ""       # shapes_latents: the zoo VAE whose scaled latents are the data


RECIPES = {
    # trained with the papers' step numbering (t = 1 … T); measured by benchmarks/zoo_quality.py
    # (DDIM-50, 297 samples, floor 20.6 = median of five real sets): FD 1.26× and 1.55× the floor
    # for sampling seeds 0 and 1 (the feature classifiers of CLASSIFIER_RECIPES; with the earlier
    # hand-trained classifier 1.21× and 1.60×)
    "digits_unet": Recipe(UNetConfig(base_channels=16), "cosine", 1000, train_steps=8000,
                          batch_size=128, lr=2e-3, ema_decay=0.999, fd_bar=2.0),
    # measured likewise: FD 0.88× and 0.72× the floor (w = 1, the test labels)
    "digits_unet_cond": Recipe(UNetConfig(base_channels=16, num_classes=10), "cosine", 1000,
                               train_steps=8000, batch_size=128, lr=2e-3, ema_decay=0.999,
                               label_dropout=0.1),
    # text-to-image in miniature (chapter 8): 16×16 captioned shapes, six combinations held out;
    # measured with DDIM-50, guidance 3, 4 samples per seen combination (benchmarks/zoo_quality.py):
    # colour, shape and position all right for 75.0% (sampling seed 0) and 77.4% (seed 1). The
    # same recipe with training seed 0 scored 64.9% on both sampling seeds: a model this small
    # varies by about ten points from one training run to the next, so the bar is 70%.
    # 23 min on one CPU thread of a busy machine
    "shapes_text": Recipe(UNetConfig(image_size=16, in_channels=3, base_channels=16,
                                     channel_mults=(1, 2), attention_resolutions=(8,),
                                     context_dim=64),
                          "cosine", 1000, train_steps=4000, batch_size=64, lr=2e-3,
                          ema_decay=0.999, label_dropout=0.1, data="shapes", train_size=20_000,
                          seed=1, accuracy_bar=0.7),
    # pixel-space diffusion on 16×16 shapes, the baseline of chapter 9's latent diffusion: the
    # same U-Net as the chapter's latent model but for its input size and channels. Predicts v:
    # the same recipe predicting ε left visible noise in many of its DDIM-50 samples (FD 9,246
    # against 99 for v, 500 samples, floor 81); 14 min on one CPU thread. Retrained with the
    # papers' step numbering: FD 1.88× and 2.24× the zoo test's floor (53.5, with the shapes
    # classifier of CLASSIFIER_RECIPES) for sampling seeds 0 and 1; the zoo test samples with seed 0
    "shapes_unet": Recipe(UNetConfig(image_size=16, in_channels=3, base_channels=16,
                                     channel_mults=(1, 2), attention_resolutions=()),
                          "cosine", 1000, train_steps=4000, batch_size=64, lr=2e-3,
                          ema_decay=0.999, data="shapes_images", train_size=20_000, seed=1,
                          prediction="v", fd_bar=2.0),
    # latent diffusion (chapter 9): shapes_unet's recipe on the 4×4×4 latents of shapes_vae, for
    # the same 20,000 images, scaled to unit variance by ``latent_scale``; measured with DDIM-50,
    # 500 decoded samples, seeds 0 and 1: FD 1.64× and 1.99× chapter 9's floor (shapes_unet:
    # 1.21×); the zoo test's test set and floor give 2.36× (shapes_unet: 1.77×). Retrained with
    # the papers' step numbering: 2.53× and 3.79× the zoo test's floor (53.5) for seeds 0 and 1;
    # the zoo test samples with seed 0
    "shapes_latent": Recipe(UNetConfig(image_size=4, in_channels=4, base_channels=16,
                                       channel_mults=(1, 2), attention_resolutions=()),
                            "cosine", 1000, train_steps=4000, batch_size=64, lr=2e-3,
                            ema_decay=0.999, data="shapes_latents", train_size=20_000, seed=1,
                            prediction="v", autoencoder="shapes_vae", fd_bar=3.0),
}


@dataclass(frozen=True)
class VAERecipe:
    """Everything needed to reproduce one autoencoder."""

    config: VAEConfig           # the network
    train_steps: int            # optimiser steps
    batch_size: int             # images per step
    lr: float                   # Adam learning rate, decayed to 0 along a cosine
    kl_weight: float            # weight of the KL term in ``vae_loss``
    train_size: int             # how many shapes images to generate for training
    seed: int = 2               # seeds every random draw


VAE_RECIPES = {
    # the autoencoder of chapter 9: 16×16×3 shapes to 4×4×4 latents (f = 4, 12× fewer numbers).
    # kl_weight 1e-3, 0.01, 0.03, 0.1 all reconstruct 500 test shapes that the checker reads 100%
    # right; chapter 9's latent model (v, 1,200 steps) reached FD 229, 140, 113, 141 on them
    # (500 DDIM-50 samples, floor 81): 0.03 makes the latents easiest to model
    "shapes_vae": VAERecipe(VAEConfig(), train_steps=3000, batch_size=64, lr=2e-3,
                            kl_weight=0.03, train_size=20_000),
}


@dataclass(frozen=True)
class ClassifierRecipe:
    """Everything needed to reproduce one feature network of ``features``."""

    data: str                   # "digits" (the 8×8 digits' train split) or "shapes" (generated)
    train_steps: int            # optimiser steps of ``train.train``
    batch_size: int             # images per step
    lr: float                   # Adam learning rate, constant
    train_size: int = 0         # shapes: how many images to generate (all 48 combinations)
    seed: int = 0               # seeds every random draw


CLASSIFIER_RECIPES = {
    # 480 steps of 128 (about 41 epochs of the 1,500 training digits): 98.0% on the 297 test
    # digits (the tests assert >= 97%)
    "digits_classifier": ClassifierRecipe("digits", train_steps=480, batch_size=128, lr=2e-3),
    # 600 steps of 128 on 20,000 shapes: reads all three attributes of 100% of 1,000 fresh
    # shapes (the tests assert >= 99%)
    "shapes_classifier": ClassifierRecipe("shapes", train_steps=600, batch_size=128, lr=2e-3,
                                          train_size=20_000),
}


def all_recipes() -> dict:
    """Every recipe of the zoo by name: diffusion models, autoencoders and feature classifiers."""
    return {**RECIPES, **VAE_RECIPES, **CLASSIFIER_RECIPES}


def _recipe(name: str):
    recipes = all_recipes()
    if name not in recipes:
        raise ValueError(f"name: expected one of {sorted(recipes)}, got {name!r}")
    return recipes[name]


def _loader(name: str) -> str:
    """The function of this module that loads the model ``name``."""
    recipe = _recipe(name)
    return ("load_vae" if isinstance(recipe, VAERecipe) else
            "load_classifier" if isinstance(recipe, ClassifierRecipe) else "load")


def path(name: str) -> Path:
    _recipe(name)
    return HERE / f"{name}.pt"


def shapes_images(n: int, seed: int, size: int = 16) -> torch.Tensor:
    """``n`` uncaptioned shapes images of all 48 combinations, drawn from ``seed``."""
    images, _, _ = shapes(n, size=size, combinations=all_combinations(),
                          generator=torch.Generator().manual_seed(seed))
    return images


def build(recipe) -> torch.nn.Module:
    """The untrained network of a recipe: a ``VAE``, a feature classifier, a ``UNet``, or for captioned shapes a
    ``TextConditionedUNet``; wrapped in ``EpsilonFromV`` when the recipe predicts v. A
    diffusion model carries ``clip_x0``, the range of its data, which the samplers use by
    default."""
    if isinstance(recipe, VAERecipe):
        return VAE(recipe.config)
    if isinstance(recipe, ClassifierRecipe):
        check_choice("recipe.data", recipe.data, {"digits", "shapes"})
        return DigitsClassifier() if recipe.data == "digits" else ShapesClassifier()
    check_choice("recipe.prediction", recipe.prediction, {"eps", "v"})
    check_choice("recipe.data", recipe.data, DATA_KINDS)
    model = UNet(recipe.config)
    if recipe.data == "shapes":
        encoder = TextEncoder(len(shapes_tokenizer()), dim=recipe.text_dim,
                              layers=recipe.text_layers, max_len=shapes_tokenizer().max_len)
        model = TextConditionedUNet(model, encoder)
    if recipe.prediction == "v":
        model = EpsilonFromV(model, NoiseSchedule.from_name(recipe.schedule, recipe.num_steps))
    model.clip_x0 = DATA_CLIP[recipe.data]     # the samplers' default (``clip_x0="model"``)
    return model


def shapes_training_set(recipe: Recipe):
    """The captioned shapes a shapes recipe trains on (held-out combinations excluded):
    images and their token ids."""
    images, captions, _ = shapes(recipe.train_size, size=recipe.config.image_size,
                                 combinations=seen_combinations(),
                                 generator=torch.Generator().manual_seed(recipe.seed))
    return images, shapes_tokenizer().encode(captions)


def latent_training_set(recipe: Recipe) -> tuple[torch.Tensor, float]:
    """The latents a shapes_latents recipe trains on: the means of its autoencoder's encoding
    of ``shapes_images(train_size, seed)``, times ``latent_scale`` of the first 5,000; and that
    scale (divide samples by it before decoding)."""
    images = shapes_images(recipe.train_size, recipe.seed)
    vae = load_vae(recipe.autoencoder)
    scale = latent_scale(vae, images[:5000])
    with torch.no_grad():
        latents = torch.cat([vae.encode(chunk)[0] for chunk in images.split(2000)])
    return latents * scale, scale


def train_recipe(name: str, *, progress: bool = True) -> torch.nn.Module:
    """Train the model of recipe ``name`` from scratch and return its EMA weights (a VAE or a
    classifier: its last weights)."""
    recipe = _recipe(name)
    generator = seed_everything(recipe.seed)
    if isinstance(recipe, ClassifierRecipe):
        options = dict(steps=recipe.train_steps, batch_size=recipe.batch_size, lr=recipe.lr,
                       generator=generator, progress=progress)
        if recipe.data == "digits":
            return train_digits_classifier(**options)
        return train_shapes_classifier(train_size=recipe.train_size, **options)
    if isinstance(recipe, VAERecipe):
        vae = build(recipe)
        train(vae, lambda m, x: vae_loss(m, x, kl_weight=recipe.kl_weight, generator=generator)[0],
              shapes_images(recipe.train_size, recipe.seed, recipe.config.image_size),
              steps=recipe.train_steps, batch_size=recipe.batch_size, lr=recipe.lr,
              lr_decay="cosine", generator=generator, progress=progress)
        return vae
    schedule = NoiseSchedule.from_name(recipe.schedule, recipe.num_steps)
    model = build(recipe)
    ema = EMA(model, recipe.ema_decay)
    if recipe.data == "shapes":
        images, labels = shapes_training_set(recipe)
    elif recipe.data == "shapes_images":
        images = shapes_images(recipe.train_size, recipe.seed, recipe.config.image_size)
        labels = torch.zeros(len(images), dtype=torch.long)          # unused
    elif recipe.data == "shapes_latents":
        images, model.latent_scale = latent_training_set(recipe)     # saved with the weights
        labels = torch.zeros(len(images), dtype=torch.long)          # unused
    else:
        images, labels = digits("train")
    num_classes = recipe.config.num_classes

    def loss_fn(m, batch):
        x0, y = batch
        if recipe.data == "shapes":
            cond = drop_prompts(y, recipe.label_dropout, generator)
        else:
            cond = drop_labels(y, recipe.label_dropout, num_classes, generator) if num_classes else None
        if recipe.prediction == "v":
            return v_loss(m.net, schedule, x0, cond=cond, generator=generator)
        return epsilon_loss(m, schedule, x0, cond=cond, generator=generator)

    train(model, loss_fn, (images, labels), steps=recipe.train_steps,
          batch_size=recipe.batch_size, lr=recipe.lr, lr_decay="cosine", ema=ema,
          generator=generator, progress=progress)
    if recipe.data == "shapes_latents":
        ema.model.latent_scale = model.latent_scale
    return ema.model


def save(name: str, model: torch.nn.Module, *, to: Path | None = None,
         overwrite: bool = False) -> Path:
    """Write the weights (float16, to stay small) with the full recipe, the package and torch
    versions and the date (for a latent model also its ``latent_scale``), atomically. By default to ``zoo/NAME.pt`` under the current folder,
    never into the installed package; refuses to replace a file unless ``overwrite``."""
    _recipe(name)
    target = Path(to) if to is not None else Path("zoo") / f"{name}.pt"
    if target.exists() and not overwrite:
        raise FileExistsError(f"to: {target} exists; pass overwrite=True (--overwrite) to replace it")
    from .. import __version__
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    contents = {"state_dict": state, "recipe": _plain(_recipe(name)),
                "package_version": __version__, "torch_version": str(torch.__version__),
                "date": datetime.date.today().isoformat()}
    if getattr(_recipe(name), "data", "") == "shapes_latents":
        if not isinstance(getattr(model, "latent_scale", None), float):
            raise ValueError("model: expected the latent_scale it was trained with (set by "
                             f"zoo.train_recipe), got {getattr(model, 'latent_scale', None)!r}")
        contents["latent_scale"] = model.latent_scale
    return checkpoints.atomic_save(contents, target)


def load(name: str, *, device=None, file: Path | str | None = None
         ) -> tuple[torch.nn.Module, NoiseSchedule]:
    """The model ``name`` (in eval mode) and its noise schedule: the shipped checkpoint, checked
    against its SHA-256, or ``file``, one written by ``save`` (for example by
    ``python -m diffusion_lite.zoo train NAME``). No download, and ``weights_only=True``, so no
    code runs from the file. The file's recipe must be the code's (``RECIPES[name]``). A latent
    model carries the ``latent_scale`` it was trained with: divide its samples by it before
    decoding."""
    recipe = _recipe(name)
    if not isinstance(recipe, Recipe):
        raise ValueError(f"name: {name!r} is not a diffusion model; load it with zoo.{_loader(name)}")
    model = _load_weights(name, build(recipe), device, file)
    return model, NoiseSchedule.from_name(recipe.schedule, recipe.num_steps)


def load_vae(name: str, *, device=None, file: Path | str | None = None) -> VAE:
    """The autoencoder ``name`` (in eval mode), loaded like ``load``'s models."""
    recipe = _recipe(name)
    if not isinstance(recipe, VAERecipe):
        raise ValueError(f"name: expected one of {sorted(VAE_RECIPES)}, got {name!r}")
    return _load_weights(name, build(recipe), device, file)


def load_classifier(name: str, *, device=None, file: Path | str | None = None) -> torch.nn.Module:
    """The feature classifier ``name`` (frozen, in eval mode), loaded like ``load``'s models:
    the network whose features ``metrics`` reads for FD, precision and recall."""
    recipe = _recipe(name)
    if not isinstance(recipe, ClassifierRecipe):
        raise ValueError(f"name: expected one of {sorted(CLASSIFIER_RECIPES)}, got {name!r}")
    return _load_weights(name, build(recipe), device, file)


def _plain(recipe) -> dict:
    """A recipe as plain values (tuples as lists), as stored and compared."""
    return _plain_value(dataclasses.asdict(recipe))


def _plain_value(value):
    if isinstance(value, (tuple, list)):
        return [_plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    return value


def _recipe_differences(stored: dict, code: dict, prefix: str = "") -> list[str]:
    differences = []
    for key in sorted(set(stored) | set(code)):
        a, b = stored.get(key, "<missing>"), code.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            differences += _recipe_differences(a, b, f"{prefix}{key}.")
        elif _plain_value(a) != _plain_value(b):
            differences.append(f"{prefix}{key}: file {a!r}, code {b!r}")
    return differences


def _load_weights(name: str, model: torch.nn.Module, device, file) -> torch.nn.Module:
    shipped = file is None
    target = path(name) if shipped else Path(file)
    loader = _loader(name)
    retrain = (f"retrain it with `python -m diffusion_lite.zoo train {name}` and load that file "
               f"with zoo.{loader}({name!r}, file=...)")
    fix = f"reinstall diffusion_lite, or {retrain}" if shipped else retrain
    if shipped and not target.exists():
        raise FileNotFoundError(f"name: no checkpoint for {name!r} at {target}; {retrain}")
    expected = checkpoints.read_manifest(HERE).get(target.name) if shipped else None
    if shipped and expected is None:
        raise checkpoints.CheckpointError(f"{target}: not listed in {HERE / checkpoints.MANIFEST_NAME}; {fix}")
    checkpoint = checkpoints.read(target, fix=fix, expected_sha256=expected)
    if not (isinstance(checkpoint, dict) and {"state_dict", "recipe"} <= set(checkpoint)):
        kind = f"a dict with keys {sorted(checkpoint)[:5]}" if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise checkpoints.CheckpointError(
            f"{target}: expected a zoo checkpoint (a dict with 'state_dict' and 'recipe', written by "
            f"zoo.save), got {kind}; {fix}")
    differences = _recipe_differences(checkpoint["recipe"], _plain(_recipe(name)))
    if differences:
        raise checkpoints.CheckpointError(
            f"{target}: its recipe differs from zoo.RECIPES[{name!r}] in "
            + "; ".join(differences) + f"; {retrain}")
    if getattr(_recipe(name), "data", "") == "shapes_latents":
        if "latent_scale" not in checkpoint:
            raise checkpoints.CheckpointError(f"{target}: has no latent_scale (a latent model's "
                                              f"checkpoint stores it); {fix}")
        model.latent_scale = float(checkpoint["latent_scale"])
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in checkpoint["state_dict"].items()})
    except RuntimeError as error:
        raise checkpoints.CheckpointError(f"{target}: its weights do not fit the network of the "
                                          f"recipe ({str(error).splitlines()[0]}); {fix}") from None
    return model.eval().requires_grad_(False).to(device or "cpu")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The diffusion_lite model zoo.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the recipes and whether a checkpoint ships")
    trainer = sub.add_parser("train", help="reproduce a checkpoint from its recipe")
    trainer.add_argument("name", choices=sorted(all_recipes()))
    trainer.add_argument("--to", type=Path, help="where to write (default: zoo/NAME.pt here)")
    trainer.add_argument("--overwrite", action="store_true")
    sub.add_parser("manifest", help=f"rewrite {checkpoints.MANIFEST_NAME} for the shipped files "
                                    "(after replacing one of them on purpose)")
    args = parser.parse_args(argv)
    if args.command == "manifest":
        print(f"wrote {checkpoints.write_manifest(HERE, [f.name for f in HERE.glob('*.pt')])}")
        return
    if args.command == "list":
        for name, recipe in all_recipes().items():
            status = "shipped" if path(name).exists() else "not trained"
            print(f"{name:20s} {status:12s} {recipe}")
        return
    model = train_recipe(args.name)
    target = save(args.name, model, to=args.to, overwrite=args.overwrite)
    loader = _loader(args.name)
    print(f"wrote {target}; use it with diffusion_lite.zoo.{loader}({args.name!r}, file={str(target)!r})")


if __name__ == "__main__":
    main()
