"""How fast is a VAE training step? The notes' TF1 loop, vaelib's step, PyTorch, the roofline.

Usage: python benchmarks/train_step.py [--seconds 8] [--threads 0] [--no-profile]

Every variant trains the notes' VAE (encoder 784-500-500-500 -> 10, decoder
10-500-500-784, batch 100, float32, Adam) on the same random binary batches
and reports examples per second, its ratio to the notes' loop as written, and
the fraction of TensorFlow's measured 2048x2048 float32 matmul rate it reaches
(achieved FLOP/s = examples/s x FLOPs per example, counted from the layer
shapes: forward 2 x MACs, backward 4 x MACs). It then checks fit's default
path against the course's targets and prints where that step's time goes
(benchmarks/profile_step.py). Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import vaelib
from vaelib.speed import matmul_flops_per_second, throughput, vae_flops_per_example, vae_step_throughput

BATCH = 100
ENCODER = (784, 500, 500, 500)
DECODER = (10, 500, 500, 784)
LATENT = 10
PER_CALL = vaelib.FitConfig.steps_per_call
DEFAULT = f"vaelib, {PER_CALL} steps per call + XLA (fit's default)"
PYTORCH = "PyTorch, same model"


def batches(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, BATCH, 784)) < 0.13).astype(np.float32)  # MNIST's ink density


def notes_tf1(seconds: float, one_run: bool) -> float:
    """The notes' graph and loop through tf.compat.v1 (sigmoid MLPs, log(1e-10 + p))."""
    tf1 = tf.compat.v1
    data = batches()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(0)

        def mlp(x, sizes):
            for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
                w = tf1.Variable(tf1.truncated_normal([n_in, n_out], stddev=0.001))
                b = tf1.Variable(tf.ones([n_out]) * 0.1)
                x = tf.nn.sigmoid(tf.matmul(x, w) + b)
            return x

        x = tf1.placeholder(tf.float32, [None, 784])
        h = mlp(x, ENCODER)
        w_mu = tf1.Variable(tf1.truncated_normal([500, LATENT], stddev=0.1))
        w_ls = tf1.Variable(tf1.truncated_normal([500, LATENT], stddev=0.1))
        # the notes' names, kept: q_logsigma is a log *variance* (the book's q_logvar)
        q_mu, q_logsigma = tf.matmul(h, w_mu), tf.matmul(h, w_ls)
        z = q_mu + tf.sqrt(tf.exp(q_logsigma)) * tf1.random_normal([BATCH, LATENT])
        p_mu = mlp(z, DECODER)
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

    rate = throughput(step, seconds, BATCH)
    sess.close()
    return rate


def vaelib_model():
    vaelib.set_seed(0, deterministic=False)
    config = vaelib.VAEConfig(hidden_sizes=ENCODER[1:], decoder_hidden_sizes=DECODER[1:-1],
                              latent_size=LATENT, activation="sigmoid")
    return vaelib.VAE(config), tf.keras.optimizers.Adam(1e-3)


def pytorch(seconds: float) -> float | None:
    """The same model in PyTorch (benchmarks/pytorch_step.py), in a process of its own:
    PyTorch's and TensorFlow's thread pools crash (SIGSEGV) when both run in one process."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_step.py")
    out = subprocess.run([sys.executable, script, "--seconds", str(seconds)],
                         capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="timing window per variant")
    parser.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0: default)")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the per-op profile of the default step")
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    s = args.seconds
    flops = vae_flops_per_example(vaelib_model()[0])
    peak = matmul_flops_per_second(2048, 2048, 2048, s)
    shapes = {"[100,784]@[784,500]": (100, 784, 500), "[100,500]@[500,500]": (100, 500, 500),
              "[100,500]@[500,784]": (100, 500, 784)}
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; {flops / 1e6:.2f} MFLOP per example")
    print(f"float32 matmul 2048x2048: {peak / 1e9:.1f} GFLOP/s (the roofline below)")
    for name, (m, k, n) in shapes.items():
        print(f"float32 matmul {name}: {matmul_flops_per_second(m, k, n, s) / 1e9:.1f} GFLOP/s, "
              f"{matmul_flops_per_second(m, k, n, s, jit_compile=True) / 1e9:.1f} GFLOP/s under XLA")

    results = {}
    variants = [
        ("notes' TF1 loop, as written (2 runs/step)", lambda: notes_tf1(s, one_run=False)),
        ("notes' TF1 loop, 1 run/step", lambda: notes_tf1(s, one_run=True)),
        ("vaelib step, eager", lambda: vae_step_throughput(*vaelib_model(), "eager", seconds=s)),
        ("vaelib step, tf.function",
         lambda: vae_step_throughput(*vaelib_model(), "function", seconds=s)),
        ("vaelib step, tf.function + XLA",
         lambda: vae_step_throughput(*vaelib_model(), "xla", seconds=s)),
        (f"vaelib, {PER_CALL} steps per call", lambda: vae_step_throughput(*vaelib_model(), "loop", seconds=s)),
        (DEFAULT, lambda: vae_step_throughput(*vaelib_model(), "loop+xla", seconds=s)),
        (PYTORCH, lambda: pytorch(s)),
    ]
    print(f"\n{'variant':48s} {'examples/s':>11s} {'vs notes':>9s} {'vs 1-run':>9s} {'roofline':>9s}")
    for name, run in variants:
        rate = run()
        results[name] = rate
        if rate is None:
            print(f"{name:48s} {'skipped (needs torch: make bench installs it)':>41s}")
            continue
        base = results[variants[0][0]]
        one = results.get(variants[1][0]) or rate
        print(f"{name:48s} {rate:11,.0f} {rate / base:8.2f}x {rate / one:8.2f}x "
              f"{rate * flops / peak:8.0%}")

    default = results[DEFAULT]
    targets = [("the notes' loop as written", results[variants[0][0]], 1.5),
               ("the 1-run-per-step TF1 loop", results[variants[1][0]], 1.05),
               ("PyTorch", results[PYTORCH], 1.3),
               ("the 2048x2048 roofline (FLOP/s)", peak / flops, 0.65)]
    print(f"\nfit's default path ({default:,.0f} examples/s) against the targets:")
    for name, reference, target in targets:
        if reference is None:
            print(f"  vs {name:34s} skipped")
            continue
        ratio = default / reference
        print(f"  vs {name:34s} {ratio:5.2f}  target >= {target:.2f}  {'met' if ratio >= target else 'NOT met'}")
    if args.profile:
        print("\nWhere the default step's time goes (benchmarks/profile_step.py):", flush=True)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_step.py")
        subprocess.run([sys.executable, script], check=False)


if __name__ == "__main__":
    main()
