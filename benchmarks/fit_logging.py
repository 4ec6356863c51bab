"""Does fit(..., log_dir=...) slow training? fit with and without TensorBoard summaries.

Usage: python benchmarks/fit_logging.py [--rounds 8] [--epochs 6]

Times what readers call: ``vaelib.fit`` on the book's MNIST (``make_dataset`` with dynamic
binarization, batch 100, the course's VAE, Adam, fit's defaults), once with ``log_dir`` and
once without, in an order that alternates from round to round. A run's rate counts every
epoch after the first (which compiles the step) from the wall time of the whole call minus
the first epoch, so the summaries written after each epoch are inside the time. Prints each
variant's median examples/s, and the median and range over rounds of the per-round ratio
(with / without): the machine is shared, and a ratio within one round compares like with
like. Target (issue 24): with summaries >= 0.97 of without. Writes its event files into a
temporary folder it deletes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

import vaelib


def measure(data, num_examples: int, epochs: int, log_dir: str | None) -> float:
    vaelib.set_seed(0)
    model = vaelib.VAE()
    config = vaelib.FitConfig(epochs=epochs, progress=False)
    start = time.perf_counter()
    history = vaelib.fit(
        model, tf.keras.optimizers.Adam(1e-3), vaelib.vae_loss, data, config, log_dir=log_dir
    )
    wall = time.perf_counter() - start
    return (epochs - 1) * num_examples / (wall - history.epochs[0]["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    mnist = vaelib.load_mnist()
    print(mnist.source.describe())
    data = vaelib.make_dataset(mnist.x_train, batch_size=100, binarization="dynamic", seed=0)
    n = len(mnist.x_train)
    rates = {"without log_dir": [], "with log_dir": []}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.rounds):
            order = list(rates) if r % 2 == 0 else list(reversed(rates))
            for name in order:
                log_dir = os.path.join(folder, f"run{r}") if name == "with log_dir" else None
                rates[name].append(measure(data, n, args.epochs, log_dir))
            print(
                f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()),
                flush=True,
            )
    for name, values in rates.items():
        print(
            f"{name:16s} median {statistics.median(values):8,.0f} examples/s "
            f"({min(values):,.0f}-{max(values):,.0f})"
        )
    ratios = [w / wo for w, wo in zip(rates["with log_dir"], rates["without log_dir"], strict=True)]
    print(
        f"with / without, per round: median {statistics.median(ratios):.3f} "
        f"({min(ratios):.3f}-{max(ratios):.3f}); target >= 0.97: "
        f"{statistics.median(ratios) >= 0.97}"
    )


if __name__ == "__main__":
    main()
