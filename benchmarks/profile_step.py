"""Where does the time of fit's compiled (XLA) training step go, and how fast could it be?

Usage: python benchmarks/profile_step.py [--steps 200] [--seconds 3]

Profiles the notes' VAE step (the model and batches of ``tf_train.py``), called
once per step from Python, with ``vaelib.profiling.profile_train_step``: the thread
time of forward and backward matmuls, elementwise fusions, the Adam update and copies,
the rest of the cores' time inside the compiled program, and the time outside it.
Then it bounds what any step built from these parts could reach: every matmul at the
best rate TensorFlow reaches at this model's layer shapes (its own kernel or XLA's)
plus the Adam update on its own, with nothing else and no idle time
(``vaelib.speed.step_bound``; ``vaelib.speed.step_bound`` times each shape).
Prints; writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# tf_train's worker protocol is not started on import
from tf_train import BATCH, batches, vaelib_model  # noqa: E402

import vaelib  # noqa: E402
from vaelib.profiling import format_profile, profile_train_step  # noqa: E402
from vaelib.speed import matmul_flops_per_second, step_bound  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps traced")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing window of each rate")
    args = parser.parse_args()

    model, optimizer = vaelib_model()
    step = vaelib.make_train_step(
        model,
        optimizer,
        vaelib.vae_loss,
        jit_compile=True,
        element_spec=tf.TensorSpec([None, 784], tf.float32),
    )
    profile = profile_train_step(step, tf.constant(batches(1)[0]), steps=args.steps, warmup=50)
    print(
        f"fit's compiled step (XLA), one step per call, the notes' VAE, batch {BATCH}: "
        f"{1e3 * profile.step:.2f} ms per step traced, of which "
        f"{1e3 * profile.program:.2f} ms in the compiled program; {profile.cores} cores\n"
    )
    print(format_profile(profile))

    forward = profile.thread_time["forward matmuls"] + profile.thread_time["forward elementwise"]
    print(
        "\nThe forward pass is a chain, each layer waiting for the one before: "
        f"its {1e3 * forward:.2f} ms run one op at a time "
        f"({forward / profile.step:.0%} of the step)."
    )

    peak = matmul_flops_per_second(2048, 2048, 2048, args.seconds)
    fresh, fresh_optimizer = vaelib_model()  # the bound trains its optimizer: a throwaway copy
    bound = step_bound(fresh, fresh_optimizer, batch_size=BATCH, seconds=args.seconds)
    print(
        f"Adam alone: {1e3 * bound.optimizer_seconds:.2f} ms per update, "
        f"{bound.optimizer_bytes / 1e6:.0f} MB moved, "
        f"{bound.optimizer_bytes / bound.optimizer_seconds / 1e9:.0f} GB/s"
    )
    print(
        f"\nBound: {bound.step_flops / 1e6:.0f} MFLOP per step, all at the best layer-shape rate "
        f"({bound.matmul_rate / 1e9:.0f} GFLOP/s), plus Adam alone, "
        "with no other work and no idle time: "
        f"{1e3 * bound.seconds:.2f} ms per step = {BATCH / bound.seconds:,.0f} examples/s = "
        f"{bound.step_flops / bound.seconds / peak:.0%} of the {peak / 1e9:.0f} GFLOP/s roofline."
    )
    print(
        f"Measured: {1e3 * profile.step:.2f} ms per step traced = "
        f"{BATCH / profile.step:,.0f} examples/s = "
        f"{bound.step_flops / profile.step / peak:.0%} of the roofline "
        f"(this is the step called once per step; fit runs {vaelib.FitConfig.steps_per_call} "
        "steps per call by default, which pays the call once per call; that loop is not "
        "profiled here)."
    )


if __name__ == "__main__":
    main()
