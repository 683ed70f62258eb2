"""Chapter 9's comparison, timed carefully: the same U-Net on 16×16×3 shapes (pixel space) and
on the 4×4×4 latents of the zoo's VAE, in milliseconds per training step and seconds to sample
500 images with DDIM-50 (the latent sampler's time includes decoding). Prints medians of repeats
and their ratios; the networks are untrained, which does not change their cost.

    python benchmarks/latent_vs_pixel.py [--repeats 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from timing import median_seconds

from diffusion_lite import zoo
from diffusion_lite.losses import v_loss
from diffusion_lite.runtime import pick_device
from diffusion_lite.samplers import ddim_sample
from diffusion_lite.schedules import NoiseSchedule
from diffusion_lite.train import train
from diffusion_lite.unet import UNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="training steps per repeat")
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    device = pick_device()
    recipe = zoo.RECIPES["shapes_unet"]
    schedule = NoiseSchedule.from_name(recipe.schedule, recipe.num_steps)
    vae = zoo.load_vae("shapes_vae", device=device)
    generator = torch.Generator().manual_seed(0)
    images = zoo.shapes_images(2000, seed=0).to(device)
    with torch.no_grad():
        latents = vae.encode(images)[0]
    latent_shape = vae.config.latent_shape
    configs = {"pixel": (recipe.config, images, (3, 16, 16), lambda x: x),
               "latent": (dataclasses.replace(recipe.config, image_size=latent_shape[1],
                                              in_channels=latent_shape[0]),
                          latents, latent_shape, vae.decode)}
    print(f"device: {device} | torch {torch.__version__} | threads {torch.get_num_threads()} | "
          f"batch {recipe.batch_size} | medians of {args.repeats}")
    results = {}
    for name, (config, data, shape, decode) in configs.items():
        model = UNet(config).to(device)

        def train_steps():
            train(model, lambda m, x0: v_loss(m, schedule, x0, generator=generator), data,
                  steps=args.steps, batch_size=recipe.batch_size, lr=recipe.lr,
                  generator=generator, progress=False)

        @torch.no_grad()
        def sample():
            x = ddim_sample(model.eval(), schedule, (args.samples, *shape), num_steps=50,
                            device=device, generator=generator, progress=False)
            decode(x.to(device))

        train_steps()                                               # warm-up
        step_ms = 1000 * median_seconds(train_steps, args.repeats) / args.steps
        sample_s = median_seconds(sample, args.repeats)
        results[name] = step_ms, sample_s
        print(f"{name:7s} {sum(p.numel() for p in model.parameters()):>8,} parameters  "
              f"{step_ms:7.1f} ms per training step  {sample_s:6.2f} s to sample {args.samples}")
    print(f"latent is {results['pixel'][0] / results['latent'][0]:.1f}× cheaper per training step "
          f"and {results['pixel'][1] / results['latent'][1]:.1f}× faster to sample")


if __name__ == "__main__":
    main()
