"""Does the exact KL near the prior cost training-step time? Before and after, interleaved.

Usage: python benchmarks/kl_step.py [--rounds 5] [--seconds 3] [--modes loop+xla function]

``vaelib.kl_normal_std`` computes ``exp(q_logvar) - 1 - q_logvar`` with a
Taylor series where ``|q_logvar| < 0.5`` (issue 17: ``expm1(v) - v`` loses its
relative precision there). It runs in every training step, so this times the
course's VAE step (batch 100, Adam) with the KL as it was and as it is, in
alternating order over several rounds, and prints each variant's median
examples per second: the machine is noisy, and medians of interleaved runs
compare like with like. Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

import vaelib
from vaelib import bounds
from vaelib.speed import vae_step_throughput


def kl_before(q_mu: tf.Tensor, q_logvar: tf.Tensor) -> tf.Tensor:
    """The KL as it was before issue 17: ``expm1(v) - v``, which cancels near ``v = 0``."""
    return 0.5 * tf.reduce_sum(tf.math.expm1(q_logvar) - q_logvar + tf.square(q_mu), axis=-1)


VARIANTS = {"kl before (expm1 - v)": kl_before, "kl now (series near 0)": vaelib.kl_normal_std}


def measure(kl, mode: str, seconds: float) -> float:
    bounds.kl_normal_std = kl  # vae_loss looks it up at trace time
    try:
        vaelib.set_seed(0)
        model = vaelib.VAE()
        return vae_step_throughput(model, tf.keras.optimizers.Adam(1e-3), mode, seconds=seconds)
    finally:
        bounds.kl_normal_std = vaelib.kl_normal_std


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--modes", nargs="+", default=["loop+xla", "function"])
    args = parser.parse_args()
    for mode in args.modes:
        results = {name: [] for name in VARIANTS}
        for r in range(args.rounds):
            order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                results[name].append(measure(VARIANTS[name], mode, args.seconds))
        before, now = (statistics.median(v) for v in results.values())
        print(f"mode {mode}: median examples/s over {args.rounds} rounds")
        for name, values in results.items():
            print(
                f"  {name:24s} {statistics.median(values):9,.0f}   ("
                + ", ".join(f"{v:,.0f}" for v in values)
                + ")"
            )
        print(f"  now / before: {now / before:.3f}")


if __name__ == "__main__":
    main()
