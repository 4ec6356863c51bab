"""Priors p(z) for a VAE (chapter 10's holes; issue 26): the standard normal, a learned mixture
of Gaussians, and the VampPrior.

Chapter 10's ELBO surgery splits the average KL term into the information the codes carry and
``KL(q(z) || p(z))``, the divergence from the aggregate posterior ``q(z) = (1/N) sum_n
q(z|x_n)`` to the prior; for a fixed encoder that term, and so the ELBO, is best when the prior
*is* the aggregate posterior. A learned prior moves towards it:

* :class:`MixturePrior`: ``sum_k pi_k N(z; mu_k, diag(sigma_k^2))`` with learned weights,
  means and log variances;
* :class:`VampPrior` (Tomczak & Welling 2018): ``(1/K) sum_k q(z | u_k)``, the encoder's own
  Gaussians at ``K`` learned *pseudo-inputs* ``u_k``, an aggregate posterior of ``K`` made-up
  images, trained with the model.

Each has ``log_prob(z)`` for ``z`` ``[..., latent]`` -> ``[...]`` (nats, summed over latents)
and ``sample(n, seed)``; :func:`vaelib.objectives.prior_loss.prior_loss` trains a VAE with one.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import normal_log_prob, std_normal_log_prob

__all__ = ["StandardNormalPrior", "MixturePrior", "VampPrior", "mixture_log_prob"]


def mixture_log_prob(
    z: tf.Tensor, log_weights: tf.Tensor, mu: tf.Tensor, logvar: tf.Tensor
) -> tf.Tensor:
    """``log sum_k exp(log_weights_k) N(z; mu_k, exp(logvar_k))``.

    Args:
      z: ``[..., latent]``.
      log_weights: ``[K]``, normalized (``logsumexp = 0``).
      mu, logvar: ``[K, latent]``.

    Returns:
      ``[...]``, nats.
    """
    per_component = normal_log_prob(z[..., None, :], mu, logvar)  # [..., K]
    return tf.reduce_logsumexp(per_component + log_weights, axis=-1)


class StandardNormalPrior(tf.Module):
    """``N(0, I)``, the prior of every earlier chapter (no variables)."""

    def __init__(self, latent_size: int, name: str | None = None):
        super().__init__(name=name)
        self.latent_size = validation.positive_int("latent_size", latent_size)

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return std_normal_log_prob(z)

    def sample(self, n: int, seed: int = 0) -> tf.Tensor:
        n = validation.positive_int("n", n)
        return tf.random.stateless_normal([n, self.latent_size], seed=[seed, 0])


class MixturePrior(tf.Module):
    """A learned mixture of ``num_components`` diagonal Gaussians.

    The means start as draws of N(0, I) (seeded), the variances at 1 and the weights equal,
    so that the mixture starts close to the standard normal.
    """

    def __init__(
        self, latent_size: int, num_components: int = 10, seed: int = 0, name: str | None = None
    ):
        super().__init__(name=name)
        self.latent_size = validation.positive_int("latent_size", latent_size)
        k = validation.positive_int("num_components", num_components)
        self.mu = tf.Variable(
            tf.random.stateless_normal([k, latent_size], seed=[seed, 0]), name="mu"
        )
        self.logvar = tf.Variable(tf.zeros([k, latent_size]), name="logvar")
        self.logits = tf.Variable(tf.zeros([k]), name="logits")

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        return mixture_log_prob(z, tf.nn.log_softmax(self.logits), self.mu, self.logvar)

    def sample(self, n: int, seed: int = 0) -> tf.Tensor:
        n = validation.positive_int("n", n)
        component = tf.random.stateless_categorical(self.logits[None], n, seed=[seed, 0])[0]
        eps = tf.random.stateless_normal([n, self.latent_size], seed=[seed, 1])
        return tf.gather(self.mu, component) + tf.exp(0.5 * tf.gather(self.logvar, component)) * eps


class VampPrior(tf.Module):
    """``(1/K) sum_k q(z | u_k)`` with ``K`` learned pseudo-inputs ``u_k``.

    Args:
      encoder: the VAE's encoder, ``x -> (q_mu, q_logvar)`` (shared: the prior moves with it).
      pseudo_inputs: the initial ``u_k``, ``[K, input_size]`` (Tomczak & Welling initialize
        them from training images or at random; pass what you choose).

    The pseudo-inputs are free parameters; for binary images they are used as they are
    (Tomczak & Welling clip them to [0, 1] with a hard tanh; this keeps them as learned).
    """

    def __init__(self, encoder, pseudo_inputs, name: str | None = None):
        super().__init__(name=name)
        pseudo_inputs = np.asarray(pseudo_inputs, np.float32)
        if pseudo_inputs.ndim != 2 or len(pseudo_inputs) == 0:
            raise ValueError(
                f"pseudo_inputs must be [K, input_size] with K >= 1, got shape "
                f"{pseudo_inputs.shape}"
            )
        if not np.all(np.isfinite(pseudo_inputs)):
            raise ValueError("pseudo_inputs hold NaN or infinite values")
        self.encoder = encoder
        self.pseudo_inputs = tf.Variable(pseudo_inputs, name="pseudo_inputs")

    @property
    def num_components(self) -> int:
        return int(self.pseudo_inputs.shape[0])

    def components(self) -> tuple[tf.Tensor, tf.Tensor]:
        """The mixture's ``(mu, logvar)``, each ``[K, latent]``: the encoder at the ``u_k``."""
        return self.encoder(self.pseudo_inputs)

    def log_prob(self, z: tf.Tensor) -> tf.Tensor:
        mu, logvar = self.components()
        k = self.num_components
        return mixture_log_prob(z, tf.fill([k], -math.log(k)), mu, logvar)

    def sample(self, n: int, seed: int = 0) -> tf.Tensor:
        n = validation.positive_int("n", n)
        mu, logvar = self.components()
        component = tf.random.stateless_uniform(
            [n], seed=[seed, 0], maxval=self.num_components, dtype=tf.int32
        )
        eps = tf.random.stateless_normal(tf.shape(tf.gather(mu, component)), seed=[seed, 1])
        return tf.gather(mu, component) + tf.exp(0.5 * tf.gather(logvar, component)) * eps
