"""Does the likelihood object slow the Bernoulli training step? Before and after, interleaved.

Usage: python benchmarks/likelihood_step.py [--rounds 7] [--seconds 3] [--modes loop+xla function]

Issue 14 moved the decoder's log-likelihood behind an object:
``VAE.log_px_z(x, z)`` calls ``model.likelihood.log_prob(x, decoder(z))``, which for
the default :class:`vaelib.likelihoods.Bernoulli` is :func:`vaelib.bernoulli_log_prob`.
Before (commit c8c5a3d) it called ``bernoulli_log_prob`` directly. This script

1. traces ``vae_loss``'s training step both ways and compares the graphs' op types
   (the same multiset means the same program: the object is Python, gone at trace time);
2. times the course's VAE step (batch 100, Adam) both ways, in alternating order over
   several rounds, and prints each variant's median and min-max examples per second
   (the machine is shared, so only interleaved medians compare like with like).

Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

import vaelib
from vaelib.distributions import bernoulli_log_prob
from vaelib.speed import vae_step_throughput
from vaelib.step import make_train_step
from vaelib.vae import VAE

NOW = VAE.log_px_z


def log_px_z_before(self, x, z):
    """``VAE.log_px_z`` as it was at commit c8c5a3d (Bernoulli only)."""
    return bernoulli_log_prob(x, self.decoder(z))


VARIANTS = {"before (c8c5a3d)": log_px_z_before, "now (likelihood object)": NOW}


def _with(method, make):
    VAE.log_px_z = method  # elbo_terms calls model.log_px_z at trace time
    try:
        vaelib.set_seed(0)
        return make(VAE())
    finally:
        VAE.log_px_z = NOW


def op_types(method) -> collections.Counter:
    def trace(model):
        step = make_train_step(
            model,
            tf.keras.optimizers.Adam(1e-3),
            vaelib.vae_loss,
            element_spec=tf.TensorSpec([None, 784], tf.float32),
            jit_compile=False,
        )
        graph = step.get_concrete_function().graph
        ops = collections.Counter(op.type for op in graph.get_operations())
        for f in graph.as_graph_def().library.function:  # bodies of nested functions
            ops.update(node.op for node in f.node_def)
        return ops

    return _with(method, trace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--modes", nargs="+", default=["loop+xla", "function"])
    args = parser.parse_args()
    graphs = {name: op_types(method) for name, method in VARIANTS.items()}
    before, now = graphs.values()
    print(
        f"training-step graph: {sum(before.values())} ops before, {sum(now.values())} now; "
        f"same op types and counts: {before == now}"
    )
    for mode in args.modes:
        results = {name: [] for name in VARIANTS}
        for r in range(args.rounds):
            order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                results[name].append(
                    _with(
                        VARIANTS[name],
                        lambda model, mode=mode: vae_step_throughput(
                            model, tf.keras.optimizers.Adam(1e-3), mode, seconds=args.seconds
                        ),
                    )
                )
        print(f"mode {mode}: examples/s over {args.rounds} interleaved rounds: median (min-max)")
        for name, values in results.items():
            low, high = min(values), max(values)
            print(f"  {name:24s} {statistics.median(values):9,.0f}  ({low:,.0f}-{high:,.0f})")
        medians = [statistics.median(v) for v in results.values()]
        print(f"  now / before: {medians[1] / medians[0]:.3f}")


if __name__ == "__main__":
    main()
