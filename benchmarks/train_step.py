"""How fast is a VAE training step? vaelib's ways of running it, the notes' TF1 loop, PyTorch, JAX.

Usage: python benchmarks/train_step.py [--rounds 5] [--seconds 2] [--tolerance 0.3]
                                       [--max-reruns N] [--models notes course] [--no-peers]
                                       [--no-profile]
                                       [--json PATH]

Every variant trains the same VAE with Adam at 1e-3 on the same 20 random binary
batches of 100, for two models: the notes' exact layers (encoder 784-500-500-500
-> 10, decoder 10-500-500-784, sigmoid) and the course's default VAE
(``vaelib.VAEConfig()``: 784-500-500 / 10 / 500-500-784, tanh). Variants:

* TensorFlow (``tf_train.py``): vaelib's step eager, ``tf.function``, XLA, 20 steps
  per call, 20 steps per call + XLA (``fit``'s default loop, timed by
  ``vae_step_runner`` on ready-made batches: "the runner"); the notes' own TF1
  graph and loop; ``fit`` itself on 10,000 Fashion-MNIST images fed three ways:
  ``vaelib.InMemoryData`` (shuffle, batching and the Bernoulli draw inside the
  compiled loop), the book's ``tf.data`` pipeline with dynamic binarization, and
  ready-made batches; the 2048x2048 matmul roofline and the layer-shape matmuls;
* PyTorch (``pytorch_step.py``): eager and ``torch.compile``; its own matmuls;
* JAX (``jax_step.py``): ``jit`` with optax Adam one step per call, ``jit`` +
  ``lax.scan`` over 20 steps, and the same fed as ``fit`` is fed an ``InMemoryData``
  (the same images, shuffled and binarized on the device); its own matmuls.

While one variant is timed, every other worker is stopped (``SIGSTOP``): no idle
thread pool can take a core from it. Each library's version and build (BLAS,
oneDNN, CUDA or CPU wheel) and its own matmul rates are printed, so that a
handicapped build shows as one. The report prints ``fit``'s rows first: ``fit``
over the runner (target 0.95) and over each peer (targets 1.3 over PyTorch eager,
1.15 over ``torch.compile`` and JAX ``jit`` + ``scan``, fed the same way).

Each library runs in a worker process of its own (``workers.py``), started once.
Then ``--rounds`` rounds each time every variant for ``--seconds``, in a fresh
random order (so the processes alternate), the roofline included; a round in
which a variant is off its median over the rounds by more than ``--tolerance``
is flagged and re-run (``vaelib.speed.run_rounds``). The report gives, per
variant, the median and min-max over the rounds, and per ratio the median of the
per-round ratios; the 1-minute load average is recorded before every round.
After the rounds, unless ``--no-profile``, ``profile_step.py`` profiles the one-step
programs (TensorFlow's XLA step, JAX's ``jit``) and the three 20-step programs the targets
compare; the profiles go into the JSON under ``"profile"``.
PyTorch, JAX and optax are optional (``make bench`` installs them; a peer whose
library is missing is skipped). Prints; writes only ``--json PATH`` if given (and a
temporary ``.npy`` of the images for the JAX worker, removed at the end).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workers import FIT_FEEDS, REAL_IMAGES, Worker, is_flop_rate, start  # noqa: E402

from vaelib.speed import run_rounds  # noqa: E402  (the parent only orchestrates: it times nothing)

MODEL_NAMES = {"notes": "notes' VAE (sigmoid)", "course": "course's VAE (tanh)"}
DEFAULT = "fit's default"
ROOFLINE = "roofline: 2048x2048 matmul (FLOP/s)"
ON_DEVICE = "JAX jit + scan 20, on-device data"
PEERS = ("PyTorch eager", "torch.compile", "JAX jit", "JAX jit + scan 20", ON_DEVICE)
TARGETS = {"PyTorch eager": 1.3, "torch.compile": 1.15, "JAX jit + scan 20": 1.15, ON_DEVICE: 1.15}
FIT_OF_RUNNER = 0.95  # the target for fit on real data over the runner on ready-made batches
FLOPS = {"notes": 8.51e6, "course": None}  # filled from vaelib in main


from vaelib.speed.roofline import (  # noqa: E402
    MIN_STEADY_ROUNDS,
    ROOFLINE_AGREEMENT,
    roofline_share,
    steady_rounds,
)


def print_ratio(result, name: str, other: str, prefix: str) -> float:
    """Prints ``name`` over ``other`` (median of per-round ratios, min-max, and the course's
    target for ``other``'s peer, if any) on one line; returns the median ratio."""
    ratio = result.ratio(name, other)
    low, high = result.ratio_spread(name, other)
    peer = other.split(": ", 1)[1]
    target = TARGETS.get(peer)
    mark = (
        ""
        if target is None
        else f"  target >= {target:.2f}: {'met' if ratio >= target else 'NOT met'}"
    )
    print(f"  {prefix}{peer:42s} {ratio:5.2f}x ({low:.2f}-{high:.2f}){mark}")
    return ratio


def machine() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="timing window per variant and round"
    )
    parser.add_argument("--tolerance", type=float, default=0.3)
    parser.add_argument(
        "--max-reruns",
        type=int,
        default=None,
        help="busy rounds re-run at most (default: --rounds)",
    )
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=list(MODEL_NAMES))
    parser.add_argument(
        "--groups",
        nargs="+",
        default=["modes", "tf1", "real", "roofline", "matmul"],
        help="TensorFlow variants (tf_train.py)",
    )
    parser.add_argument(
        "--no-peers", dest="peers", action="store_false", help="skip PyTorch and JAX"
    )
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the profiles (profile_step.py: one-step programs and 20-step loops)",
    )
    parser.add_argument("--json", help="also write the rates to this file")
    args = parser.parse_args()

    import vaelib  # flops per example, counted from the layer shapes

    flops = {}
    for name in args.models:
        config = (
            vaelib.VAEConfig()
            if name == "course"
            else vaelib.VAEConfig(
                hidden_sizes=(500, 500, 500), decoder_hidden_sizes=(500, 500), activation="sigmoid"
            )
        )
        flops[name] = vaelib.speed.vae_flops_per_example(vaelib.VAE(config))
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"machine: {machine()}")
    print(f"started {started:%Y-%m-%d %H:%M} UTC; {uptime()}")

    images_file = None
    if args.peers and "real" in args.groups and "course" in args.models:
        # JAX's on-device variant trains on the very images tf_train.py's fit rows train on
        images_file = tempfile.NamedTemporaryFile(suffix=".npy", delete=False)
        np.save(
            images_file,
            vaelib.load_fashion_mnist(verbose=False).x_train[:REAL_IMAGES].reshape(-1, 784),
        )
        images_file.close()
    matmul = ["--matmul"] if "matmul" in args.groups else []
    workers = [
        Worker("TensorFlow", "tf_train.py", ["--models", *args.models, "--groups", *args.groups])
    ]
    if args.peers:
        workers += [
            Worker("PyTorch", "pytorch_step.py", ["train", "--models", *args.models, *matmul]),
            Worker(
                "JAX",
                "jax_step.py",
                ["--models", *args.models, *matmul]
                + (["--images", images_file.name] if images_file else []),
            ),
        ]
    try:
        variants = start(workers)
        print(
            f"{len(variants)} variants built; "
            f"{args.rounds} rounds x {args.seconds:g} s each, interleaved",
            flush=True,
        )
        result = run_rounds(
            variants,
            rounds=args.rounds,
            seconds=args.seconds,
            tolerance=args.tolerance,
            max_reruns=args.max_reruns,
            log=lambda line: print("  " + line, flush=True),
        )
    finally:
        for worker in workers:
            worker.close()
        if images_file is not None:
            os.unlink(images_file.name)
    ended = datetime.datetime.now(datetime.timezone.utc)
    print(f"\nended {ended:%H:%M} UTC; {uptime()}")
    for worker in workers:
        if worker.about:
            print(f"{worker.label}: {worker.about}")
    print(result.summary())
    names = [n for n in result.rates if not is_flop_rate(n)]
    # fit itself first, as the chapters call it; then every other variant in the order built
    names.sort(key=lambda n: 0 if ": fit, " in n else 1)
    print()
    print(result.table("examples/s", names))
    flop_names = [n for n in result.rates if is_flop_rate(n)]
    if flop_names:
        print("\nEach library's own float32 matmul, in its own process (GFLOP/s, median, min-max):")
        for name in flop_names:
            low, high = result.spread(name)
            label = "TensorFlow matmul 2048x2048x2048 (roofline)" if name == ROOFLINE else name
            print(
                f"  {label.replace(' (FLOP/s)', ''):45s} {result.median(name) / 1e9:6.0f}"
                f"   {low / 1e9:.0f}-{high / 1e9:.0f}"
            )
    print("\nmedian of per-round ratios (min-max over rounds); share of that round's roofline:")
    ratios = {}
    for model in args.models:  # first `fit` itself, as the chapters call it
        label = MODEL_NAMES[model]
        for feed, how in FIT_FEEDS.items():
            name = f"{label}: {how}"
            if name not in result.rates:
                continue
            peers = [p for p in PEERS if f"{label}: {p}" in result.rates]
            default = f"{label}: {DEFAULT}"
            print(f"{label}: `fit` ({how}) over")
            if feed != "ready" and default in result.rates:
                ratio = result.ratio(name, default)
                low, high = result.ratio_spread(name, default)
                ratios[f"{name} / {default}"] = ratio
                mark = (  # the fixed draw is the control: the same work as the runner
                    ""
                    if feed == "in-memory fixed"
                    else f"  target >= {FIT_OF_RUNNER:.2f}: "
                    + ("met" if ratio >= FIT_OF_RUNNER else "NOT met")
                )
                print(
                    f"  {'the runner on ready-made batches (' + DEFAULT + ')':42s} {ratio:5.2f}x "
                    f"({low:.2f}-{high:.2f}){mark}"
                )
            for peer in peers:
                if feed == "in-memory fixed" or (feed != "in-memory" and peer == ON_DEVICE):
                    continue  # fed differently: compared only with fit fed the same way
                ratios[f"{name} / {label}: {peer}"] = print_ratio(
                    result, name, f"{label}: {peer}", ""
                )
    for model in args.models:  # then the runner, fit's compiled loop on ready-made batches
        label = MODEL_NAMES[model]
        default = f"{label}: {DEFAULT}"
        if default not in result.rates:
            continue
        print(
            f"{label}, {flops[model] / 1e6:.2f} MFLOP per example; {DEFAULT!r} is "
            "vae_step_runner (20 steps per call + XLA on ready-made batches), not fit"
        )
        for other in [
            n for n in names if n.startswith(label) and n != default and ON_DEVICE not in n
        ]:
            ratios[f"{DEFAULT} / {other}"] = print_ratio(result, default, other, f"{DEFAULT} / ")
        if ROOFLINE in result.rates:
            steady = steady_rounds(result.rates[ROOFLINE])
            for name in (default, f"{label}: JAX jit + scan 20", f"{label}: torch.compile"):
                if name not in result.rates:
                    continue
                share = roofline_share(result.rates[name], flops[model], result.rates[ROOFLINE])
                if share is None:
                    print(
                        f"  {name.split(': ', 1)[1]:20s} share of the roofline: not measured "
                        f"({len(steady)} round(s) with the roofline within "
                        f"{ROOFLINE_AGREEMENT:.0%} of its median, fewer than {MIN_STEADY_ROUNDS})"
                    )
                    continue
                print(
                    f"  {name.split(': ', 1)[1]:20s} {share:.0%} "
                    f"of the roofline (median over the {len(steady)} rounds whose roofline is "
                    f"within {ROOFLINE_AGREEMENT:.0%} of its median)"
                )
    profile = None
    if args.profile:
        print(
            "\nWhere a compiled step's time goes, TensorFlow's and JAX's, one step per call "
            "and 20 (benchmarks/profile_step.py):",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "profile.json")
            done = subprocess.run(
                [
                    sys.executable,
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_step.py"),
                    "--models",
                    *args.models,
                    *([] if args.peers else ["--no-jax"]),
                    "--json",
                    path,
                ],
                check=False,
            )
            if done.returncode == 0:
                with open(path) as f:
                    profile = json.load(f)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine(),
                    "started": started.isoformat(),
                    "ended": ended.isoformat(),
                    "uptime_end": uptime(),
                    "rounds": args.rounds,
                    "seconds": args.seconds,
                    "tolerance": args.tolerance,
                    "rates": result.rates,
                    "rerun": result.rerun,
                    "still_flagged": result.still_flagged,
                    "load": result.load,
                    "flops_per_example": flops,
                    "ratios": ratios,
                    "libraries": {w.label: w.about for w in workers if w.about},
                    "profile": profile,
                },
                f,
                indent=1,
            )
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
