"""XLA or not for the importance-weighted bound: an MLP decoder against a convolutional one.

Usage: python benchmarks/evaluation_compile.py [--rounds 5] [--seconds 3] [--batch 50]
                                               [--num-samples 500] [--json PATH]

``vaelib.iwae_bound`` runs the codes of a chunk through one compiled program per chunk
shape (``vaelib.evaluation.BoundEvaluator``). It compiles that program with XLA for an
MLP decoder and leaves it a plain ``tf.function`` for any other decoder; this script
is the measurement behind that default. It times ``L_k`` of one batch of fixed
binarized MNIST test images for

* the course's VAE (``vaelib.VAEConfig()``: 784-500-500 / 10 / 500-500-784, tanh), and
* chapter 11's convolutional VAE (``vaelib.ConvVAEConfig()``: channels 32 and 64),

each through a ``BoundEvaluator`` with ``jit_compile=True`` and one with ``False``
(the same noise, so the same numbers to float tolerance: checked before timing). The
four variants are timed in one process, interleaved over ``--rounds`` rounds in an
order that changes every round (``vaelib.speed.run_rounds``); each variant is warmed
up (traced and compiled) before the rounds. Rates are code-image pairs per second;
the verdicts are medians of per-round ratios (``vaelib.compare_ratios``). Prints;
writes only ``--json PATH``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from records import rounds_record, write_record

import vaelib
from vaelib.evaluation import BoundEvaluator

MODELS = {"MLP": vaelib.VAEConfig(), "conv": vaelib.ConvVAEConfig()}


def measure(evaluator: BoundEvaluator, x: tf.Tensor, num_samples: int):
    """``measure(seconds)``: code-image pairs per second of ``L_k`` over ``x``, repeated."""

    def run(seconds: float) -> float:
        started, calls = time.perf_counter(), 0
        while True:
            evaluator.iwae_bound(x, num_samples, seed=calls).numpy()
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return calls * num_samples * int(x.shape[0]) / elapsed

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=50, help="test images per call")
    parser.add_argument("--num-samples", type=int, default=500, help="k of L_k")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    data = vaelib.load_mnist(verbose=False)
    x = tf.constant(vaelib.binarize(data.x_test[: args.batch], "fixed", seed=1))
    variants, agree = {}, {}
    models = {name: vaelib.VAE(config) for name, config in MODELS.items()}  # kept alive
    for name, model in models.items():  # (an evaluator holds its model weakly)
        bounds = {}
        for jit in (True, False):
            evaluator = BoundEvaluator(model, jit_compile=jit)
            bounds[jit] = evaluator.iwae_bound(x, args.num_samples, seed=0).numpy()  # warm-up
            variants[f"{name}, {'XLA' if jit else 'no XLA'}"] = measure(
                evaluator, x, args.num_samples
            )
        agree[name] = float(np.max(np.abs(bounds[True] - bounds[False])))
        default = BoundEvaluator(model).jit_compile
        print(
            f"{name}: L_{args.num_samples} with and without XLA, largest |difference| "
            f"{agree[name]:.1e} nats; default jit_compile={default}"
        )
    rounds = vaelib.speed.run_rounds(variants, rounds=args.rounds, seconds=args.seconds, log=print)
    print()
    print(rounds.summary())
    print(rounds.table(unit="samples/s"))
    verdicts = {}
    for name in MODELS:
        ratio = vaelib.compare_ratios(rounds.rates[f"{name}, XLA"], rounds.rates[f"{name}, no XLA"])
        verdicts[name] = ratio
        print(f"\n{name}: samples/s with XLA over without, per round:\n{ratio}")
    if args.json:
        settings = {
            "batch": args.batch,
            "num_samples": args.num_samples,
            "largest_difference_nats": agree,
        }
        write_record(args.json, rounds_record(rounds, verdicts, **settings))


if __name__ == "__main__":
    main()
