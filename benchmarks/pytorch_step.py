"""PyTorch's variants of the benchmarks, served to ``train_step.py`` and ``evaluation.py``
(a worker).

Usage: python benchmarks/pytorch_step.py train [--models notes course]
       python benchmarks/pytorch_step.py eval --batch 50 --per-pass 130 --num-samples 5000

``train``: the VAE training step of ``tf_train.py`` in PyTorch, for each model:
the same layers (the notes' encoder 784-500-500-500 -> 2 x 10 and decoder
10-500-500-784 with sigmoid units, or the course's 784-500-500 / 500-500-784 with
tanh), Glorot-uniform weights and zero biases, logits out, the Bernoulli
likelihood from logits and the exact KL, Adam at 1e-3, batch 100, on the same 20
random binary batches, the loss read after every step. Two variants: eager
(``torch.optim.Adam``'s default implementation), and ``torch.compile`` of the
whole step (forward, backward and the optimizer's update: a compiled optimizer).

``--matmul`` (with ``train``): PyTorch's own float32 matmul rates for the shapes in
``workers.MATMUL_SHAPES``, so that a build with a slow BLAS shows as one.

``eval``: the twin of ``vaelib.evaluation.BoundEvaluator`` for the course's VAE:
the importance-weighted bound of a batch with ``--num-samples`` codes, decoded
``--per-pass`` codes at a time under ``torch.inference_mode`` (rate: code-image
pairs per second).

Imports no TensorFlow: the two libraries' thread pools crash when they share a process.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workers import MATMUL_SHAPES, matmul_name, protocol_stream, serve, timed  # noqa: E402

PROTOCOL = protocol_stream() if __name__ == "__main__" else None

import numpy as np  # noqa: E402
import torch  # noqa: E402

BATCH, LATENT, PER_CALL = 100, 10, 20
MODELS = {
    "notes": ((784, 500, 500, 500), (LATENT, 500, 500, 784), torch.nn.Sigmoid),
    "course": ((784, 500, 500), (LATENT, 500, 500, 784), torch.nn.Tanh),
}
MODEL_NAMES = {"notes": "notes' VAE (sigmoid)", "course": "course's VAE (tanh)"}


def mlp(sizes, activation, last_activation: bool):
    layers = []
    # consecutive pairs of layer sizes: sizes[1:] is one shorter, by design
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        linear = torch.nn.Linear(n_in, n_out)
        torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if last_activation or i < len(sizes) - 2:
            layers.append(activation())
    return torch.nn.Sequential(*layers)


def vae(name: str):
    encoder_sizes, decoder_sizes, activation = MODELS[name]
    torch.manual_seed(0)
    encoder = mlp((*encoder_sizes, 2 * LATENT), activation, False)  # linear to (q_mu, q_logvar)
    decoder = mlp(decoder_sizes, activation, False)  # logits out
    return encoder, decoder


def data() -> list[torch.Tensor]:
    rng = np.random.default_rng(0)  # the same batches as tf_train.batches()
    return [torch.from_numpy(b) for b in (rng.random((20, BATCH, 784)) < 0.13).astype(np.float32)]


def loss_fn(encoder, decoder, x):
    q_mu, q_logvar = encoder(x).chunk(2, dim=-1)
    z = q_mu + torch.exp(0.5 * q_logvar) * torch.randn_like(q_mu)
    logits = decoder(z)
    log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits, x, reduction="none"
    ).sum(-1)
    kl = 0.5 * (q_logvar.exp() + q_mu**2 - 1 - q_logvar).sum(-1)
    return -(log_px_z - kl).mean()


def train_variants(models: list[str]) -> dict:
    variants = {}
    batches = data()
    for name in models:
        for compiled in (False, True):
            encoder, decoder = vae(name)
            optimizer = torch.optim.Adam(
                list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3
            )

            def step(x, encoder=encoder, decoder=decoder, optimizer=optimizer):
                loss = loss_fn(encoder, decoder, x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                return loss.detach()

            if compiled:
                step = torch.compile(step)
            i = [0]

            def run(step=step, i=i):
                float(step(batches[i[0] % len(batches)]))
                i[0] += 1

            for _ in range(3):  # compiles now, not in the first round
                run()
            label = "torch.compile" if compiled else "PyTorch eager"
            variants[f"{MODEL_NAMES[name]}: {label}"] = timed(run, BATCH)
    return variants


def matmul_variants() -> dict:
    """PyTorch's own float32 matmul rates (FLOP/s), in this process: a build with a slow BLAS
    shows here, not only as a slow training step."""
    variants = {}
    for m, k, n in MATMUL_SHAPES:
        a, b, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        reps = max(1, int(2e9 // (2 * m * k * n)))

        def run(a=a, b=b, out=out, reps=reps):
            for _ in range(reps):
                torch.mm(a, b, out=out)

        run()
        variants[matmul_name("PyTorch", m, k, n)] = timed(run, reps * 2 * m * k * n)
    return variants


def build_info() -> str:
    """Version, threads, and the BLAS and oneDNN this build of PyTorch uses."""
    config = torch.__config__.show()
    blas = next(
        (
            part.split("=", 1)[1]
            for part in config.replace(",", " ").split()
            if "BLAS_INFO=" in part
        ),
        "unknown BLAS",
    )
    cuda = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    return (
        f"PyTorch {torch.__version__} ({cuda}, BLAS {blas}, oneDNN "
        f"{'on' if torch.backends.mkldnn.is_available() else 'off'}), "
        f"{torch.get_num_threads()} threads"
    )


def eval_variants(batch: int, per_pass: int, num_samples: int) -> dict:
    encoder, decoder = vae("course")
    rng = np.random.default_rng(0)
    x = torch.from_numpy((rng.random((batch, 784)) < 0.13).astype(np.float32))
    log_2pi = math.log(2 * math.pi)

    @torch.inference_mode()
    def bound():
        q_mu, q_logvar = encoder(x).chunk(2, dim=-1)
        sums = []
        for start in range(0, num_samples, per_pass):
            eps = torch.randn(min(per_pass, num_samples - start), batch, LATENT)
            z = q_mu + torch.exp(0.5 * q_logvar) * eps
            logits = decoder(z)
            log_px_z = (x * logits - torch.nn.functional.softplus(logits)).sum(-1)
            log_pz = -0.5 * (log_2pi + z * z).sum(-1)
            log_qz_x = -0.5 * (log_2pi + q_logvar + eps * eps).sum(-1)
            sums.append(torch.logsumexp(log_px_z + log_pz - log_qz_x, dim=0))
        return torch.logsumexp(torch.stack(sums), dim=0) - math.log(num_samples)

    bound()
    return {"PyTorch twin (eager, inference_mode)": timed(bound, batch * num_samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["train", "eval"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--per-pass", type=int, default=130)
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--matmul", action="store_true", help="also time PyTorch's matmuls")
    args = parser.parse_args()
    if args.task == "train":
        variants = train_variants(args.models)
        if args.matmul:
            variants.update(matmul_variants())
    else:
        variants = eval_variants(args.batch, args.per_pass, args.num_samples)
    serve(variants, PROTOCOL, build_info())


if __name__ == "__main__":
    main()
