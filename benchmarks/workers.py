"""Benchmark worker processes: each library times its variants in a process of its own.

TensorFlow, PyTorch and JAX each keep thread pools that spin and that crash or
slow each other when they share a process, so every library runs in a worker
process started once (imports, tracing and compiling happen there, before the
rounds) and then asked, one variant at a time, to time a window. Idle workers
wait on a pipe and use no CPU. The parent process (``train_step.py``,
``evaluation.py``) imports none of the libraries: it runs the rounds with
:func:`vaelib.speed.run_rounds`, alternating the workers within each round.

Fair timing: while one worker times a variant, every other worker is stopped (``SIGSTOP`` to
its whole process group, ``SIGCONT`` when its own turn comes), so no idle worker's spinning
thread pools (OpenMP, Eigen, XLA's) or helper processes take a core from the one being timed.
Each worker runs in a session of its own, so the signal reaches its children too.
``tests/test_workers.py`` plants a busy worker and checks it is stopped throughout the timed
window of another.

Protocol: the worker prints one JSON line ``{"ready": [variant, ...]}``, then
answers each request line ``{"variant": name, "seconds": s}`` with
``{"rate": r}`` or ``{"error": message}``; ``{"exit": true}`` ends it.
Prints; writes nothing.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))


def serve(variants: dict[str, Callable[[float], float]], protocol, about: str = "") -> None:
    """Worker side: answers timing requests until told to exit (or stdin closes).
    ``about`` (the library and its version) is passed on to the parent."""
    protocol.write(json.dumps({"ready": list(variants), "about": about}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("exit"):
            break
        try:
            reply = {"rate": float(variants[request["variant"]](float(request["seconds"])))}
        except Exception as error:  # reported to the parent, which names the variant
            reply = {"error": f"{type(error).__name__}: {error}"}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


def protocol_stream():
    """Worker side, first thing: a private copy of stdout for the protocol; everything
    else anything prints (libraries' start-up messages) goes to stderr."""
    stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def timed(
    run_once: Callable[[], object], examples_per_call: float, warmup: int = 1
) -> Callable[[float], float]:
    """A measure(seconds) -> examples/s for a function that runs one call.

    The same loop as ``vaelib.speed.throughput``, kept here because a PyTorch or JAX
    worker must not import vaelib: that would load TensorFlow and its thread pools into
    the process being timed.
    """

    def measure(seconds: float) -> float:
        for _ in range(warmup):  # caches and thread pools cooled while other variants ran
            run_once()
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run_once()
            calls += 1
        return calls * examples_per_call / (time.perf_counter() - start)

    return measure


# How tf_train.py feeds fit (its variants' names; train_step.py reads them), and on how many
# Fashion-MNIST training images (JAX's on-device variant trains on the same ones).
FIT_FEEDS = {
    "in-memory": "fit, InMemoryData + dynamic binarization",
    "in-memory fixed": "fit, InMemoryData + fixed binarization",
    "tf.data": "fit, tf.data + dynamic binarization",
    "ready": "fit, ready-made batches",
}
REAL_IMAGES = 10_000

# The matmul shapes each library times in its own process: the usual 2048^3 roofline, and the
# layer shapes of the course's VAE at batch 100 (encoder in, hidden, decoder out).
MATMUL_SHAPES = ((2048, 2048, 2048), (100, 784, 500), (100, 500, 500), (100, 500, 784))


def matmul_name(library: str, m: int, k: int, n: int) -> str:
    """The variant name of a library's ``[m, k] @ [k, n]`` rate (FLOP/s, not examples/s)."""
    return f"{library} matmul {m}x{k}x{n} (FLOP/s)"


def is_flop_rate(name: str) -> bool:
    return name.endswith("(FLOP/s)")


def _group_states(pgid: int) -> list[str]:
    """The states (R, S, T, ...) of the processes in process group ``pgid``, from /proc."""
    states = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == pgid:  # after the name: state, ppid, pgrp, ...
            states.append(fields[0])
    return states


def _wait_stopped(pgid: int, timeout: float = 5.0) -> None:
    """Returns once every process of the group is stopped (T), or after ``timeout``; at once
    where there is no /proc."""
    if not os.path.exists("/proc/self/stat"):
        return
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(state in ("T", "t", "Z", "X") for state in _group_states(pgid)):
            return
        time.sleep(0.001)


class Worker:
    """Parent side: a worker process running ``script`` with ``args``."""

    def __init__(self, label: str, script: str, args: list[str] = ()):
        self.label = label
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: pause() stops its children too
        )
        self.paused = False
        self.variants: list[str] | None = None
        self.error: str | None = None
        self.about = ""

    def wait_ready(self) -> list[str]:
        """The worker's variants once it has built them; [] if it failed (see ``error``)."""
        if self.variants is None:
            line = self.process.stdout.readline()
            if not line:
                self.process.wait()
                self.log.seek(0)
                tail = self.log.read().strip().splitlines()[-3:]
                self.error = f"{self.label} worker failed: " + " | ".join(tail)
                self.variants = []
            else:
                hello = json.loads(line)
                self.variants, self.about = hello["ready"], hello.get("about", "")
        return self.variants

    def pause(self) -> None:
        """Stops the worker and everything it started (SIGSTOP to its process group), and
        waits until each of them has stopped (where /proc shows it), so that the timing of
        another worker starts only then."""
        if not self.paused and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGSTOP)
            self.paused = True
            _wait_stopped(self.process.pid)

    def resume(self) -> None:
        if self.paused and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)
        self.paused = False

    def measure(self, variant: str, seconds: float) -> float:
        self.resume()
        self.process.stdin.write(json.dumps({"variant": variant, "seconds": seconds}) + "\n")
        reply = json.loads(self.process.stdout.readline())
        if "error" in reply:
            raise RuntimeError(f"{self.label} variant {variant!r}: {reply['error']}")
        return reply["rate"]

    def close(self) -> None:
        self.resume()  # a stopped worker cannot read its exit request
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"exit": True}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
        self.log.close()


def start(workers: list[Worker]) -> dict[str, Callable[[float], float]]:
    """Waits for every worker; returns ``{variant: measure}`` over all that started.

    Each ``measure`` stops every other worker before it times its own (they stay stopped
    until their own turn, or :meth:`Worker.close`)."""
    variants = {}

    def alone(worker: Worker, name: str) -> Callable[[float], float]:
        def measure(seconds: float) -> float:
            for other in workers:
                if other is not worker:
                    other.pause()
            return worker.measure(name, seconds)

        return measure

    for worker in workers:
        for name in worker.wait_ready():
            variants[name] = alone(worker, name)
        if worker.error:
            print(worker.error, file=sys.stderr)
        else:
            print(
                f"{worker.label} worker: {worker.about}; {len(worker.variants)} variants",
                flush=True,
            )
    return variants
