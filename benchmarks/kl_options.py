"""Do the KL options cost step time? The plain ELBO step against each option, interleaved.

Usage: python benchmarks/kl_options.py [--rounds 5] [--seconds 3] [--hidden 500 500] [--latent 10]

``vaelib.kl_loss(KLOptions())`` returns ``vaelib.vae_loss`` itself, so the default
step is the plain ELBO step by construction (the first two rows build the same graph
twice, and measure the noise between two copies of one step). The other rows are
each option on its own, then all three together:

* ``beta 4``: one more multiplication;
* ``free bits 0.5``: the KL per dimension, a mean over the batch and a maximum;
* ``warm-up 1000``: reads the optimizer's step counter each step.

Every variant trains the course's VAE (784-500-500-10 tanh by default) with Adam on the
same random binary batches of 100 images, as :func:`vaelib.fit` trains by default:
20 steps per call in one XLA-compiled loop (``vaelib.make_train_loop``), every step's
metrics read back. The machine is noisy and shared, so each round times every variant
for ``--seconds``, in a fresh random order, and the report gives the median over
rounds, the min-max, and the median's ratio to the plain step's. Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import vaelib
from vaelib.kl_options import KLOptions, kl_loss
from vaelib.speed import throughput

tf.get_logger().setLevel("ERROR")  # one tf.function per variant: TF's retracing hint does not apply
BATCH, STEPS_PER_CALL = 100, 20
VARIANTS = {
    "vae_loss (plain ELBO)": None,
    "kl_loss(KLOptions())": KLOptions(),
    "beta 4": KLOptions(beta=4.0),
    "free bits 0.5": KLOptions(free_bits=0.5),
    "warm-up 1000": KLOptions(warmup_steps=1000),
    "all three": KLOptions(beta=4.0, free_bits=0.5, warmup_steps=1000),
}


def make_variant(options: KLOptions | None, config: vaelib.VAEConfig, data: np.ndarray):
    """A compiled loop of ``STEPS_PER_CALL`` steps on a fresh model, warmed up; returns a
    function that runs one call and reads its metrics."""
    model = vaelib.VAE(config)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    loss_fn = vaelib.vae_loss if options is None else kl_loss(options, optimizer)
    ds = tf.data.Dataset.from_tensor_slices(data).repeat().prefetch(tf.data.AUTOTUNE)
    stacks = vaelib.stack_batches(ds, STEPS_PER_CALL)
    loop = vaelib.make_train_loop(
        model, optimizer, loss_fn, element_spec=ds.element_spec, jit_compile=True
    )

    def run():
        ran, metrics = loop(next(stacks))
        return int(ran), {k: v.numpy() for k, v in metrics.items()}

    run()  # trace and compile
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--hidden", type=int, nargs="+", default=[500, 500])
    parser.add_argument("--latent", type=int, default=10)
    args = parser.parse_args()

    config = vaelib.VAEConfig(hidden_sizes=tuple(args.hidden), latent_size=args.latent)
    rng = np.random.default_rng(0)
    data = (rng.random((20, BATCH, config.input_size)) < 0.13).astype(np.float32)
    assert kl_loss(KLOptions()) is vaelib.vae_loss  # the default is the plain step itself
    print(
        f"model: {vaelib.describe_architecture(config)}; batch {BATCH}; {STEPS_PER_CALL} steps per "
        f"call, XLA (fit's default); {args.rounds} rounds x {args.seconds:g} s per variant, "
        f"interleaved in random order; TensorFlow {tf.__version__}, {os.cpu_count()} CPUs"
    )
    runs = {name: make_variant(options, config, data) for name, options in VARIANTS.items()}
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name in rng.permutation(list(VARIANTS)):
            rates[name].append(
                throughput(runs[name], args.seconds, BATCH * STEPS_PER_CALL, warmup=1)
            )
    base = float(np.median(rates["vae_loss (plain ELBO)"]))
    print(f"\n{'variant':24s} {'examples/s (median)':>20s} {'min-max':>18s} {'vs plain':>9s}")
    for name, values in rates.items():
        median = float(np.median(values))
        print(
            f"{name:24s} {median:20,.0f} {min(values):8,.0f}-{max(values):<9,.0f} "
            f"{median / base:9.3f}"
        )


if __name__ == "__main__":
    main()
