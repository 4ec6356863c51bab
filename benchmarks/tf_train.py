"""TensorFlow's variants of the training benchmark, served to ``train_step.py`` (a worker).

Usage: python benchmarks/tf_train.py [--models notes course] [--groups modes tf1 real roofline]

Builds, traces and compiles every variant once, then times whichever one the
parent asks for (``benchmarks/workers.py``). Variants, for each model:

* ``modes``: vaelib's step run eagerly, as a ``tf.function``, with XLA, 20 steps
  per call, and 20 steps per call with XLA (``fit``'s default), on 20 random
  binary batches of 100 (``vaelib.speed.vae_step_runner``);
* ``tf1`` (the notes' model only): the notes' own graph and ``Session`` loop
  through ``tf.compat.v1``, as written (a second run per step to log the ELBO)
  and with one run per step;
* ``real``: ``vaelib.fit`` itself, on 10,000 Fashion-MNIST training images as
  ``vaelib.InMemoryData`` (shuffle, batching and dynamic binarization inside the
  compiled loop; and with one fixed draw, the control without a per-step draw),
  through the book's ``tf.data`` pipeline with dynamic binarization, and on the
  same images binarized once beforehand (ready-made float32 batches); the rate
  counts the epochs after the first (which compiles), with no per-epoch evaluation;
* ``roofline``: TensorFlow's float32 2048x2048 matmul rate (reported in FLOP/s);
* ``matmul``: TensorFlow's float32 matmul rates at the VAE's layer shapes (FLOP/s).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workers import (  # noqa: E402
    FIT_FEEDS,
    MATMUL_SHAPES,
    REAL_IMAGES,
    matmul_name,
    protocol_stream,
    serve,
    timed,
)

PROTOCOL = protocol_stream() if __name__ == "__main__" else None
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import vaelib  # noqa: E402
from vaelib.speed import matmul_flops_per_second, vae_step_runner  # noqa: E402

BATCH = 100
LATENT = 10
PER_CALL = vaelib.FitConfig.steps_per_call
MODELS = {  # the notes' exact layers (sigmoid), and the course's default VAE (chapter 6)
    "notes": vaelib.VAEConfig(
        hidden_sizes=(500, 500, 500),
        decoder_hidden_sizes=(500, 500),
        latent_size=LATENT,
        activation="sigmoid",
    ),
    "course": vaelib.VAEConfig(),
}
MODEL_NAMES = {"notes": "notes' VAE (sigmoid)", "course": "course's VAE (tanh)"}
MODES = {
    "eager": "eager",
    "tf.function": "function",
    "XLA": "xla",
    f"{PER_CALL} steps/call": "loop",
    "fit's default": "loop+xla",
}
DEFAULT = "fit's default"

ROOFLINE = "roofline: 2048x2048 matmul (FLOP/s)"


def batches(n: int = 20, seed: int = 0) -> np.ndarray:
    """The random binary batches every library trains on: ``[n, 100, 784]``, MNIST's ink density."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, BATCH, 784)) < 0.13).astype(np.float32)


def vaelib_model(name: str = "notes"):
    vaelib.set_seed(0, deterministic=False)
    return vaelib.VAE(MODELS[name]), tf.keras.optimizers.Adam(1e-3)


def notes_tf1(one_run: bool):
    """The notes' graph and loop through tf.compat.v1 (sigmoid MLPs, log(1e-10 + p)).

    Returns (run_once, examples)."""
    tf1 = tf.compat.v1
    data = batches()
    graph = tf.Graph()
    encoder, decoder = (784, 500, 500, 500), (LATENT, 500, 500, 784)
    with graph.as_default():
        tf1.set_random_seed(0)

        def mlp(x, sizes):
            # consecutive pairs of layer sizes: sizes[1:] is one shorter, by design
            for n_in, n_out in zip(sizes, sizes[1:], strict=False):
                w = tf1.Variable(tf1.truncated_normal([n_in, n_out], stddev=0.001))
                b = tf1.Variable(tf.ones([n_out]) * 0.1)
                x = tf.nn.sigmoid(tf.matmul(x, w) + b)
            return x

        x = tf1.placeholder(tf.float32, [None, 784])
        h = mlp(x, encoder)
        w_mu = tf1.Variable(tf1.truncated_normal([500, LATENT], stddev=0.1))
        w_ls = tf1.Variable(tf1.truncated_normal([500, LATENT], stddev=0.1))
        # the notes' names, kept: q_logsigma is a log *variance* (the book's q_logvar)
        q_mu, q_logsigma = tf.matmul(h, w_mu), tf.matmul(h, w_ls)
        z = q_mu + tf.sqrt(tf.exp(q_logsigma)) * tf1.random_normal([BATCH, LATENT])
        p_mu = mlp(z, decoder)
        kld = 0.5 * tf.reduce_sum(1 + q_logsigma - tf.square(q_mu) - tf.exp(q_logsigma), 1)
        ll = tf.reduce_sum(x * tf1.log(1e-10 + p_mu) + (1 - x) * tf1.log(1e-10 + 1 - p_mu), 1)
        elbo = tf.reduce_mean(ll + kld)
        minimize = tf1.train.AdamOptimizer(0.001).minimize(-elbo)
        init = tf1.global_variables_initializer()
    sess = tf1.Session(graph=graph)
    sess.run(init)
    i = [0]

    def step():
        feed = {x: data[i[0] % len(data)]}
        i[0] += 1
        if one_run:
            sess.run([minimize, elbo], feed_dict=feed)
        else:  # as written: one run to train, a second forward pass to log the ELBO
            sess.run(minimize, feed_dict=feed)
            sess.run(elbo, feed_dict=feed)

    return step, BATCH


