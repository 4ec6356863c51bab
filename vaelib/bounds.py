"""Bounds on log p(x): the ELBO and the importance-weighted bound (chapters 4, 6, 7).

Both return one number per example, in nats; higher is better. For any
``num_samples``, ``E[elbo] <= E[iwae_bound] <= log p(x)``, and the importance-
weighted bound tends to ``log p(x)`` as ``num_samples`` grows (Burda et al. 2015).
The training loss is ``-tf.reduce_mean(elbo(...))``.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from vaelib.distributions import bernoulli_log_prob, kl_normal_std
from vaelib.vae import VAE, reparameterize

__all__ = ["elbo", "iwae_bound", "vae_loss", "evaluate_bounds"]


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_num_samples(num_samples) -> None:
    _check_positive_int("num_samples", num_samples)


def elbo(model: VAE, x: tf.Tensor, num_samples: int = 1, *, analytic_kl: bool = True,
         seed: tf.Tensor | None = None) -> tf.Tensor:
    """The evidence lower bound, per example:

    ``ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))``,

    the expectation estimated with ``num_samples`` reparameterized codes. With
    ``analytic_kl`` the KL is exact (:func:`vaelib.kl_normal_std`); otherwise it
    is estimated from the same codes as ``log_qz_x - log_pz``.

    Args:
      model: a :class:`vaelib.VAE`.
      x: ``[batch, input_size]`` binary pixels.
      num_samples: codes per example.
      analytic_kl: exact KL (lower variance) or Monte Carlo.
      seed: optional ``[2]`` int seed for the noise.

    Returns:
      ``[batch]``, nats.
    """
    _check_num_samples(num_samples)
    w = model.log_weights(x, num_samples, seed=seed)
    if analytic_kl:
        return tf.reduce_mean(w["log_px_z"], axis=0) - kl_normal_std(w["q_mu"], w["q_logvar"])
    return tf.reduce_mean(w["log_px_z"] + w["log_pz"] - w["log_qz_x"], axis=0)


def iwae_bound(model: VAE, x: tf.Tensor, num_samples: int, *, chunk_size: int = 500,
               seed: int | None = None) -> tf.Tensor:
    """The importance-weighted bound (Burda et al. 2015), per example:

    ``log (1/k) sum_i p(x, z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``, ``k = num_samples``,

    computed stably with ``logsumexp``, in chunks of ``chunk_size`` samples so
    that ``k = 5000`` fits in memory. ``k = 1`` is the Monte Carlo ELBO.

    Returns:
      ``[batch]``, nats.

    Raises:
      ValueError: ``num_samples`` or ``chunk_size`` is not a positive int.
    """
    _check_num_samples(num_samples)
    _check_positive_int("chunk_size", chunk_size)
    chunks = []
    for i, start in enumerate(range(0, num_samples, chunk_size)):
        k = min(chunk_size, num_samples - start)
        chunk_seed = None if seed is None else tf.constant([seed, i], tf.int64)
        w = model.log_weights(x, k, seed=chunk_seed)
        chunks.append(tf.reduce_logsumexp(w["log_px_z"] + w["log_pz"] - w["log_qz_x"], axis=0))
    return tf.reduce_logsumexp(tf.stack(chunks), axis=0) - math.log(num_samples)


def vae_loss(model: VAE, x: tf.Tensor) -> dict[str, tf.Tensor]:
    """The training objective for :func:`vaelib.fit`: ``loss = -mean(ELBO)``.

    One reparameterized sample per example and the analytic KL, computed on
    rank-2 tensors only (no sample axis, no unused log-densities): this is the
    hot path of every training step. It checks nothing that costs time there:
    :func:`vaelib.fit` calls ``vae_loss.check_batch`` on the first batch first.

    Returns:
      ``loss`` and, for the history, the batch means of ``elbo``, ``log_px_z``
      (reconstruction) and ``kl``.

    Raises:
      TypeError, ValueError: as :meth:`vaelib.VAE.check_input`; called eagerly,
        also an empty batch (its mean ELBO would be NaN).
    """
    x = model.check_input(x)
    if tf.executing_eagerly():
        _check_not_empty(x)
    q_mu, q_logvar = model.encoder(x)  # [batch, latent] each
    z = reparameterize(q_mu, q_logvar, model.noise.normal(tf.shape(q_mu)))
    log_px_z = bernoulli_log_prob(x, model.decoder(z))  # [batch]
    kl = kl_normal_std(q_mu, q_logvar)  # [batch]
    bound = log_px_z - kl
    return {"loss": -tf.reduce_mean(bound), "elbo": tf.reduce_mean(bound),
            "log_px_z": tf.reduce_mean(log_px_z), "kl": tf.reduce_mean(kl)}


def _check_not_empty(x: tf.Tensor) -> None:
    if x.shape[0] == 0:
        raise ValueError("vae_loss got an empty batch (0 examples), whose mean ELBO is undefined; "
                         "check how the dataset is batched")


def _check_vae_batch(model: VAE, x) -> None:
    """What :func:`vaelib.fit` checks on the first batch, eagerly, before compiling the step."""
    _check_not_empty(model.check_input(x))


vae_loss.check_batch = _check_vae_batch


def evaluate_bounds(model: VAE, x: np.ndarray, num_samples: tuple[int, ...] = (1,), *,
                    batch_size: int = 100, seed: int = 0) -> dict[str, float]:
    """Mean ELBO and importance-weighted bounds over a whole (fixed, binarized) set.

    Args:
      model: the VAE.
      x: ``[N, input_size]`` binary pixels.
      num_samples: the ``k`` of each importance-weighted bound to compute.
      batch_size: examples per pass.
      seed: fixes the noise, so two calls give the same numbers.

    Returns:
      ``{"elbo": ..., "iwae_1": ..., "iwae_5000": ...}``, nats per example.

    Raises:
      TypeError: ``x`` is not an array (a ``tf.data.Dataset``, say), or
        ``num_samples`` is not a tuple.
      ValueError: ``x`` has no examples, or an argument is not a positive int.
    """
    if isinstance(x, tf.data.Dataset) or not hasattr(x, "__len__"):
        raise TypeError(f"x must be an array [N, input_size] of binary pixels, got "
                        f"{type(x).__name__}; evaluate a fixed set, e.g. vaelib.binarize(images, 'fixed')")
    if not isinstance(num_samples, (tuple, list)):
        raise TypeError(f"num_samples must be a tuple of ints, e.g. (1, 5000), got {num_samples!r}")
    for k in num_samples:
        _check_num_samples(k)
    _check_positive_int("batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("x has no examples: the mean bound of an empty set is undefined")
    totals = {"elbo": 0.0, **{f"iwae_{k}": 0.0 for k in num_samples}}
    for b, start in enumerate(range(0, len(x), batch_size)):
        xb = np.asarray(x[start:start + batch_size])  # checked by elbo: dtype, shape, values
        totals["elbo"] += float(tf.reduce_sum(elbo(model, xb, seed=tf.constant([seed, b]))))
        for k in num_samples:
            totals[f"iwae_{k}"] += float(tf.reduce_sum(iwae_bound(model, xb, k, seed=seed * 7919 + b)))
    return {name: total / len(x) for name, total in totals.items()}
