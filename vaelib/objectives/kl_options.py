"""Options of the ELBO's KL term: a weight beta, free bits and a warm-up (chapter 10).

The one-sample ELBO is ``log p(x|z) - KL(q(z|x) || p(z))``; :func:`vaelib.vae_loss`
minimizes its negative mean. Three common changes act on the KL term only:

* ``beta`` (Higgins et al. 2017; Alemi et al. 2018): the loss is
  ``-mean log p(x|z) + beta * mean KL``. ``beta > 1`` buys a lower rate (KL) with
  a higher distortion (``-E log p(x|z)``), ``beta < 1`` the reverse; only ``beta = 1``
  is the ELBO.
* ``free_bits`` (Kingma et al. 2016, "free bits"): with ``lambda = free_bits`` nats,
  each latent dimension ``j`` is charged ``max(lambda, mean_batch KL_j)``, where
  ``KL_j`` is the KL of dimension ``j`` and the mean is over the batch (the paper's
  groups are single dimensions here). Below ``lambda`` a dimension's KL costs nothing,
  so the encoder may use it up to ``lambda`` nats without being pushed back to the prior.
* ``warmup_steps`` (Bowman et al. 2016; Sonderby et al. 2016): the KL weight rises
  linearly from 0 at the first step to ``beta`` after ``warmup_steps`` steps,
  ``weight = beta * min(1, t / warmup_steps)`` with ``t`` the optimizer's ``iterations``
  before the step. The schedule reads that counter, so it is saved in a checkpoint with
  the optimizer and a resumed run continues it; :func:`vaelib.fit` needs no change, but
  refuses a loss whose warm-up reads another optimizer than the one it trains with.

The factory :func:`kl_loss` returns :func:`vaelib.vae_loss` itself for the default
options, so the plain ELBO step keeps exactly its graph (``benchmarks/kl_options.py``
measures the others against it). Every loss it returns reports the *ELBO* under
``"elbo"`` (with weight 1 and no floor), whatever it minimizes, so runs with different
options can be compared on the bound.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import kl_normal_std
from vaelib.objectives.bounds import LossFn, elbo_terms, vae_loss

__all__ = ["KLOptions", "kl_loss", "kl_per_dimension_batch"]


@dataclasses.dataclass(frozen=True)
class KLOptions:
    """How the KL term of the one-sample ELBO is weighted during training.

    Attributes:
      beta: the KL's final weight, positive (1 is the ELBO).
      free_bits: nats per latent dimension that cost nothing (``lambda`` of Kingma
        et al. 2016), ``>= 0``; 0 switches it off.
      warmup_steps: steps over which the weight rises linearly from 0 to ``beta``,
        ``>= 0``; 0 switches it off.
    """

    beta: float = 1.0
    free_bits: float = 0.0
    warmup_steps: int = 0

    def __post_init__(self):
        # vaelib.validation's rules; NumPy numbers are stored as Python ones
        for field in ("beta", "free_bits"):
            object.__setattr__(self, field, validation.real(field, getattr(self, field)))
        if not self.beta > 0:
            raise ValueError(f"beta must be positive, got {self.beta!r}; beta = 1 is the ELBO")
        if self.free_bits < 0:
            raise ValueError(f"free_bits must be >= 0 nats per dimension, got {self.free_bits!r}")
        object.__setattr__(
            self, "warmup_steps", validation.integer("warmup_steps", self.warmup_steps, minimum=0)
        )

    @property
    def is_elbo(self) -> bool:
        """True for the default options: the loss is the plain negative ELBO."""
        return self.beta == 1.0 and self.free_bits == 0.0 and self.warmup_steps == 0

    def describe(self) -> str:
        """A short description for a protocol card, e.g. ``"beta 4, free bits 0.5 nats/dim"``."""
        if self.is_elbo:
            return "ELBO (beta 1, no free bits, no warm-up)"
        parts = [f"beta {self.beta:g}"]
        if self.free_bits:
            parts.append(f"free bits {self.free_bits:g} nats per dimension")
        if self.warmup_steps:
            parts.append(f"KL weight warmed up linearly from 0 over {self.warmup_steps:,} steps")
        return ", ".join(parts)


def kl_per_dimension_batch(q_mu: tf.Tensor, q_logvar: tf.Tensor) -> tf.Tensor:
    """``KL(q(z_j|x) || N(0, 1))`` for each example and dimension, ``[batch, latent]``, nats.

    The summands of :func:`vaelib.kl_normal_std` (the same stable formula).
    """
    return kl_normal_std(q_mu[..., None], q_logvar[..., None])


def kl_loss(
    options: KLOptions = KLOptions(), optimizer: tf.keras.optimizers.Optimizer | None = None
) -> LossFn:
    """The training loss for :func:`vaelib.fit` with the given KL options.

    ``loss = -mean_batch log p(x|z) + weight * C``, with ``C = mean_batch KL`` or, with
    free bits, ``C = sum_j max(free_bits, mean_batch KL_j)``, and ``weight = beta``
    (rising from 0 during the warm-up).

    Args:
      options: beta, free bits, warm-up. The default is the ELBO.
      optimizer: the optimizer that trains with this loss; needed only for a
        warm-up, whose schedule reads ``optimizer.iterations``. Training the loss
        with another optimizer (which would leave that counter, and so the KL
        weight, at 0 for the whole run) is refused by :func:`vaelib.fit` and
        :func:`vaelib.make_train_step` before the first step.

    Returns:
      :func:`vaelib.vae_loss` itself when ``options.is_elbo``; otherwise
      ``loss_fn(model, x) -> dict`` with ``loss``, ``elbo`` (the batch mean of the
      true ELBO), ``log_px_z``, ``kl`` (batch means, nats) and ``kl_weight``. Its
      ``check_batch`` is :func:`vaelib.vae_loss`'s; its ``optimizer`` is the one the
      warm-up reads (``None`` without a warm-up).

    Raises:
      TypeError: ``options`` is not a :class:`KLOptions`.
      ValueError: a warm-up without an optimizer.
    """
    if not isinstance(options, KLOptions):
        raise TypeError(f"options must be a vaelib.KLOptions, got {type(options).__name__}")
    if options.is_elbo:
        return vae_loss
    if options.warmup_steps and optimizer is None:
        raise ValueError(
            "a warm-up (warmup_steps > 0) reads the optimizer's step counter: pass "
            "optimizer=, the one given to vaelib.fit"
        )
    if optimizer is not None and not hasattr(optimizer, "iterations"):
        raise TypeError(f"optimizer must be a Keras optimizer, got {type(optimizer).__name__}")
    beta, free_bits, warmup = (
        float(options.beta),
        float(options.free_bits),
        int(options.warmup_steps),
    )

    def kl_weight() -> tf.Tensor:
        if not warmup:
            return tf.constant(beta)
        t = tf.cast(optimizer.iterations, tf.float32)  # steps taken before this one
        return beta * tf.minimum(1.0, t / warmup)

    def loss_fn(model, x) -> dict[str, tf.Tensor]:
        x = model.check_input(x)
        if tf.executing_eagerly():
            vae_loss.check_batch(model, x)
        terms = elbo_terms(model, x)
        log_px_z = tf.reduce_mean(terms["log_px_z"])
        if free_bits:
            per_dim = tf.reduce_mean(
                kl_per_dimension_batch(terms["q_mu"], terms["q_logvar"]), axis=0
            )
            kl = tf.reduce_sum(per_dim)  # equals mean_batch of terms["kl"], to rounding
            charged = tf.reduce_sum(tf.maximum(free_bits, per_dim))
        else:
            kl = charged = tf.reduce_mean(terms["kl"])
        weight = kl_weight()
        return {
            "loss": -log_px_z + weight * charged,
            "elbo": log_px_z - kl,
            "log_px_z": log_px_z,
            "kl": kl,
            "kl_weight": weight,
        }

    loss_fn.check_batch = vae_loss.check_batch
    loss_fn.options = options
    # the optimizer whose counter the warm-up reads: vaelib.fit (make_train_step) refuses to
    # train this loss with another one, whose steps would leave the KL weight at 0 for good
    loss_fn.optimizer = optimizer if warmup else None
    loss_fn.__name__ = "kl_loss"
    return loss_fn
