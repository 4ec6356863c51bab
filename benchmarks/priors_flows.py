"""What does a learned prior or a flow posterior cost per epoch? ``fit`` with each, beside the
plain ELBO, in interleaved rounds (issue 26).

Usage: python benchmarks/priors_flows.py [--rounds 5] [--epochs 4]

Times what readers call: ``vaelib.fit`` on the book's MNIST (``make_dataset`` with dynamic
binarization, batch 100, chapter 12's models: 784-200-200-10 tanh, Adam, XLA), with

* ``vaelib.vae_loss`` (the plain ELBO with the exact KL: every earlier chapter's step),
* ``prior_loss`` with the standard normal, a 100-component mixture and a VampPrior with 100
  pseudo-inputs (the KL by Monte Carlo),
* ``flow_loss`` with 8 amortized planar layers and with 2 IAF layers (MADE, 100 hidden units).

A run's rate counts every epoch after the first (which compiles the step): examples per second
from the wall time of those epochs. Each round runs every variant once, in an order that rotates
from round to round; nothing else of the benchmark runs while one is timed. Prints each
variant's median rate and range, and the median and range over rounds of its per-round ratio to
the plain ELBO within the same round (the machine is shared; a ratio within a round compares
like with like). It also checks that the plain ELBO's compiled step traced once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import vaelib
from vaelib.models.flows import Flow
from vaelib.models.priors import MixturePrior, StandardNormalPrior, VampPrior
from vaelib.objectives.flow_loss import flow_loss
from vaelib.objectives.prior_loss import prior_loss

CONFIG = vaelib.VAEConfig(hidden_sizes=(200, 200), latent_size=10, seed=0)
VARIANTS = (
    "plain ELBO",
    "standard prior (MC KL)",
    "mixture prior",
    "VampPrior",
    "planar x8",
    "IAF x2",
)


def make(name: str, x_train: np.ndarray):
    """A fresh model and its loss for one variant."""
    model = vaelib.VAE(CONFIG)
    d = CONFIG.latent_size
    priors = {
        "standard prior (MC KL)": lambda: StandardNormalPrior(d),
        "mixture prior": lambda: MixturePrior(d, 100, seed=0),
        "VampPrior": lambda: VampPrior(model.encoder, x_train[:100].reshape(100, -1) / 255.0),
    }
    flows = {
        "planar x8": lambda: Flow.planar(d, 8, context_size=2 * d),
        "IAF x2": lambda: Flow.iaf(d, 2, (100,), context_size=2 * d),
    }
    if name in priors:
        model.prior = priors[name]()
        return model, prior_loss(model.prior)
    if name in flows:
        model.flow = flows[name]()
        return model, flow_loss(model.flow)
    return model, vaelib.vae_loss


def measure(name: str, data, x_train, epochs: int) -> float:
    vaelib.set_seed(0)
    model, loss = make(name, x_train)
    config = vaelib.FitConfig(epochs=epochs, progress=False, jit_compile=True)
    history = vaelib.fit(model, tf.keras.optimizers.Adam(1e-3), loss, data, config)
    seconds = sum(row["seconds"] for row in history.epochs[1:])
    return (epochs - 1) * len(x_train) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    mnist = vaelib.load_mnist()
    print(mnist.source.describe())
    x_train = mnist.x_train
    data = vaelib.make_dataset(x_train, batch_size=100, binarization="dynamic", seed=0)
    rates = {name: [] for name in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]
        for name in order:
            rates[name].append(measure(name, data, x_train, args.epochs))
        print(
            f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()),
            flush=True,
        )
    plain = rates["plain ELBO"]
    print(
        f"\nexamples/s per epoch, median (range) over {args.rounds} rounds; ratio to the plain ELBO"
    )
    for name, values in rates.items():
        ratios = [v / p for v, p in zip(values, plain, strict=True)]
        print(
            f"{name:24s} {statistics.median(values):8,.0f} ({min(values):,.0f}-{max(values):,.0f})"
            f"   ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    started = time.perf_counter()
    model = vaelib.VAE(CONFIG)
    step = vaelib.make_train_step(
        model, tf.keras.optimizers.Adam(1e-3), vaelib.vae_loss, element_spec=data.element_spec
    )
    for batch in data.take(5):
        step(batch)
    print(
        f"\nplain ELBO step traced {step.experimental_get_tracing_count()} time(s) over 5 "
        f"batches ({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
