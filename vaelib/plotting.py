"""Figures the chapters share. Every function returns ``(fig, ax)`` and saves nothing."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["image_grid", "plot_curves"]


def image_grid(images, ncols: int = 10, *, ax=None, title: str | None = None,
               row_labels: Sequence[str] | None = None, cmap: str = "gray_r"):
    """Tiles images into one picture.

    Args:
      images: ``[N, 28, 28]`` or ``[N, 784]``, uint8 (0..255) or float (0..1); a
        TensorFlow tensor is accepted.
      ncols: images per row.
      ax: axes to draw into; a new figure when ``None``.
      title: axes title.
      row_labels: one label per row, written at the left.
      cmap: colour map (``"gray_r"``: ink is dark).

    Returns:
      ``(fig, ax)``.
    """
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3:
        raise ValueError(f"images must be [N, 28, 28] or [N, 784], got shape {images.shape}")
    if ncols <= 0:
        raise ValueError(f"ncols must be positive, got {ncols}")
    images = images.astype(np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)
    n, h, w = images.shape
    nrows = -(-n // ncols)
    canvas = np.ones((nrows * (h + 2), ncols * (w + 2)), np.float32) * np.nan
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + 2) + 1: r * (h + 2) + 1 + h, c * (w + 2) + 1: c * (w + 2) + 1 + w] = image
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.6 * ncols + 0.5, 0.6 * nrows + 0.4))
    else:
        fig = ax.figure
    ax.imshow(canvas, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([] if row_labels is None else [r * (h + 2) + h / 2 for r in range(nrows)])
    if row_labels is not None:
        ax.set_yticklabels(row_labels)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return fig, ax


def plot_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, ax=None,
                xlabel: str = "step", ylabel: str = "", title: str | None = None,
                logy: bool = False):
    """Plots named curves given as ``{label: (xs, ys)}`` on one axes; returns ``(fig, ax)``."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig, ax
