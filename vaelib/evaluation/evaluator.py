"""The compiled evaluator behind `vaelib.iwae_bound` and large eager `vaelib.elbo` calls.

``L_5000`` over a test set is the slowest computation in the book: it decodes 5,000 codes
per image. :class:`BoundEvaluator` runs the work on the codes through one compiled program
per *pass shape*: a program takes codes' noise ``eps`` ``[m, batch, latent]`` and returns
``logsumexp`` of the log-weights over its ``m`` codes (the bound), or their sum of the ELBO's
per-code term (:meth:`BoundEvaluator.elbo`). For an MLP decoder it is compiled with XLA (the
decoder, the likelihood and the log-densities fused into a few loops); for a convolutional
decoder it is a plain ``tf.function``, whose convolutions run in TensorFlow's own CPU
kernels: on this course's 2-core CPU XLA made the MLP's bound about 2x faster and the
convolutional VAE's about 3x slower (``benchmarks/evaluation_compile.py``). ``m`` is chosen
so that a pass's activations fit in ``memory_bytes`` (:meth:`BoundEvaluator.samples_per_pass`).
The noise is drawn exactly as the op-by-op computation draws it, so the numbers are its
numbers to float tolerance (``tests/test_evaluation.py``, ``tests/test_compiled_elbo.py``).
"""

from __future__ import annotations

import math
import sys
import weakref

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import (
    kl_normal_std,
    normal_log_prob_from_eps,
    std_normal_log_prob,
)
from vaelib.models.vae import VAE, reparameterize
from vaelib.objectives.bounds import _check_num_samples, _check_positive_int
from vaelib.training.progress import Progress

__all__ = ["BoundEvaluator", "DEFAULT_MEMORY_BYTES", "PROGRESS_DELAY"]

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
        self._programs: dict[tuple[str, int, int], tf.types.experimental.GenericFunction] = {}

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

    def _sum_pass(self, x, q_mu, q_logvar, eps, analytic_kl):
        """The sum over the ``m`` codes of ``eps`` of the ELBO's per-code term: ``[batch]``.

        ``log p(x|z)`` with ``analytic_kl`` (the KL is subtracted outside), else
        ``log p(x|z) + log p(z) - log q(z|x)``."""
        z = reparameterize(q_mu, q_logvar, eps)
        term = self.model.log_px_z(x, z)
        if not analytic_kl:
            term += std_normal_log_prob(z) - normal_log_prob_from_eps(eps, q_logvar)
        return tf.reduce_sum(term, axis=0)

    def samples_per_pass(self, batch_size: int) -> int:
        """Codes per example in one compiled pass: as many as ``memory_bytes`` holds, at least 1."""
        _check_positive_int("batch_size", batch_size)
        return max(1, self.memory_bytes // (4 * self.floats_per_sample * int(batch_size)))

    @property
    def programs(self) -> int:
        """Programs traced (and compiled) so far: one per distinct chunk shape."""
        return sum(f.experimental_get_tracing_count() for f in self._programs.values())

    def _pass(self, x, q_mu, q_logvar, eps, kind: str = "log_mean_exp"):
        """Runs the compiled program of ``kind`` and ``eps``'s shape, tracing it the first time.

        ``kind``: ``"log_mean_exp"`` (the bound's logsumexp), ``"sum"`` or ``"sum_mc"`` (the
        ELBO's sum with the exact or the estimated KL). One ``tf.function`` per kind and shape,
        each with a fixed signature: each traces once, and TensorFlow's retracing warning
        (meant for accidental retracing) stays quiet."""
        key = (kind, int(eps.shape[0]), int(eps.shape[1]))
        program = self._programs.get(key)
        if program is None:
            signature = [
                tf.TensorSpec(x.shape, tf.float32),
                tf.TensorSpec(q_mu.shape, tf.float32),
                tf.TensorSpec(q_logvar.shape, tf.float32),
                tf.TensorSpec(eps.shape, tf.float32),
            ]
            if kind == "log_mean_exp":
                fn = self._log_mean_exp_pass
            else:
                analytic_kl = kind == "sum"

                def fn(x, q_mu, q_logvar, eps):
                    return self._sum_pass(x, q_mu, q_logvar, eps, analytic_kl)

            program = self._programs[key] = tf.function(
                fn, jit_compile=self.jit_compile, input_signature=signature
            )
        return program(x, q_mu, q_logvar, eps)

    def _split(self, eps: tf.Tensor, batch: int) -> tuple[list[tf.Tensor], list[int]]:
        """``eps`` ``[k, batch, latent]`` in passes of at most :meth:`samples_per_pass` codes,
        as even as possible (at most two pass shapes)."""
        k = int(eps.shape[0])
        passes = -(-k // self.samples_per_pass(batch))
        sizes = [k // passes + (j < k % passes) for j in range(passes)]
        return (tf.split(eps, sizes, axis=0) if passes > 1 else [eps]), sizes

    def elbo(
        self,
        x: tf.Tensor,
        num_samples: int = 1,
        *,
        analytic_kl: bool = True,
        seed: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """As :func:`vaelib.elbo` (the same noise, the same numbers to float tolerance).

        The codes are drawn at once, exactly as :meth:`vaelib.VAE.log_weights` draws
        them, and summed in compiled passes of at most :meth:`samples_per_pass` codes.

        Returns:
          ``[batch]``, nats.
        """
        _check_num_samples(num_samples)
        model = self.model
        x = model.check_input(x)
        q_mu, q_logvar = model.encoder(x)
        shape = tf.concat([[int(num_samples)], tf.shape(q_mu)], axis=0)
        eps = (
            model.noise.normal(shape)
            if seed is None
            else tf.random.stateless_normal(shape, seed=seed)
        )
        kind = "sum" if analytic_kl else "sum_mc"
        parts, _ = self._split(eps, max(1, int(x.shape[0])))
        total = tf.add_n([self._pass(x, q_mu, q_logvar, part, kind) for part in parts])
        mean = total / float(num_samples)
        return mean - kl_normal_std(q_mu, q_logvar) if analytic_kl else mean

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
                parts, sizes = self._split(eps, batch)
                for part, size in zip(parts, sizes, strict=True):
                    sums.append(self._pass(x, q_mu, q_logvar, part))
                    bar.update(size * batch)
        finally:
            bar.close()
        return tf.reduce_logsumexp(tf.stack(sums), axis=0) - math.log(num_samples)
