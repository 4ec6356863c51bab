"""Importance-weighted bounds and whole-set evaluation (chapter 7).

(Over 300 lines because its one concept, estimating log p(x) over a test set, needs a
memory-bounded compiled evaluator, its cache and the functions that call it; the cache and
the evaluator share their invariants and are tested together.)

For any ``num_samples``, ``E[elbo] <= E[iwae_bound] <= log p(x)``, and the
importance-weighted bound tends to ``log p(x)`` as ``num_samples`` grows (Burda et
al. 2015). Both return one number per example, in nats; higher is better.

The fast path. ``L_5000`` over a test set is the slowest computation in the book:
it decodes 5,000 codes per image. :func:`iwae_bound`, called eagerly, runs the
work on the codes through one compiled program per *chunk shape*
(:class:`BoundEvaluator`): the program takes a chunk of noise ``eps``
``[m, batch, latent]`` and returns ``logsumexp`` of the log-weights over its ``m``
codes. For an MLP decoder it is compiled with XLA (the decoder, the likelihood and
the log-densities fused into a few loops); for a convolutional decoder it is a plain
``tf.function``, whose convolutions run in TensorFlow's own CPU kernels: on this
course's 2-core CPU XLA made the MLP's bound about 2x faster and the convolutional
VAE's about 3x slower (``benchmarks/evaluation_compile.py``). ``m`` is chosen so
that a chunk's activations fit in ``memory_bytes``
(:meth:`BoundEvaluator.samples_per_pass`). The noise is drawn exactly as before
(one stateless draw per ``chunk_size`` codes, seeded ``[seed, chunk]``, or the
model's generator), so the numbers are those of the op-by-op computation to float
tolerance (``tests/test_evaluation.py``); called inside a ``tf.function``,
:func:`iwae_bound` runs op by op in that graph.
"""

from __future__ import annotations

import math
import sys
import weakref

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import normal_log_prob_from_eps, std_normal_log_prob
from vaelib.models.vae import VAE, reparameterize
from vaelib.objectives.bounds import _check_num_samples, _check_positive_int, elbo
from vaelib.training.progress import Progress

__all__ = ["iwae_bound", "evaluate_bounds", "BoundEvaluator", "DEFAULT_MEMORY_BYTES"]

# Activations of one compiled pass. On 2 shared cores, interleaved runs of L_5000 with
# passes of 8 to 256 MB put 16-32 MB among the fastest; the rates were noisy (up to 30%).
DEFAULT_MEMORY_BYTES = 32 * 2**20
# progress=None shows a bar (on stderr, or one replaced line in Jupyter) only for an
# evaluation still running after this many seconds, so short ones print nothing
PROGRESS_DELAY = 30.0


def _progress_bar(progress, total: int) -> Progress:
    """The bar of an evaluation of ``total`` codes: ``progress`` True, False or None (auto)."""
    if progress is not None:
        progress = validation.flag("progress", progress)
    return Progress(
        total,
        enabled=progress is not False,
        unit="code",
        file=sys.stderr,
        delay=PROGRESS_DELAY if progress is None else 0.0,
    )


