"""The likelihood interface and the course's own Bernoulli decoder (chapters 6-11).

A decoder's output is a tensor of *parameters* ``x_params`` ``[..., num_params * D]``:
``num_params`` blocks of ``D`` pixels each. A :class:`Likelihood` turns it into a
distribution over ``x`` ``[..., D]`` (see :mod:`vaelib.likelihoods` for the table of all
four). :class:`Bernoulli`'s ``log_prob`` *is* :func:`vaelib.bernoulli_log_prob`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import tensorflow as tf

from vaelib.models.distributions import bernoulli_log_prob


def _split(x_params: tf.Tensor, num: int) -> list[tf.Tensor]:
    x_params = tf.convert_to_tensor(x_params, tf.float32)
    return [x_params] if num == 1 else tf.split(x_params, num, axis=-1)


def _check_seed(seed) -> tf.Tensor:
    seed = tf.convert_to_tensor(seed)
    if seed.dtype not in (tf.int32, tf.int64) or seed.shape != (2,):
        raise ValueError(f"seed must be two ints, e.g. [0, 1], got {seed!r}")
    return seed


@dataclasses.dataclass(frozen=True)
class Likelihood:
    """The interface every decoder likelihood implements (see the module docstring)."""

    name: ClassVar[str] = ""
    num_params: ClassVar[int] = 1
    #: what each of the ``num_params`` blocks holds, in order (for protocol cards)
    param_names: ClassVar[tuple[str, ...]] = ("logits",)
    support: ClassVar[str] = ""

    def log_prob(self, x: tf.Tensor, x_params: tf.Tensor) -> tf.Tensor:
        """``log p(x|z)``: ``x`` ``[..., D]`` broadcast against ``x_params``
        ``[..., num_params * D]``; returns ``[...]``, nats, summed over pixels."""
        raise NotImplementedError

    def sample(self, x_params: tf.Tensor, seed) -> tf.Tensor:
        """One draw of every pixel, ``[..., D]``; ``seed`` is two ints (stateless)."""
        raise NotImplementedError

    def mean(self, x_params: tf.Tensor) -> tf.Tensor:
        """``E[x|z]``, ``[..., D]``."""
        raise NotImplementedError

    def check_values(self, x: tf.Tensor) -> None:
        """Raises ``ValueError`` when finite pixels ``x`` (eager) lie outside the support."""
        low, high = float(tf.reduce_min(x)), float(tf.reduce_max(x))
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"x must lie in [0, 1] (pixels of a {self.name} likelihood), got values "
                f"from {low:g} to {high:g}; scale 0..255 images with vaelib.binarize "
                "(or vaelib.likelihoods.grey_levels / dequantize)"
            )


@dataclasses.dataclass(frozen=True)
class Bernoulli(Likelihood):
    """``p(x|z) = prod_i sigmoid(l_i)^x_i (1 - sigmoid(l_i))^(1 - x_i)``, ``x_i`` in {0, 1}.

    ``x_params`` are the logits ``l`` (``x_logits``). On grey values in [0, 1] the same
    formula is a cross-entropy, not a log-likelihood: its integral over [0, 1] is not 1.
    """

    name: ClassVar[str] = "Bernoulli"
    num_params: ClassVar[int] = 1
    support: ClassVar[str] = "binary pixels {0, 1}"

    def log_prob(self, x, x_params):
        return bernoulli_log_prob(x, x_params)

    def sample(self, x_params, seed):
        p = tf.sigmoid(tf.convert_to_tensor(x_params, tf.float32))
        u = tf.random.stateless_uniform(tf.shape(p), seed=_check_seed(seed))
        return tf.cast(u < p, tf.float32)

    def mean(self, x_params):
        return tf.sigmoid(tf.convert_to_tensor(x_params, tf.float32))
