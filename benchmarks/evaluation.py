"""How fast is the importance-weighted bound at k = 5000? vaelib's fast path, op by op, PyTorch.

Usage: python benchmarks/evaluation.py [--rounds 5] [--seconds 3] [--batch 50]
                                       [--num-samples 5000] [--json PATH]

Times ``L_k`` of one batch of random binary images (the book's chapter 7 scores
its test images 50 at a time) for the course's VAE (``vaelib.VAEConfig()``), as:

* ``vaelib fast path``: ``vaelib.iwae_bound``, which runs the codes through one
  XLA-compiled program per chunk shape, passes sized by memory
  (``vaelib.evaluation.BoundEvaluator``);
* ``op by op``: the same computation from ``model.log_weights``, one TensorFlow
  op at a time (how ``iwae_bound`` computed it before the fast path);
* ``PyTorch twin``: the same computation in PyTorch, eager under
  ``torch.inference_mode``, with the fast path's pass size (``pytorch_step.py eval``);
* the roofline: TensorFlow's float32 2048x2048 matmul rate.

Rates are code-image pairs per second ("samples/s"); GFLOP/s counts the
decoder's matmuls (2 x multiply-adds per code), which are all but a fraction of a
percent of the work. TensorFlow and PyTorch run in worker processes of their
own, interleaved in ``--rounds`` rounds (``workers.py``, ``vaelib.speed.run_rounds``):
medians, min-max, and medians of per-round ratios. Prints; writes only ``--json PATH``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workers import Worker, protocol_stream, serve, start, timed  # noqa: E402

from vaelib.speed.roofline import (  # noqa: E402
    MIN_STEADY_ROUNDS,
    ROOFLINE_AGREEMENT,
    roofline_share,
    steady_rounds,
)

FAST, OP_BY_OP, TWIN = (
    "vaelib fast path (XLA)",
    "op by op (model.log_weights)",
    "PyTorch twin (eager, inference_mode)",
)
ROOFLINE = "roofline: 2048x2048 matmul (FLOP/s)"


def decoder_flops_per_sample(model) -> float:
    """2 x multiply-adds of the decoder, per code and image."""
    return 2.0 * sum(
        int(layer.w.shape[0]) * int(layer.w.shape[1]) for layer in model.decoder.net.layers
    )


def worker(batch: int, num_samples: int) -> None:
    protocol = protocol_stream()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    import vaelib
    from vaelib.evaluation import _iwae_bound_op_by_op
    from vaelib.speed import matmul_flops_per_second

    model = vaelib.VAE()
    x = tf.constant((np.random.default_rng(0).random((batch, 784)) < 0.13).astype(np.float32))

    def fast():
        return vaelib.iwae_bound(model, x, num_samples, seed=0).numpy()

    def slow():
        return _iwae_bound_op_by_op(model, x, num_samples, 500, 0).numpy()

    fast()
    slow()
    serve(
        {
            FAST: timed(fast, batch * num_samples),
            OP_BY_OP: timed(slow, batch * num_samples),
            ROOFLINE: lambda s: matmul_flops_per_second(2048, 2048, 2048, s),
        },
        protocol,
        f"TensorFlow {tf.__version__}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tolerance", type=float, default=0.3)
    parser.add_argument(
        "--max-reruns",
        type=int,
        default=None,
        help="busy rounds re-run at most (default: --rounds)",
    )
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="skip PyTorch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the rates to this file")
    args = parser.parse_args()
    if args.worker:
        return worker(args.batch, args.num_samples)

    from train_step import machine, uptime

    import vaelib  # the pass size and the FLOP count; this process times nothing
    from vaelib.speed import run_rounds

    model = vaelib.VAE()
    per_pass = vaelib.evaluation.BoundEvaluator(model).samples_per_pass(args.batch)
    flops = decoder_flops_per_sample(model)
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"machine: {machine()}\nstarted {started:%Y-%m-%d %H:%M} UTC; {uptime()}")
    print(
        f"L_{args.num_samples} of a batch of {args.batch}, the course's VAE: "
        f"{flops / 1e6:.3f} MFLOP per code (decoder); fast path: {per_pass} codes per pass "
        f"({vaelib.evaluation.DEFAULT_MEMORY_BYTES >> 20} MB of activations)",
        flush=True,
    )
    common = ["--batch", str(args.batch), "--num-samples", str(args.num_samples)]
    workers = [Worker("TensorFlow", "evaluation.py", ["--worker", *common])]
    if args.peers:
        workers.append(
            Worker("PyTorch", "pytorch_step.py", ["eval", "--per-pass", str(per_pass), *common])
        )
    try:
        variants = start(workers)
        result = run_rounds(
            variants,
            rounds=args.rounds,
            seconds=args.seconds,
            tolerance=args.tolerance,
            max_reruns=args.max_reruns,
            log=lambda line: print("  " + line, flush=True),
        )
    finally:
        for w in workers:
            w.close()
    ended = datetime.datetime.now(datetime.timezone.utc)
    print(f"\nended {ended:%H:%M} UTC; {uptime()}\n{result.summary()}\n")
    names = [n for n in result.rates if n != ROOFLINE]
    print(result.table("samples/s", names))
    peak = result.rates[ROOFLINE]
    print(
        f"{ROOFLINE}: {result.median(ROOFLINE) / 1e9:.0f} GFLOP/s median, "
        f"{min(peak) / 1e9:.0f}-{max(peak) / 1e9:.0f}\n"
    )
    steady = steady_rounds(peak)
    shares = {}
    for name in names:
        shares[name] = roofline_share(result.rates[name], flops, peak)
        share = (
            f"{shares[name]:.0%} of the roofline (median over the {len(steady)} rounds whose "
            f"roofline is within {ROOFLINE_AGREEMENT:.0%} of its median)"
            if shares[name] is not None
            else f"share of the roofline not measured ({len(steady)} round(s) with the roofline "
            f"within {ROOFLINE_AGREEMENT:.0%} of its median, fewer than {MIN_STEADY_ROUNDS})"
        )
        print(f"{name:40s} {result.median(name) * flops / 1e9:6.0f} GFLOP/s, {share}")
    fast_share = shares[FAST]
    print(
        "  fast path: share of the roofline not measured, target >= 50%: not assessed"
        if fast_share is None
        else f"  fast path: {fast_share:.0%} of the roofline, target >= 50%: "
        f"{'met' if fast_share >= 0.5 else 'NOT met'}"
    )
    ratios = {}
    for other, target in ((OP_BY_OP, None), (TWIN, 1.3)):
        if other in result.rates:
            ratios[other] = result.ratio(FAST, other)
            low, high = result.ratio_spread(FAST, other)
            print(
                f"  fast path / {other}: {ratios[other]:.2f}x ({low:.2f}-{high:.2f})"
                + (
                    ""
                    if target is None
                    else f", target >= {target}: {'met' if ratios[other] >= target else 'NOT met'}"
                )
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
                    "batch": args.batch,
                    "num_samples": args.num_samples,
                    "per_pass": per_pass,
                    "flops_per_sample": flops,
                    "rates": result.rates,
                    "rerun": result.rerun,
                    "still_flagged": result.still_flagged,
                    "load": result.load,
                    "roofline_share": shares,
                    "ratios": ratios,
                },
                f,
                indent=1,
            )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
