"""Host synchronisations per sampler step, and what they cost: on a CUDA GPU, every read of a
tensor's value by the host (a check that a state is finite, that steps are in range, a copy
back to pick a coefficient) waits until the GPU has finished its queue.

    python benchmarks/sampler_syncs.py [--steps N] [--batch B]

For each sampler loop it prints the synchronisations the first step makes (it checks its
inputs) and those of each later step (none expected), counted by PyTorch's sync debug mode,
then the seconds per DDIM step of ``ddim_sample`` beside the same steps written by hand as a
reader would, ``ddim_step`` after ``ddim_step``, each checking everything it is given. On a
machine without CUDA there is nothing to count: it says so and stops.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffusion_lite.samplers import ddim_invert, ddim_sample, ddim_step, ddpm_sample  # noqa: E402
from diffusion_lite.schedules import NoiseSchedule, batch_timesteps  # noqa: E402
from diffusion_lite.solvers import ode_sample  # noqa: E402
from diffusion_lite.unet import UNet, UNetConfig  # noqa: E402


def model_and_schedule(device: str, conditional: bool = False):
    config = UNetConfig(image_size=8, base_channels=32, channel_mults=(1, 2),
                        attention_resolutions=(4,), num_classes=10 if conditional else None)
    return UNet(config).eval().to(device), NoiseSchedule.cosine(1000)


def syncs_per_step(name: str, device: str, batch: int, steps: int) -> tuple[int, list[int]]:
    """Synchronisations in the first step, and in each later step, of one sampler's loop."""
    model, schedule = model_and_schedule(device, conditional=name == "ddim guided")
    shape, counts = (batch, 1, 8, 8), []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            common = dict(progress=False, callback=lambda i, t, x: counts.append(len(caught)))
            g = torch.Generator().manual_seed(0)
            if name == "ddpm":
                ddpm_sample(model, NoiseSchedule.cosine(steps), shape, generator=g, **common)
            elif name == "ddim":
                ddim_sample(model, schedule, shape, num_steps=steps, generator=g, **common)
            elif name == "ddim guided":
                ddim_sample(model, schedule, shape, num_steps=steps, generator=g, guidance_scale=3.0,
                            cond=torch.arange(batch, device=device) % 10, **common)
            elif name == "ddim invert":
                ddim_invert(model, schedule, torch.zeros(shape, device=device), num_steps=steps,
                            **common)
            else:
                ode_sample(model, schedule, shape, num_steps=steps, method="heun", generator=g, **common)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    later = [b - a for a, b in zip(counts[:-1], counts[1:])]
    return counts[0], later


@torch.no_grad()
def by_hand(model, schedule, x, steps: int):
    """DDIM written as a reader would: every step checks everything it is given."""
    grid = torch.cat([torch.linspace(schedule.num_steps, 1, steps).round().long(), torch.tensor([0])])
    for t, t_prev in zip(grid[:-1].tolist(), grid[1:].tolist()):
        eps = model(x, batch_timesteps(t, x.shape[0], x.device))
        x = ddim_step(schedule, eps, x, t, t_prev)
    return x


def seconds_per_step(run, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):                        # the first is a warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("sampler_syncs: no CUDA GPU here, nothing to count (the CPU never waits for a GPU)")
        return
    device = "cuda"
    print(f"# Host synchronisations per sampler step ({torch.cuda.get_device_name(0)}, "
          f"torch {torch.__version__})\n")
    print("| loop | first step | each later step (max) |\n|---|---:|---:|")
    for name in ["ddpm", "ddim", "ddim guided", "ddim invert", "ode heun"]:
        first, later = syncs_per_step(name, device, 4, 6)
        print(f"| {name} | {first} | {max(later)} |")
    model, schedule = model_and_schedule(device)
    x = torch.randn(args.batch, 1, 8, 8, device=device)
    loop = seconds_per_step(lambda: ddim_sample(model, schedule, x.shape, x_T=x, num_steps=args.steps,
                                                progress=False), args.steps, args.repeats)
    hand = seconds_per_step(lambda: by_hand(model, schedule, x, args.steps), args.steps, args.repeats)
    print(f"\nDDIM, {args.steps} steps, batch {args.batch}, median of {args.repeats}: ddim_sample "
          f"{loop * 1e3:.2f} ms per step; ddim_step by hand, checking every step, "
          f"{hand * 1e3:.2f} ms per step ({hand / loop:.2f}x)")


if __name__ == "__main__":
    main()
