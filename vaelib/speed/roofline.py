"""The roofline of a training step (chapter 8): what this machine's matmuls allow.

The roofline is TensorFlow's own float32 matmul rate on this machine
(:func:`matmul_flops_per_second`); a training step's achieved rate is examples/s times its
FLOPs per example, counted from the layer shapes (:func:`vae_flops_per_example`).
:func:`step_bound` adds the optimizer's memory traffic (:func:`optimizer_update_seconds`) to
the matmuls at the step's own shapes, for a bound on the whole step.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.vae import VAE
from vaelib.speed.timing import throughput

__all__ = [
    "ROOFLINE_AGREEMENT",
    "MIN_STEADY_ROUNDS",
    "steady_rounds",
    "roofline_share",
    "matmul_flops_per_second",
    "optimizer_update_seconds",
    "vae_flops_per_example",
    "StepBound",
    "step_bound",
]


ROOFLINE_AGREEMENT = 0.10  # a round's roofline this close to the median, or its share is unused
MIN_STEADY_ROUNDS = 3  # fewer steady rounds than this, and no share is reported


def steady_rounds(roofline: Sequence[float], agreement: float = ROOFLINE_AGREEMENT) -> list[int]:
    """The rounds whose roofline is within ``agreement`` (a fraction) of its median over the
    rounds. In the others the machine was busy while the roofline ran, and a share of that
    round's roofline means nothing.

    Args:
      roofline: the roofline's rate in each round (FLOP/s), ``[rounds]``.
      agreement: how far from the median a steady round's roofline may be, e.g. 0.10.

    Raises:
      ValueError: no rounds, or a rate that is not positive.
    """
    rates = np.asarray(roofline, dtype=np.float64)
    if rates.ndim != 1 or rates.size == 0 or not np.all(rates > 0):
        raise ValueError(f"roofline must be one positive rate per round, got {roofline!r}")
    median = float(np.sort(rates)[len(rates) // 2])
    return [r for r, rate in enumerate(rates) if abs(rate / median - 1) <= agreement]


def roofline_share(
    rates: Sequence[float],
    flops_per_item: float,
    roofline: Sequence[float],
    agreement: float = ROOFLINE_AGREEMENT,
    min_rounds: int = MIN_STEADY_ROUNDS,
) -> float | None:
    """The median over the steady rounds (:func:`steady_rounds`) of ``rate * flops_per_item /
    roofline`` in the same round; ``None`` ("not measured") when fewer than ``min_rounds``
    rounds are steady (one round's timing is not a measurement).

    Args:
      rates: a variant's rate in each round (items/s), ``[rounds]``.
      flops_per_item: FLOPs of one item (an example, a sample).
      roofline: the roofline's rate in the same rounds (FLOP/s).
      agreement: as in :func:`steady_rounds`.
      min_rounds: the fewest steady rounds a share is reported from.

    Raises:
      ValueError: ``rates`` and ``roofline`` of different lengths, or as :func:`steady_rounds`.
    """
    if len(rates) != len(roofline):
        raise ValueError(
            f"rates and roofline need one value per round each, got {len(rates)} and "
            f"{len(roofline)}"
        )
    steady = steady_rounds(roofline, agreement)
    if len(steady) < max(1, min_rounds):
        return None
    shares = sorted(rates[r] * flops_per_item / roofline[r] for r in steady)
    return float(shares[len(shares) // 2])


def matmul_flops_per_second(
    m: int, k: int, n: int, seconds: float = 2.0, *, jit_compile: bool = False
) -> float:
    """TensorFlow's float32 FLOP/s for ``[m, k] @ [k, n]``, many products per graph call.

    Each product's left operand depends on the loop counter, so that no compiler
    can hoist the product out of the loop and count one product many times.
    ``jit_compile=True`` measures XLA's own matmul instead of TensorFlow's kernel.
    """
    m, k, n = (validation.positive_int(name, v) for name, v in (("m", m), ("k", k), ("n", n)))
    jit_compile = validation.flag("jit_compile", jit_compile)
    a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
    # about 2 GFLOP per call, so that the call's own cost is spread thin; at most 1,000
    # products, which every layer of the book's models reaches (a tiny test shape would
    # otherwise run 61,000 products a call, seconds each, whatever ``seconds`` asks)
    reps = max(1, min(1000, int(2e9 // (2 * m * k * n))))

    @tf.function(jit_compile=jit_compile)
    def run(a, b):
        acc = tf.zeros([m, n])
        for i in tf.range(reps):
            acc += tf.matmul(a + 1e-30 * tf.cast(i, tf.float32), b)
        return acc[0, 0]

    return throughput(lambda: run(a, b).numpy(), seconds, 1) * reps * 2 * m * k * n


def optimizer_update_seconds(
    optimizer: tf.keras.optimizers.Optimizer, variables: list[tf.Variable], seconds: float = 2.0
) -> float:
    """Seconds one XLA-compiled update of ``variables`` takes on its own (fixed random gradients).

    Ten updates run per call, so that the call's own cost is spread thin. The
    optimizer's slots are built if needed and ``variables`` are changed: pass
    throwaway copies.
    """
    if not variables:
        raise ValueError("variables must not be empty")
    if not optimizer.built:
        optimizer.build(variables)
    gradients = [tf.random.normal(v.shape, stddev=1e-3, seed=i) for i, v in enumerate(variables)]

    per_call = 10

    @tf.function(jit_compile=True)
    def update():
        for _ in tf.range(per_call):  # a loop, not unrolled: XLA would fuse the updates into one
            optimizer.apply_gradients(zip(gradients, variables, strict=False))
        return optimizer.iterations

    return 1.0 / throughput(lambda: update().numpy(), seconds, per_call)


def vae_flops_per_example(model: VAE) -> float:
    """Matmul FLOPs of one training step per example.

    Forward: 2 x MACs. Backward: 2 x MACs for every weight's gradient and 2 x MACs
    for every layer's input gradient, except the first layer's: its input is the
    data, which needs no gradient, so that product is never computed (the compiled
    program's own count agrees, chapter 8 and ``tests/test_speed.py``).
    """
    macs = sum(int(np.prod(v.shape)) for v in model.trainable_variables if v.shape.rank == 2)
    first = model.encoder.net.layers[0].w  # [input_size, hidden]: its dL/dx is never needed
    return 6.0 * macs - 2.0 * int(np.prod(first.shape))


@dataclasses.dataclass(frozen=True)
class StepBound:
    """The fastest a training step built from its parts could run.

    Attributes:
      step_flops: matmul FLOPs of one step (forward and backward).
      matmul_rate: the best float32 FLOP/s measured at the model's main layer
        shapes, TensorFlow's kernel or XLA's.
      optimizer_seconds: one optimizer update on its own.
      optimizer_bytes: bytes an Adam update reads and writes (float32 weight,
        gradient and two moments read; weight and moments written).
    """

    step_flops: float
    matmul_rate: float
    optimizer_seconds: float
    optimizer_bytes: float

    @property
    def seconds(self) -> float:
        """Every FLOP at ``matmul_rate``, plus the update, with nothing else and no idle time."""
        return self.step_flops / self.matmul_rate + self.optimizer_seconds


def step_bound(
    model: VAE,
    optimizer: tf.keras.optimizers.Optimizer,
    *,
    batch_size: int = 100,
    seconds: float = 2.0,
) -> StepBound:
    """Bounds a VAE training step from below by timing its parts one at a time.

    The matmul rate is measured at every distinct ``[batch, n_in] @ [n_in, n_out]``
    of the model's layers that does at least a tenth of the largest layer's
    work (smaller ones multiply slowest and add little); the optimizer update
    runs alone on the model's variables, so pass throwaway copies.
    """
    weights = [tuple(v.shape) for v in model.trainable_variables if v.shape.rank == 2]
    largest = max(n_in * n_out for n_in, n_out in weights)
    shapes = sorted(
        {(batch_size, n_in, n_out) for n_in, n_out in weights if n_in * n_out >= largest / 10}
    )
    rate = max(
        matmul_flops_per_second(*shape, seconds, jit_compile=jit)
        for shape in shapes
        for jit in (False, True)
    )
    update = optimizer_update_seconds(optimizer, model.trainable_variables, seconds)
    size = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    return StepBound(
        step_flops=vae_flops_per_example(model) * batch_size,
        matmul_rate=rate,
        optimizer_seconds=update,
        optimizer_bytes=7 * 4 * size,
    )
