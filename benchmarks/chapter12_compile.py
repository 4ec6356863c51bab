"""XLA or not for chapter 12's evaluations: AIS's transitions and ``model_bounds``' log weights.

Usage: python benchmarks/chapter12_compile.py [--rounds 5] [--seconds 1] [--images 50]
                                              [--chains 8] [--steps 100]
                                              [--num-samples 1000] [--bound-images 500]
                                              [--json PATH]

Chapter 12 scores its models two ways, both on its layout (``VAEConfig(hidden_sizes=(200,
200), latent_size=10)``, untrained here: the work does not depend on the weights):

* ``vaelib.evaluation.ais``: one compiled ``tf.function`` per HMC transition (the weight
  increment, then 10 leapfrog steps, each a decoder pass and its gradient).
  ``AISConfig.jit_compile`` (default ``True``) compiles it with XLA. Timed on ``--images``
  test images with ``--chains`` chains and ``--steps`` intermediate distributions (a
  call runs the tuning pass and the scored pass: 2 x steps transitions); rate:
  transitions per second.
* ``vaelib.evaluation.model_bounds``: the log weights of ``--num-samples`` codes per
  image from the model's own proposal, with an IAF posterior as chapter 12 builds it
  (2 layers, hidden 100), on ``--bound-images`` test images (chapter 12 scores 500 per
  call: each call traces, and with XLA compiles, its program anew, as there);
  ``jit_compile=True`` compiles them with XLA. Rate: codes x images per second.

For each, the XLA and plain versions are first checked to give the same numbers up to
float rounding (the noise is drawn outside the compiled calls), then the four variants
are timed in one process, interleaved over ``--rounds`` rounds in an order that changes
every round (``vaelib.speed.run_rounds``), each warmed up (traced and compiled) first.
The verdicts are medians of per-round ratios (``vaelib.compare_ratios``). Prints; writes
only ``--json PATH``.
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
from vaelib.evaluation.ais import AISConfig, ais
from vaelib.evaluation.model_bounds import model_bounds
from vaelib.models.flows import Flow

CONFIG = vaelib.VAEConfig(hidden_sizes=(200, 200), latent_size=10)  # chapter 12's layout


def repeat(call, work: float):
    """``measure(seconds)``: ``work`` units per call of ``call(i)``, per second."""

    def run(seconds: float) -> float:
        started, calls = time.perf_counter(), 0
        while True:
            call(calls)
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return calls * work / elapsed

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100, help="AIS steps per call")
    parser.add_argument("--num-samples", type=int, default=1000, help="k of model_bounds")
    parser.add_argument("--bound-images", type=int, default=500, help="model_bounds' images")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    model = vaelib.VAE(CONFIG)
    d = CONFIG.latent_size
    flow = Flow.iaf(d, num_layers=2, hidden_sizes=(100,), seed=0, context_size=2 * d)
    data = vaelib.load_mnist(verbose=False)
    x = tf.constant(vaelib.binarize(data.x_test[: args.images], "fixed", seed=1))
    x_bound = tf.constant(vaelib.binarize(data.x_test[: args.bound_images], "fixed", seed=1))
    z0 = tf.random.stateless_normal([args.chains, args.images, d], seed=[8, 0])

    def log_likelihood(z):
        return model.log_px_z(x, z)

    def run_ais(jit: bool, seed: int) -> np.ndarray:
        config = AISConfig(num_steps=args.steps, num_chains=args.chains, jit_compile=jit)
        return ais(vaelib.std_normal_log_prob, log_likelihood, z0, config, seed).log_px.numpy()

    def run_bounds(jit: bool, seed: int) -> np.ndarray:
        b = model_bounds(model, x_bound, args.num_samples, flow=flow, seed=seed, jit_compile=jit)
        return b.iwae

    runs = {"AIS": (run_ais, 2 * args.steps), "model_bounds": (run_bounds, None)}
    variants, difference = {}, {}
    for name, (run, work) in runs.items():
        first = {jit: run(jit, 0) for jit in (True, False)}  # also the warm-up
        difference[name] = float(np.max(np.abs(first[True] - first[False])))
        print(f"{name}: with and without XLA, largest |difference| {difference[name]:.1e} nats")
        work = work or args.num_samples * args.bound_images
        for jit in (True, False):
            variants[f"{name}, {'XLA' if jit else 'no XLA'}"] = repeat(
                lambda i, run=run, jit=jit: run(jit, i), work
            )
    rounds = vaelib.speed.run_rounds(variants, rounds=args.rounds, seconds=args.seconds, log=print)
    print()
    print(rounds.summary())
    print(rounds.table(unit="per second"))
    print("(AIS: transitions; model_bounds: codes x images)")
    ratios = {}
    for name in runs:
        ratios[name] = vaelib.compare_ratios(
            rounds.rates[f"{name}, XLA"], rounds.rates[f"{name}, no XLA"]
        )
        print(f"\n{name}: rate with XLA over without, per round:\n{ratios[name]}")
    if args.json:
        settings = {
            "images": args.images,
            "chains": args.chains,
            "steps": args.steps,
            "num_samples": args.num_samples,
            "bound_images": args.bound_images,
            "largest_difference_nats": difference,
        }
        write_record(args.json, rounds_record(rounds, ratios, **settings))


if __name__ == "__main__":
    main()
