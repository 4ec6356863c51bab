"""Measuring training speed (chapter 8 and ``benchmarks/train_step.py``).

Throughput is examples per second over a timing window after a warm-up, so
tracing and compilation are not counted. On a machine shared with other work one
window is not a measurement: :func:`run_rounds` interleaves the variants over
several rounds, re-runs a round in which a variant was far from its other rounds,
and reports medians, ranges and medians of per-round ratios. The roofline is TensorFlow's own
float32 matmul rate on this machine; a training step's achieved rate is
examples/s times its FLOPs per example, counted from the layer shapes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Mapping

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.objectives.bounds import vae_loss
from vaelib.training.step import make_train_loop, make_train_step, stack_batches
from vaelib.training.train import FitConfig
from vaelib.models.vae import VAE

__all__ = ["throughput", "matmul_flops_per_second", "optimizer_update_seconds", "vae_flops_per_example",
           "StepBound", "step_bound", "vae_step_runner", "vae_step_throughput", "MODES",
           "Rounds", "run_rounds"]

MODES = ("eager", "function", "xla", "loop", "loop+xla")


def throughput(run_once: Callable[[], object], seconds: float, examples_per_call: int,
               warmup: int = 3) -> float:
    """Examples per second of ``run_once`` over about ``seconds``, after ``warmup`` calls."""
    seconds = validation.real("seconds", seconds, positive=True)
    examples_per_call = validation.positive_int("examples_per_call", examples_per_call)
    warmup = validation.integer("warmup", warmup, minimum=0)
    for _ in range(warmup):
        run_once()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run_once()
        calls += 1
    return calls * examples_per_call / (time.perf_counter() - start)


def matmul_flops_per_second(m: int, k: int, n: int, seconds: float = 2.0, *,
                            jit_compile: bool = False) -> float:
    """TensorFlow's float32 FLOP/s for ``[m, k] @ [k, n]``, many products per graph call.

    Each product's left operand depends on the loop counter, so that no compiler
    can hoist the product out of the loop and count one product many times.
    ``jit_compile=True`` measures XLA's own matmul instead of TensorFlow's kernel.
    """
    m, k, n = (validation.positive_int(name, v) for name, v in (("m", m), ("k", k), ("n", n)))
    jit_compile = validation.flag("jit_compile", jit_compile)
    a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
    reps = max(1, int(2e9 // (2 * m * k * n)))

    @tf.function(jit_compile=jit_compile)
    def run(a, b):
        acc = tf.zeros([m, n])
        for i in tf.range(reps):
            acc += tf.matmul(a + 1e-30 * tf.cast(i, tf.float32), b)
        return acc[0, 0]

    return throughput(lambda: run(a, b).numpy(), seconds, 1) * reps * 2 * m * k * n


def optimizer_update_seconds(optimizer: tf.keras.optimizers.Optimizer, variables: list[tf.Variable],
                             seconds: float = 2.0) -> float:
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
            optimizer.apply_gradients(zip(gradients, variables))
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


def step_bound(model: VAE, optimizer: tf.keras.optimizers.Optimizer, *, batch_size: int = 100,
               seconds: float = 2.0) -> StepBound:
    """Bounds a VAE training step from below by timing its parts one at a time.

    The matmul rate is measured at every distinct ``[batch, n_in] @ [n_in, n_out]``
    of the model's layers that does at least a tenth of the largest layer's
    work (smaller ones multiply slowest and add little); the optimizer update
    runs alone on the model's variables, so pass throwaway copies.
    """
    weights = [tuple(v.shape) for v in model.trainable_variables if v.shape.rank == 2]
    largest = max(n_in * n_out for n_in, n_out in weights)
    shapes = sorted({(batch_size, n_in, n_out) for n_in, n_out in weights if n_in * n_out >= largest / 10})
    rate = max(matmul_flops_per_second(*shape, seconds, jit_compile=jit) for shape in shapes for jit in (False, True))
    update = optimizer_update_seconds(optimizer, model.trainable_variables, seconds)
    size = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    return StepBound(step_flops=vae_flops_per_example(model) * batch_size, matmul_rate=rate,
                     optimizer_seconds=update, optimizer_bytes=7 * 4 * size)


def vae_step_runner(model: VAE, optimizer: tf.keras.optimizers.Optimizer, mode: str, *,
                    batch_size: int = 100, steps_per_call: int = FitConfig.steps_per_call,
                    seed: int = 0) -> tuple[Callable[[], object], int]:
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
      step's metrics as ``fit`` does.
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
        loop = make_train_loop(model, optimizer, vae_loss, element_spec=ds.element_spec,
                               jit_compile=mode.endswith("xla"))

        def run_loop():
            ran, metrics = loop(next(stacks))
            return int(ran), {k: v.numpy() for k, v in metrics.items()}

        return run_loop, batch_size * steps_per_call
    batches = [tf.constant(b) for b in data]
    step = make_train_step(model, optimizer, vae_loss,
                           element_spec=tf.TensorSpec([None, model.config.input_size], tf.float32),
                           jit_compile=(mode == "xla"))
    if mode == "eager":
        step = step.python_function
    i = [0]

    def run():
        out = step(batches[i[0] % len(batches)])
        i[0] += 1
        return {k: float(v) for k, v in out.items()}

    return run, batch_size


def vae_step_throughput(model: VAE, optimizer: tf.keras.optimizers.Optimizer, mode: str, *,
                        batch_size: int = 100, seconds: float = 5.0,
                        steps_per_call: int = FitConfig.steps_per_call, seed: int = 0) -> float:
    """Training examples per second of ``vaelib``'s VAE step, run one way (see
    :func:`vae_step_runner` for the arguments), over a window of ``seconds``."""
    run, per_call = vae_step_runner(model, optimizer, mode, batch_size=batch_size,
                                    steps_per_call=steps_per_call, seed=seed)
    return throughput(run, seconds, per_call)


@dataclasses.dataclass(frozen=True)
class Rounds:
    """Rates of several variants timed in interleaved rounds (:func:`run_rounds`).

    Attributes:
      rates: ``{variant: [rate in each kept round]}``, rounds in the order run.
      rerun: for each round that was flagged and run again, ``(round, variants
        that deviated)``, rounds counted from 0.
      still_flagged: kept rounds (from 0) that still deviate after the last re-run allowed.
      load: the 1-minute load average before each kept round (``os.getloadavg``;
        empty where the system has none).
      tolerance: the deviation from a variant's median over rounds that flags a round.
    """

    rates: dict[str, list[float]]
    rerun: list[tuple[int, tuple[str, ...]]]
    still_flagged: list[int]
    load: list[float]
    tolerance: float

    def median(self, name: str) -> float:
        """The median over rounds of ``name``'s rate."""
        return float(np.median(self.rates[name]))

    def spread(self, name: str) -> tuple[float, float]:
        """(min, max) over rounds of ``name``'s rate."""
        return min(self.rates[name]), max(self.rates[name])

    def ratio(self, name: str, reference: str) -> float:
        """The median over rounds of ``rate[name] / rate[reference]`` within each round."""
        return float(np.median(np.asarray(self.rates[name]) / np.asarray(self.rates[reference])))

    def ratio_spread(self, name: str, reference: str) -> tuple[float, float]:
        """(min, max) over rounds of the per-round ratio."""
        ratios = np.asarray(self.rates[name]) / np.asarray(self.rates[reference])
        return float(ratios.min()), float(ratios.max())

    def table(self, unit: str = "examples/s", names: list[str] | None = None) -> str:
        """A text table: each variant's median and min-max over the rounds."""
        names = list(self.rates) if names is None else names
        width = max(len(n) for n in names)
        lines = [f"{'variant':{width}s} {unit + ' (median)':>20s} {'min-max':>21s}"]
        for name in names:
            low, high = self.spread(name)
            lines.append(f"{name:{width}s} {self.median(name):20,.0f} {low:10,.0f}-{high:<10,.0f}")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: rounds kept, rounds re-run and why, the load during the rounds."""
        n = len(next(iter(self.rates.values())))
        line = f"{n} rounds kept; "
        line += ("no round re-run" if not self.rerun else f"{len(self.rerun)} round(s) re-run ("
                 + "; ".join(f"round {r + 1}: {', '.join(v)}" for r, v in self.rerun) + ")")
        line += f" (a round is re-run when a variant is off its median by more than {self.tolerance:.0%})"
        if self.still_flagged:
            line += f"; rounds still off after the last re-run: {[r + 1 for r in self.still_flagged]}"
        if self.load:
            line += f"; 1-min load average before the rounds: {min(self.load):.2f}-{max(self.load):.2f}"
        return line


def _deviating(rates: dict[str, list[float]], r: int, tolerance: float) -> tuple[str, ...]:
    """Variants whose rate in round ``r`` is off their median over rounds by more than ``tolerance``."""
    out = []
    for name, values in rates.items():
        median = float(np.median(values))
        if median > 0 and abs(values[r] / median - 1) > tolerance:
            out.append(name)
    return tuple(out)


def run_rounds(variants: Mapping[str, Callable[[float], float]], *, rounds: int = 5,
               seconds: float = 2.0, tolerance: float = 0.3, max_reruns: int | None = None,
               seed: int = 0, log: Callable[[str], None] | None = None) -> Rounds:
    """Times every variant once per round, interleaved, over several rounds.

    Each round runs every variant for a window of ``seconds``, in an order that
    changes from round to round (a fresh random permutation), so that a slow
    period of the machine falls on different variants. After all rounds, a round
    in which some variant's rate is off that variant's median over the rounds by
    more than ``tolerance`` (the machine was busy) is flagged and run again, the
    most deviating round first, up to ``max_reruns`` times in all.

    Args:
      variants: ``{name: measure}``; ``measure(seconds)`` returns a rate (higher is
        faster), timing the variant for about ``seconds`` after any warm-up.
      rounds: rounds kept, at least 1 (3 or more for the flagging to mean anything).
      seconds: the window of each variant in each round.
      tolerance: relative deviation from the median that flags a round.
      max_reruns: re-runs allowed in all (default: ``rounds``).
      seed: of the orders.
      log: called with a line after each round (progress), if given.

    Returns:
      :class:`Rounds`.

    Raises:
      ValueError: no variants, or a bad ``rounds``, ``seconds`` or ``tolerance``.
    """
    if not variants:
        raise ValueError("variants must not be empty")
    rounds = validation.positive_int("rounds", rounds)
    seconds = validation.real("seconds", seconds, positive=True)
    tolerance = validation.real("tolerance", tolerance, positive=True)
    seed = validation.integer("seed", seed, minimum=0)
    max_reruns = rounds if max_reruns is None else validation.integer("max_reruns", max_reruns,
                                                                      minimum=0)
    rng = np.random.default_rng(seed)
    names = list(variants)

    def one_round() -> tuple[dict[str, float], float]:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        return {name: float(variants[name](seconds)) for name in rng.permutation(names)}, load

    rates: dict[str, list[float]] = {name: [] for name in names}
    loads = []
    for r in range(rounds):
        result, load = one_round()
        loads.append(load)
        for name in names:
            rates[name].append(result[name])
        if log:
            log(f"round {r + 1}/{rounds} done (load {load:.2f})")
    rerun = []
    while len(rerun) < max_reruns and rounds >= 3:
        flagged = {r: _deviating(rates, r, tolerance) for r in range(rounds)}
        flagged = {r: v for r, v in flagged.items() if v}
        if not flagged:
            break
        worst = max(flagged, key=lambda r: max(abs(rates[n][r] / np.median(rates[n]) - 1) for n in flagged[r]))
        rerun.append((worst, flagged[worst]))
        result, load = one_round()
        loads[worst] = load
        for name in names:
            rates[name][worst] = result[name]
        if log:
            log(f"round {worst + 1} re-run ({', '.join(flagged[worst])} had deviated; load {load:.2f})")
    still = [r for r in range(rounds) if rounds >= 3 and _deviating(rates, r, tolerance)]
    return Rounds(rates=rates, rerun=rerun, still_flagged=still,
                  load=[x for x in loads if x == x], tolerance=tolerance)
