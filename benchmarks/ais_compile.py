"""XLA or not for annealed importance sampling's transitions, on chapter 12's model.

Usage: python benchmarks/ais_compile.py [--rounds 5] [--seconds 1] [--images 50]
                                        [--chains 8] [--steps 100] [--json PATH]

``vaelib.evaluation.ais`` runs one compiled ``tf.function`` per HMC transition: the
weight increment, then ``leapfrog_steps`` (10) leapfrog steps, each a decoder pass and
its gradient. ``AISConfig.jit_compile`` (default ``True``) compiles it with XLA; this
script is the measurement behind that default. It runs ``vaelib.evaluation.ais`` on
``--images`` fixed binarized MNIST test images with ``--chains`` chains, ``--steps``
intermediate distributions (each call runs the tuning pass and the scored pass: 2 x
steps transitions), for a VAE of chapter 12's layout (``VAEConfig(hidden_sizes=(200,
200), latent_size=10)``, untrained: the work per transition does not depend on the
weights), with and without XLA. The two are first checked to give the same estimates
up to float rounding (the noise is drawn outside the compiled transition), then timed
in one process, interleaved over ``--rounds`` rounds in an order that changes every
round (``vaelib.speed.run_rounds``), each warmed up (traced and compiled) first. Rates
are transitions per second; the verdict is the median of per-round ratios
(``vaelib.compare_ratios``). Prints; writes only ``--json PATH``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import vaelib
from vaelib.evaluation.ais import AISConfig, ais

CONFIG = vaelib.VAEConfig(hidden_sizes=(200, 200), latent_size=10)  # chapter 12's layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100, help="AIS steps per call")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    model = vaelib.VAE(CONFIG)
    data = vaelib.load_mnist(verbose=False)
    x = tf.constant(vaelib.binarize(data.x_test[: args.images], "fixed", seed=1))
    z0 = tf.random.stateless_normal([args.chains, args.images, CONFIG.latent_size], seed=[8, 0])

    def log_likelihood(z):
        return model.log_px_z(x, z)

    def estimate(jit: bool, seed: int) -> np.ndarray:
        config = AISConfig(num_steps=args.steps, num_chains=args.chains, jit_compile=jit)
        return ais(vaelib.std_normal_log_prob, log_likelihood, z0, config, seed).log_px.numpy()

    first = {jit: estimate(jit, 0) for jit in (True, False)}  # also the warm-up
    difference = float(np.max(np.abs(first[True] - first[False])))
    print(
        f"AIS log p(x) with and without XLA ({args.steps} steps, {args.chains} chains, "
        f"{args.images} images): largest |difference| {difference:.1e} nats"
    )

    def measure(jit: bool):
        def run(seconds: float) -> float:
            started, calls = time.perf_counter(), 0
            while True:
                estimate(jit, calls)
                calls += 1
                elapsed = time.perf_counter() - started
                if elapsed >= seconds:
                    return calls * 2 * args.steps / elapsed

        return run

    rounds = vaelib.speed.run_rounds(
        {"XLA": measure(True), "no XLA": measure(False)},
        rounds=args.rounds,
        seconds=args.seconds,
        log=print,
    )
    print()
    print(rounds.summary())
    print(rounds.table(unit="transitions/s"))
    ratio = vaelib.compare_ratios(rounds.rates["XLA"], rounds.rates["no XLA"])
    print(f"\ntransitions/s with XLA over without, per round:\n{ratio}")
    if args.json:
        result = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "tensorflow": tf.__version__,
            "images": args.images,
            "chains": args.chains,
            "steps": args.steps,
            "largest_difference_nats": difference,
            "load_before_rounds": rounds.load,
            "rerun": rounds.rerun,
            "still_flagged": rounds.still_flagged,
            "rates": rounds.rates,
            "xla_over_plain": {
                "median": ratio.median,
                "per_round": list(ratio.ratios),
                "verdict": ratio.verdict(),
            },
        }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
