"""The ELBO and the training loss built from it (chapters 4 and 6).

``elbo`` returns one number per example, in nats; higher is better. The training
loss is ``-tf.reduce_mean(elbo(...))``; :func:`vae_loss` computes it on the hot
path of every step, from :func:`elbo_terms`, which other objectives (a beta-weighted
KL, free bits) reuse. The importance-weighted bound and whole-set evaluation are in
:mod:`vaelib.evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import kl_normal_std
from vaelib.models.vae import VAE, reparameterize

__all__ = ["elbo", "elbo_terms", "vae_loss"]

# What fit and make_train_step train: loss_fn(model, batch) -> {"loss": scalar, other metrics}.
# The objectives below return such functions; vaelib.training takes them.
LossFn = Callable[[tf.Module, object], Mapping[str, tf.Tensor]]


def _check_positive_int(name: str, value) -> None:
    validation.positive_int(name, value)


def _check_num_samples(num_samples) -> None:
    _check_positive_int("num_samples", num_samples)


def elbo(
    model: VAE,
    x: tf.Tensor,
    num_samples: int = 1,
    *,
    analytic_kl: bool = True,
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """The evidence lower bound, per example:

    ``ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))``,

    with ``log p(x|z)`` under the model's likelihood (:mod:`vaelib.likelihoods`), the
    expectation estimated with ``num_samples`` reparameterized codes. With
    ``analytic_kl`` the KL is exact (:func:`vaelib.kl_normal_std`); otherwise it
    is estimated from the same codes as ``log_qz_x - log_pz``.

    Args:
      model: a :class:`vaelib.VAE`.
      x: ``[batch, input_size]`` pixels in the support of the model's likelihood
        (binary for the default Bernoulli).
      num_samples: codes per example.
      analytic_kl: exact KL (lower variance) or Monte Carlo.
      seed: optional ``[2]`` int seed for the noise.

    Returns:
      ``[batch]``, nats.
    """
    _check_num_samples(num_samples)
    analytic_kl = validation.flag("analytic_kl", analytic_kl)
    w = model.log_weights(x, int(num_samples), seed=seed)
    if analytic_kl:
        return tf.reduce_mean(w["log_px_z"], axis=0) - kl_normal_std(w["q_mu"], w["q_logvar"])
    return tf.reduce_mean(w["log_px_z"] + w["log_pz"] - w["log_qz_x"], axis=0)


def elbo_terms(model: VAE, x: tf.Tensor) -> dict[str, tf.Tensor]:
    """The two terms of the one-sample ELBO, on rank-2 tensors (the training hot path).

    One reparameterized code per example (drawn by the model's generator) and the
    exact KL. ``x`` is not checked here: call ``model.check_input`` first.

    Args:
      model: a :class:`vaelib.VAE`.
      x: ``[batch, input_size]`` pixels.

    Returns:
      ``q_mu``, ``q_logvar``, ``z`` (``[batch, latent]``), ``log_px_z`` (``[batch]``, the
      one-sample estimate of E_q[log p(x|z)]) and ``kl`` (``[batch]``, exact, summed
      over latents), nats.
    """
    q_mu, q_logvar = model.encoder(x)  # [batch, latent] each
    z = reparameterize(q_mu, q_logvar, model.noise.normal(tf.shape(q_mu)))
    return {
        "q_mu": q_mu,
        "q_logvar": q_logvar,
        "z": z,
        "log_px_z": model.log_px_z(x, z),  # [batch]
        "kl": kl_normal_std(q_mu, q_logvar),
    }  # [batch]


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
    terms = elbo_terms(model, x)
    log_px_z, kl = terms["log_px_z"], terms["kl"]
    bound = log_px_z - kl
    return {
        "loss": -tf.reduce_mean(bound),
        "elbo": tf.reduce_mean(bound),
        "log_px_z": tf.reduce_mean(log_px_z),
        "kl": tf.reduce_mean(kl),
    }


def _check_not_empty(x: tf.Tensor) -> None:
    if x.shape[0] == 0:
        raise ValueError(
            "vae_loss got an empty batch (0 examples) in x, whose mean ELBO is "
            "undefined; check how the dataset is batched"
        )


def _check_vae_batch(model: VAE, x) -> None:
    """What :func:`vaelib.fit` checks on the first batch, eagerly, before compiling the step."""
    _check_not_empty(model.check_input(x))


vae_loss.check_batch = _check_vae_batch
