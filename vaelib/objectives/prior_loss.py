"""The ELBO with a learned prior, and the loss that trains a VAE and its prior together
(issue 26; the priors are in :mod:`vaelib.models.priors`).

With a prior that is not N(0, I) the KL term has no closed form, so it is estimated from the
same reparameterized codes as the reconstruction term:

    ELBO(x) = E_q[log p(x|z) + log p(z) - log q(z|x)],

one Monte Carlo average over ``num_samples`` codes. With ``vaelib.models.priors.
StandardNormalPrior`` it is the Monte Carlo ELBO of every earlier chapter (``vaelib.elbo``
with ``analytic_kl=False``), which the tests check.
"""

from __future__ import annotations

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import normal_log_prob_from_eps
from vaelib.models.vae import reparameterize
from vaelib.objectives.bounds import LossFn

__all__ = ["prior_elbo", "prior_loss"]


def prior_elbo(
    model, x: tf.Tensor, prior, num_samples: int = 1, eps: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """The ELBO of ``x`` ``[batch, input_size]`` under ``prior``, per example.

    Args:
      model: a :class:`vaelib.VAE` (its encoder, decoder and likelihood).
      prior: anything with ``log_prob(z)`` (:mod:`vaelib.models.priors`).
      num_samples: codes per example.
      eps: the noise ``[num_samples, batch, latent]``; ``None`` draws it from ``model.noise``.

    Returns:
      ``{"elbo", "log_px_z", "kl"}``, each ``[batch]``: the bound, its reconstruction term
      ``E_q log p(x|z)`` and its Monte Carlo KL ``E_q[log q(z|x) - log p(z)]``.
    """
    num_samples = validation.positive_int("num_samples", num_samples)
    x = model.check_input(x)
    q_mu, q_logvar = model.encoder(x)
    if eps is None:
        eps = model.noise.normal(tf.concat([[num_samples], tf.shape(q_mu)], axis=0))
    z = reparameterize(q_mu, q_logvar, eps)
    log_px_z = model.log_px_z(x, z)  # [k, batch]
    kl = normal_log_prob_from_eps(eps, q_logvar) - prior.log_prob(z)  # [k, batch]
    log_px_z, kl = tf.reduce_mean(log_px_z, axis=0), tf.reduce_mean(kl, axis=0)
    return {"elbo": log_px_z - kl, "log_px_z": log_px_z, "kl": kl}


def prior_loss(prior, num_samples: int = 1, warmup_steps: int = 0, optimizer=None) -> LossFn:
    """``loss_fn(model, x)`` for :func:`vaelib.fit`: ``-mean ELBO`` under ``prior``, with the
    metrics ``elbo``, ``log_px_z``, ``kl`` (batch means) and ``kl_weight``. The prior's
    variables train with the model's when it is part of the model (set ``model.prior = prior``
    before ``fit``, so that the optimizer sees them).

    Args:
      prior: anything with ``log_prob(z)``.
      num_samples: codes per example.
      warmup_steps: with ``warmup_steps > 0`` the KL term's weight rises linearly from 0 to 1
        over that many steps, as :func:`vaelib.kl_loss` does (Tomczak & Welling warm up their
        VampPrior models); ``elbo`` stays the true ELBO.
      optimizer: the optimizer that trains with this loss; needed for a warm-up, whose
        schedule reads ``optimizer.iterations`` (``vaelib.fit`` refuses another optimizer).

    Raises:
      ValueError: a warm-up without an optimizer, or a bad count.
    """
    num_samples = validation.positive_int("num_samples", num_samples)
    warmup = validation.integer("warmup_steps", warmup_steps, minimum=0)
    if warmup and optimizer is None:
        raise ValueError(
            "a warm-up (warmup_steps > 0) reads the optimizer's step counter: pass "
            "optimizer=, the one given to vaelib.fit"
        )

    def loss_fn(model, x):
        out = prior_elbo(model, x, prior, num_samples)
        means = {k: tf.reduce_mean(v) for k, v in out.items()}
        if warmup:
            t = tf.cast(optimizer.iterations, tf.float32)  # steps taken before this one
            weight = tf.minimum(1.0, t / warmup)
        else:
            weight = tf.constant(1.0)
        return {"loss": -(means["log_px_z"] - weight * means["kl"]), **means, "kl_weight": weight}

    loss_fn.num_samples = num_samples
    # the optimizer whose counter the warm-up reads (vaelib.fit checks it is the one it trains)
    loss_fn.optimizer = optimizer if warmup else None
    return loss_fn
