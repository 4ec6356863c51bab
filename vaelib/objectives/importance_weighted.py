"""The importance-weighted bound as a training objective, with three gradient estimators
(chapter 9).

For ``k = num_samples`` codes ``z_i = q_mu + exp(q_logvar / 2) * eps_i`` of one image
``x`` and their log importance weights ``log w_i = log p(x, z_i) - log q(z_i|x)``, the
estimate of the bound is ``L_k = logsumexp_i(log w_i) - log k`` (Burda et al. 2015), and
its gradient is ``sum_i w~_i * d log w_i``, with normalized weights
``w~_i = w_i / sum_j w_j``. Writing phi for the encoder's parameters, theta for the
decoder's, the total derivative ``d log w_i / d phi`` has two parts: the *path* through
``z_i`` and the *score* ``- d log q_phi(z_i|x) / d phi`` at fixed ``z_i``.

* ``"standard"``: the gradient of ``L_k`` itself, both parts (an unbiased estimate of
  the gradient of the bound ``E[L_k]``).
* ``"stl"``, *sticking the landing* (Roeder, Wu & Duvenaud 2017): ``log q`` is evaluated
  at ``z_i`` with ``stop_gradient`` on ``(q_mu, q_logvar)``, which drops the score term.
  For ``k = 1`` the dropped term has mean zero, so STL is unbiased for the ELBO's
  gradient; for ``k > 1`` it is biased in general (Tucker et al. 2018). At the exact
  posterior every ``log w_i`` is ``log p(x)`` whatever ``z_i``, so its gradient is zero.
* ``"dreg"``, doubly reparameterized (Tucker, Lawson, Gu & Maddison 2018): the encoder
  gets ``sum_i w~_i^2 * (d log w_i / d z_i) * (d z_i / d phi)`` (``log q``'s parameters
  stopped as in STL), an unbiased estimate of the gradient of ``E[L_k]`` for every
  ``k``; the decoder gets the standard ``sum_i w~_i * d log w_i / d theta``.

All three are built from ``tf.stop_gradient`` alone. Each returns a tensor whose *value*
is the estimate ``L_k`` (nats, per example) and whose *gradient* is the estimator's.
DReG reweights the gradient reaching ``z_i`` by ``w~_i``, which must be known before
the decoder runs, so it runs the decoder twice (once without gradients); its cost per
example is measured in ``benchmarks/objectives.py``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import (
    normal_log_prob,
    normal_log_prob_from_eps,
    std_normal_log_prob,
)
from vaelib.objectives.bounds import LossFn

__all__ = ["ESTIMATORS", "importance_weighted_bound", "iwae_loss", "elbo_k_loss", "active_units"]

ESTIMATORS = ("standard", "stl", "dreg")

LogJoint = Callable[[tf.Tensor], tf.Tensor]


def _check_estimator(estimator) -> None:
    validation.text("estimator", estimator, choices=ESTIMATORS)


def _check_num_samples(num_samples) -> None:
    validation.positive_int("num_samples", num_samples)


def importance_weighted_bound(
    log_joint: LogJoint,
    q_mu: tf.Tensor,
    q_logvar: tf.Tensor,
    eps: tf.Tensor,
    estimator: str = "standard",
) -> tf.Tensor:
    """The estimate ``L_k = log (1/k) sum_i w_i``, with the chosen estimator's gradient.

    Args:
      log_joint: maps ``z`` ``[k, batch, latent]`` to ``log p(x, z)`` ``[k, batch]``
        (nats); for a VAE, ``log_px_z + log_pz``.
      q_mu, q_logvar: the encoder's Gaussian, ``[batch, latent]``.
      eps: standard normal noise ``[k, batch, latent]``; ``k = num_samples``.
      estimator: ``"standard"``, ``"stl"`` or ``"dreg"`` (see the module docstring).

    Returns:
      ``[batch]``, nats. The value is the same for every estimator (to float rounding);
      the gradient with respect to ``q_mu``, ``q_logvar`` and the variables that
      ``log_joint`` reads is the estimator's.

    Raises:
      ValueError: an unknown ``estimator``, or ``eps`` without a sample axis.
    """
    _check_estimator(estimator)
    if (
        eps.shape.rank is not None
        and q_mu.shape.rank is not None
        and eps.shape.rank != q_mu.shape.rank + 1
    ):
        raise ValueError(
            f"eps must have a leading sample axis, [k, batch, latent]; got eps {eps.shape} "
            f"for q_mu {q_mu.shape}"
        )
    log_k = (
        math.log(eps.shape[0])
        if eps.shape[0] is not None
        else tf.math.log(tf.cast(tf.shape(eps)[0], eps.dtype))
    )

    def bound_of(log_w):  # logsumexp_i(log w_i) - log k, [batch]
        with tf.name_scope("logsumexp"):
            return tf.reduce_logsumexp(log_w, axis=0) - log_k

    with tf.name_scope("z"):
        z = q_mu + tf.exp(0.5 * q_logvar) * eps  # [k, batch, latent]: the path from phi to z_i
    if estimator == "standard":
        with tf.name_scope("log_q"):  # from eps: its gradient in q_logvar is the score term
            log_q = normal_log_prob_from_eps(eps, q_logvar)
        return bound_of(log_joint(z) - log_q)
    # log q(z_i|x) with its parameters stopped: z_i keeps its path, the score term is gone.
    stopped = (tf.stop_gradient(q_mu), tf.stop_gradient(q_logvar))

    def log_q_stopped(z):
        with tf.name_scope("log_q"):
            return normal_log_prob(z, *stopped)

    if estimator == "stl":
        return bound_of(log_joint(z) - log_q_stopped(z))
    # DReG. First the normalized weights, with no gradient at all.
    z_value = tf.stop_gradient(z)
    with tf.name_scope("log_w"):
        log_w_value = log_joint(z_value) - log_q_stopped(z_value)
    log_w_value = tf.stop_gradient(log_w_value)
    with tf.name_scope("w_tilde"):
        w_tilde = tf.nn.softmax(log_w_value, axis=0)  # [k, batch]
    with tf.name_scope("z_scaled"):  # equals z_i; the gradient reaching it is multiplied by w~_i
        z_scaled = z_value + w_tilde[..., None] * (z - z_value)
    log_w = log_joint(z_scaled) - log_q_stopped(z_scaled)
    # d/d theta: sum_i w~_i d log w_i; d/d phi: sum_i w~_i^2 (d log w_i / d z_i) (d z_i / d phi).
    with tf.name_scope("surrogate"):
        surrogate = tf.reduce_sum(w_tilde * log_w, axis=0)  # [batch]
    # the value of the bound, DReG's gradient
    return bound_of(log_w_value) + (surrogate - tf.stop_gradient(surrogate))


def iwae_loss(num_samples: int, estimator: str = "standard") -> LossFn:
    """The importance-weighted objective for :func:`vaelib.fit`: ``loss = -mean L_k``.

    Args:
      num_samples: ``k``, codes per example; ``k = 1`` is the Monte Carlo ELBO (with
        ``log q - log p(z)`` estimated, where :func:`vaelib.vae_loss` uses the exact KL).
      estimator: ``"standard"``, ``"stl"`` or ``"dreg"``.

    Returns:
      ``loss_fn(model, x) -> dict`` for a :class:`vaelib.VAE` and a batch ``x``
      ``[batch, input_size]``: ``loss`` (``-mean L_k``) and ``iwae`` (the batch mean of
      ``L_k``, nats), nothing else (the step stays as cheap as the bound). Its
      ``check_batch`` is the one :func:`vaelib.fit` calls on the first batch.

    Raises:
      ValueError: ``num_samples`` is not a positive int, or ``estimator`` is unknown.
    """
    _check_num_samples(num_samples)
    _check_estimator(estimator)
    num_samples = int(num_samples)

    def loss_fn(model, x) -> dict[str, tf.Tensor]:
        x = model.check_input(x)
        if tf.executing_eagerly() and x.shape[0] == 0:
            raise ValueError(
                "iwae_loss got an empty batch (0 examples), whose mean bound is undefined"
            )
        q_mu, q_logvar = model.encoder(x)  # [batch, latent] each
        eps = model.noise.normal(tf.concat([[num_samples], tf.shape(q_mu)], axis=0))

        def log_joint(z):  # log p(x, z) = log p(x|z) + log p(z), [k, batch]
            return model.log_px_z(x, z) + std_normal_log_prob(z)

        bound = importance_weighted_bound(log_joint, q_mu, q_logvar, eps, estimator)
        return {"loss": -tf.reduce_mean(bound), "iwae": tf.reduce_mean(tf.stop_gradient(bound))}

    def check_batch(model, x) -> None:
        x = model.check_input(x)
        if x.shape[0] == 0:
            raise ValueError(
                "iwae_loss got an empty batch (0 examples), whose mean bound is undefined"
            )

    loss_fn.check_batch = check_batch
    loss_fn.__name__ = f"iwae_loss_k{num_samples}_{estimator}"
    loss_fn.num_samples, loss_fn.estimator = num_samples, estimator
    return loss_fn


def elbo_k_loss(num_samples: int) -> LossFn:
    """Burda et al.'s control for :func:`iwae_loss`, "VAE, k samples": ``loss = -mean ELBO_k``.

    The ELBO averaged over ``k`` codes per example, ``(1/k) sum_i log w_i`` with
    ``log w_i = log p(x, z_i) - log q(z_i|x)`` (the KL estimated from the same codes, as in
    ``L_1``). It draws as many codes per step as ``iwae_loss(k)`` and averages them
    instead of taking their log-mean-exp, so comparing the two separates what the extra
    codes do from what the tighter bound does (chapter 9). At ``k = 1`` it is ``L_1``.

    Args:
      num_samples: ``k``, codes per example.

    Returns:
      ``loss_fn(model, x) -> dict`` for :func:`vaelib.fit`: ``loss`` (``-mean ELBO_k``) and
      ``elbo`` (its batch mean, nats), with the same ``check_batch`` as :func:`iwae_loss`.

    Raises:
      ValueError: ``num_samples`` is not a positive int.
    """
    _check_num_samples(num_samples)
    num_samples = int(num_samples)

    def loss_fn(model, x) -> dict[str, tf.Tensor]:
        w = model.log_weights(x, num_samples)  # checks x; noise from model.noise
        log_w = w["log_px_z"] + w["log_pz"] - w["log_qz_x"]  # [k, batch]
        bound = tf.reduce_mean(log_w, axis=0)  # [batch]
        return {"loss": -tf.reduce_mean(bound), "elbo": tf.reduce_mean(tf.stop_gradient(bound))}

    loss_fn.check_batch = iwae_loss(num_samples).check_batch
    loss_fn.__name__ = f"elbo_k_loss_k{num_samples}"
    loss_fn.num_samples = num_samples
    return loss_fn


def active_units(model, x: np.ndarray, threshold: float = 0.01, batch_size: int = 500) -> int:
    """Latent dimensions the model uses, by Burda et al.'s (2015) criterion.

    Dimension ``j`` is active when ``Cov_x(E_q[z_j|x]) > threshold``: the encoder's
    mean ``q_mu[:, j]`` varies across images by more than the threshold.

    Args:
      model: a :class:`vaelib.VAE`.
      x: ``[N, input_size]`` binary pixels, ``N >= 2``.
      threshold: the variance above which a dimension counts (0.01 in the paper).
      batch_size: images per encoder pass.

    Returns:
      The number of active dimensions, between 0 and ``latent_size``.

    Raises:
      ValueError: fewer than two images, or a threshold that is not positive.
      TypeError: ``x`` is a ``tf.data.Dataset`` (pass a fixed array of its examples).
    """
    n = validation.num_examples("x", x)
    threshold = validation.real("threshold", threshold, positive=True)
    batch_size = validation.positive_int("batch_size", batch_size)
    if n < 2:
        raise ValueError(f"x must hold at least 2 images to measure a variance, got {n}")
    q_mu = np.concatenate(
        [
            model.encoder(model.check_input(x[i : i + batch_size]))[0].numpy()
            for i in range(0, n, batch_size)
        ]
    )
    return int(np.sum(np.var(q_mu, axis=0, ddof=1) > threshold))
