"""An autoregressive prior over a grid of discrete codes (PixelCNN-style; van den Oord et al.
2016), the prior that lets a VQ-VAE generate.

``log p(c) = sum_i log p(c_i | c_<i)`` over the grid's positions in raster order (row by row,
left to right). Each conditional comes from masked convolutions (van den Oord et al. 2016,
"Pixel recurrent neural networks"): a filter's weights at the positions that come at or after
the centre in raster order are zeroed,

* mask **A** (the first layer) also zeroes the centre, so position ``i`` sees only ``c_<i``;
* mask **B** (later layers) keeps the centre, which by then holds only information from
  ``c_<i``.

A stack of small masked filters has a *blind spot* (positions above and to the right that no
path reaches; Gated PixelCNN's two stacks remove it). Here the first filter spans the whole
grid (``2 * size - 1`` on each side), so every earlier position reaches every later one
directly and there is no blind spot; the later layers are 3x3 mask-B convolutions with
residual connections, and a 1x1 convolution gives ``K`` logits per position. Tests check the
order (no later code influences a position, every earlier one does), that the probabilities
of all grids sum to 1 on a small grid, and that samples have the model's probabilities.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from vaelib import validation

__all__ = ["raster_mask", "MaskedConv", "PixelCNNPrior", "code_prior_loss"]


def raster_mask(kernel_size: int, kind: str) -> np.ndarray:
    """``[k, k]`` of 0/1: 1 at the filter positions before the centre in raster order (and at
    the centre for ``kind="B"``)."""
    if kind not in ("A", "B"):
        raise ValueError(f"kind must be 'A' or 'B', got {kind!r}")
    k = validation.positive_int("kernel_size", kernel_size)
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a filter with a centre), got {k}")
    c = k // 2
    mask = np.zeros((k, k), np.float32)
    mask[:c, :] = 1.0
    mask[c, :c] = 1.0
    if kind == "B":
        mask[c, c] = 1.0
    return mask


class MaskedConv(tf.Module):
    """A ``k x k`` convolution (stride 1, ``SAME`` padding) whose filter is masked in raster
    order (:func:`raster_mask`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        kind: str,
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.mask = tf.constant(raster_mask(kernel_size, kind)[:, :, None, None])
        fan_in = int(self.mask.numpy().sum()) * in_channels
        limit = (6.0 / (fan_in + out_channels)) ** 0.5
        with self.name_scope:
            self.w = tf.Variable(
                tf.random.stateless_uniform(
                    [kernel_size, kernel_size, in_channels, out_channels],
                    seed=[seed, 1],
                    minval=-limit,
                    maxval=limit,
                ),
                name="w",
            )
            self.b = tf.Variable(tf.zeros([out_channels]), name="b")

    def __call__(self, h: tf.Tensor) -> tf.Tensor:
        """``[n, H, W, in]`` -> ``[n, H, W, out]``."""
        return tf.nn.conv2d(h, self.w * self.mask, 1, padding="SAME") + self.b


class PixelCNNPrior(tf.Module):
    """``p(c)`` over ``[height, width]`` grids of codes in ``[0, num_codes)``.

    Args:
      num_codes: ``K``.
      grid: ``(height, width)`` of the code grid (7x7 for chapter 11's encoder on MNIST).
      embed_size: each code's learned embedding, the first layer's input.
      hidden: channels of the hidden layers.
      num_layers: 3x3 mask-B residual layers after the first (whole-grid, mask-A) one.
      seed: of the initial weights.
    """

    def __init__(
        self,
        num_codes: int,
        grid: tuple[int, int] = (7, 7),
        embed_size: int = 32,
        hidden: int = 128,
        num_layers: int = 3,
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.num_codes = validation.positive_int("num_codes", num_codes)
        self.grid = tuple(validation.integers("grid", grid, length=2))
        embed_size = validation.positive_int("embed_size", embed_size)
        hidden = validation.positive_int("hidden", hidden)
        num_layers = validation.integer("num_layers", num_layers, minimum=0)
        first = 2 * max(self.grid) - 1  # spans the grid from any position: no blind spot
        with self.name_scope:
            self.embedding = tf.Variable(
                tf.random.stateless_normal([num_codes, embed_size], seed=[seed, 0]),
                name="embedding",
            )
            self.first = MaskedConv(embed_size, hidden, first, "A", seed=seed + 1, name="first")
            self.layers = [
                MaskedConv(hidden, hidden, 3, "B", seed=seed + 2 + i, name=f"layer{i}")
                for i in range(num_layers)
            ]
            self.out = MaskedConv(hidden, num_codes, 1, "B", seed=seed + 99, name="out")

    def check_codes(self, codes) -> tf.Tensor:
        """``codes`` as int32 ``[n, height, width]``; a clear error otherwise."""
        codes = tf.convert_to_tensor(codes)
        if not codes.dtype.is_integer:
            raise ValueError(f"codes must be integers, got {codes.dtype.name}")
        if codes.shape.rank != 3 or tuple(codes.shape[1:]) != self.grid:
            raise ValueError(
                f"codes must be [n, {self.grid[0]}, {self.grid[1]}] (the prior's grid), got "
                f"shape {codes.shape}"
            )
        codes = tf.cast(codes, tf.int32)
        tf.debugging.assert_non_negative(codes, message="codes must be >= 0")
        tf.debugging.assert_less(
            codes, self.num_codes, message=f"codes must be below num_codes = {self.num_codes}"
        )
        return codes

    def logits_from_embedded(self, e: tf.Tensor) -> tf.Tensor:
        """``[n, H, W, embed_size]`` -> logits ``[n, H, W, K]`` of each position's code given
        the earlier ones (exposed so that tests can differentiate through the inputs)."""
        h = tf.nn.relu(self.first(e))
        for layer in self.layers:
            h = h + tf.nn.relu(layer(h))
        return self.out(h)

    def logits(self, codes) -> tf.Tensor:
        """``[n, H, W, K]``: the logits of ``p(c_i | c_<i)`` at every position."""
        codes = self.check_codes(codes)
        return self.logits_from_embedded(tf.gather(self.embedding, codes))

    def log_prob(self, codes) -> tf.Tensor:
        """``[n]``: ``log p(c)`` in nats, summed over the grid."""
        codes = self.check_codes(codes)
        logits = self.logits_from_embedded(tf.gather(self.embedding, codes))
        per_position = -tf.nn.sparse_softmax_cross_entropy_with_logits(codes, logits)
        return tf.reduce_sum(per_position, axis=[1, 2])

    def sample(self, n: int, seed: int = 0, temperature: float = 1.0) -> tf.Tensor:
        """``[n, H, W]`` int32 grids drawn position by position (``H * W`` passes).

        ``temperature`` divides the logits (1: the model's distribution).
        """
        n = validation.positive_int("n", n)
        temperature = validation.real("temperature", temperature, positive=True)
        seed = validation.integer("seed", seed, minimum=0)
        return self._sample(tf.constant(n), tf.constant([seed, 0]), tf.constant(temperature))

    @tf.function(reduce_retracing=True)
    def _sample(self, n, seed, temperature):
        height, width = self.grid
        codes = tf.zeros(tf.stack([n, height, width]), tf.int32)
        for i in range(height):  # unrolled: H * W small passes
            for j in range(width):
                logits = self.logits_from_embedded(tf.gather(self.embedding, codes))[:, i, j]
                draw = tf.random.stateless_categorical(
                    logits / temperature, 1, seed=seed + tf.constant([0, 1]) * (i * width + j)
                )[:, 0]
                position = tf.one_hot(i * width + j, height * width, dtype=tf.int32)
                update = (
                    tf.reshape(position, [1, height, width])
                    * tf.cast(draw, tf.int32)[:, None, None]
                )
                codes = codes + update
        return codes


def code_prior_loss(prior: PixelCNNPrior) -> Callable:
    """``loss_fn(model, codes)`` for :func:`vaelib.fit`: ``-mean log p(c)`` in nats per grid,
    with the metrics ``log_prob`` (batch mean) and ``nats_per_code``. ``model`` is the prior
    (pass the same one to ``fit``)."""

    def loss_fn(model, codes):
        log_p = model.log_prob(codes)
        mean = tf.reduce_mean(log_p)
        per_code = -mean / float(prior.grid[0] * prior.grid[1])
        return {"loss": -mean, "log_prob": mean, "nats_per_code": per_code}

    loss_fn.num_samples = 1
    return loss_fn