def fit_rate(model_name: str, feed: str):
    """measure(seconds) for ``vaelib.fit`` on real images, fed one of three ways:
    ``"tf.data"`` (the book's pipeline, dynamic binarization), ``"in-memory"``
    (``vaelib.InMemoryData``, dynamic binarization inside the compiled loop),
    ``"in-memory fixed"`` (the same, with one fixed draw: no Bernoulli draw per step, the
    control that shows what the draw costs) or ``"ready"`` (float32 batches binarized
    once beforehand).

    The rate is examples/s over the epochs after the first."""
    images = vaelib.load_fashion_mnist(verbose=False).x_train[:REAL_IMAGES]
    ready = vaelib.binarize(images, "fixed", seed=0)
    in_memory = vaelib.InMemoryData(
        images,
        batch_size=BATCH,
        binarization="fixed" if feed == "in-memory fixed" else "dynamic",
        seed=0,
    )
    epoch_seconds = [2.0]  # a first guess; then the last measured epoch

    def data(epoch):
        if feed == "tf.data":  # the book's pipeline: shuffle, batch, a new draw at every epoch
            return vaelib.make_dataset(images, batch_size=BATCH, binarization="dynamic", seed=epoch)
        return tf.data.Dataset.from_tensor_slices(ready).batch(BATCH)

    def measure(seconds: float) -> float:
        model, optimizer = vaelib_model(model_name)
        epochs = 1 + max(2, math.ceil(seconds / epoch_seconds[0]))
        history = vaelib.fit(
            model,
            optimizer,
            vaelib.vae_loss,
            in_memory if feed.startswith("in-memory") else data,
            vaelib.FitConfig(epochs=epochs, progress=False),
        )
        timed_epochs = [row["seconds"] for row in history.epochs[1:]]
        epoch_seconds[0] = timed_epochs[-1]
        return len(timed_epochs) * REAL_IMAGES / sum(timed_epochs)

    return measure


def build(models: list[str], groups: list[str]) -> dict:
    variants = {}
    if "roofline" in groups:
        variants[ROOFLINE] = lambda s: matmul_flops_per_second(2048, 2048, 2048, s)
    if "matmul" in groups:  # the VAE's layer shapes (2048^3 is the roofline above)
        for m, k, n in MATMUL_SHAPES[1:]:
            variants[matmul_name("TensorFlow", m, k, n)] = lambda s, m=m, k=k, n=n: (
                matmul_flops_per_second(m, k, n, s)
            )
    for name in models:
        label = MODEL_NAMES[name]
        if "tf1" in groups and name == "notes":
            variants[f"{label}: TF1 loop as written (2 runs/step)"] = timed(*notes_tf1(False))
            variants[f"{label}: TF1 loop, 1 run/step"] = timed(*notes_tf1(True))
        if "modes" in groups:
            for mode_name, mode in MODES.items():
                run, per_call = vae_step_runner(*vaelib_model(name), mode)
                run()  # trace and compile now, not in the first round
                variants[f"{label}: {mode_name}"] = timed(run, per_call)
        if "real" in groups and name == "course":  # the model the book trains on real data
            for feed, how in FIT_FEEDS.items():
                variants[f"{label}: {how}"] = fit_rate(name, feed)
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--groups", nargs="+", default=["modes", "tf1", "real", "roofline", "matmul"]
    )
    args = parser.parse_args()
    serve(build(args.models, args.groups), PROTOCOL, build_info())


def build_info() -> str:
    """Version, threads, and the oneDNN setting this process ran with."""
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset, TensorFlow's default")
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    return (
        f"TensorFlow {tf.__version__} (TF_ENABLE_ONEDNN_OPTS {onednn}), {threads} intra-op threads"
    )


if __name__ == "__main__":
    main()
