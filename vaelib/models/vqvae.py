"""The VQ-VAE (van den Oord et al. 2017) on 28x28 binary images, with chapter 11's convolutions.

* :class:`VQEncoder`: ``x`` ``[batch, 784]`` -> 28x28x1 -> conv 3x3 stride 2 (``c1``) ->
  conv 3x3 stride 2 (``c2``) -> conv 3x3 stride 1 to ``code_size`` channels (no ReLU):
  ``z_e`` ``[batch, 7, 7, code_size]``, one vector per position of a 7x7 grid.
* :class:`vaelib.models.quantizer.VectorQuantizer` replaces each vector by its nearest code.
* :class:`VQDecoder`: ``[batch, 7, 7, code_size]`` -> transposed conv 3x3 stride 2 (``c2``) ->
  transposed conv 3x3 stride 2 (``c1``) -> transposed conv 3x3 stride 1 to one channel:
  ``x_logits`` ``[batch, 784]`` of a Bernoulli decoder on binarized pixels (as in chapters
  6-12; chapter 11 also has other likelihoods).

:func:`vq_loss` is van den Oord et al.'s objective, ``-log p(x | z_q) + ||sg(z_e) - z_q||^2 +
beta ||z_e - sg(z_q)||^2`` per image (the reconstruction summed over pixels, the two
distances over the grid's positions and the code's coordinates). With ``ema_decay`` the
codebook follows its assignments instead (the codebook term is dropped).

**What its "ELBO" is** (:func:`vq_bound`). The encoder's approximate posterior is a point
mass on the code grid ``c(x)``, so its entropy is 0 and ``KL(q(c|x) || p(c)) =
-log p(c(x))``. The bound ``log p(x | c(x)) + log p(c(x)) <= log p(x)`` holds for the
generative model ``p(c) p(x|c)``: with the uniform prior of training it is
``log p(x | c(x)) - 49 log K``; with a learned prior over codes
(:class:`vaelib.models.code_prior.PixelCNNPrior`) it is a bound on the likelihood of another
model (the same decoder, that prior), in nats like the ELBOs of chapters 6-12 on binarized
images. Either bound is loose by exactly ``-log p(c(x) | x)``.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from vaelib import validation
from vaelib.models.conv import Conv
from vaelib.models.distributions import bernoulli_log_prob
from vaelib.models.quantizer import Quantized, VectorQuantizer

__all__ = ["VQVAEConfig", "VQEncoder", "VQDecoder", "VQVAE", "vq_loss", "vq_bound"]

GRID = (7, 7)  # two stride-2 convolutions on 28x28


@dataclasses.dataclass(frozen=True)
class VQVAEConfig:
    """Sizes and training options of a VQ-VAE on 28x28 single-channel images.

    Attributes:
      channels: the two stride-2 convolutions' channels, encoder order (the decoder mirrors).
      code_size: ``D``, the channels of ``z_e`` and the size of each code.
      num_codes: ``K``, the codebook's size.
      commitment: ``beta``, the commitment loss's weight (van den Oord et al. use 0.25).
      ema_decay: ``None``: the codebook trains by gradient (codebook loss); a number in
        ``[0, 1)``: by exponential moving averages.
      seed: initialization seed.
    """

    channels: tuple[int, int] = (32, 64)
    code_size: int = 16
    num_codes: int = 64
    commitment: float = 0.25
    ema_decay: float | None = None
    seed: int = 0
    input_size: int = dataclasses.field(default=784, init=False)

    def __post_init__(self):
        def set_field(field, value):
            return object.__setattr__(self, field, value)

        set_field("channels", validation.integers("channels", self.channels, length=2))
        set_field("code_size", validation.positive_int("code_size", self.code_size))
        set_field("num_codes", validation.positive_int("num_codes", self.num_codes))
        set_field("commitment", validation.real("commitment", self.commitment, minimum=0.0))
        if self.ema_decay is not None and not 0.0 <= float(self.ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be None or in [0, 1), got {self.ema_decay!r}")
        set_field("seed", validation.integer("seed", self.seed))

    def describe(self) -> str:
        """One line for a protocol card."""
        c1, c2 = self.channels
        codebook = (
            "codebook by gradient"
            if self.ema_decay is None
            else (f"codebook by EMA (decay {self.ema_decay:g})")
        )
        return (
            f"encoder conv 3x3/2 {c1} - conv 3x3/2 {c2} - conv 3x3/1 {self.code_size} "
            f"(7x7 grid), {self.num_codes} codes of {self.code_size}, decoder deconv 3x3/2 "
            f"{c2} - deconv 3x3/2 {c1} - deconv 3x3/1 (Bernoulli logits), relu; "
            f"beta {self.commitment:g}, {codebook}"
        )


class VQEncoder(tf.Module):
    """``x`` ``[batch, 784]`` -> ``z_e`` ``[batch, 7, 7, code_size]``."""

    def __init__(self, config: VQVAEConfig, name: str | None = None):
        super().__init__(name=name)
        c1, c2 = config.channels
        with self.name_scope:
            self.conv1 = Conv(1, c1, 2, seed=config.seed, name="conv1")
            self.conv2 = Conv(c1, c2, 2, seed=config.seed + 1, name="conv2")
            self.proj = Conv(c2, config.code_size, 1, relu=False, seed=config.seed + 2, name="proj")

    @tf.Module.with_name_scope
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        h = tf.reshape(tf.convert_to_tensor(x, tf.float32), [-1, 28, 28, 1])
        return self.proj(self.conv2(self.conv1(h)))


class VQDecoder(tf.Module):
    """``[batch, 7, 7, code_size]`` -> ``x_logits`` ``[batch, 784]``."""

    def __init__(self, config: VQVAEConfig, name: str | None = None):
        super().__init__(name=name)
        c1, c2 = config.channels
        with self.name_scope:
            self.deconv1 = Conv(
                config.code_size, c2, 2, transpose=True, seed=config.seed + 100, name="deconv1"
            )
            self.deconv2 = Conv(c2, c1, 2, transpose=True, seed=config.seed + 101, name="deconv2")
            self.out = Conv(
                c1, 1, 1, transpose=True, relu=False, seed=config.seed + 102, name="out"
            )

    @tf.Module.with_name_scope
    def __call__(self, z: tf.Tensor) -> tf.Tensor:
        h = self.out(self.deconv2(self.deconv1(tf.convert_to_tensor(z, tf.float32))))
        return tf.reshape(h, [-1, 784])


class VQVAE(tf.Module):
    """Encoder, quantizer and decoder (see the module's docstring).

    Calling it on ``x`` ``[batch, 784]`` returns ``(x_logits, quantized)``; with
    ``training=True`` and an EMA codebook, the call also moves the codebook (as Sonnet's
    ``VectorQuantizerEMA`` does), so a training step needs nothing else.
    """

    def __init__(self, config: VQVAEConfig, name: str | None = None):
        super().__init__(name=name)
        self.config = config
        with self.name_scope:
            self.encoder = VQEncoder(config)
            self.quantizer = VectorQuantizer(
                config.num_codes,
                config.code_size,
                seed=config.seed + 50,
                ema_decay=config.ema_decay,
            )
            self.decoder = VQDecoder(config)

    def check_input(self, x) -> tf.Tensor:
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape.rank != 2 or x.shape[-1] != 784:
            raise ValueError(f"x must be [batch, 784] (flattened 28x28 images), got {x.shape}")
        return x

    def codes(self, x) -> tf.Tensor:
        """``[batch, 7, 7]`` int32: each position's code."""
        return self.quantizer.nearest(self.encoder(self.check_input(x)))

    def decode_codes(self, codes) -> tf.Tensor:
        """``x_logits`` ``[batch, 784]`` from a grid of codes ``[batch, 7, 7]``."""
        return self.decoder(self.quantizer.lookup(codes))

    def __call__(self, x, training: bool = False) -> tuple[tf.Tensor, Quantized]:
        z_e = self.encoder(self.check_input(x))
        quantized = self.quantizer(z_e)
        if training and self.config.ema_decay is not None:
            self.quantizer.ema_update(z_e, quantized.codes)
        return self.decoder(quantized.z_q_st), quantized


def vq_loss(model: VQVAE, x) -> dict[str, tf.Tensor]:
    """``loss_fn(model, x)`` for :func:`vaelib.fit`: van den Oord et al.'s objective.

    Returns batch means: ``loss``; ``log_px_z`` (nats per image); ``codebook_loss`` and
    ``commitment_loss`` (per image); ``perplexity`` of the batch's codes; ``elbo_uniform``,
    ``log_px_z - 49 log K``, the bound under the uniform prior over codes.
    """
    x = model.check_input(x)
    x_logits, q = model(x, training=True)
    log_px_z = tf.reduce_mean(bernoulli_log_prob(x, x_logits))
    loss = -log_px_z + model.config.commitment * q.commitment_loss
    if model.config.ema_decay is None:
        loss += q.codebook_loss
    k = model.config.num_codes
    frequencies = tf.reduce_mean(tf.one_hot(tf.reshape(q.codes, [-1]), k), axis=0)
    entropy = -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(frequencies), frequencies))
    return {
        "loss": loss,
        "log_px_z": log_px_z,
        "codebook_loss": q.codebook_loss,
        "commitment_loss": q.commitment_loss,
        "perplexity": tf.exp(entropy),
        "elbo_uniform": log_px_z - GRID[0] * GRID[1] * math.log(k),
    }


vq_loss.num_samples = 1


def vq_bound(model: VQVAE, x, prior=None) -> dict[str, tf.Tensor]:
    """Per image: ``log_px_z = log p(x | c(x))``, ``log_pc = log p(c(x))`` and their sum
    ``bound`` (a lower bound on ``log p(x)``; see the module's docstring), each ``[batch]``.

    Args:
      model: a trained :class:`VQVAE`.
      x: ``[batch, 784]`` binary images.
      prior: anything with ``log_prob(codes)`` for ``[batch, 7, 7]`` grids, such as
        :class:`vaelib.models.code_prior.PixelCNNPrior`; ``None``: the uniform prior,
        ``-49 log K``.
    """
    x = model.check_input(x)
    codes = model.codes(x)
    log_px_z = bernoulli_log_prob(x, model.decode_codes(codes))
    if prior is None:
        size = GRID[0] * GRID[1] * math.log(model.config.num_codes)
        log_pc = tf.fill(tf.shape(log_px_z), -size)
    else:
        log_pc = tf.convert_to_tensor(prior.log_prob(codes), log_px_z.dtype)
    return {"log_px_z": log_px_z, "log_pc": log_pc, "bound": log_px_z + log_pc}
