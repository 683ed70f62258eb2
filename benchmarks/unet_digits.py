"""The digits U-Net of the model zoo on this machine: training images per second, the time to
sample 256 images with DDPM (1,000 steps) and DDIM (50 steps), and the FD its DDIM samples
reach beside the floor. Prints medians of repeats.

    python benchmarks/unet_digits.py [--model digits_unet] [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from diffusion_lite import features, metrics, zoo
from diffusion_lite.data import digits
from diffusion_lite.losses import epsilon_loss
from diffusion_lite.runtime import pick_device
from diffusion_lite.samplers import ddim_sample, ddpm_sample
from diffusion_lite.unet import UNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="digits_unet", choices=sorted(zoo.RECIPES))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    device = pick_device()
    trained, schedule = zoo.load(args.model, device=device)
    model = UNet(trained.config).to(device)                    # a fresh copy to time training
    images, _ = digits("train")
    images = images.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)

    def train_steps(n: int = 10) -> None:
        for _ in range(n):
            batch = images[torch.randint(0, len(images), (args.batch_size,), generator=generator)]
            loss = epsilon_loss(model, schedule, batch, generator=generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    train_steps(2)                                             # warm-up
    per_10 = median_seconds(train_steps, args.repeats)
    shape = (256, 1, 8, 8)
    ddim = median_seconds(lambda: ddim_sample(trained, schedule, shape, num_steps=50, progress=False),
                   args.repeats)
    ddpm = median_seconds(lambda: ddpm_sample(trained, schedule, shape, progress=False), 1)

    # quality: FD of 297 DDIM-50 samples to the 297 test digits, beside the floor (median of 5)
    test_images, test_labels = digits("test")
    cond = test_labels.to(device) if trained.config.num_classes else None
    samples = ddim_sample(trained, schedule, tuple(test_images.shape), num_steps=50, cond=cond,
                          clip_x0=1.0, generator=torch.Generator().manual_seed(0), progress=False)
    featurise = features.digit_features
    fd = metrics.frechet_distance(featurise(samples), featurise(test_images))
    floor = metrics.fd_floor(featurise(images), featurise(test_images))

    params = sum(p.numel() for p in trained.parameters())
    print(f"# {args.model} ({params:,} parameters), {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"training: {10 * args.batch_size / per_10:8.0f} images/s (batch {args.batch_size})")
    print(f"DDIM-50,   256 images: {ddim:7.1f} s (median of {args.repeats})")
    print(f"DDPM-{schedule.num_steps}, 256 images: {ddpm:7.1f} s (one run)")
    print(f"DDPM / DDIM time ratio: {ddpm / ddim:5.1f}")
    print(f"FD, 297 DDIM-50 samples vs test digits: {fd:.1f}; floor (median of 5 train sets vs test) {floor:.1f}; "
          f"ratio {fd / floor:.2f}")


if __name__ == "__main__":
    main()
