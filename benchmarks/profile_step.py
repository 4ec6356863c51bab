"""Where does the time of fit's default (XLA) training step go? A per-op profile.

Usage: python benchmarks/profile_step.py [--steps 200]

Traces ``--steps`` training steps of the notes' VAE (the model and batches of
``train_step.py``) with TensorFlow's profiler, with XLA's CPU runtime emitting a
trace event per compiled op ("thunk"). Each op is put in a category from the
optimized HLO (its opcode and the TensorFlow op it came from): forward and
backward matmuls, forward and backward elementwise fusions, the Adam update,
buffer copies. For each category it prints the thread time per step, the
share of the step's wall time x threads, and for matmuls the FLOP rate of one
op while it runs (FLOPs counted from the HLO shapes). Prints; writes only to a
temporary folder that it removes.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import resource
import shutil
import sys
import tempfile
import time

# Must be set before TensorFlow compiles anything: XLA reads its flags once.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import batches, vaelib_model  # noqa: E402

import vaelib  # noqa: E402

CATEGORIES = ("forward matmuls", "backward matmuls", "forward elementwise", "backward elementwise",
              "Adam update", "copies", "other")
INSTRUCTION = re.compile(r"^\s*%?([\w.\-]+) = (\S+) ([a-z\-]+)\(([^)]*)\)(.*)$")


def hlo_ops(hlo: str) -> dict[str, tuple[str, float]]:
    """Maps each instruction of the entry computation to (category, FLOPs)."""
    entry = hlo[hlo.index("\nENTRY"):]
    shapes, ops = {}, {}
    for line in entry.splitlines():
        match = INSTRUCTION.match(line)
        if not match:
            continue
        name, shape, opcode, operands, rest = match.groups()
        shapes[name] = [int(d) for d in re.findall(r"\d+", shape.split("{")[0].split("[", 1)[-1])]
        op_name = (re.search(r'op_name="([^"]*)"', rest) or [None, ""])[1]
        backward = op_name.startswith("gradient_tape/")
        flops = 0.0
        if opcode == "dot":
            lhs = operands.split(",")[0].strip().lstrip("%")
            dims = re.search(r"lhs_contracting_dims=\{(\d+)\}", rest)
            k = shapes.get(lhs, [0, 0])[int(dims[1])] if dims and lhs in shapes else 0
            flops = 2.0 * float(np.prod(shapes[name])) * k
            category = "backward matmuls" if backward else "forward matmuls"
        elif op_name.lower().startswith("adam/"):
            category = "Adam update"
        elif opcode == "copy":
            category = "copies"
        elif opcode == "fusion":
            category = "backward elementwise" if backward else "forward elementwise"
        else:
            category = "other"
        ops[name] = (category, flops)
    return ops


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def trace(step, x, steps: int) -> tuple[dict, float, int]:
    """Runs ``steps`` steps under the profiler; returns {(thread, op): seconds}, wall, threads."""
    logdir = tempfile.mkdtemp(prefix="vaelib-profile-")
    try:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(steps):
            float(step(x)["loss"])
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
            space.ParseFromString(f.read())
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    times, threads = collections.Counter(), set()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                times[(line.name, names.get(event.metadata_id, ""))] += event.duration_ps * 1e-12
                threads.add(line.name)
    return times, wall, len(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps traced")
    args = parser.parse_args()

    model, optimizer = vaelib_model()
    x = tf.constant(batches(1)[0])
    step = vaelib.make_train_step(model, optimizer, vaelib.vae_loss, jit_compile=True,
                                  element_spec=tf.TensorSpec([None, 784], tf.float32))
    for _ in range(50):  # compile and warm up
        float(step(x)["loss"])
    ops = hlo_ops(step.experimental_get_compiler_ir(x)(stage="optimized_hlo"))
    cpu_start, wall_start = process_cpu_seconds(), time.perf_counter()
    untraced = vaelib.speed.throughput(lambda: float(step(x)["loss"]), 3.0, 1, warmup=0)
    cores_busy = (process_cpu_seconds() - cpu_start) / (time.perf_counter() - wall_start)
    times, wall, _ = trace(step, x, args.steps)

    per_step, flops, ran = collections.Counter(), collections.Counter(), set()
    busy_threads = collections.Counter()
    for (thread, name), seconds in times.items():
        if name in ops:  # a compiled op (thunk), on whichever thread ran it
            per_step[ops[name][0]] += seconds / args.steps
            busy_threads[thread] += seconds
            ran.add(name)
    for name in ran:  # each op runs once per step
        flops[ops[name][0]] += ops[name][1]
    step_wall = wall / args.steps
    cores = os.cpu_count() or 1
    busy = sum(per_step.values())
    print(f"fit's default step (XLA), notes' VAE, batch 100: {1e3 / untraced:.2f} ms/step untraced, "
          f"{1e3 * step_wall:.2f} ms/step traced ({args.steps} steps)")
    print(f"compiled ops ran on {len(busy_threads)} threads; {cores} cores x wall = "
          f"{1e3 * cores * step_wall:.2f} ms of core time per step; untraced, the process kept "
          f"{cores_busy:.2f} of {cores} cores busy (CPU time / wall time)\n")
    print(f"{'category':22s} {'ms/step':>8s} {'share':>7s} {'GFLOP/s while running':>22s}")
    for category in CATEGORIES:
        ms = 1e3 * per_step[category]
        rate = f"{flops[category] / per_step[category] / 1e9:22.0f}" if flops[category] else ""
        print(f"{category:22s} {ms:8.2f} {per_step[category] / (cores * step_wall):7.0%} {rate}")
    program = sum(t for (_, name), t in times.items() if name == "CpuExecutable::ExecuteAsyncOnStream")
    program /= args.steps
    inside = cores * program - busy
    print(f"{'idle inside XLA':22s} {1e3 * inside:8.2f} {inside / (cores * step_wall):7.0%}")
    outside = cores * (step_wall - program)
    print(f"{'outside XLA':22s} {1e3 * outside:8.2f} {outside / (cores * step_wall):7.0%}   "
          "(Python, the call, reading the loss)")
    params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    moved = 7 * 4 * params  # Adam reads g, w, m, v and writes w, m, v (float32)
    print(f"\nAdam moves {moved / 1e6:.0f} MB per step: {moved / max(per_step['Adam update'], 1e-12) / 1e9:.1f} "
          "GB/s of thread time, a memory-bound update.")
    forward = per_step["forward matmuls"] + per_step["forward elementwise"]
    print(f"The forward pass is a chain (each layer waits for the last): {1e3 * forward:.2f} ms of it "
          f"runs one op at a time, {forward / step_wall:.0%} of the step, while the other core waits.")
    flops_per_step = vaelib.speed.vae_flops_per_example(model) * x.shape[0]
    peak = vaelib.speed.matmul_flops_per_second(2048, 2048, 2048, 2.0)
    allowed = flops_per_step / (0.65 * peak)
    print(f"65% of the {peak / 1e9:.0f} GFLOP/s roofline allows {1e3 * allowed:.2f} ms per step; the compiled "
          f"ops alone take {1e3 * busy:.2f} core-ms, {1e3 * busy / cores:.2f} ms if spread perfectly "
          f"over {cores} cores ({busy / cores / allowed:.0%} of the allowance).")

if __name__ == "__main__":
    main()
