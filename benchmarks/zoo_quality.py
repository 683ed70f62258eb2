"""The quality of every shipped diffusion model, measured as the zoo's tests measure it: FD of
DDIM-50 samples beside the floor of real data (digits, shapes, decoded latents), and for the
text-to-image model the share of samples the shapes checker reads as their prompt. One line per
model and sampling seed.

    python benchmarks/zoo_quality.py [--seeds 0 1] [--models digits_unet shapes_unet] [--folder zoo]
"""

from __future__ import annotations

import argparse

import torch

from diffusion_lite import features, metrics, zoo
from diffusion_lite.data import digits
from diffusion_lite.samplers import ddim_sample


def digits_fd(model, schedule, seed: int) -> str:
    test_images, test_labels = digits("test")
    train_images, _ = digits("train")
    cond = test_labels if model.config.num_classes else None
    samples = ddim_sample(model, schedule, tuple(test_images.shape), num_steps=50, cond=cond,
                          generator=torch.Generator().manual_seed(seed),
                          progress=False)
    featurise = features.digit_features
    fd = metrics.frechet_distance(featurise(samples), featurise(test_images))
    floor = metrics.fd_floor(featurise(train_images), featurise(test_images))
    return f"FD {fd:7.1f}  floor {floor:6.1f}  ratio {fd / floor:5.2f}"


def shapes_fd(name: str, model, schedule, seed: int) -> str:
    recipe = zoo.RECIPES[name]
    shape = (500, recipe.config.in_channels, recipe.config.image_size, recipe.config.image_size)
    latent = recipe.data == "shapes_latents"
    samples = ddim_sample(model, schedule, shape, num_steps=50,
                          generator=torch.Generator().manual_seed(seed), progress=False)
    if latent:
        with torch.no_grad():
            samples = zoo.load_vae(recipe.autoencoder).decode(samples / model.latent_scale).clamp(-1, 1)
    featurise = features.shape_features
    test = featurise(zoo.shapes_images(500, seed=102))
    fd = metrics.frechet_distance(featurise(samples), test)
    floor = metrics.fd_floor(featurise(zoo.shapes_images(2500, seed=103)), test)
    return f"FD {fd:7.1f}  floor {floor:6.1f}  ratio {fd / floor:5.2f}"


def text_accuracy(model, schedule, seed: int) -> str:
    from diffusion_lite.shapes import captions_of, describe, seen_combinations
    from diffusion_lite.text import shapes_tokenizer

    wanted = torch.tensor(seen_combinations()).repeat(4, 1)
    ids = shapes_tokenizer().encode(captions_of(wanted))
    size = model.config.image_size
    samples = ddim_sample(model, schedule, (len(ids), 3, size, size), num_steps=50, cond=ids,
                          guidance_scale=3.0,
                          generator=torch.Generator().manual_seed(seed), progress=False)
    accuracy = (describe(samples) == wanted).all(dim=1).float().mean().item()
    return f"prompt accuracy {accuracy:.3f} ({len(ids)} samples, guidance 3)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--models", nargs="+", default=sorted(zoo.RECIPES), choices=sorted(zoo.RECIPES))
    parser.add_argument("--folder", help="measure FOLDER/NAME.pt (as written by `python -m "
                                         "diffusion_lite.zoo train NAME`) instead of the shipped file")
    args = parser.parse_args()
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, DDIM-50")
    for name in args.models:
        model, schedule = zoo.load(name, file=f"{args.folder}/{name}.pt" if args.folder else None)
        data = zoo.RECIPES[name].data
        for seed in args.seeds:
            if data == "digits":
                result = digits_fd(model, schedule, seed)
            elif data == "shapes":
                result = text_accuracy(model, schedule, seed)
            else:
                result = shapes_fd(name, model, schedule, seed)
            print(f"{name:18s} seed {seed}: {result}", flush=True)


if __name__ == "__main__":
    main()