class BoundEvaluator:
    """The importance-weighted bound of one model, computed by compiled chunks.

    Args:
      model: the VAE; its weights are read at every call (training in between is fine).
      memory_bytes: the most bytes of activations one compiled pass may hold;
        sets the codes per pass (:meth:`samples_per_pass`).
      jit_compile: compile the passes with XLA; ``None`` (the default): with XLA
        for an MLP decoder, without for any other (convolutional) decoder.

    Raises:
      TypeError: ``model`` is not a :class:`vaelib.VAE`.
      ValueError: ``memory_bytes`` is not a positive int.
      TypeError: ``jit_compile`` is not a bool or ``None``.
    """

    def __init__(
        self,
        model: VAE,
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        jit_compile: bool | None = None,
    ):
        if not isinstance(model, VAE):
            raise TypeError(f"model must be a vaelib.VAE, got {type(model).__name__}")
        _check_positive_int("memory_bytes", memory_bytes)
        self.memory_bytes = int(memory_bytes)
        self._model = weakref.ref(model)  # the evaluator is cached per model: no cycle
        layers = getattr(getattr(model.decoder, "net", None), "layers", None) or []
        mlp_decoder = bool(layers) and all(hasattr(layer, "w") for layer in layers)
        if mlp_decoder:
            widths = [int(layer.w.shape[1]) for layer in layers]
        else:  # another decoder (convolutional): its feature maps, guessed generously
            widths = [8 * model.config.input_size]
        #: whether the passes are compiled with XLA
        self.jit_compile = (
            mlp_decoder if jit_compile is None else validation.flag("jit_compile", jit_compile)
        )
        # floats alive per code and example: z, every decoder layer's output, and the
        # likelihood's elementwise work on the last (XLA fuses it into one more buffer)
        self.floats_per_sample = model.config.latent_size + sum(widths) + widths[-1]
        self._programs: dict[tuple[int, int], tf.types.experimental.GenericFunction] = {}

    @property
    def model(self) -> VAE:
        model = self._model()
        if model is None:
            raise RuntimeError("the model of this BoundEvaluator no longer exists")
        return model

    def _log_mean_exp_pass(self, x, q_mu, q_logvar, eps):
        """``logsumexp_i log w_i`` over the ``m`` codes of ``eps`` ``[m, batch, latent]``:
        ``[batch]``."""
        z = reparameterize(q_mu, q_logvar, eps)
        log_w = (
            self.model.log_px_z(x, z)
            + std_normal_log_prob(z)
            - normal_log_prob_from_eps(eps, q_logvar)
        )  # [m, batch]
        return tf.reduce_logsumexp(log_w, axis=0)

    def samples_per_pass(self, batch_size: int) -> int:
        """Codes per example in one compiled pass: as many as ``memory_bytes`` holds, at least 1."""
        _check_positive_int("batch_size", batch_size)
        return max(1, self.memory_bytes // (4 * self.floats_per_sample * int(batch_size)))

    @property
    def programs(self) -> int:
        """Programs traced (and compiled) so far: one per distinct chunk shape."""
        return sum(f.experimental_get_tracing_count() for f in self._programs.values())

    def _pass(self, x, q_mu, q_logvar, eps):
        """Runs the compiled program of ``eps``'s shape, tracing it the first time.

        One ``tf.function`` per shape, each with a fixed signature: each traces once,
        and TensorFlow's retracing warning (meant for accidental retracing) stays quiet."""
        shape = (int(eps.shape[0]), int(eps.shape[1]))
        program = self._programs.get(shape)
        if program is None:
            signature = [
                tf.TensorSpec(x.shape, tf.float32),
                tf.TensorSpec(q_mu.shape, tf.float32),
                tf.TensorSpec(q_logvar.shape, tf.float32),
                tf.TensorSpec(eps.shape, tf.float32),
            ]
            program = self._programs[shape] = tf.function(
                self._log_mean_exp_pass,
                jit_compile=self.jit_compile,
                input_signature=signature,
            )
        return program(x, q_mu, q_logvar, eps)

    def iwae_bound(
        self,
        x: tf.Tensor,
        num_samples: int,
        *,
        chunk_size: int = 500,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> tf.Tensor:
        """As :func:`iwae_bound` (the same noise, the same numbers to float tolerance).

        Each noise chunk of ``chunk_size`` codes is split into passes of at most
        :meth:`samples_per_pass` codes, as evenly as possible, so a call uses at
        most two pass shapes per chunk size.
        """
        num_samples, chunk_size, seed = _check_bound_args(num_samples, chunk_size, seed)
        model = self.model
        x = model.check_input(x)  # the checks of model.log_weights: dtype, shape, values in [0, 1]
        q_mu, q_logvar = model.encoder(x)
        batch = max(1, int(x.shape[0]))
        per_pass = self.samples_per_pass(batch)
        bar = _progress_bar(progress, num_samples * batch)
        sums = []
        try:
            for i, start in enumerate(range(0, num_samples, chunk_size)):
                k = min(chunk_size, num_samples - start)
                shape = tf.concat([[k], tf.shape(q_mu)], axis=0)  # as model.log_weights draws it
                eps = (
                    model.noise.normal(shape)
                    if seed is None
                    else tf.random.stateless_normal(shape, seed=tf.constant([seed, i], tf.int64))
                )
                passes = -(-k // per_pass)
                sizes = [k // passes + (j < k % passes) for j in range(passes)]
                parts = tf.split(eps, sizes, axis=0) if passes > 1 else [eps]
                for part, size in zip(parts, sizes, strict=True):
                    sums.append(self._pass(x, q_mu, q_logvar, part))
                    bar.update(size * batch)
        finally:
            bar.close()
        return tf.reduce_logsumexp(tf.stack(sums), axis=0) - math.log(num_samples)


def _check_bound_args(num_samples, chunk_size, seed) -> tuple[int, int, int | None]:
    """``num_samples`` and ``chunk_size`` as positive ints, ``seed`` as an int or ``None``."""
    _check_num_samples(num_samples)
    _check_positive_int("chunk_size", chunk_size)
    if seed is not None:
        try:
            seed = validation.integer("seed", seed)
        except validation.ArgumentTypeError:
            raise validation.ArgumentTypeError(
                f"seed must be an int or None, got {seed!r} (an int or a NumPy integer, not a bool)"
            ) from None
    return int(num_samples), int(chunk_size), seed


_EVALUATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a cache: model -> evaluator


def _evaluator(model: VAE) -> BoundEvaluator:
    evaluator = _EVALUATORS.get(model)
    if evaluator is None:
        evaluator = _EVALUATORS[model] = BoundEvaluator(model)
    return evaluator


def _iwae_bound_op_by_op(
    model: VAE, x: tf.Tensor, num_samples: int, chunk_size: int, seed: int | None
) -> tf.Tensor:
    """The reference computation, from ``model.log_weights`` (in a graph, or for any model)."""
    chunks = []
    for i, start in enumerate(range(0, num_samples, chunk_size)):
        k = min(chunk_size, num_samples - start)
        chunk_seed = None if seed is None else tf.constant([seed, i], tf.int64)
        w = model.log_weights(x, k, seed=chunk_seed)
        chunks.append(tf.reduce_logsumexp(w["log_px_z"] + w["log_pz"] - w["log_qz_x"], axis=0))
    return tf.reduce_logsumexp(tf.stack(chunks), axis=0) - math.log(num_samples)


def iwae_bound(
    model: VAE,
    x: tf.Tensor,
    num_samples: int,
    *,
    chunk_size: int = 500,
    seed: int | None = None,
    progress: bool | None = None,
) -> tf.Tensor:
    """The importance-weighted bound (Burda et al. 2015), per example:

    ``log (1/k) sum_i p(x, z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``, ``k = num_samples``,

    computed stably with ``logsumexp``. The noise is drawn in chunks of
    ``chunk_size`` codes (chunk ``i`` seeded ``[seed, i]``; without a seed, by the
    model's generator), so that ``k = 5000`` fits in memory. ``k = 1`` is the
    Monte Carlo ELBO. Called eagerly on a :class:`vaelib.VAE`, the work runs in
    compiled passes (:class:`BoundEvaluator`, one program per chunk shape, cached
    per model); inside a ``tf.function``, op by op.

    Args:
      model: the VAE.
      x: ``[batch, input_size]`` binary pixels.
      num_samples: ``k``, a positive int.
      chunk_size: codes per noise chunk, a positive int.
      seed: an int fixing the noise, or ``None``.
      progress: show a progress bar (on stderr; in Jupyter, one line replaced in
        place); ``None``, the default, shows it only once the evaluation has run
        for ``PROGRESS_DELAY`` (30) seconds, so short calls print nothing. Eager only.

    Returns:
      ``[batch]``, nats.

    Raises:
      ValueError: ``num_samples`` or ``chunk_size`` is not a positive int, or ``x``
        fails :meth:`vaelib.VAE.check_input`.
      TypeError: ``seed`` is neither an int nor ``None``, or ``x`` is not a tensor of
        pixels (a ``tf.data.Dataset``, say: pass a fixed array of its examples).
    """
    num_samples, chunk_size, seed = _check_bound_args(num_samples, chunk_size, seed)
    validation.examples("x", x)
    if tf.executing_eagerly() and isinstance(model, VAE):
        return _evaluator(model).iwae_bound(
            x, num_samples, chunk_size=chunk_size, seed=seed, progress=progress
        )
    return _iwae_bound_op_by_op(model, x, num_samples, chunk_size, seed)


def evaluate_bounds(
    model: VAE,
    x: np.ndarray,
    num_samples: tuple[int, ...] = (1,),
    *,
    batch_size: int = 100,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, float]:
    """Mean ELBO and importance-weighted bounds over a whole (fixed, binarized) set.

    The bounds of batch ``b`` use the seed ``seed * 7919 + b`` (the ELBO ``[seed, b]``),
    so a set's numbers depend on ``batch_size`` only through the noise.

    Args:
      model: the VAE.
      x: ``[N, input_size]`` binary pixels.
      num_samples: the ``k`` of each importance-weighted bound to compute.
      batch_size: examples per pass.
      seed: fixes the noise, so two calls give the same numbers.
      progress: a progress bar over all the bounds, as :func:`iwae_bound`'s
        (``None``: only once the evaluation has run for 30 seconds).

    Returns:
      ``{"elbo": ..., "iwae_1": ..., "iwae_5000": ...}``, nats per example.

    Raises:
      TypeError: ``x`` is not an array (a ``tf.data.Dataset``, say), or
        ``num_samples`` is not a tuple.
      ValueError: ``x`` has no examples, or an argument is not a positive int.
    """
    n = validation.num_examples("x", x)
    if not isinstance(num_samples, (tuple, list)):
        raise TypeError(f"num_samples must be a tuple of ints, e.g. (1, 5000), got {num_samples!r}")
    for k in num_samples:
        _check_num_samples(k)
    num_samples = tuple(int(k) for k in num_samples)
    batch_size = validation.positive_int("batch_size", batch_size)
    seed = validation.integer("seed", seed)
    if n == 0:
        raise ValueError("x has no examples: the mean bound of an empty set is undefined")
    totals = {"elbo": 0.0, **{f"iwae_{k}": 0.0 for k in num_samples}}
    bar = _progress_bar(progress, n * (1 + sum(num_samples)))
    try:
        for b, start in enumerate(range(0, n, batch_size)):
            xb = x[start : start + batch_size]  # checked by elbo: container, dtype, shape, values
            totals["elbo"] += float(tf.reduce_sum(elbo(model, xb, seed=tf.constant([seed, b]))))
            bar.update(len(xb))
            for k in num_samples:
                totals[f"iwae_{k}"] += float(
                    tf.reduce_sum(iwae_bound(model, xb, k, seed=seed * 7919 + b, progress=False))
                )
                bar.update(len(xb) * k)
    finally:
        bar.close()
    return {name: total / n for name, total in totals.items()}
