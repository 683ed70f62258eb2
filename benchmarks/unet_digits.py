"""Speed of the digits U-Net on this machine: training images per second, and the time to
sample 256 images with DDPM (1,000 steps) and DDIM (50 steps). Prints medians of repeats.

    python benchmarks/unet_digits.py [--base-channels 32] [--repeats 3] [--ddpm-steps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from diffusion_lite.data import digits
from diffusion_lite.losses import epsilon_loss
from diffusion_lite.samplers import ddim_sample, ddpm_sample
from diffusion_lite.schedules import NoiseSchedule
from diffusion_lite.train import pick_device
from diffusion_lite.unet import UNet, UNetConfig


def seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-channels", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ddpm-steps", type=int, default=1000, help="T of the schedule")
    args = parser.parse_args()

    device = pick_device()
    schedule = NoiseSchedule.cosine(args.ddpm_steps)
    model = UNet(UNetConfig(base_channels=args.base_channels)).to(device)
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
    per_10 = seconds(train_steps, args.repeats)
    model.eval()
    shape = (256, 1, 8, 8)
    ddim = seconds(lambda: ddim_sample(model, schedule, shape, num_steps=50, progress=False),
                   args.repeats)
    ddpm = seconds(lambda: ddpm_sample(model, schedule, shape, progress=False), 1)

    params = sum(p.numel() for p in model.parameters())
    print(f"# digits U-Net, base {args.base_channels} ({params:,} parameters), {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"training: {10 * args.batch_size / per_10:8.0f} images/s (batch {args.batch_size})")
    print(f"DDIM-50,   256 images: {ddim:7.1f} s (median of {args.repeats})")
    print(f"DDPM-{args.ddpm_steps}, 256 images: {ddpm:7.1f} s (one run)")
    print(f"DDPM / DDIM time ratio: {ddpm / ddim:5.1f}")


if __name__ == "__main__":
    main()
