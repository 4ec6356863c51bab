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
:class:`DiscretizedLogistic`  2       256 levels k / 255, k = 0..255    mean, log scale
============================  ======  ================================  =========================

:class:`Bernoulli` is the course's decoder (chapters 6-9); its ``log_prob`` *is*
:func:`vaelib.bernoulli_log_prob`, so the training step is the same program as
before. The continuous Bernoulli and the Gaussian are densities, so their
numbers are comparable with a discrete model's only on dequantized pixels
(:func:`dequantize`, :func:`bits_per_dim`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import bernoulli_log_prob, normal_log_prob

__all__ = ["Likelihood", "Bernoulli", "ContinuousBernoulli", "Gaussian", "DiscretizedLogistic",
           "LIKELIHOODS", "get_likelihood", "continuous_bernoulli_log_norm", "dequantize",
           "dequantized_dataset", "grey_levels", "bits_per_dim"]

LOG_256 = math.log(256.0)


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
            raise ValueError(f"x must lie in [0, 1] (pixels of a {self.name} likelihood), got values "
                             f"from {low:g} to {high:g}; scale 0..255 images with vaelib.binarize "
                             "(or vaelib.likelihoods.grey_levels / dequantize)")


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


# log(x / tanh x) = sum_n a_n x^(2n) and coth x - 1/x = sum_n b_n x^(2n-1), n = 1..9 (SymPy);
# both converge for |x| < pi/2, and at |x| <= 0.5 nine terms leave < 1e-10.
_LOG_X_COTH_X = (1 / 3, -7 / 90, 62 / 2835, -127 / 18900, 146 / 66825, -1414477 / 1915538625,
                 32764 / 127702575, -16931177 / 186080895000, 11499383114 / 350813659321125)
_LANGEVIN = (1 / 3, -1 / 45, 2 / 945, -1 / 4725, 2 / 93555, -1382 / 638512875, 4 / 18243225,
             -3617 / 162820783125, 87734 / 38979295480125)
_SERIES_BELOW = 0.5  # |x| = |logit| / 2


def _even_series(x2: tf.Tensor, coefficients: tuple[float, ...]) -> tf.Tensor:
    """``sum_n c_n x2^(n-1)`` by Horner's rule (``x2 = x^2``)."""
    out = tf.zeros_like(x2)
    for c in reversed(coefficients):
        out = out * x2 + c
    return out


def continuous_bernoulli_log_norm(logits: tf.Tensor) -> tf.Tensor:
    """``log C(lambda)`` of the continuous Bernoulli, elementwise, from ``logits`` of lambda.

    ``C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)`` (Loaiza-Ganem & Cunningham
    2019), with ``C(1/2) = 2``. With ``lambda = sigmoid(l)``, ``1 - 2 lambda = -tanh(l/2)``
    and ``artanh(1 - 2 lambda) = -l/2``, so ``C = l / tanh(l/2)``: no 0/0 except at
    ``l = 0`` itself. For ``|l| < 1`` a series in ``(l/2)^2`` is used, so the value and
    its gradient are exact at and near ``lambda = 1/2``; far out, ``log C ~ log|l|``
    (lambda within float32's reach of 0 or 1 is a finite logit here).

    Returns:
      the same shape as ``logits``, nats.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    x = 0.5 * logits
    small = tf.abs(x) < _SERIES_BELOW
    xs = tf.where(small, x, tf.zeros_like(x))  # series side sees 0 where unused
    xl = tf.where(small, tf.ones_like(x), x)  # direct side never sees 0
    series = math.log(2.0) + tf.square(xs) * _even_series(tf.square(xs), _LOG_X_COTH_X)
    direct = tf.math.log(xl * 2.0 / tf.tanh(xl))
    return tf.where(small, series, direct)


@dataclasses.dataclass(frozen=True)
class ContinuousBernoulli(Likelihood):
    """``p(x|lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x)``, ``x`` in [0, 1]: a density.

    ``x_params`` are logits of ``lambda``. The log-density is the Bernoulli
    cross-entropy plus ``log C(lambda)`` per pixel (:func:`continuous_bernoulli_log_norm`),
    the term a Bernoulli decoder on grey pixels leaves out (Loaiza-Ganem & Cunningham 2019).
    ``lambda`` is not the mean: ``E[x] = 1/2 + L(l/2)/2`` with ``L(x) = coth x - 1/x``.
    """

    name: ClassVar[str] = "continuous Bernoulli"
    num_params: ClassVar[int] = 1
    support: ClassVar[str] = "grey pixels in [0, 1] (a density)"

    def log_prob(self, x, x_params):
        logits = tf.convert_to_tensor(x_params, tf.float32)
        return (bernoulli_log_prob(x, logits)
                + tf.reduce_sum(continuous_bernoulli_log_norm(logits), axis=-1))

    def sample(self, x_params, seed):
        """Inverse CDF: ``x = log1p(u expm1(l)) / l``, written for ``l <= 0`` and mirrored
        (``x(l, u) = 1 - x(-l, 1 - u)``), so ``expm1`` never overflows."""
        logits = tf.convert_to_tensor(x_params, tf.float32)
        u = tf.random.stateless_uniform(tf.shape(logits), seed=_check_seed(seed))
        positive = logits > 0
        l = -tf.abs(logits)
        v = tf.where(positive, 1.0 - u, u)
        tiny = l > -1e-6  # log1p(v expm1(l)) / l -> v + l v (1 - v) / 2
        l_safe = tf.where(tiny, -tf.ones_like(l), l)
        x = tf.where(tiny, v + 0.5 * l * v * (1.0 - v), tf.math.log1p(v * tf.math.expm1(l_safe)) / l_safe)
        x = tf.clip_by_value(x, 0.0, 1.0)
        return tf.where(positive, 1.0 - x, x)

    def mean(self, x_params):
        logits = tf.convert_to_tensor(x_params, tf.float32)
        x = 0.5 * logits
        small = tf.abs(x) < _SERIES_BELOW
        xs = tf.where(small, x, tf.zeros_like(x))
        xl = tf.where(small, tf.ones_like(x), x)
        langevin = tf.where(small, xs * _even_series(tf.square(xs), _LANGEVIN),
                            1.0 / tf.tanh(xl) - 1.0 / xl)
        return 0.5 + 0.5 * langevin


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
        return mu + tf.exp(0.5 * logvar) * tf.random.stateless_normal(tf.shape(mu), seed=_check_seed(seed))

    def mean(self, x_params):
        return self._parts(x_params)[0]

    def check_values(self, x):
        pass  # any finite value is in the support


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic(Likelihood):
    """A logistic density integrated over 256 bins: ``x = k / 255``, ``k = 0..255``
    (PixelCNN++, Salimans et al. 2017; IAF, Kingma et al. 2016; one component per pixel).

    ``P(k) = F(x + 1/510) - F(x - 1/510)`` with ``F`` the logistic CDF of mean ``mu``
    and scale ``s``; the first bin takes everything below, the last everything above,
    so the 256 probabilities sum to 1. ``x_params`` = ``[mu, log s]``; ``log s`` is
    floored at ``min_log_scale`` (-7, as PixelCNN++). Stable for any bin and scale:
    ``log(sigmoid(a) - sigmoid(b)) = log sigmoid(a) + log sigmoid(-b) + log(-expm1(b - a))``.
    """

    min_log_scale: float = -7.0
    name: ClassVar[str] = "discretized logistic"
    num_params: ClassVar[int] = 2
    support: ClassVar[str] = "256 levels k / 255"
    half_bin: ClassVar[float] = 1.0 / 510.0

    def __post_init__(self):  # checked here, not at first use (as Gaussian's min_logvar)
        object.__setattr__(self, "min_log_scale",
                           validation.real("min_log_scale", self.min_log_scale))

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
        interior = (tf.math.log_sigmoid(a) + tf.math.log_sigmoid(-b)
                    + tf.math.log(-tf.math.expm1(-2.0 * self.half_bin * inv_s)))
        return tf.where(x < 0.5 / 255.0, tf.math.log_sigmoid(a),
                        tf.where(x > 254.5 / 255.0, tf.math.log_sigmoid(-b), interior))

    def log_prob(self, x, x_params):
        return tf.reduce_sum(self.log_prob_per_pixel(x, x_params), axis=-1)

    def sample(self, x_params, seed):
        mu, log_scale = self._parts(x_params)
        u = tf.random.stateless_uniform(tf.shape(mu), seed=_check_seed(seed), minval=1e-6,
                                        maxval=1.0 - 1e-6)
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
        k = x * 255.0
        off = float(tf.reduce_max(tf.abs(k - tf.round(k))))
        if off > 1e-3:
            raise ValueError(f"x must hold levels k / 255 (k = 0..255) for a discretized logistic "
                             f"likelihood; some value is {off:.3g} of a level away from one: use "
                             "vaelib.likelihoods.grey_levels(images)")


LIKELIHOODS = {"bernoulli": Bernoulli, "continuous_bernoulli": ContinuousBernoulli,
               "gaussian": Gaussian, "discretized_logistic": DiscretizedLogistic}


def get_likelihood(likelihood: str | Likelihood) -> Likelihood:
    """A :class:`Likelihood` from itself or its name (a key of :data:`LIKELIHOODS`)."""
    if isinstance(likelihood, Likelihood):
        return likelihood
    if isinstance(likelihood, str) and likelihood in LIKELIHOODS:
        return LIKELIHOODS[likelihood]()
    raise ValueError(f"likelihood must be one of {sorted(LIKELIHOODS)} or a Likelihood, got {likelihood!r}")


def _images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (0..255), got dtype {images.dtype}")
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch [N, ...], got shape {images.shape}")
    return images.reshape(len(images), -1)


def grey_levels(images) -> np.ndarray:
    """``k / 255`` as float32 ``[N, D]``: the 256 levels a discretized logistic models."""
    return _images(images).astype(np.float32) / 255.0


def dequantize(images, seed: int = 0) -> np.ndarray:
    """``(k + u) / 256``, ``u ~ U(0, 1)`` per pixel, float32 ``[N, D]``, one seeded draw.

    A density ``p`` of these values gives ``log P(k) >= E_u[log p((k + u) / 256)] - D log 256``
    for the 8-bit image ``k`` (Theis et al. 2016): see :func:`bits_per_dim`.
    """
    k = _images(images).astype(np.float32)
    seed = validation.integer("seed", seed, minimum=0)
    return (k + np.random.default_rng(seed).random(k.shape, dtype=np.float32)) / 256.0


def dequantized_dataset(images, *, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Shuffled batches of freshly dequantized pixels, a new ``u`` each epoch (fixed by ``seed``)."""
    k = _images(images)
    batch_size = validation.positive_int("batch_size", batch_size)
    seed = validation.integer("seed", seed, minimum=0)
    ds = tf.data.Dataset.from_tensor_slices(k).shuffle(len(k), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds)).map(
        lambda x, s: (tf.cast(x, tf.float32) + tf.random.stateless_uniform(tf.shape(x), seed=s)) / 256.0)


