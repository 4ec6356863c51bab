"""The notes' VAE training step in PyTorch; prints examples per second (used by train_step.py).

Usage: python benchmarks/pytorch_step.py [--seconds 8]

Same layers (encoder 784-500-500-500 -> 2 x 10, decoder 10-500-500-784,
sigmoid), batch 100, float32, Adam at 1e-3, the same random binary batches as
the TensorFlow variants, and the loss read after every step. Imports no
TensorFlow: the two libraries' thread pools crash when they share a process.
"""

import argparse
import time

import numpy as np
import torch

BATCH, LATENT = 100, 10
ENCODER = (784, 500, 500, 500)
DECODER = (10, 500, 500, 784)


def mlp(sizes):
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.Sigmoid()]
    return layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    seconds = parser.parse_args().seconds
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(*mlp(ENCODER), torch.nn.Linear(ENCODER[-1], 2 * LATENT))
    decoder = torch.nn.Sequential(*mlp(DECODER)[:-1])  # logits out
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
    rng = np.random.default_rng(0)
    data = [torch.from_numpy(b) for b in (rng.random((50, BATCH, 784)) < 0.13).astype(np.float32)]

    def step(i):
        x = data[i % len(data)]
        q_mu, q_logvar = encoder(x).chunk(2, dim=-1)
        z = q_mu + torch.exp(0.5 * q_logvar) * torch.randn_like(q_mu)
        logits = decoder(z)
        log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(-1)
        kl = 0.5 * (q_logvar.exp() + q_mu ** 2 - 1 - q_logvar).sum(-1)
        loss = -(log_px_z - kl).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    for i in range(3):
        step(i)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(calls)
        calls += 1
    print(calls * BATCH / (time.perf_counter() - start))


if __name__ == "__main__":
    main()
