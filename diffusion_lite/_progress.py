"""The progress bar of every loop in the package."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(iterable, *, desc: str, enabled: bool):
    """A tqdm bar (a widget in Jupyter, text elsewhere) that redraws at most once a second:
    a long loop then sends a few dozen updates to the notebook instead of thousands."""
    return tqdm(iterable, desc=desc, disable=not enabled, mininterval=1.0)
