"""Writes this folder's checkpoint with vaelib 0.1's flat layout (run once, before the regroup).

Usage (from the repository root, at the commit before vaelib was grouped into subpackages):
    python tests/data/checkpoint_v0_1/make_fixture.py

A small VAE (16 pixels, hidden 8, latent 2) trained by ``vaelib.fit`` for 2 epochs on fixed
random binary data, with ``checkpoint_dir=tests/data/checkpoint_v0_1/ckpt``; the trained
weights go to ``weights.npz`` and the checkpoint's fingerprint to ``fingerprint.json``.
tests/test_layout.py restores the checkpoint with today's code and checks both.
"""

import json
import pathlib
import shutil

import numpy as np
import tensorflow as tf

import vaelib

HERE = pathlib.Path(__file__).resolve().parent


def make():
    vaelib.set_seed(0)
    x = (np.random.default_rng(0).random((64, 16)) < 0.3).astype(np.float32)
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=2))
    optimizer = tf.keras.optimizers.Adam(1e-2)
    shutil.rmtree(HERE / "ckpt", ignore_errors=True)
    vaelib.fit(
        model,
        optimizer,
        vaelib.vae_loss,
        tf.data.Dataset.from_tensor_slices(x).batch(32),
        vaelib.FitConfig(epochs=2, progress=False),
        checkpoint_dir=str(HERE / "ckpt"),
    )
    np.savez(HERE / "weights.npz", **{v.name: v.numpy() for v in model.trainable_variables})
    fingerprint = vaelib.checkpoint.fingerprint(model, optimizer)
    (HERE / "fingerprint.json").write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    make()
