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
  per call, 20 steps per call + XLA (``fit``'s default); the notes' own TF1 graph
  and loop; ``fit`` on real images through the book's ``tf.data`` pipeline with
  dynamic binarization and on ready-made batches; the 2048x2048 matmul roofline;
* PyTorch (``pytorch_step.py``): eager and ``torch.compile``;
* JAX (``jax_step.py``): ``jit`` with optax Adam one step per call, and ``jit`` +
  ``lax.scan`` over 20 steps.

Each library runs in a worker process of its own (``workers.py``), started once.
Then ``--rounds`` rounds each time every variant for ``--seconds``, in a fresh
random order (so the processes alternate), the roofline included; a round in
which a variant is off its median over the rounds by more than ``--tolerance``
is flagged and re-run (``vaelib.speed.run_rounds``). The report gives, per
variant, the median and min-max over the rounds, and per ratio the median of the
per-round ratios; the 1-minute load average is recorded before every round.
PyTorch, JAX and optax are optional (``make bench`` installs them; a peer whose
library is missing is skipped). Prints; writes only ``--json PATH`` if given.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workers import Worker, start  # noqa: E402

from vaelib.speed import run_rounds  # noqa: E402  (the parent only orchestrates: it times nothing)

MODEL_NAMES = {"notes": "notes' VAE (sigmoid)", "course": "course's VAE (tanh)"}
DEFAULT = "fit's default"
ROOFLINE = "roofline: 2048x2048 matmul (FLOP/s)"
PEERS = ("PyTorch eager", "torch.compile", "JAX jit", "JAX jit + scan 20")
TARGETS = {"PyTorch eager": 1.3, "torch.compile": 1.15, "JAX jit + scan 20": 1.15}
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
        default=["modes", "tf1", "real", "roofline"],
        help="TensorFlow variants (tf_train.py)",
    )
    parser.add_argument(
        "--no-peers", dest="peers", action="store_false", help="skip PyTorch and JAX"
    )
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the per-op profile of fit's default step",
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

    workers = [
        Worker("TensorFlow", "tf_train.py", ["--models", *args.models, "--groups", *args.groups])
    ]
    if args.peers:
        workers += [
            Worker("PyTorch", "pytorch_step.py", ["train", "--models", *args.models]),
            Worker("JAX", "jax_step.py", ["--models", *args.models]),
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
    ended = datetime.datetime.now(datetime.timezone.utc)
    print(f"\nended {ended:%H:%M} UTC; {uptime()}")
    print(result.summary())
    names = [n for n in result.rates if n != ROOFLINE]
    print()
    print(result.table("examples/s", names))
    if ROOFLINE in result.rates:
        low, high = result.spread(ROOFLINE)
        print(
            f"{ROOFLINE}: {result.median(ROOFLINE) / 1e9:.0f} GFLOP/s median, "
            f"{low / 1e9:.0f}-{high / 1e9:.0f} over the rounds"
        )
    print("\nmedian of per-round ratios (min-max over rounds); share of that round's roofline:")
    ratios = {}
    for model in args.models:  # first `fit` itself, as the chapters call it
        label = MODEL_NAMES[model]
        for how in ("fit, tf.data + dynamic binarization", "fit, ready-made batches"):
            name = f"{label}: {how}"
            if name not in result.rates:
                continue
            peers = [p for p in PEERS if f"{label}: {p}" in result.rates]
            if not peers:
                continue
            if how.startswith("fit, tf.data"):
                print(f"{label}: `fit` as the chapters call it ({how}) over")
            else:
                print(f"{label}: `fit` on ready-made batches (no input pipeline) over")
            for peer in peers:
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
        for other in [n for n in names if n.startswith(label) and n != default]:
            ratios[f"{DEFAULT} / {other}"] = print_ratio(result, default, other, f"{DEFAULT} / ")
        real, ready = (
            f"{label}: fit, tf.data + dynamic binarization",
            f"{label}: fit, ready-made batches",
        )
        if real in result.rates:
            ratio = result.ratio(real, ready)
            ratios[f"{real} / {ready}"] = ratio
            low, high = result.ratio_spread(real, ready)
            print(
                f"  fit on real data / on ready-made batches {ratio:5.2f} ({low:.2f}-{high:.2f})"
                f"  target >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'}"
            )
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
                },
                f,
                indent=1,
            )
        print(f"\nwrote {args.json}")
    if args.profile:
        print("\nWhere the default step's time goes (benchmarks/profile_step.py):", flush=True)
        subprocess.run(
            [
                sys.executable,
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_step.py"),
            ],
            check=False,
        )


if __name__ == "__main__":
    main()
