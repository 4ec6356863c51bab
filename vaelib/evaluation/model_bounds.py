"""The ELBO and L_k of a VAE with any prior and any flow posterior, per image (chapter 12).

:func:`vaelib.iwae_bound` scores the VAE of chapters 6-11: the prior N(0, I), the encoder's
Gaussian as proposal. A learned prior (:mod:`vaelib.models.priors`) changes ``log p(z)``; a flow
posterior (:mod:`vaelib.models.flows`) changes the proposal to ``q_K``, whose density comes
from the change of variables. :func:`model_bounds` draws ``num_samples`` codes per image from
the model's own proposal and returns, from the *same* log weights

    log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x),   s = 1..k,

both the Monte Carlo ELBO (their mean, with its standard error over the ``k`` codes) and the
importance-weighted bound ``L_k = log (1/k) sum_s w_s``, so that ``L_k - ELBO``, the part of
the gap the bound recovers, is paired code for code. With the standard normal prior and no
flow it is :func:`vaelib.iwae_bound`'s estimator (the tests check it).

Memory: the codes are drawn in chunks of ``chunk_size`` per image, and ``L_k`` is combined
across chunks by a running log-sum-exp, so ``k`` can be as large as time allows.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import normal_log_prob_from_eps, std_normal_log_prob
from vaelib.models.vae import reparameterize
from vaelib.objectives.flow_loss import flow_context

__all__ = ["ModelBounds", "model_bounds", "log_weights"]


@dataclasses.dataclass(frozen=True)
class ModelBounds:
    """Per-image bounds of one model on ``N`` images, in nats.

    Attributes:
      elbo: ``[N]``, the Monte Carlo ELBO (mean log weight over ``num_samples`` codes).
      elbo_se: ``[N]``, its standard error over the codes.
      iwae: ``[N]``, ``L_k`` from the same codes.
      num_samples: ``k``.
    """

    elbo: np.ndarray
    elbo_se: np.ndarray
    iwae: np.ndarray
    num_samples: int


def log_weights(model, x: tf.Tensor, eps: tf.Tensor, prior=None, flow=None) -> tf.Tensor:
    """``log p(x|z) + log p(z) - log q(z|x)`` for the codes made from ``eps``.

    Args:
      model: a :class:`vaelib.VAE` (encoder, decoder, likelihood).
      x: ``[batch, input_size]``.
      eps: ``[k, batch, latent]`` standard normal noise.
      prior: ``log_prob(z)`` ``[..., latent] -> [...]``; ``None`` is N(0, I).
      flow: a :class:`vaelib.models.flows.Flow` applied to the encoder's sample with the
        context ``[q_mu, q_logvar]`` (as :func:`vaelib.objectives.flow_loss.flow_elbo`);
        ``None`` keeps the Gaussian.

    Returns:
      ``[k, batch]``.
    """
    q_mu, q_logvar = model.encoder(x)
    z = reparameterize(q_mu, q_logvar, eps)
    log_qz_x = normal_log_prob_from_eps(eps, q_logvar)
    if flow is not None:
        z, log_det = flow(z, flow_context(q_mu, q_logvar))
        log_qz_x = log_qz_x - log_det
    log_pz = std_normal_log_prob(z) if prior is None else prior.log_prob(z)
    return model.log_px_z(x, z) + log_pz - log_qz_x


def model_bounds(
    model,
    x,
    num_samples: int,
    *,
    prior=None,
    flow=None,
    seed: int = 0,
    batch_size: int = 100,
    chunk_size: int = 100,
    jit_compile: bool = False,
) -> ModelBounds:
    """The ELBO and ``L_k`` of every image in ``x`` ``[N, input_size]`` under one model.

    Args:
      model, prior, flow: as in :func:`log_weights`.
      num_samples: ``k``, codes per image (at least 2, for the ELBO's standard error).
      seed: the codes' seed: the same seed gives the same codes for the same images.
      batch_size: images per compiled call.
      chunk_size: codes per image per compiled call.
      jit_compile: compile the log weights with XLA (``benchmarks/chapter12_compile.py``
        times both on chapter 12's model). The noise is drawn outside the compiled call
        either way, so the codes are the same.

    Returns:
      A :class:`ModelBounds`.

    Raises:
      ValueError: ``num_samples < 2``, a non-positive size, or images the model refuses.
    """
    num_samples = validation.integer("num_samples", num_samples, minimum=2)
    batch_size = validation.positive_int("batch_size", batch_size)
    chunk_size = validation.positive_int("chunk_size", chunk_size)
    seed = validation.integer("seed", seed, minimum=0)
    x = model.check_input(x)
    n = int(x.shape[0])
    latent = model.config.latent_size

    jit_compile = validation.flag("jit_compile", jit_compile)

    @tf.function(reduce_retracing=True, jit_compile=jit_compile)
    def chunk(xb, eps):
        return log_weights(model, xb, eps, prior, flow)

    elbo, elbo_se, iwae = [], [], []
    counter = 0  # one stream of noise per compiled call: the same seed, the same codes
    for start in range(0, n, batch_size):
        xb = x[start : start + batch_size]
        total, square, lse, done = 0.0, 0.0, None, 0
        while done < num_samples:
            k = min(chunk_size, num_samples - done)
            # drawn by TensorFlow's own kernel, outside the compiled call: under XLA the
            # stateless generator picks another algorithm, and the codes would change
            eps = tf.random.stateless_normal(
                [k, int(xb.shape[0]), latent], seed=tf.constant([seed, counter], tf.int32)
            )
            lw = chunk(xb, eps).numpy()
            lw = lw.astype(np.float64)  # [k, b]
            total = total + lw.sum(0)
            square = square + (lw**2).sum(0)
            part = np.logaddexp.reduce(lw, axis=0)
            lse = part if lse is None else np.logaddexp(lse, part)
            done += k
            counter += 1
        mean = total / num_samples
        var = np.maximum(square / num_samples - mean**2, 0.0) * num_samples / (num_samples - 1)
        elbo.append(mean)
        elbo_se.append(np.sqrt(var / num_samples))
        iwae.append(lse - math.log(num_samples))
    out = ModelBounds(
        elbo=np.concatenate(elbo),
        elbo_se=np.concatenate(elbo_se),
        iwae=np.concatenate(iwae),
        num_samples=num_samples,
    )
    if not (np.all(np.isfinite(out.elbo)) and np.all(np.isfinite(out.iwae))):
        raise ValueError(
            "a bound came out NaN or infinite: the model's weights or the prior's "
            "parameters are not finite; check the training run"
        )
    return out
