"""Decoder likelihoods p(x|z) as objects (chapter 11): Bernoulli, continuous Bernoulli,
Gaussian, discretized logistic.

The decoder's output is a tensor of *parameters* ``x_params`` ``[..., num_params * D]``:
``num_params`` blocks of ``D`` pixels each (block ``i`` is ``x_params[..., i*D:(i+1)*D]``).
A likelihood turns it into a distribution over ``x`` ``[..., D]`` with three methods:

* ``log_prob(x, x_params)``: ``log p(x|z)`` summed over pixels, ``[...]``, nats;
* ``sample(x_params, seed)``: one draw per pixel, ``[..., D]``;
* ``mean(x_params)``: ``E[x|z]``, ``[..., D]``.

============================  ======  ================================  =========================
likelihood                    blocks  data it models                    the decoder's blocks
============================  ======  ================================  =========================
:class:`Bernoulli`            1       binary pixels, {0, 1}             logits
:class:`ContinuousBernoulli`  1       grey pixels in [0, 1] (a density)  logits of lambda
:class:`Gaussian`             2       real pixels (a density)           mean, log variance
:class:`DiscretizedLogistic`  2       256 levels v / 255, v = 0..255    mean, log scale
============================  ======  ================================  =========================

:class:`Bernoulli` is the course's decoder (chapters 6-9); its ``log_prob`` *is*
:func:`vaelib.bernoulli_log_prob`, so the training step is the same program as
before. The continuous Bernoulli and the Gaussian are densities, so their
numbers are comparable with a discrete model's only on dequantized pixels
(:func:`dequantize`, :func:`bits_per_dim`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import tensorflow as tf

from vaelib import validation
from vaelib.data.dequantization import (  # noqa: F401 (re-exported: the old path)
    LOG_256,
    bits_per_dim,
    dequantize,
    dequantized_dataset,
    grey_levels,
)
from vaelib.models.continuous_bernoulli import (  # noqa: F401 (re-exported: the old path)
    _LANGEVIN,
    _LOG_X_COTH_X,
    _SERIES_BELOW,
    ContinuousBernoulli,
    _even_series,
    continuous_bernoulli_log_norm,
)
from vaelib.models.distributions import normal_log_prob
from vaelib.models.likelihood_base import (  # noqa: F401 (re-exported: the old path)
    Bernoulli,
    Likelihood,
    _check_seed,
    _split,
)

__all__ = [
    "Likelihood",
    "Bernoulli",
    "ContinuousBernoulli",
    "Gaussian",
    "DiscretizedLogistic",
    "LIKELIHOODS",
    "get_likelihood",
    "continuous_bernoulli_log_norm",
    "dequantize",
    "dequantized_dataset",
    "grey_levels",
    "bits_per_dim",
]


@dataclasses.dataclass(frozen=True)
class Gaussian(Likelihood):
    """``p(x|z) = N(x; mu(z), diag(exp(logvar(z))))``: a density on real pixels, with a
    variance the decoder learns per pixel and per code.

    ``x_params`` = ``[mu, logvar]`` (two blocks). Trained on raw grey levels (where
    many pixels are exactly 0) its density is unbounded (the variance can shrink to
    0 at a constant pixel); on dequantized pixels (:func:`dequantize`) it is a
    bounded, honest model of 8-bit images. ``min_logvar`` floors the log variance
    smoothly (``min_logvar + softplus(raw - min_logvar)``); ``None`` leaves it free.
    """

    min_logvar: float | None = None
    name: ClassVar[str] = "Gaussian"
    num_params: ClassVar[int] = 2
    param_names: ClassVar[tuple[str, ...]] = ("mu", "logvar")
    support: ClassVar[str] = "real pixels (a density)"

    def __post_init__(self):
        if self.min_logvar is not None:  # vaelib.validation's rule: a finite real number
            object.__setattr__(self, "min_logvar", validation.real("min_logvar", self.min_logvar))

    def _parts(self, x_params):
        mu, logvar = _split(x_params, 2)
        if self.min_logvar is not None:
            logvar = self.min_logvar + tf.nn.softplus(logvar - self.min_logvar)
        return mu, logvar

    def log_prob(self, x, x_params):
        mu, logvar = self._parts(x_params)
        return normal_log_prob(tf.convert_to_tensor(x, tf.float32), mu, logvar)

    def sample(self, x_params, seed):
        mu, logvar = self._parts(x_params)
        return mu + tf.exp(0.5 * logvar) * tf.random.stateless_normal(
            tf.shape(mu), seed=_check_seed(seed)
        )

    def mean(self, x_params):
        return self._parts(x_params)[0]

    def check_values(self, x):
        pass  # any finite value is in the support


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic(Likelihood):
    """A logistic density integrated over 256 bins: ``x = v / 255``, ``v = 0..255``
    (PixelCNN++, Salimans et al. 2017; IAF, Kingma et al. 2016; one component per pixel).

    ``P(v) = F(x + 1/510) - F(x - 1/510)`` with ``F`` the logistic CDF of mean ``mu``
    and scale ``s``; the first bin takes everything below, the last everything above,
    so the 256 probabilities sum to 1. ``x_params`` = ``[mu, log s]``; ``log s`` is
    floored at ``min_log_scale`` (-7, PixelCNN++'s value; PixelCNN++ scales pixels to
    [-1, 1], where a bin is twice as wide, so here the smallest scale is twice as large
    relative to a bin). Stable for any bin and scale:
    ``log(sigmoid(a) - sigmoid(b)) = log sigmoid(a) + log sigmoid(-b) + log(-expm1(b - a))``.
    """

    min_log_scale: float = -7.0
    name: ClassVar[str] = "discretized logistic"
    num_params: ClassVar[int] = 2
    param_names: ClassVar[tuple[str, ...]] = ("mu", "log s")
    support: ClassVar[str] = "256 levels v / 255"
    half_bin: ClassVar[float] = 1.0 / 510.0

    def __post_init__(self):  # checked here, not at first use (as Gaussian's min_logvar)
        object.__setattr__(
            self, "min_log_scale", validation.real("min_log_scale", self.min_log_scale)
        )

    def _parts(self, x_params):
        mu, log_scale = _split(x_params, 2)
        return mu, tf.maximum(log_scale, self.min_log_scale)

    def log_prob_per_pixel(self, x, x_params):
        """``log P(x_i)`` per pixel, ``[..., D]``."""
        mu, log_scale = self._parts(x_params)
        x = tf.convert_to_tensor(x, tf.float32)
        inv_s = tf.exp(-log_scale)
        a = (x - mu + self.half_bin) * inv_s  # upper edge of the bin
        b = (x - mu - self.half_bin) * inv_s  # lower edge
        interior = (
            tf.math.log_sigmoid(a)
            + tf.math.log_sigmoid(-b)
            + tf.math.log(-tf.math.expm1(-2.0 * self.half_bin * inv_s))
        )
        return tf.where(
            x < 0.5 / 255.0,
            tf.math.log_sigmoid(a),
            tf.where(x > 254.5 / 255.0, tf.math.log_sigmoid(-b), interior),
        )

    def log_prob(self, x, x_params):
        return tf.reduce_sum(self.log_prob_per_pixel(x, x_params), axis=-1)

    def sample(self, x_params, seed):
        mu, log_scale = self._parts(x_params)
        u = tf.random.stateless_uniform(
            tf.shape(mu), seed=_check_seed(seed), minval=1e-6, maxval=1.0 - 1e-6
        )
        y = mu + tf.exp(log_scale) * (tf.math.log(u) - tf.math.log1p(-u))
        return tf.clip_by_value(tf.round(y * 255.0), 0.0, 255.0) / 255.0

    def mean(self, x_params):
        """``E[x]`` over the 256 levels (exact sum of the bin probabilities), ``[..., D]``."""
        levels = tf.range(256, dtype=tf.float32) / 255.0  # [256]
        x_params = tf.convert_to_tensor(x_params, tf.float32)
        log_p = self.log_prob_per_pixel(levels[:, None], x_params[..., None, :])  # [..., 256, D]
        return tf.reduce_sum(tf.exp(log_p) * levels[:, None], axis=-2)

    def check_values(self, x):
        super().check_values(x)
        v = x * 255.0
        off = float(tf.reduce_max(tf.abs(v - tf.round(v))))
        if off > 1e-3:
            raise ValueError(
                f"x must hold levels v / 255 (v = 0..255) for a discretized logistic "
                f"likelihood; some value is {off:.3g} of a level away from one: use "
                "vaelib.likelihoods.grey_levels(images)"
            )


LIKELIHOODS = {
    "bernoulli": Bernoulli,
    "continuous_bernoulli": ContinuousBernoulli,
    "gaussian": Gaussian,
    "discretized_logistic": DiscretizedLogistic,
}


def get_likelihood(likelihood: str | Likelihood) -> Likelihood:
    """A :class:`Likelihood` from itself or its name (a key of :data:`LIKELIHOODS`)."""
    if isinstance(likelihood, Likelihood):
        return likelihood
    if isinstance(likelihood, str) and likelihood in LIKELIHOODS:
        return LIKELIHOODS[likelihood]()
    raise ValueError(
        f"likelihood must be one of {sorted(LIKELIHOODS)} or a Likelihood, got {likelihood!r}"
    )
