"""The course's VAE training step as a timed runner (chapter 8, benchmarks/train_step.py).

:func:`vae_step_runner` builds the step in one of :data:`MODES` (eager, ``tf.function``, XLA,
many steps per call, both) on ready-made batches and returns a function that runs it;
:func:`vae_step_throughput` times it with :func:`vaelib.speed.timing.throughput`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.vae import VAE
from vaelib.objectives.bounds import vae_loss
from vaelib.speed.timing import throughput
from vaelib.training.step import make_train_loop, make_train_step, stack_batches
from vaelib.training.train import FitConfig

__all__ = ["MODES", "vae_step_runner", "vae_step_throughput"]


MODES = ("eager", "function", "xla", "loop", "loop+xla")


def vae_step_runner(
    model: VAE,
    optimizer: tf.keras.optimizers.Optimizer,
    mode: str,
    *,
    batch_size: int = 100,
    steps_per_call: int = FitConfig.steps_per_call,
    seed: int = 0,
) -> tuple[Callable[[], object], int]:
    """A function that runs ``vaelib``'s VAE training step one of several ways, once.

    Args:
      model, optimizer: what to train (it is trained: use throwaway copies).
      mode: ``"eager"`` (the step's Python, op by op), ``"function"`` (a
        ``tf.function``), ``"xla"`` (compiled with XLA), ``"loop"`` /
        ``"loop+xla"`` (``steps_per_call`` steps per call, the batches of a
        ``tf.data`` dataset stacked by :func:`vaelib.stack_batches` and run by
        :func:`vaelib.make_train_loop`; ``"loop+xla"`` with the default
        ``steps_per_call`` is how :func:`vaelib.fit` trains by default).
      batch_size: examples per step.
      steps_per_call: for the loop modes (default: ``FitConfig``'s).
      seed: of the random binary batches (20 of them, MNIST's ink density).

    Returns:
      ``(run_once, examples_per_call)``: ``run_once()`` trains and reads every
      step's metrics as ``fit`` does. In ``"loop+xla"`` mode, ``run_once.optimized_hlo()``
      returns the compiled loop's optimized HLO, for a profile.
    """
    validation.text("mode", mode, choices=MODES)
    batch_size = validation.positive_int("batch_size", batch_size)
    steps_per_call = validation.positive_int("steps_per_call", steps_per_call)
    seed = validation.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    data = (rng.random((20, batch_size, model.config.input_size)) < 0.13).astype(np.float32)
    if mode.startswith("loop"):
        ds = tf.data.Dataset.from_tensor_slices(data).repeat().prefetch(tf.data.AUTOTUNE)
        stacks = stack_batches(ds, steps_per_call)  # as fit groups an epoch's batches
        loop = make_train_loop(
            model,
            optimizer,
            vae_loss,
            element_spec=ds.element_spec,
            jit_compile=mode.endswith("xla"),
        )

        def run_loop():
            ran, metrics = loop(next(stacks))
            return int(ran), {k: v.numpy() for k, v in metrics.items()}

        if mode == "loop+xla":  # for a profile (vaelib.speed.profiling.profile_calls)
            run_loop.optimized_hlo = lambda: loop.experimental_get_compiler_ir(next(stacks))(
                stage="optimized_hlo"
            )
        return run_loop, batch_size * steps_per_call
    batches = [tf.constant(b) for b in data]
    step = make_train_step(
        model,
        optimizer,
        vae_loss,
        element_spec=tf.TensorSpec([None, model.config.input_size], tf.float32),
        jit_compile=(mode == "xla"),
    )
    if mode == "eager":
        step = step.python_function
    i = [0]

    def run():
        out = step(batches[i[0] % len(batches)])
        i[0] += 1
        return {k: float(v) for k, v in out.items()}

    return run, batch_size


def vae_step_throughput(
    model: VAE,
    optimizer: tf.keras.optimizers.Optimizer,
    mode: str,
    *,
    batch_size: int = 100,
    seconds: float = 5.0,
    steps_per_call: int = FitConfig.steps_per_call,
    seed: int = 0,
) -> float:
    """Training examples per second of ``vaelib``'s VAE step, run one way (see
    :func:`vae_step_runner` for the arguments), over a window of ``seconds``."""
    run, per_call = vae_step_runner(
        model, optimizer, mode, batch_size=batch_size, steps_per_call=steps_per_call, seed=seed
    )
    return throughput(run, seconds, per_call)
