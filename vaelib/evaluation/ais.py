"""Annealed importance sampling (Neal 2001) for log p(x) of a latent-variable model.

The importance-weighted bound of chapter 7 uses the encoder as its proposal, so its
looseness depends on the encoder. AIS does not: it starts from the prior and moves
``num_chains`` chains through a path of distributions

    f_t(z) = p(z) p(x|z)^(beta_t),   0 = beta_0 < beta_1 < ... < beta_T = 1,

from the prior (t = 0) to the unnormalized posterior p(x, z) (t = T). Each chain carries a
log weight, ``sum_t (beta_t - beta_{t-1}) log p(x|z_{t-1})``, and after each increment takes
a Hamiltonian Monte Carlo step (``leapfrog_steps`` leapfrog steps and a Metropolis-Hastings
correction) that leaves f_t invariant. Then ``exp(log weight)`` is an unbiased estimate of
p(x), and ``log mean_chains exp(log weight)`` is a stochastic lower bound on log p(x) in
expectation (Jensen), which tightens as ``num_steps`` and ``num_chains`` grow (Wu et al. 2017
use it for decoder-based models). :func:`ais` is the algorithm for any prior and likelihood;
:func:`vae_ais` runs it on a :class:`vaelib.VAE`.

Step sizes. HMC needs a step size for each f_t. A first, *tuning* pass runs the same path and
adapts each example's step size after every transition towards an acceptance rate of 0.65
(times 1.02 above it, 0.98 below, as Wu et al. do); the estimate comes from a second pass, with
fresh noise, that uses the tuned step sizes as a fixed schedule. Adapting inside the pass that
is scored would make each transition depend on the chains' past, and the weights would no
longer be exactly those of AIS.

Shapes: ``z`` is ``[num_chains, batch, latent]``; log-densities are ``[num_chains, batch]``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import std_normal_log_prob

__all__ = ["AISConfig", "AISResult", "ais", "bdmc", "vae_ais", "sigmoid_schedule"]

LogDensity = Callable[[tf.Tensor], tf.Tensor]  # z [chains, batch, latent] -> [chains, batch]
TARGET_ACCEPTANCE = 0.65


@dataclasses.dataclass(frozen=True)
class AISConfig:
    """How :func:`ais` anneals.

    Attributes:
      num_steps: intermediate distributions ``T`` (the path's length); positive.
      num_chains: independent chains per example; positive.
      leapfrog_steps: leapfrog steps per HMC transition; positive.
      step_size: the initial leapfrog step size (tuned per example and step); positive.
      schedule: ``"sigmoid"`` (Grosse et al. 2015: slow at both ends) or ``"linear"``.
      jit_compile: compile each transition (its leapfrog steps' log-likelihoods and
        gradients) with XLA. On this course's 2-core CPU, AIS on chapter 12's MLP decoder
        ran about 3x faster with it in a process of its own
        (``benchmarks/chapter12_compile.py``); in chapter 12's own run its AIS took about
        as long as before, when it ran without XLA (why is not known). A convolutional
        decoder may run slower under XLA (``vaelib.evaluation.BoundEvaluator``), so set
        it ``False`` there. The noise is drawn outside the compiled transition, so the
        chains are the same either way up to float rounding.
    """

    num_steps: int = 500
    num_chains: int = 16
    leapfrog_steps: int = 10
    step_size: float = 0.05
    schedule: str = "sigmoid"
    jit_compile: bool = True

    def __post_init__(self):
        for field in ("num_steps", "num_chains", "leapfrog_steps"):
            object.__setattr__(self, field, validation.positive_int(field, getattr(self, field)))
        object.__setattr__(
            self, "step_size", validation.real("step_size", self.step_size, positive=True)
        )
        if self.schedule not in ("sigmoid", "linear"):
            raise ValueError(f"schedule must be 'sigmoid' or 'linear', got {self.schedule!r}")
        object.__setattr__(self, "jit_compile", validation.flag("jit_compile", self.jit_compile))


@dataclasses.dataclass(frozen=True)
class AISResult:
    """What :func:`ais` returns.

    Attributes:
      log_px: ``[batch]``, ``log mean_chains exp(log_weights)``: the estimate of log p(x).
      log_weights: ``[num_chains, batch]``, each chain's log weight.
      acceptance: ``[batch]``, the mean HMC acceptance rate of the scored pass.
      step_sizes: ``[num_steps, batch]``, the tuned schedule the scored pass used.
    """

    log_px: tf.Tensor
    log_weights: tf.Tensor
    acceptance: tf.Tensor
    step_sizes: tf.Tensor


def sigmoid_schedule(num_steps: int, kind: str = "sigmoid", scale: float = 4.0) -> tf.Tensor:
    """``beta_0 = 0 < ... < beta_T = 1``, ``[num_steps + 1]`` (float64).

    ``"sigmoid"``: ``sigmoid(scale * (2t/T - 1))`` rescaled to [0, 1], slow at both ends
    (Grosse et al. 2015); ``"linear"``: ``t / T``.
    """
    num_steps = validation.positive_int("num_steps", num_steps)
    t = tf.linspace(tf.constant(0.0, tf.float64), 1.0, num_steps + 1)
    if kind == "linear":
        return t
    if kind != "sigmoid":
        raise ValueError(f"kind must be 'sigmoid' or 'linear', got {kind!r}")
    s = tf.sigmoid(scale * (2.0 * t - 1.0))
    return (s - s[0]) / (s[-1] - s[0])


def _hmc_noise(z, seed):
    """The noise of one HMC transition: ``(momentum, u)``, ``z``'s shape and ``[chains, batch]``.

    Drawn by TensorFlow's own kernels, outside any XLA program: under XLA the stateless
    generators pick another algorithm, and the draws would depend on ``jit_compile``."""
    momentum_seed, accept_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    momentum = tf.random.stateless_normal(tf.shape(z), seed=momentum_seed, dtype=z.dtype)
    u = tf.random.stateless_uniform(tf.shape(z)[:2], seed=accept_seed, dtype=z.dtype)
    return momentum, u


def _hmc(z, log_target, step_size, leapfrog_steps, momentum, u):
    """One HMC transition per chain. ``step_size`` ``[batch]``; ``momentum``, ``u`` from
    :func:`_hmc_noise`. Returns (z, accepted)."""
    dtype = z.dtype
    size = tf.cast(step_size, dtype)[None, :, None]  # [1, batch, 1]

    def value_and_grad(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = log_target(z)
        return value, tape.gradient(value, z)

    value0, grad = value_and_grad(z)
    energy0 = -value0 + 0.5 * tf.reduce_sum(momentum**2, axis=-1)
    z_new, p = z, momentum + 0.5 * size * grad
    for i in range(leapfrog_steps):
        z_new = z_new + size * p
        value, grad = value_and_grad(z_new)
        p = p + (size if i < leapfrog_steps - 1 else 0.5 * size) * grad
    energy1 = -value + 0.5 * tf.reduce_sum(p**2, axis=-1)
    log_accept = tf.minimum(tf.zeros_like(energy0), energy0 - energy1)
    log_accept = tf.where(
        tf.math.is_finite(log_accept), log_accept, -tf.ones_like(log_accept) * 1e9
    )
    accepted = tf.math.log(u) < log_accept  # [chains, batch]
    return tf.where(accepted[..., None], z_new, z), accepted


def _transition(log_prior, log_likelihood, leapfrog_steps, jit_compile):
    # traced once: beta, the step size and the noise are tensors
    @tf.function(jit_compile=jit_compile)
    def transition(z, log_w, beta_prev, beta, size, momentum, u):
        """Adds the weight increment of moving from beta_prev to beta at z, then one HMC
        transition that leaves p(z) p(x|z)^beta invariant."""
        log_w = log_w + (beta - beta_prev) * log_likelihood(z)

        def log_target(z):
            return log_prior(z) + beta * log_likelihood(z)

        z, accepted = _hmc(z, log_target, size, leapfrog_steps, momentum, u)
        return z, log_w, tf.reduce_mean(tf.cast(accepted, z.dtype), axis=0)

    return transition


def _anneal(transition, z0, betas, step_sizes, seed, adapt):
    """One pass along the path. Returns (log_weights, acceptance, step sizes used [T, batch])."""
    num_steps = int(betas.shape[0]) - 1
    dtype = z0.dtype
    betas = tf.cast(betas, dtype)
    z, log_w = z0, tf.zeros(tf.shape(z0)[:2], dtype)
    size = step_sizes[0]
    used, accept_sum = [], tf.zeros(tf.shape(z0)[1:2], dtype)
    seeds = tf.random.experimental.stateless_split(seed, num_steps)
    for t in range(1, num_steps + 1):
        if not adapt:
            size = step_sizes[t - 1]
        used.append(size)
        momentum, u = _hmc_noise(z, seeds[t - 1])
        z, log_w, rate = transition(z, log_w, betas[t - 1], betas[t], size, momentum, u)
        accept_sum += rate
        if adapt:
            up, down = tf.constant(1.02, dtype), tf.constant(0.98, dtype)
            size = size * tf.where(rate > TARGET_ACCEPTANCE, up, down)
    return log_w, accept_sum / num_steps, tf.stack(used)


def ais(
    log_prior: LogDensity,
    log_likelihood: LogDensity,
    z0: tf.Tensor,
    config: AISConfig = AISConfig(),
    seed: int = 0,
) -> AISResult:  # noqa: B008 (frozen)
    """Annealed importance sampling of ``log p(x) = log E_p(z)[p(x|z)]`` for a batch.

    Args:
      log_prior: ``log p(z)``, ``[chains, batch]`` for ``z`` ``[chains, batch, latent]``.
      log_likelihood: ``log p(x|z)`` of each example's own ``x`` (closed over), same shapes.
      z0: draws of the prior, ``[config.num_chains, batch, latent]``: the chains' start.
      config: the path's length, the chains, HMC's settings.
      seed: of the HMC noise (the tuning pass and the scored pass use independent streams).

    Returns:
      :class:`AISResult`.

    Raises:
      ValueError: ``z0`` is not ``[num_chains, batch, latent]``, or holds NaN or infinity.
    """
    if not isinstance(config, AISConfig):
        raise TypeError(f"config must be a vaelib.evaluation.ais.AISConfig, got {type(config)}")
    z0 = tf.convert_to_tensor(z0)
    if z0.shape.rank != 3 or z0.shape[0] != config.num_chains:
        raise ValueError(
            f"z0 must be [num_chains={config.num_chains}, batch, latent], got {z0.shape}"
        )
    if not bool(tf.reduce_all(tf.math.is_finite(z0))):
        raise ValueError("z0 holds NaN or infinite values")
    seed = validation.integer("seed", seed, minimum=0)
    tune_seed, score_seed = tf.unstack(tf.random.experimental.stateless_split([seed, 0], 2))
    betas = sigmoid_schedule(config.num_steps, config.schedule)
    transition = _transition(log_prior, log_likelihood, config.leapfrog_steps, config.jit_compile)
    initial = tf.fill([config.num_steps, z0.shape[1]], tf.constant(config.step_size, z0.dtype))
    _, _, tuned = _anneal(transition, z0, betas, initial, tune_seed, adapt=True)
    log_w, acceptance, used = _anneal(transition, z0, betas, tuned, score_seed, adapt=False)
    log_px = tf.reduce_logsumexp(log_w, axis=0) - math.log(config.num_chains)
    return AISResult(log_px=log_px, log_weights=log_w, acceptance=acceptance, step_sizes=used)


def bdmc(
    log_prior: LogDensity,
    log_likelihood: LogDensity,
    z0: tf.Tensor,
    z_posterior: tf.Tensor,
    config: AISConfig = AISConfig(),  # noqa: B008 (frozen)
    seed: int = 0,
) -> tuple[AISResult, tf.Tensor]:
    """Bidirectional Monte Carlo (Grosse et al. 2015): log p(x) from below and from above.

    The forward pass is :func:`ais` (a stochastic lower bound). The reverse pass starts each
    chain from an *exact* posterior sample ``z_posterior`` and runs the same path backwards,
    from p(x, z) to the prior, with the forward pass's step sizes reversed; its weights
    ``w_rev`` satisfy ``E[w_rev] = 1 / p(x)``, so ``-log mean_chains w_rev`` is a stochastic
    upper bound on log p(x). Exact posterior samples exist for data simulated from the
    model: draw ``z ~ p(z)``, then ``x ~ p(x|z)``; that ``z`` is a draw of ``p(z|x)``.

    Args:
      z0: prior draws, ``[num_chains, batch, latent]`` (the forward start).
      z_posterior: exact posterior draws, same shape (the reverse start).

    Returns:
      ``(forward, upper)``: the forward :class:`AISResult` and the upper estimate ``[batch]``.
    """
    forward = ais(log_prior, log_likelihood, z0, config, seed)
    z_posterior = tf.convert_to_tensor(z_posterior, z0.dtype)
    if z_posterior.shape != forward.log_weights.shape + z0.shape[-1:]:
        raise ValueError(f"z_posterior must have z0's shape {z0.shape}, got {z_posterior.shape}")
    betas = sigmoid_schedule(config.num_steps, config.schedule)[::-1]  # 1 -> 0
    transition = _transition(log_prior, log_likelihood, config.leapfrog_steps, config.jit_compile)
    reverse_seed = tf.random.experimental.stateless_split([validation.integer("seed", seed), 1], 1)[
        0
    ]
    log_w_rev, _, _ = _anneal(
        transition, z_posterior, betas, forward.step_sizes[::-1], reverse_seed, adapt=False
    )
    upper = -(tf.reduce_logsumexp(log_w_rev, axis=0) - math.log(config.num_chains))
    return forward, upper


def vae_ais(model, x, config: AISConfig = AISConfig(), seed: int = 0) -> AISResult:  # noqa: B008
    """:func:`ais` for a :class:`vaelib.VAE` (prior N(0, I), its decoder likelihood) on ``x``
    ``[batch, input_size]``; the chains start from prior draws made with ``seed``."""
    x = model.check_input(x)
    latent = model.config.latent_size
    z0 = tf.random.stateless_normal(
        [config.num_chains, x.shape[0], latent],
        seed=[validation.integer("seed", seed, minimum=0), 1],
    )

    def log_likelihood(z):
        return model.log_px_z(x, z)

    return ais(std_normal_log_prob, log_likelihood, z0, config, seed)
