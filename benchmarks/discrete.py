"""What does a VQ-VAE step cost? ``fit`` per epoch for the discrete-code models beside the plain
ELBO step and chapter 11's convolutional VAE, in interleaved rounds (issue 27).

Usage: python benchmarks/discrete.py [--rounds 5] [--epochs 3]

Times what readers call: ``vaelib.fit`` on the book's MNIST (``make_dataset`` with dynamic
binarization, batch 100, Adam, no XLA: chapter 11 measured XLA slower for its convolutions on
this CPU), with

* ``vaelib.vae_loss`` on the MLP VAE (784-200-200-10 tanh), the plain ELBO step of every
  earlier chapter;
* ``vaelib.vae_loss`` on chapter 11's convolutional VAE with channels (16, 32), the
  architecture the VQ-VAE's encoder and decoder follow (the fair reference for its cost);
* ``vq_loss`` on the VQ-VAE (channels (16, 32), 64 codes of 16), codebook by gradient and by
  EMA;
* ``code_prior_loss`` on the PixelCNN prior over 7x7 code grids (embed 16, hidden 64, 3
  layers), fed grids of codes.

A run's rate counts every epoch after the first (which traces the step): examples per second
from the wall time of those epochs. Each round runs every variant once, in an order that rotates
from round to round; nothing else of the benchmark runs while one is timed. Prints each
variant's median rate and range, and the median and range over rounds of its per-round ratio to
the plain ELBO and to the convolutional VAE. It also checks that the VQ-VAE's step traced once.
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
from vaelib.models.code_prior import PixelCNNPrior, code_prior_loss
from vaelib.models.vqvae import VQVAE, VQVAEConfig, vq_loss

VARIANTS = (
    "plain ELBO (MLP)",
    "conv VAE (16, 32)",
    "VQ-VAE, gradient codebook",
    "VQ-VAE, EMA codebook",
    "PixelCNN prior on codes",
)


def make(name: str):
    """A fresh model and its loss for one variant."""
    if name == "plain ELBO (MLP)":
        return vaelib.VAE(vaelib.VAEConfig(hidden_sizes=(200, 200), latent_size=10)), (
            vaelib.vae_loss
        )
    if name == "conv VAE (16, 32)":
        return vaelib.VAE(vaelib.ConvVAEConfig(channels=(16, 32))), vaelib.vae_loss
    if name == "PixelCNN prior on codes":
        prior = PixelCNNPrior(64, (7, 7), embed_size=16, hidden=64, num_layers=3)
        return prior, code_prior_loss(prior)
    ema = 0.99 if "EMA" in name else None
    return VQVAE(VQVAEConfig(channels=(16, 32), ema_decay=ema)), vq_loss


def measure(name: str, data, codes, epochs: int) -> float:
    vaelib.set_seed(0)
    model, loss = make(name)
    config = vaelib.FitConfig(epochs=epochs, progress=False, jit_compile=False)
    source = codes if name == "PixelCNN prior on codes" else data
    history = vaelib.fit(model, tf.keras.optimizers.Adam(1e-3), loss, source, config)
    seconds = sum(row["seconds"] for row in history.epochs[1:])
    count = sum(int(tf.shape(batch)[0]) for batch in source)
    return (epochs - 1) * count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    mnist = vaelib.load_mnist()
    print(mnist.source.describe())
    x_train = mnist.x_train
    data = vaelib.make_dataset(x_train, batch_size=100, binarization="dynamic", seed=0)
    grids = np.random.default_rng(0).integers(0, 64, size=(len(x_train), 7, 7)).astype(np.int32)
    codes = tf.data.Dataset.from_tensor_slices(grids).batch(100)
    rates = {name: [] for name in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]
        for name in order:
            rates[name].append(measure(name, data, codes, args.epochs))
        print(
            f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()),
            flush=True,
        )
    print(f"\nexamples/s per epoch, median (range) over {args.rounds} rounds; per-round ratios")
    for name, values in rates.items():
        line = (
            f"{name:26s} {statistics.median(values):8,.0f} ({min(values):,.0f}-{max(values):,.0f})"
        )
        for reference in ("plain ELBO (MLP)", "conv VAE (16, 32)"):
            ratios = [v / p for v, p in zip(values, rates[reference], strict=True)]
            line += (
                f"   to {reference.split(' (')[0]} {statistics.median(ratios):.2f} "
                f"({min(ratios):.2f}-{max(ratios):.2f})"
            )
        print(line)
    started = time.perf_counter()
    step = vaelib.make_train_step(
        VQVAE(VQVAEConfig(channels=(16, 32), ema_decay=0.99)),
        tf.keras.optimizers.Adam(1e-3),
        vq_loss,
        element_spec=data.element_spec,
        jit_compile=False,
    )
    for batch in data.take(5):
        step(batch)
    print(
        f"\nVQ-VAE (EMA) step traced {step.experimental_get_tracing_count()} time(s) over 5 "
        f"batches ({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
