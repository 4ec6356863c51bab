"""How fast is the importance-weighted objective? Examples per second against the ELBO step.

Usage: python benchmarks/objectives.py [--rounds 5] [--seconds 2] [--ks 1 5 50]
                                       [--hidden 200 200] [--latent 50]

Every variant trains the same VAE (by default Burda et al.'s one-layer architecture,
784-200-200-50 tanh, as chapter 9 does) with Adam on the same random binary batches
of 100 images, one XLA-compiled step per call (``vaelib.make_train_step``):

* ``vae_loss``: the ELBO step of every earlier chapter (one sample, exact KL);
* ``iwae_loss(k, estimator)`` for each ``k`` and estimator (standard, STL, DReG).

The machine is noisy and shared, so the variants are interleaved: each round times
every variant for ``--seconds``, in a fresh random order, and the report gives the
median over rounds with the min-max, and the median's ratio to the ELBO step's median.
An example is one image, whatever ``k``: the IW step at ``k`` decodes ``k`` codes per
image. Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import vaelib

tf.get_logger().setLevel("ERROR")  # one tf.function per variant: TF's retracing hint does not apply
BATCH = 100


def make_variant(loss_fn, config: vaelib.VAEConfig, x: tf.Tensor):
    """A compiled step on a fresh model, warmed up (traced and compiled)."""
    model = vaelib.VAE(config)
    step = vaelib.make_train_step(
        model,
        tf.keras.optimizers.Adam(1e-3),
        loss_fn,
        element_spec=tf.TensorSpec([BATCH, config.input_size], tf.float32),
        jit_compile=True,
    )
    for i in range(3):
        step(x[i % len(x)])
    return step


def time_variant(step, x: tf.Tensor, seconds: float) -> float:
    """Examples per second over at least ``seconds``."""
    steps, started = 0, time.perf_counter()
    while True:
        metrics = step(x[steps % len(x)])
        steps += 1
        if steps % 5 == 0:
            float(metrics["loss"])  # wait for the device
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return steps * BATCH / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 50])
    parser.add_argument("--hidden", type=int, nargs="+", default=[200, 200])
    parser.add_argument("--latent", type=int, default=50)
    args = parser.parse_args()

    config = vaelib.VAEConfig(hidden_sizes=tuple(args.hidden), latent_size=args.latent)
    rng = np.random.default_rng(0)
    x = tf.constant((rng.random((8, BATCH, config.input_size)) < 0.3).astype(np.float32))
    variants = {"ELBO (vae_loss)": vaelib.vae_loss}
    for k in args.ks:
        for estimator in vaelib.objectives.ESTIMATORS:
            variants[f"IW k={k} {estimator}"] = vaelib.iwae_loss(k, estimator)
    print(
        f"model: {vaelib.describe_architecture(config)}; batch {BATCH}; XLA; "
        f"{args.rounds} rounds x {args.seconds:g} s per variant, interleaved; "
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs"
    )
    steps = {name: make_variant(loss, config, x) for name, loss in variants.items()}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name in rng.permutation(list(variants)):
            rates[name].append(time_variant(steps[name], x, args.seconds))
    base = float(np.median(rates["ELBO (vae_loss)"]))
    print(f"\n{'variant':24s} {'examples/s (median)':>20s} {'min-max':>18s} {'vs ELBO':>8s}")
    for name, values in rates.items():
        median = float(np.median(values))
        print(
            f"{name:24s} {median:20,.0f} {min(values):8,.0f}-{max(values):<9,.0f} "
            f"{median / base:8.3f}"
        )


if __name__ == "__main__":
    main()
