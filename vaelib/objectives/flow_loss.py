"""The ELBO with a flow posterior (issue 26; the flows are in :mod:`vaelib.models.flows`).

The encoder's Gaussian sample ``z_0`` goes through the flow, ``z_K, log_det = flow(z_0, h)``,
with the context ``h = [q_mu, q_logvar]`` (the encoder's output: a simple choice; Kingma et
al. 2016 give the encoder a separate output for it). By the change of variables
``log q_K(z_K|x) = log q_0(z_0|x) - log_det``, and

    ELBO(x) = E_{z_0}[log p(x|z_K) + log p(z_K) - log q_0(z_0|x) + log_det],

one Monte Carlo average over ``num_samples`` codes. A flow that is the identity gives the
Monte Carlo ELBO of the Gaussian encoder, which the tests check.
"""

from __future__ import annotations

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import normal_log_prob_from_eps, std_normal_log_prob
from vaelib.models.vae import reparameterize
from vaelib.objectives.bounds import LossFn

__all__ = ["flow_elbo", "flow_loss", "flow_context"]


def flow_context(q_mu: tf.Tensor, q_logvar: tf.Tensor) -> tf.Tensor:
    """The context a flow sees: ``[q_mu, q_logvar]``, ``[batch, 2 * latent]``."""
    return tf.concat([q_mu, q_logvar], axis=-1)


def flow_elbo(
    model, x: tf.Tensor, flow, num_samples: int = 1, eps: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """The ELBO of ``x`` ``[batch, input_size]`` with ``q_K`` (the encoder, then ``flow``).

    Returns:
      ``{"elbo", "log_px_z", "kl", "log_det"}``, each ``[batch]``: the bound, its
      reconstruction term, its Monte Carlo KL ``E[log q_K(z_K|x) - log p(z_K)]`` and the mean
      log-determinant of the flow.
    """
    num_samples = validation.positive_int("num_samples", num_samples)
    x = model.check_input(x)
    q_mu, q_logvar = model.encoder(x)
    if eps is None:
        eps = model.noise.normal(tf.concat([[num_samples], tf.shape(q_mu)], axis=0))
    z0 = reparameterize(q_mu, q_logvar, eps)
    z, log_det = flow(z0, flow_context(q_mu, q_logvar))  # [k, batch, latent], [k, batch]
    log_qk = normal_log_prob_from_eps(eps, q_logvar) - log_det
    log_px_z = model.log_px_z(x, z)
    kl = log_qk - std_normal_log_prob(z)
    means = [tf.reduce_mean(t, axis=0) for t in (log_px_z, kl, log_det)]
    return {"elbo": means[0] - means[1], "log_px_z": means[0], "kl": means[1], "log_det": means[2]}


def flow_loss(flow, num_samples: int = 1) -> LossFn:
    """``loss_fn(model, x)`` for :func:`vaelib.fit`: ``-mean ELBO`` with the flow posterior.
    Set ``model.flow = flow`` before ``fit`` so that the flow's variables train with the model."""
    num_samples = validation.positive_int("num_samples", num_samples)

    def loss_fn(model, x):
        out = flow_elbo(model, x, flow, num_samples)
        means = {k: tf.reduce_mean(v) for k, v in out.items()}
        return {"loss": -means["elbo"], **means}

    loss_fn.num_samples = num_samples
    return loss_fn
