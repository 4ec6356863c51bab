"""Vector quantization, the VQ-VAE's bottleneck (van den Oord et al. 2017).

Each encoder output ``z_e`` (a vector of ``code_size`` numbers) is replaced by its nearest
codebook vector: ``z_q = e_k`` with ``k = argmin_j ||z_e - e_j||^2`` over the ``num_codes``
rows of the codebook. The argmin has no gradient, so three terms train the model
(van den Oord et al., eq. 3):

* **straight-through** for the encoder: the decoder reads
  ``z_q_st = z_e + stop_gradient(z_q - z_e)``, which is ``z_q`` in the forward pass and passes
  the decoder's gradient with respect to ``z_q`` to ``z_e`` unchanged;
* the **codebook loss** ``||stop_gradient(z_e) - z_q||^2`` moves each chosen code towards the
  encoder outputs assigned to it (and nothing else);
* the **commitment loss** ``||z_e - stop_gradient(z_q)||^2`` (weighted by ``beta`` in the
  objective) keeps the encoder near the codes it chose (and moves nothing else).

Instead of the codebook loss the codebook can follow its assignments by exponential moving
averages (van den Oord et al., appendix A.1; Razavi et al. 2019): :meth:`VectorQuantizer.
ema_update`, with ``decay = 0`` one step of K-means on the batch for the codes that receive
vectors (a code that receives none moves to the origin). Codes that no encoder output chooses
(*dead codes*) are measured by :func:`code_usage` and can be restarted at encoder outputs
(:meth:`VectorQuantizer.restart_dead`).

The losses follow the book's convention for log-densities: per example (the first axis of
``z_e``), summed over everything else (an image's positions and each code's coordinates),
then averaged over the examples; for ``z_e`` of shape ``[n, code_size]`` that is the mean over
the vectors of the squared distance.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from vaelib import validation

__all__ = ["Quantized", "VectorQuantizer", "CodeUsage", "code_usage"]


def _per_example_mean(squares: tf.Tensor) -> tf.Tensor:
    """Summed over all axes but the first, averaged over the first."""
    per_example = tf.reduce_sum(tf.reshape(squares, [tf.shape(squares)[0], -1]), axis=1)
    return tf.reduce_mean(per_example)


@dataclasses.dataclass(frozen=True)
class Quantized:
    """What :class:`VectorQuantizer` returns for encoder outputs ``z_e`` ``[..., code_size]``.

    Attributes:
      z_q: ``[..., code_size]``, each vector's nearest code (no gradient reaches ``z_e``).
      z_q_st: ``[..., code_size]``, equal to ``z_q`` (up to rounding); its gradient flows to
        ``z_e`` unchanged (straight-through), so this is what the decoder reads.
      codes: ``[...]`` int32, the index of each vector's code.
      codebook_loss: ``[]``, ``||stop_gradient(z_e) - z_q||^2`` per example (summed over all
        but the first axis), averaged over the examples.
      commitment_loss: ``[]``, ``||z_e - stop_gradient(z_q)||^2``, the same way.
    """

    z_q: tf.Tensor
    z_q_st: tf.Tensor
    codes: tf.Tensor
    codebook_loss: tf.Tensor
    commitment_loss: tf.Tensor


class VectorQuantizer(tf.Module):
    """A codebook of ``num_codes`` vectors of ``code_size`` numbers.

    Args:
      num_codes: ``K``, the codebook's size.
      code_size: ``D``, the size of each code (the encoder's channels).
      seed: of the initial codebook, uniform in ``[-1/K, 1/K]`` (as common public
        reimplementations start it; the authors' Sonnet code uses a variance-scaling one).
      ema_decay: ``None`` (the default) trains the codebook by gradient, with the codebook
        loss; a number in ``[0, 1)`` makes the codebook a non-trainable variable that
        :meth:`ema_update` moves.
      epsilon: the Laplace smoothing of the EMA's counts, so that a code nobody chose is not
        divided by zero.
    """

    def __init__(
        self,
        num_codes: int,
        code_size: int,
        seed: int = 0,
        ema_decay: float | None = None,
        epsilon: float = 1e-5,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.num_codes = validation.positive_int("num_codes", num_codes)
        self.code_size = validation.positive_int("code_size", code_size)
        if ema_decay is not None and not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be None or in [0, 1), got {ema_decay!r}")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.epsilon = validation.real("epsilon", epsilon, positive=True)
        limit = 1.0 / self.num_codes
        init = tf.random.stateless_uniform(
            [self.num_codes, self.code_size], seed=[seed, 0], minval=-limit, maxval=limit
        )
        ema = self.ema_decay is not None
        self.codebook = tf.Variable(init, trainable=not ema, name="codebook")
        if ema:  # one pseudo-assignment per code, at the code itself
            self.ema_counts = tf.Variable(tf.ones([self.num_codes]), trainable=False, name="counts")
            self.ema_sums = tf.Variable(init, trainable=False, name="sums")

    def _flat(self, z_e: tf.Tensor) -> tf.Tensor:
        z_e = tf.convert_to_tensor(z_e, tf.float32)
        if z_e.shape.rank is None or z_e.shape.rank < 1 or z_e.shape[-1] != self.code_size:
            raise ValueError(
                f"z_e must be [..., code_size] with code_size = {self.code_size} (the "
                f"quantizer's), got shape {z_e.shape}"
            )
        return tf.reshape(z_e, [-1, self.code_size])

    def distances(self, z_e: tf.Tensor) -> tf.Tensor:
        """``[..., K]``: ``||z_e - e_k||^2`` for each vector and code."""
        flat = self._flat(z_e)
        d = (
            tf.reduce_sum(flat**2, axis=1, keepdims=True)
            - 2.0 * tf.matmul(flat, self.codebook, transpose_b=True)
            + tf.reduce_sum(self.codebook**2, axis=1)[None, :]
        )
        return tf.reshape(d, tf.concat([tf.shape(z_e)[:-1], [self.num_codes]], axis=0))

    def nearest(self, z_e: tf.Tensor) -> tf.Tensor:
        """``[...]`` int32: the index of each vector's nearest code (the first, on a tie)."""
        return tf.argmin(self.distances(z_e), axis=-1, output_type=tf.int32)

    def lookup(self, codes: tf.Tensor) -> tf.Tensor:
        """``[..., code_size]``: the codebook's rows at ``codes`` ``[...]``."""
        codes = tf.convert_to_tensor(codes)
        if not codes.dtype.is_integer:
            raise ValueError(f"codes must be integers, got {codes.dtype.name}")
        tf.debugging.assert_less(
            codes, self.num_codes, message=f"codes must be below num_codes = {self.num_codes}"
        )
        tf.debugging.assert_non_negative(codes, message="codes must be >= 0")
        return tf.gather(self.codebook, codes)

    def __call__(self, z_e: tf.Tensor) -> Quantized:
        """Quantizes ``z_e`` ``[n, ..., code_size]``; see :class:`Quantized`."""
        z_e = tf.convert_to_tensor(z_e, tf.float32)
        if z_e.shape.rank is not None and z_e.shape.rank < 2:
            raise ValueError(
                f"z_e must be [n, ..., code_size] (examples first), got shape {z_e.shape}"
            )
        codes = self.nearest(z_e)
        z_q = tf.gather(self.codebook, codes)
        codebook_loss = _per_example_mean((tf.stop_gradient(z_e) - z_q) ** 2)
        commitment = _per_example_mean((z_e - tf.stop_gradient(z_q)) ** 2)
        return Quantized(
            z_q=z_q,
            z_q_st=z_e + tf.stop_gradient(z_q - z_e),
            codes=codes,
            codebook_loss=codebook_loss,
            commitment_loss=commitment,
        )

    def ema_update(self, z_e: tf.Tensor, codes: tf.Tensor) -> None:
        """Moves each code towards the mean of the vectors assigned to it.

        ``counts <- decay counts + (1 - decay) n_k`` and ``sums <- decay sums + (1 - decay)
        sum_{i: code i = k} z_e_i``; the code is ``sums / counts`` with the counts Laplace
        smoothed (``(counts + eps) / (n + K eps) n``, ``n`` their total). With ``decay = 0``
        this is one step of K-means (Lloyd's) for the codes that receive vectors. A code nobody
        chooses keeps its vector while its count, shrinking by ``decay`` per update, stays well
        above ``epsilon``; below that the smoothing pulls it towards the origin.

        Args:
          z_e: ``[..., code_size]``, the encoder's outputs (not differentiated).
          codes: ``[...]``, their codes (``nearest(z_e)``).

        Raises:
          ValueError: the quantizer was built without ``ema_decay``.
        """
        if self.ema_decay is None:
            raise ValueError(
                "ema_update needs a quantizer built with ema_decay (this one trains its "
                "codebook by gradient, with the codebook loss)"
            )
        flat = tf.stop_gradient(self._flat(z_e))
        onehot = tf.one_hot(tf.reshape(codes, [-1]), self.num_codes, dtype=flat.dtype)
        decay = self.ema_decay
        self.ema_counts.assign(decay * self.ema_counts + (1 - decay) * tf.reduce_sum(onehot, 0))
        self.ema_sums.assign(
            decay * self.ema_sums + (1 - decay) * tf.matmul(onehot, flat, transpose_a=True)
        )
        n = tf.reduce_sum(self.ema_counts)
        smoothed = (self.ema_counts + self.epsilon) / (n + self.num_codes * self.epsilon) * n
        self.codebook.assign(self.ema_sums / smoothed[:, None])

    def restart_dead(self, z_e: tf.Tensor, counts, min_count: float = 1.0, seed: int = 0) -> int:
        """Moves every code used fewer than ``min_count`` times to a random encoder output.

        Args:
          z_e: ``[..., code_size]``, encoder outputs to draw the new codes from.
          counts: ``[K]``, how often each code was chosen (``code_usage(...).counts``).
          min_count: codes with ``counts < min_count`` are restarted.
          seed: of the draw (without replacement when there are enough vectors).

        Returns:
          how many codes were restarted. With EMA their statistics restart at the new vector.
        """
        flat = self._flat(z_e).numpy()
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != (self.num_codes,):
            raise ValueError(f"counts must have shape ({self.num_codes},), got {counts.shape}")
        dead = np.flatnonzero(counts < min_count)
        if dead.size == 0:
            return 0
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(flat), size=dead.size, replace=dead.size > len(flat))
        codebook = self.codebook.numpy()
        codebook[dead] = flat[pick]
        self.codebook.assign(codebook)
        if self.ema_decay is not None:
            sums, ema_counts = self.ema_sums.numpy(), self.ema_counts.numpy()
            ema_counts[dead] = 1.0
            sums[dead] = flat[pick]
            self.ema_counts.assign(ema_counts)
            self.ema_sums.assign(sums)
        return int(dead.size)


@dataclasses.dataclass(frozen=True)
class CodeUsage:
    """How a codebook is used on a set of vectors (:func:`code_usage`).

    Attributes:
      counts: ``[K]``, how many vectors chose each code.
      perplexity: ``exp`` of the entropy of the codes' frequencies, in ``[1, K]``: the number
        of equally used codes that would give the same entropy.
      dead: codes no vector chose.
    """

    counts: np.ndarray
    perplexity: float
    dead: int

    @property
    def num_codes(self) -> int:
        return len(self.counts)

    def __str__(self) -> str:
        return (
            f"{self.num_codes - self.dead} of {self.num_codes} codes used, perplexity "
            f"{self.perplexity:.1f}, {self.dead} dead"
        )


def code_usage(codes, num_codes: int) -> CodeUsage:
    """Counts, perplexity and dead codes of ``codes`` (ints in ``[0, num_codes)``, any shape)."""
    num_codes = validation.positive_int("num_codes", num_codes)
    codes = np.asarray(codes).reshape(-1)
    if codes.size == 0:
        raise ValueError("codes is empty: there is no usage to measure")
    if not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= num_codes:
        raise ValueError(f"codes must be integers in [0, {num_codes}), got {codes.dtype} values")
    counts = np.bincount(codes, minlength=num_codes)
    p = counts[counts > 0] / codes.size
    entropy = float(-np.sum(p * np.log(p)))
    dead = int(np.sum(counts == 0))
    return CodeUsage(counts=counts, perplexity=float(np.exp(entropy)), dead=dead)
