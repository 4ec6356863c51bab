"""Where does the time of a compiled training step go, in TensorFlow and in JAX?

Usage: python benchmarks/profile_step.py [--models notes course] [--steps 200] [--seconds 3]
                                         [--no-jax] [--no-loops] [--json PATH]

Profiles, for each model of ``tf_train.py`` (the notes' VAE and the course's), two
programs that XLA compiled from the same step, each called once per step from Python with
its loss read after every step, on the same batch of 100:

* TensorFlow: fit's compiled (XLA) step, ``vaelib.make_train_step``, profiled by
  ``vaelib.profiling.profile_train_step``;
* JAX: the ``jax.jit`` step of ``jax_step.py`` (optax's Adam), profiled in a process of its
  own (``jax_step.py --profile``, which imports no TensorFlow) and read here with
  ``vaelib.profiling.profile_from_trace``.

Then, for the course's model, the three programs of 20 steps per call that
``train_step.py``'s targets compare, per training step (unless ``--no-loops``):

* ``TF runner, batches``: fit's compiled loop on ready-made batches (``vae_step_runner``'s
  ``"loop+xla"``, the benchmark's "fit's default");
* ``TF fit, in memory``: ``vaelib.fit`` itself on ``REAL_IMAGES`` Fashion-MNIST images as an
  ``InMemoryData``, its first epoch (compiling) untraced, everything fit does in the traced
  epochs included;
* ``JAX scan, on device``: ``jax_step.py``'s ``lax.scan`` that gathers and binarizes its
  batches on the device, in its own process.

Each batch drawn inside a program is under the name scope ``input_batch`` (in both
libraries), the profile's "input batch" row.

All are read the same way (``vaelib.speed.hlo``): the thread time of forward and backward
matmuls, elementwise fusions, the Adam update and copies, the rest of the cores' time inside
the compiled program, and the time outside it. The two processes run one after the other,
never at once. Then, for the notes' VAE, a bound on what any TensorFlow step built from these
parts could reach: every matmul at the best rate TensorFlow reaches at this model's layer
shapes plus the Adam update on its own, with nothing else and no idle time
(``vaelib.speed.step_bound``). One pass of each: a profile, not a measurement over rounds.
Prints; writes only ``--json PATH`` if given (and a temporary folder for JAX's trace,
removed at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# tf_train's worker protocol is not started on import
from tf_train import BATCH, MODEL_NAMES, batches, vaelib_model  # noqa: E402
from workers import REAL_IMAGES  # noqa: E402

import vaelib  # noqa: E402
from vaelib.profiling import (  # noqa: E402
    format_profile,
    format_profiles,
    profile_calls,
    profile_from_trace,
    profile_train_step,
)
from vaelib.speed import matmul_flops_per_second, step_bound  # noqa: E402
from vaelib.speed.hlo import CATEGORIES  # noqa: E402
from vaelib.training import feeds  # noqa: E402


def tensorflow_profile(name: str, steps: int):
    model, optimizer = vaelib_model(name)
    step = vaelib.make_train_step(
        model,
        optimizer,
        vaelib.vae_loss,
        jit_compile=True,
        element_spec=tf.TensorSpec([None, 784], tf.float32),
    )
    return profile_train_step(step, tf.constant(batches(1)[0]), steps=steps, warmup=50)


def runner_loop_profile(calls: int):
    """The course's VAE, ``vae_step_runner``'s ``"loop+xla"`` mode: fit's compiled loop of
    20 steps on ready-made batches (the runner row of train_step.py)."""
    run, _ = vaelib.speed.vae_step_runner(*vaelib_model("course"), "loop+xla")
    per_call = vaelib.FitConfig.steps_per_call
    return profile_calls(run, run.optimized_hlo, calls=calls, steps_per_call=per_call)


@contextlib.contextmanager
def keep_epoch_loops(built: list):
    """While inside, each loop ``fit`` builds for an ``InMemoryData`` is also put in ``built``
    (for its HLO); ``fit`` itself is unchanged."""
    original = feeds.make_epoch_loop

    def keep(*args, **kwargs):
        built.append(original(*args, **kwargs))
        return built[-1]

    feeds.make_epoch_loop = keep
    try:
        yield
    finally:
        feeds.make_epoch_loop = original


def fit_profile(epochs: int, images):
    """``vaelib.fit`` itself, as train_step.py's first row times it: the course's VAE on
    ``REAL_IMAGES`` Fashion-MNIST images as an ``InMemoryData`` (dynamic binarization), XLA,
    20 steps per call; its first epoch (compiling) untraced, then ``epochs`` epochs traced,
    everything ``fit`` does in them included (each epoch's order, its loop calls, reading
    every step's metrics)."""
    data = vaelib.InMemoryData(images, batch_size=BATCH, binarization="dynamic", seed=0)
    logdir = tempfile.mkdtemp(prefix="fit-profile-")
    built = []

    def trace_after_the_first_epoch(epoch, row):
        if epoch == 0:
            tf.profiler.experimental.start(logdir)

    try:
        with keep_epoch_loops(built):
            history = vaelib.fit(
                *vaelib_model("course"),
                vaelib.vae_loss,
                data,
                vaelib.FitConfig(epochs=1 + epochs, progress=False),
                callbacks=(trace_after_the_first_epoch,),
            )
        tf.profiler.experimental.stop()
        loop = built[0].loops[BATCH]
        args = (list(data.tensors()), data.order(0), tf.constant(0, tf.int64), tf.constant(0))
        hlo_text = loop.experimental_get_compiler_ir(*args, tf.constant(1))(stage="optimized_hlo")
        trace = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0]
        return profile_from_trace(
            hlo_text,
            trace,
            steps=epochs * data.steps_per_epoch,
            wall=sum(row["seconds"] for row in history.epochs[1:]),
        )
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def jax_profiles(models: list[str], steps: int, images=None) -> tuple[dict, str]:
    """{model: StepProfile} of JAX's jit step, traced by jax_step.py in its own process; given
    ``images``, also ``"course-on-device"``: its scan fed on the device, as fit's loop is."""
    folder = tempfile.mkdtemp(prefix="jax-profile-")
    try:
        extra = []
        if images is not None:
            np.save(os.path.join(folder, "images.npy"), images.reshape(len(images), -1))
            extra = ["--images", os.path.join(folder, "images.npy")]
        subprocess.run(
            [
                sys.executable,
                os.path.join(HERE, "jax_step.py"),
                "--profile",
                folder,
                "--steps",
                str(steps),
                "--models",
                *models,
                *extra,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        profiles, about = {}, ""
        for name in [*models, *(["course-on-device"] if extra else [])]:
            with open(os.path.join(folder, name, "wall.json")) as f:
                run = json.load(f)
            with open(os.path.join(folder, name, "hlo.txt")) as f:
                hlo_text = f.read()
            traces = [
                os.path.join(root, file)
                for root, _, files in os.walk(os.path.join(folder, name, "trace"))
                for file in files
                if file.endswith(".xplane.pb")
            ]
            profiles[name] = profile_from_trace(
                hlo_text, traces[0], steps=run["steps"], wall=run["wall"]
            )
            about = run["about"]
        return profiles, about
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def print_loops(loops: dict, per_call: int) -> None:
    """The 20-step programs side by side, per training step."""
    flops = {label: sum(p.flops.values()) for label, p in loops.items()}
    print(
        f"\n{MODEL_NAMES['course']}, batch {BATCH}, {per_call} steps per call, the programs "
        "that train_step.py's targets compare, per step; matmul FLOPs per step "
        + ("agree" if len(set(flops.values())) == 1 else f"DIFFER: {flops}")
    )
    print(format_profiles(loops))
    for label, p in loops.items():
        print(
            f"{label}: {1e3 * p.step:.2f} ms per step traced ({BATCH / p.step:,.0f} "
            f"examples/s), input batch {1e3 * p.thread_time['input batch']:.2f} core ms, idle "
            f"or helping {p.idle_inside / (p.cores * p.step):.0%}, outside XLA "
            f"{p.outside / (p.cores * p.step):.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=list(MODEL_NAMES))
    parser.add_argument("--steps", type=int, default=200, help="steps traced")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing window of each rate")
    parser.add_argument("--no-jax", dest="jax", action="store_false", help="TensorFlow only")
    parser.add_argument(
        "--no-loops", dest="loops", action="store_false", help="one-step programs only"
    )
    parser.add_argument("--json", help="also write the profiles to this file")
    args = parser.parse_args()

    profiles = {"TensorFlow": {name: tensorflow_profile(name, args.steps) for name in args.models}}
    about = {"TensorFlow": f"TensorFlow {tf.__version__}"}
    per_call = vaelib.FitConfig.steps_per_call
    loops, images = {}, None
    if args.loops and "course" in args.models:
        images = vaelib.load_fashion_mnist(verbose=False).x_train[:REAL_IMAGES]
        calls = -(-args.steps // per_call)
        loops["TF runner, batches"] = runner_loop_profile(calls)
        epochs = -(-args.steps // (REAL_IMAGES // BATCH))
        loops["TF fit, in memory"] = fit_profile(epochs, images)
    have_jax = all(importlib.util.find_spec(m) for m in ("jax", "optax"))
    if args.jax and have_jax:
        profiles["JAX"], about["JAX"] = jax_profiles(args.models, args.steps, images)
        if "course-on-device" in profiles["JAX"]:
            loops["JAX scan, on device"] = profiles["JAX"].pop("course-on-device")
    elif args.jax:
        print("(JAX or optax is not installed: TensorFlow's profile only)")
    if loops:
        print_loops(loops, per_call)
    for name in args.models:
        tf_profile = profiles["TensorFlow"][name]
        if "JAX" in profiles:  # both programs read the same way: the same products found
            same = profiles["JAX"][name].flops == tf_profile.flops
            print(f"\n{MODEL_NAMES[name]}: the two programs' matmul FLOPs agree: {same}")
        print(
            f"\n{MODEL_NAMES[name]}, batch {BATCH}, one step per call, {args.steps} steps "
            f"traced, {tf_profile.cores} cores; TensorFlow: fit's compiled (XLA) step"
        )
        if "JAX" in profiles:
            print(f"JAX: jax.jit step, optax Adam ({about['JAX']})")
            print(format_profiles({lib: by_model[name] for lib, by_model in profiles.items()}))
        else:
            print(format_profile(tf_profile))
        for library, by_model in profiles.items():
            p = by_model[name]
            forward = p.thread_time["forward matmuls"] + p.thread_time["forward elementwise"]
            idle = p.idle_inside / (p.cores * p.step)
            print(
                f"{library}: {1e3 * p.step:.2f} ms per step traced ({BATCH / p.step:,.0f} "
                f"examples/s), {1e3 * p.program:.2f} ms in the compiled program; forward pass "
                f"{1e3 * forward:.2f} core ms; idle or helping {idle:.0%}"
                f", copies {1e3 * p.thread_time['copies']:.2f} core ms"
            )

    if "notes" in args.models:
        peak = matmul_flops_per_second(2048, 2048, 2048, args.seconds)
        fresh, fresh_optimizer = vaelib_model()  # the bound trains its optimizer: a throwaway
        bound = step_bound(fresh, fresh_optimizer, batch_size=BATCH, seconds=args.seconds)
        profile = profiles["TensorFlow"]["notes"]
        print(
            f"\nTensorFlow, notes' VAE: Adam alone {1e3 * bound.optimizer_seconds:.2f} ms per "
            f"update, {bound.optimizer_bytes / 1e6:.0f} MB moved, "
            f"{bound.optimizer_bytes / bound.optimizer_seconds / 1e9:.0f} GB/s"
        )
        print(
            f"Bound: {bound.step_flops / 1e6:.0f} MFLOP per step, all at the best layer-shape "
            f"rate ({bound.matmul_rate / 1e9:.0f} GFLOP/s), plus Adam alone, with no other work "
            f"and no idle time: {1e3 * bound.seconds:.2f} ms per step = "
            f"{BATCH / bound.seconds:,.0f} examples/s = "
            f"{bound.step_flops / bound.seconds / peak:.0%} of the {peak / 1e9:.0f} GFLOP/s "
            f"roofline. Measured: {1e3 * profile.step:.2f} ms per step traced = "
            f"{bound.step_flops / profile.step / peak:.0%} of the roofline (one step per call; "
            f"fit runs {vaelib.FitConfig.steps_per_call} steps per call: profiled above, for "
            "the course's VAE)."
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "categories": list(CATEGORIES),
                    "steps": args.steps,
                    "batch": BATCH,
                    "libraries": about,
                    "profiles": {
                        library: {name: p.to_dict() for name, p in by_model.items()}
                        for library, by_model in profiles.items()
                    },
                    "loops": {label: p.to_dict() for label, p in loops.items()},
                    "steps_per_call": per_call,
                },
                f,
                indent=1,
            )
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
