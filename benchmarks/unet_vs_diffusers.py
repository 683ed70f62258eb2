"""The book's U-Net beside diffusers' ``UNet2DModel`` with about as many parameters, on this
machine's device: training images per second (forward, backward, Adam) and sampling images
per second (network calls of a 50-step sampler, no sampler arithmetic), for the digits'
configuration (8×8, the model zoo's) and chapter 5's MNIST configuration (28×28). Prints a
table of medians of repeats, measured in one run.

    python benchmarks/unet_vs_diffusers.py [--repeats 5] [--sizes digits mnist] [--quick]
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from diffusion_lite.runtime import pick_device, seed_everything
from diffusion_lite.unet import UNet, UNetConfig

# ours, and the diffusers blocks at the same resolutions (attention where ours attends)
CONFIGS = {
    "digits": (UNetConfig(base_channels=16),
               dict(sample_size=8, down=("DownBlock2D", "AttnDownBlock2D"),
                    up=("AttnUpBlock2D", "UpBlock2D"), layers=1, mults=(1, 2))),
    "mnist": (UNetConfig(image_size=28, base_channels=64, channel_mults=(1, 2, 2),
                         num_res_blocks=2, attention_resolutions=(7,)),
              dict(sample_size=28, down=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                   up=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), layers=2, mults=(1, 2, 2))),
}


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def diffusers_unet(spec: dict, width: int):
    from diffusers import UNet2DModel

    return UNet2DModel(sample_size=spec["sample_size"], in_channels=1, out_channels=1,
                       block_out_channels=tuple(width * m for m in spec["mults"]),
                       down_block_types=spec["down"], up_block_types=spec["up"],
                       layers_per_block=spec["layers"], norm_num_groups=8,
                       attention_head_dim=8)


def matched_diffusers(spec: dict, target: int):
    """The diffusers U-Net whose base width (a multiple of 8) brings its parameter count
    closest to ``target``."""
    candidates = [(abs(count(diffusers_unet(spec, w)) - target), w) for w in range(8, 257, 8)]
    return diffusers_unet(spec, min(candidates)[1])


def images_per_second(model, call, size: int, batch: int, repeats: int, *, train: bool,
                      calls: int) -> float:
    device = next(model.parameters()).device
    x = torch.randn(batch, 1, size, size, device=device)
    t = torch.randint(1, 1000, (batch,), device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run():
        for _ in range(calls):
            if train:
                loss = (call(model, x, t) - x).pow(2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            else:
                with torch.no_grad():
                    call(model, x, t)

    run()                                                        # warm-up
    return calls * batch / median_seconds(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", choices=sorted(CONFIGS), default=sorted(CONFIGS))
    parser.add_argument("--quick", action="store_true",
                        help="one repeat of a few calls each: a dry run of the steps")
    args = parser.parse_args()
    seed_everything(0)
    device = pick_device()
    repeats, calls = (1, 2) if args.quick else (args.repeats, 10)
    print(f"# device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {repeats}")
    print("| size | network | parameters | training (images/s) | sampling (images/s, 50 steps) |")
    print("|---|---|---:|---:|---:|")
    for size in args.sizes:
        config, spec = CONFIGS[size]
        ours = UNet(config).to(device)
        theirs = matched_diffusers(spec, count(ours)).to(device)
        pairs = [("diffusion_lite UNet", ours, lambda m, x, t: m(x, t)),
                 ("diffusers UNet2DModel", theirs, lambda m, x, t: m(x, t - 1).sample)]  # k = t - 1
        for name, model, call in pairs:
            train = images_per_second(model.train(), call, config.image_size, 128, repeats,
                                      train=True, calls=calls)
            sample = images_per_second(model.eval(), call, config.image_size, 256, repeats,
                                       train=False, calls=calls) / 50
            print(f"| {size} | {name} | {count(model):,} | {train:,.0f} | {sample:,.1f} |")


if __name__ == "__main__":
    main()
