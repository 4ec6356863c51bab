"""Where does the time of fit's compiled (XLA) training step go, and how fast could it be?

Usage: python benchmarks/profile_step.py [--steps 200] [--seconds 3]

Profiles the notes' VAE step (the model and batches of ``train_step.py``), called
once per step from Python, with ``vaelib.profiling.profile_train_step``: the thread time of forward and backward
matmuls, elementwise fusions, the Adam update and copies, the rest of the cores' time inside
the compiled program, and the time outside it. Then it bounds what any step
built from these parts could reach: every matmul at the best rate TensorFlow
reaches at this model's layer shapes (its own kernel or XLA's) plus the Adam
update on its own, with nothing else and no idle time. Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import BATCH, batches, vaelib_model  # noqa: E402

import vaelib  # noqa: E402
from vaelib.profiling import profile_train_step  # noqa: E402
from vaelib.speed import matmul_flops_per_second, optimizer_update_seconds, vae_flops_per_example  # noqa: E402

LAYER_SHAPES = [(BATCH, 784, 500), (BATCH, 500, 500), (BATCH, 500, 784)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps traced")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing window of each rate")
    args = parser.parse_args()

    model, optimizer = vaelib_model()
    step = vaelib.make_train_step(model, optimizer, vaelib.vae_loss, jit_compile=True,
                                  element_spec=tf.TensorSpec([None, 784], tf.float32))
    profile = profile_train_step(step, tf.constant(batches(1)[0]), steps=args.steps, warmup=50)
    cores = profile.cores
    print(f"fit's compiled step (XLA), one step per call, the notes' VAE, batch {BATCH}: {1e3 * profile.step:.2f} ms per step "
          f"traced, of which {1e3 * profile.program:.2f} ms in the compiled program; {cores} cores\n")
    print(f"{'':22s} {'core ms':>8s} {'share':>6s} {'GFLOP/s while running':>22s}")
    for category, seconds, share in profile.rows():
        flops = profile.flops.get(category, 0.0)
        rate = f"{flops / seconds / 1e9:22.0f}" if flops and seconds else ""
        print(f"{category:22s} {1e3 * seconds:8.2f} {share:6.0%} {rate}")

    forward = profile.thread_time["forward matmuls"] + profile.thread_time["forward elementwise"]
    print(f"\nThe forward pass is a chain, each layer waiting for the one before: its {1e3 * forward:.2f} ms "
          f"run one op at a time ({forward / profile.step:.0%} of the step).")

    s = args.seconds
    peak = matmul_flops_per_second(2048, 2048, 2048, s)
    best = 0.0
    print(f"\nfloat32 matmul, GFLOP/s     TensorFlow's kernel     XLA   (2048x2048: {peak / 1e9:.0f}, the roofline)")
    for m, k, n in LAYER_SHAPES:
        plain, xla = matmul_flops_per_second(m, k, n, s), matmul_flops_per_second(m, k, n, s, jit_compile=True)
        best = max(best, plain, xla)
        print(f"  [{m},{k}]@[{k},{n}] {plain / 1e9:22.0f} {xla / 1e9:7.0f}")
    fresh, fresh_optimizer = vaelib_model()
    adam = optimizer_update_seconds(fresh_optimizer, fresh.trainable_variables, s)
    params = sum(int(np.prod(v.shape)) for v in fresh.trainable_variables)
    moved = 7 * 4 * params  # Adam reads g, w, m, v and writes w, m, v, float32
    print(f"Adam alone: {1e3 * adam:.2f} ms per update, {moved / 1e6:.0f} MB moved, {moved / adam / 1e9:.0f} GB/s "
          "(memory-bound)")

    step_flops = vae_flops_per_example(model) * BATCH
    floor = step_flops / best + adam
    print(f"\nBound: {step_flops / 1e6:.0f} MFLOP per step, all at the best layer-shape rate "
          f"({best / 1e9:.0f} GFLOP/s), plus Adam alone, with no other work and no idle time: "
          f"{1e3 * floor:.2f} ms per step = {BATCH / floor:,.0f} examples/s = "
          f"{step_flops / floor / peak:.0%} of the roofline.")
    print(f"Measured: {1e3 * profile.step:.2f} ms per step traced = {BATCH / profile.step:,.0f} examples/s = "
          f"{step_flops / profile.step / peak:.0%} of the roofline (fit runs {vaelib.FitConfig.steps_per_call} "
          "steps per call, which removes most of the time outside XLA).")


if __name__ == "__main__":
    main()