def bits_per_dim(log_px, num_dims: int, *, dequantized: bool) -> float | np.ndarray:
    """Negative log-likelihood of 8-bit images in bits per pixel.

    ``bits = -log P(k) / (D log 2)``, with ``log P(k) = log_px`` for a discrete model and
    ``log P(k) >= log_px - D log 256`` for a density of dequantized pixels.

    Args:
      log_px: nats per image, the log-likelihood itself (negative for a discrete model),
        not the positive NLL that papers print: of the levels ``k`` (a discrete model;
        ``dequantized=False``) or a density of ``(k + u) / 256`` (``dequantized=True``:
        ``D log 256`` is subtracted, giving a bound on ``log P(k)``, Theis et al. 2016).
        A number, or an array of them (one per image, say).
      num_dims: pixels per image, ``D``.
      dequantized: whether ``log_px`` is a density of dequantized pixels.

    Returns:
      bits per pixel: a float for a number, an array of ``log_px``'s shape for an array.

    Raises:
      ValueError: ``log_px`` holds NaN or ``+inf``, or, with ``dequantized=False``, a
        positive value (a probability is at most 1: pass ``-nll``, not ``nll``).
      TypeError: ``log_px`` is not a number or an array of numbers, ``num_dims`` not an
        integer, ``dequantized`` not a bool.
    """
    num_dims = validation.positive_int("num_dims", num_dims)
    dequantized = validation.flag("dequantized", dequantized)
    scalar = np.ndim(log_px) == 0
    if scalar:
        log_px = validation.real("log_px", np.asarray(log_px).item(), finite=False)
    values = np.asarray(log_px)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.floating)
                                      or np.issubdtype(values.dtype, np.integer)):
        raise validation.ArgumentTypeError(
            f"log_px must be a number or an array of numbers (nats per image), got {values.dtype} "
            f"values of shape {values.shape}")
    values = values.astype(np.float64)
    bad = np.isnan(values) | (values == np.inf)
    if bad.any():
        where = "" if scalar else f" (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
        raise ValueError(f"log_px must be a log-likelihood in nats, got {values[bad][0]}{where}")
    if not dequantized and (values > 0).any():
        where = "" if scalar else f" (at index {tuple(int(i) for i in np.argwhere(values > 0)[0])})"
        raise ValueError(
            f"log_px of a discrete model (dequantized=False) is log P(k) <= 0, got "
            f"{values[values > 0][0]:g}{where}: pass the log-likelihood, -nll, not the positive "
            "NLL that papers print")
    log_pk = values - (num_dims * LOG_256 if dequantized else 0.0)
    bits = -log_pk / (num_dims * math.log(2.0))
    return float(bits) if scalar else bits
