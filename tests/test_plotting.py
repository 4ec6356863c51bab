"""Plot helpers return (fig, ax), draw what they are given, and save nothing."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from vaelib import plotting


def test_image_grid_tiles_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images = np.zeros((12, 28, 28), np.uint8)
    images[5] = 255
    fig, ax = plotting.image_grid(images, ncols=5)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (3 * 30, 5 * 30)
    assert np.nanmax(canvas[1:29, 1:29]) == 0.0 and np.nanmax(canvas[31:59, 1:29]) == 1.0  # image 5
    assert list(tmp_path.iterdir()) == []


def test_image_grid_accepts_flat_floats_and_rejects_bad_shapes():
    fig, ax = plotting.image_grid(np.full((3, 784), 0.5, np.float32), ncols=3)
    assert np.nanmax(ax.images[0].get_array()) == 0.5
    with pytest.raises(ValueError, match=r"\[N, 28, 28\] or \[N, 784\]"):
        plotting.image_grid(np.zeros((3, 100)))


def test_latent_grid_decodes_a_regular_grid():
    seen = []

    def decoder(z):
        seen.append(z)
        return np.zeros((len(z), 784), np.float32)

    fig, ax = plotting.latent_grid(decoder, n=4, span=1.0)
    z = seen[0]
    assert z.shape == (16, 2)
    assert z[0].tolist() == [-1.0, 1.0] and z[-1].tolist() == [1.0, -1.0]


def test_latent_scatter_and_curves():
    fig, ax = plotting.latent_scatter(np.zeros((5, 2)), np.arange(5))
    assert len(ax.collections[0].get_offsets()) == 5
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        plotting.latent_scatter(np.zeros((5, 3)), np.arange(5))
    with pytest.raises(ValueError, match="labels must have shape"):
        plotting.latent_scatter(np.zeros((5, 2)), np.arange(4))
    fig, ax = plotting.plot_curves({"a": ([1, 2], [3, 4]), "b": ([1, 2], [4, 5])}, logy=True)
    assert len(ax.get_lines()) == 2 and ax.get_yscale() == "log"


def test_latent_scatter_writes_each_label_at_its_median():
    """Colour is not the only carrier: each class's label sits at its points' median."""
    rng = np.random.default_rng(0)
    labels = np.repeat([3, 7], 50)
    centres = np.where(labels[:, None] == 3, [-2.0, 1.0], [2.0, -1.0])
    z = centres + rng.normal(0, 0.1, size=(100, 2))
    fig, ax = plotting.latent_scatter(z, labels)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert set(texts) == {"3", "7"}
    for label in (3, 7):
        assert np.allclose(texts[str(label)], np.median(z[labels == label], axis=0))
    fig, ax = plotting.latent_scatter(z, labels, annotate=False)
    assert not ax.texts


def test_plot_curves_gives_each_curve_its_own_line_style():
    curves = {name: ([1, 2], [i, i + 1]) for i, name in enumerate("abcde")}
    fig, ax = plotting.plot_curves(curves)
    styles = [line.get_linestyle() for line in ax.get_lines()]
    assert styles[:4] == ["-", "--", ":", "-."] and styles[4] == "-"
    assert len(set(styles[:4])) == 4
