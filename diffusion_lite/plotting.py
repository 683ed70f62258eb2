"""Figures and animations used across the book. Animations use ``to_jshtml`` so that they
play in the static rendered book, without a running kernel."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib import animation

from ._validate import check_tensor


def _image_grid(images: torch.Tensor, nrow: int) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> one (H', W', C) array in [0, 1], 1-pixel gaps."""
    images = ((images.detach().float().cpu().clamp(-1, 1) + 1) / 2)
    b, c, h, w = images.shape
    ncol = math.ceil(b / nrow)
    grid = torch.ones(c, nrow * (h + 1) - 1, ncol * (w + 1) - 1)
    for i, image in enumerate(images):
        r, col = divmod(i, ncol)
        grid[:, r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = image
    return grid.permute(1, 2, 0)                                     # (H', W', C)


def show_images(images: torch.Tensor, *, nrow: int = 1, title: str | None = None, ax=None,
                figsize_per_row: float = 2.0):
    """Show a (B, C, H, W) batch in [-1, 1] as a grid with ``nrow`` rows. Returns the axes."""
    check_tensor("images", images, ndim=4, finite=False)
    grid = _image_grid(images, nrow)
    if ax is None:
        aspect = grid.shape[1] / grid.shape[0]
        _, ax = plt.subplots(figsize=(figsize_per_row * nrow * aspect, figsize_per_row * nrow))
    grid = grid.squeeze(-1) if grid.shape[-1] == 1 else grid
    ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_points(points: torch.Tensor, *, ax=None, title: str | None = None, lim: float = 3.0,
                size: float = 2.0, alpha: float = 0.5, **kwargs):
    """Scatter a (N, 2) point set on square axes of half-width ``lim``. Returns the axes."""
    check_tensor("points", points, ndim=2, finite=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.2))
    points = points.detach().float().cpu().numpy()
    ax.scatter(points[:, 0], points[:, 1], s=size, alpha=alpha, **kwargs)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_schedule(schedules: dict, *, axes=None):
    """Plot alpha_bar_t and log SNR(t) against t for a dict of named schedules. Returns the axes."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, schedule in schedules.items():
        t = schedule.steps                                          # 1 ... T
        alpha_bars, snr = schedule.alpha_bars.cpu(), schedule.snr().cpu()
        axes[0].plot(t.numpy(), alpha_bars[t].numpy(), label=name)
        axes[1].plot(t.numpy(), snr[t].log().numpy(), label=name)
    axes[0].set(xlabel="step $t$", ylabel=r"$\bar\alpha_t$", title="signal kept")
    axes[1].set(xlabel="step $t$", ylabel=r"$\log \mathrm{SNR}(t)$", title="log signal-to-noise ratio")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    return axes


def animate_points(trajectory: torch.Tensor, *, num_frames: int = 30, lim: float = 3.0,
                   title: str = "step", steps: list[int] | None = None,
                   background: torch.Tensor | None = None,
                   markers: torch.Tensor | None = None) -> animation.FuncAnimation:
    """Animate a (S, N, 2) trajectory of point sets, using ``num_frames`` evenly spaced states.
    ``steps`` labels each state (default: its index); ``background`` (M, 2) points are drawn in
    grey behind every frame (e.g. the data) and ``markers`` (K, 2) as black crosses (e.g. the
    modes)."""
    check_tensor("trajectory", trajectory, ndim=3, finite=False)
    index = torch.linspace(0, len(trajectory) - 1, min(num_frames, len(trajectory))).round().long()
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    if background is not None:
        check_tensor("background", background, ndim=2)
        ax.scatter(*background.T.cpu().numpy(), s=1, color="0.8")
    if markers is not None:
        check_tensor("markers", markers, ndim=2)
        ax.scatter(*markers.T.cpu().numpy(), marker="x", color="black", s=12)
    scatter = ax.scatter(*trajectory[0].T.cpu().numpy(), s=2, alpha=0.5)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$x_1$", ylabel="$x_2$")

    def draw(frame: int):
        i = int(index[frame])
        scatter.set_offsets(trajectory[i].cpu().numpy())
        ax.set_title(f"{title} {steps[i] if steps is not None else i}")
        return (scatter,)

    plt.close(fig)
    return animation.FuncAnimation(fig, draw, frames=len(index), interval=150, blit=False)


def animate_point_clouds(clouds: torch.Tensor, *, num_frames: int = 24, titles: list[str] | None = None,
                         lim: float = 1.5, size: float = 2.6) -> animation.FuncAnimation:
    """A turntable: K point clouds (K, N, 3) side by side, each rotating once about the vertical
    axis over ``num_frames`` frames (chapter 13)."""
    check_tensor("clouds", clouds, ndim=3)
    if clouds.shape[-1] != 3:
        raise ValueError(f"clouds: expected (K, N, 3) points in 3-D, got shape {tuple(clouds.shape)}")
    if titles is not None and len(titles) != len(clouds):
        raise ValueError(f"titles: expected {len(clouds)} titles, one per cloud, got {len(titles)}")
    fig = plt.figure(figsize=(size * len(clouds), size))
    axes = [fig.add_subplot(1, len(clouds), k + 1, projection="3d") for k in range(len(clouds))]
    for k, (ax, cloud) in enumerate(zip(axes, clouds.cpu().numpy())):
        ax.scatter(cloud[:, 0], cloud[:, 1], cloud[:, 2], s=3, c=cloud[:, 2], cmap="viridis")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim), xticks=[], yticks=[], zticks=[])
        ax.set_box_aspect((1, 1, 1))
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)

    def draw(frame: int):
        for ax in axes:
            ax.view_init(elev=25, azim=360 * frame / num_frames)
        return axes

    plt.close(fig)
    return animation.FuncAnimation(fig, draw, frames=num_frames, interval=120, blit=False)


def animate_images(frames: torch.Tensor, *, labels: list[str] | None = None,
                   size: float = 3.0) -> animation.FuncAnimation:
    """Animate a (S, C, H, W) sequence of images in [-1, 1], one per frame."""
    check_tensor("frames", frames, ndim=4, finite=False)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(_image_grid(frames[:1], 1).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()

    def draw(i: int):
        image.set_data(_image_grid(frames[i:i + 1], 1).squeeze(-1).numpy())
        ax.set_title(labels[i] if labels else f"frame {i}")
        return (image,)

    plt.close(fig)
    return animation.FuncAnimation(fig, draw, frames=len(frames), interval=200, blit=False)


# matplotlib's controls draw their icons with Font Awesome from a CDN; these characters need
# no network (the book's pages work offline, and so does a notebook without internet)
_CONTROL_GLYPHS = {"minus": "\u2212", "fast-backward": "|\u25c0\u25c0", "step-backward": "|\u25c0",
                   "play fa-flip-horizontal": "\u25c0", "pause": "||", "play": "\u25b6",
                   "step-forward": "\u25b6|", "fast-forward": "\u25b6\u25b6|", "plus": "+"}
_FONT_AWESOME_LINK = re.compile(r"<link[^>]*font-awesome[^>]*>\n?")
_CONTROL_ICON = re.compile(r'<i class="fa fa-([a-z -]+?)"></i>')


def to_jshtml(anim: animation.FuncAnimation):
    """An animation as HTML with play controls, which survives in the static book and works
    offline."""
    from IPython.display import HTML

    html = _FONT_AWESOME_LINK.sub("", anim.to_jshtml(default_mode="once"))
    return HTML(_CONTROL_ICON.sub(lambda m: _CONTROL_GLYPHS.get(m.group(1), m.group(0)), html))


def show_source(obj):
    """Display the source of a package function or class, with its file and lines."""
    from IPython.display import Markdown

    lines, start = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj))
    package_root = Path(__file__).resolve().parent.parent
    where = path.resolve().relative_to(package_root) if package_root in path.resolve().parents else path
    header = f"`{where}`, lines {start}–{start + len(lines) - 1}"
    return Markdown(f"{header}\n\n```python\n{''.join(lines)}```")
