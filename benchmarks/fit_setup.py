"""What a `fit` call costs before its first step: tracing, XLA's compilation, the first batch.

Usage: python benchmarks/fit_setup.py [--rounds 5] [--num-train 2000] [--json PATH]

Every chapter trains many models (seeds, configurations), each with its own `fit` call, and
each call builds its compiled loop anew: the loop is traced for that model's variables and,
with XLA (the default), compiled. In the test suite's short runs this set-up is most of a
chapter's time. This times, for the course's VAE (``vaelib.VAEConfig()``) on the first
``--num-train`` MNIST training images (dynamic binarization, batches of 100, evaluation off,
as the chapters call it), a fresh model's ``fit`` over two epochs:

* ``set-up`` = the first epoch's seconds minus the second's (the same number of steps, the
  second with the loop already built): what one more model costs before it trains;
* ``epoch`` = the second epoch's seconds.

Variants, interleaved over ``--rounds`` rounds in a new random order each round (one
process: they are all TensorFlow): ``fit`` with XLA on a ``make_dataset`` pipeline (the
default), without XLA, and with XLA on a ``vaelib.InMemoryData``. XLA's share of the set-up
is read as the difference of the first two. Medians and min-max over the rounds. Prints;
writes only ``--json PATH``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import vaelib  # noqa: E402

VARIANTS = ("fit, XLA, make_dataset", "fit, no XLA, make_dataset", "fit, XLA, InMemoryData")


def one_fit(variant: str, images: np.ndarray, seed: int) -> dict[str, float]:
    """A fresh VAE trained for two epochs; the epochs' seconds as fit's History records them."""
    model = vaelib.VAE(vaelib.VAEConfig(seed=seed))
    if variant.endswith("InMemoryData"):
        data = vaelib.InMemoryData(images, batch_size=100, seed=seed, binarization="dynamic")
    else:
        data = vaelib.make_dataset(images, batch_size=100, seed=seed, binarization="dynamic")
    config = vaelib.FitConfig(epochs=2, progress=False, jit_compile="no XLA" not in variant)
    history = vaelib.fit(model, tf.keras.optimizers.Adam(1e-3), vaelib.vae_loss, data, config)
    first, second = (row["seconds"] for row in history.epochs)
    return {"setup": first - second, "epoch": second}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.num_train < 100:
        parser.error("--rounds must be at least 1 and --num-train at least 100")
    mnist = vaelib.load_mnist()
    images = mnist.x_train[: args.num_train]
    print(f"data: {mnist.source.describe()}, first {len(images):,} training images")
    rng = np.random.default_rng(0)
    one_fit(VARIANTS[0], images, seed=99)  # the process's one-off costs (AutoGraph, kernels)
    rows = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for i in rng.permutation(len(VARIANTS)):
            rows[VARIANTS[i]].append(one_fit(VARIANTS[i], images, seed=r))
        line = ", ".join(f"{v}: {rows[v][-1]['setup']:.2f} s" for v in VARIANTS)
        print(f"round {r + 1}: set-up {line}", flush=True)
    summary = {}
    print(f"\nmedian (min-max) over {args.rounds} rounds, seconds:")
    print(f"{'variant':28s} {'set-up':>20s} {'epoch':>20s}")
    for v in VARIANTS:
        setup = [row["setup"] for row in rows[v]]
        epoch = [row["epoch"] for row in rows[v]]
        summary[v] = {"setup": setup, "epoch": epoch}
        print(
            f"{v:28s} {statistics.median(setup):8.2f} ({min(setup):.2f}-{max(setup):.2f})"
            f" {statistics.median(epoch):8.2f} ({min(epoch):.2f}-{max(epoch):.2f})"
        )
    xla = [
        a["setup"] - b["setup"] for a, b in zip(rows[VARIANTS[0]], rows[VARIANTS[1]], strict=True)
    ]
    print(
        f"XLA's part of the set-up (per round, XLA minus no XLA): median "
        f"{statistics.median(xla):.2f} s ({min(xla):.2f}-{max(xla):.2f})"
    )
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__,
        "data": mnist.source.describe(),
        "num_train": len(images),
        "rounds": summary,
        "load_average": os.getloadavg(),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
