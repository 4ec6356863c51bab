"""Figures the chapters share. Every function returns ``(fig, ax)`` and saves nothing."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from vaelib import validation

__all__ = ["image_grid", "plot_curves", "latent_grid", "latent_scatter", "LINE_STYLES"]

LINE_STYLES = ("-", "--", ":", "-.")  # a second carrier besides colour, for plot_curves


def image_grid(
    images,
    ncols: int = 10,
    *,
    ax=None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    cmap: str = "gray_r",
):
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
    ncols = validation.positive_int("ncols", ncols)
    images = images.astype(np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)
    n, h, w = images.shape
    nrows = -(-n // ncols)
    canvas = np.ones((nrows * (h + 2), ncols * (w + 2)), np.float32) * np.nan
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = image
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


def plot_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    ax=None,
    xlabel: str = "step",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
):
    """Plots named curves given as ``{label: (xs, ys)}`` on one axes; returns ``(fig, ax)``.

    Each curve gets its own line style as well as its own colour (solid, dashed, dotted,
    dash-dot, then again), so the legend can be read without telling colours apart.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    for i, (label, (xs, ys)) in enumerate(curves.items()):
        ax.plot(xs, ys, label=label, linestyle=LINE_STYLES[i % len(LINE_STYLES)])
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


def latent_grid(decoder, *, n: int = 15, span: float = 2.5, ax=None):
    """Decodes a regular grid of a 2-D latent space into a picture of digits.

    The grid runs over ``[-span, span]^2`` in ``z``; under the N(0, I) prior,
    2.5 standard deviations cover about 99% of each axis.

    Args:
      decoder: maps ``z`` ``[m, 2]`` to ``x_logits`` ``[m, 784]``.
      n: grid points per axis.
      span: half-width of the grid.
      ax: axes to draw into.

    Returns:
      ``(fig, ax)``.
    """
    n = validation.positive_int("n", n)
    span = validation.real("span", span, positive=True)
    axis = np.linspace(-span, span, n, dtype=np.float32)
    z = np.stack(np.meshgrid(axis, axis[::-1]), -1).reshape(-1, 2)  # row-major, z2 decreasing down
    probs = 1.0 / (1.0 + np.exp(-np.asarray(decoder(z))))
    fig, ax = image_grid(probs, ncols=n, ax=ax)
    ax.set_xlabel(f"$z_1$ from {-span} to {span}")
    ax.set_ylabel(f"$z_2$ from {span} to {-span}")
    return fig, ax


def latent_scatter(z, labels, *, ax=None, title: str | None = None, annotate: bool = True):
    """Scatters 2-D codes coloured by integer label; returns ``(fig, ax)``.

    Colour is not the only carrier of the label: with ``annotate`` each label is also
    written, in black on a white outline, at the median code of its points, so a reader
    who cannot tell the colours apart still sees where each class sits.

    Args:
      z: ``[N, 2]`` codes.
      labels: ``[N]`` integer labels in 0..9 (digit classes).
      ax: axes to draw into; a new figure when ``None``.
      title: axes title.
      annotate: write each label at its points' median.

    Raises:
      ValueError: ``z`` not ``[N, 2]``, or ``labels`` not ``[N]``.
    """
    z = np.asarray(z)
    labels = np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape [N, 2], got {z.shape}")
    if labels.shape != (z.shape[0],):
        raise ValueError(
            f"labels must have shape [{z.shape[0]}] (one per code), got {labels.shape}"
        )
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 4.4))
    else:
        fig = ax.figure
    points = ax.scatter(
        z[:, 0], z[:, 1], c=labels, cmap="tab10", s=6, alpha=0.8, vmin=-0.5, vmax=9.5
    )
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    if annotate:
        from matplotlib import patheffects

        outline = [patheffects.withStroke(linewidth=3, foreground="white")]
        for label in np.unique(labels):
            x_med, y_med = np.median(z[labels == label], axis=0)
            ax.text(
                x_med, y_med, str(label), ha="center", va="center", fontsize=12,
                fontweight="bold", color="black", path_effects=outline,
            )  # fmt: skip
    ax.set(xlabel="$z_1$", ylabel="$z_2$")
    if title:
        ax.set_title(title)
    return fig, ax
