"""Checkpoint folders: verified, never overwritten, refused on a mismatch, locked, kill -9 safe."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from toy_data import dataset
from vaelib.bounds import vae_loss
from vaelib.checkpoint import (CheckpointError, CheckpointFolder, CheckpointLockedError,
                               CheckpointMismatchError, fingerprint)
from vaelib.classify import classification_loss
from vaelib.mlp import MLP
from vaelib.seed import set_seed
from vaelib.train import FitConfig, fit
from vaelib.vae import VAE, VAEConfig

TESTS = pathlib.Path(__file__).parent


def folder_for(path, model, max_to_keep=10, **kwargs):
    checkpoint = tf.train.Checkpoint(model=model, epoch=tf.Variable(0, dtype=tf.int64))
    return CheckpointFolder(path, checkpoint, fingerprint(model), max_to_keep=max_to_keep, **kwargs)


def saved(path, epochs, sizes=(4, 8, 2), **kwargs):
    """A folder with one checkpoint per epoch, of a model whose weights are all ``epoch``."""
    model = MLP(list(sizes), seed=1)
    with folder_for(path, model, **kwargs) as folder:
        for epoch in range(1, epochs + 1):
            for v in model.variables:
                v.assign(tf.fill(v.shape, float(epoch)))
            folder.save(epoch)
    return model


def contents(path):
    return {p.name: p.read_bytes() for p in pathlib.Path(path).iterdir()
            if p.is_file() and p.name != ".vaelib-lock"}


def restored(path, sizes=(4, 8, 2)):
    """(epoch, the value the weights were restored to) from a fresh model."""
    model = MLP(list(sizes), seed=2)
    with folder_for(path, model) as folder:
        epoch = folder.restore()
    return epoch, float(tf.reshape(model.variables[0], [-1])[0])


def test_restore_returns_the_latest_epoch_and_its_weights(tmp_path):
    assert restored(tmp_path / "new")[0] is None
    saved(tmp_path, 3)
    assert restored(tmp_path) == (3, 3.0)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-3")  # other tools still find it


@pytest.mark.parametrize("damage", ["missing", "garbled"])
def test_tensorflows_index_file_is_not_trusted_and_nothing_is_overwritten(tmp_path, damage):
    saved(tmp_path, 3)
    index = tmp_path / "checkpoint"
    index.unlink() if damage == "missing" else index.write_bytes(b"\x00garbage{{")
    before = contents(tmp_path)
    assert restored(tmp_path) == (3, 3.0)
    model = MLP([4, 8, 2], seed=1)
    with folder_for(tmp_path, model) as folder:
        assert folder.restore() == 3
        assert folder.save(4).name == "ckpt-4"
    after = contents(tmp_path)
    assert all(after[name] == data for name, data in before.items() if name != "checkpoint")


def test_an_interrupted_save_is_skipped_and_left_alone(tmp_path):
    saved(tmp_path, 2)
    (tmp_path / "ckpt-2.json").unlink()  # as if killed before the manifest was written
    (tmp_path / "ckpt-3_temp").mkdir()  # and a save killed inside TensorFlow's writer
    before = contents(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"restoring ckpt-1.*ckpt-3: no manifest.*ckpt-2: no manifest"):
        assert restored(tmp_path) == (1, 1.0)
    model = MLP([4, 8, 2], seed=1)
    with pytest.warns(RuntimeWarning), folder_for(tmp_path, model) as folder:
        folder.restore()
        assert folder.save(2).name == "ckpt-4"  # above every number in use
    assert all(contents(tmp_path)[name] == data for name, data in before.items() if name != "checkpoint")


def test_a_truncated_or_corrupt_file_is_named_and_skipped(tmp_path):
    saved(tmp_path, 2)
    data = next(tmp_path.glob("ckpt-2.data-*"))
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.warns(RuntimeWarning, match=rf"{data}.*truncated or corrupt"):
        assert restored(tmp_path) == (1, 1.0)
    data.write_bytes(data.read_bytes()[:-1] + b"\x00" * 11)  # the right size, wrong bytes
    with pytest.warns(RuntimeWarning, match=rf"{data} is corrupt"):
        assert restored(tmp_path) == (1, 1.0)
    (tmp_path / "ckpt-1.json").write_text("{not json")
    before = contents(tmp_path)
    with pytest.raises(CheckpointError, match=rf"{tmp_path} holds checkpoint files but no intact "
                                              r"checkpoint.*unreadable manifest ckpt-1.json"):
        restored(tmp_path)
    assert contents(tmp_path) == before


def test_files_that_are_not_vaelibs_are_refused_not_overwritten(tmp_path):
    model = MLP([4, 8, 2])
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), 2).save()  # no manifest
    before = contents(tmp_path)
    with pytest.raises(CheckpointError, match=rf"{tmp_path} holds checkpoint files.*ckpt-1: no manifest"):
        restored(tmp_path)
    assert contents(tmp_path) == before


def test_old_checkpoints_are_rotated_but_foreign_files_kept(tmp_path):
    saved(tmp_path, 2, sizes=(4, 3, 2))  # another model's checkpoints: ckpt-1, ckpt-2
    (tmp_path / "ckpt-3.data-00000-of-00001").write_bytes(b"debris")
    foreign = contents(tmp_path)
    model = MLP([4, 8, 2])
    with folder_for(tmp_path, model, max_to_keep=2) as folder:
        for epoch in range(4):
            folder.save(epoch)
    names = {p.name.split(".")[0] for p in tmp_path.glob("ckpt-*")}
    assert names == {"ckpt-1", "ckpt-2", "ckpt-3", "ckpt-6", "ckpt-7"}
    assert all(contents(tmp_path)[name] == data for name, data in foreign.items() if name != "checkpoint")


def test_a_checkpoint_of_another_configuration_is_refused_naming_the_field(tmp_path):
    config = VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=2)
    x = (np.random.default_rng(0).random((8, 6)) < 0.5).astype(np.float32)
    train = lambda model, epochs: fit(model, tf.keras.optimizers.Adam(1e-2), vae_loss,
                                      tf.data.Dataset.from_tensor_slices(x).batch(4),
                                      FitConfig(epochs=epochs, progress=False, jit_compile=False),
                                      checkpoint_dir=tmp_path)
    train(VAE(config), 1)
    before = contents(tmp_path)
    relu = VAE(VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=2, activation="relu"))
    with pytest.raises(CheckpointMismatchError, match=rf"{tmp_path}/ckpt-1 was written by another "
                                                      r"configuration \(config.activation: checkpoint "
                                                      r"'tanh', this model 'relu'"):
        train(relu, 2)
    with pytest.raises(CheckpointMismatchError, match=r"config.hidden_sizes: checkpoint \(5,\), this model "
                                                      r"\(7,\); variable vae/decoder/mlp/dense_0/b:0: "
                                                      r"checkpoint \(5,\) float32, this model \(7,\)"):
        train(VAE(VAEConfig(input_size=6, hidden_sizes=(7,), latent_size=2)), 2)
    assert contents(tmp_path) == before


def test_a_checkpoint_of_another_likelihood_is_refused(tmp_path):
    """The continuous Bernoulli's decoder has the Bernoulli's variables: only the likelihood differs."""
    config = VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=2)
    x = np.random.default_rng(0).random((8, 6)).astype(np.float32)  # grey pixels suit both
    train = lambda model, epochs: fit(model, tf.keras.optimizers.Adam(1e-2), vae_loss,
                                      tf.data.Dataset.from_tensor_slices(x).batch(4),
                                      FitConfig(epochs=epochs, progress=False, jit_compile=False),
                                      checkpoint_dir=tmp_path)
    bernoulli, continuous = VAE(config), VAE(config, likelihood="continuous_bernoulli")
    assert [v.shape for v in bernoulli.variables] == [v.shape for v in continuous.variables]
    assert "likelihood" not in fingerprint(bernoulli)  # fingerprints written before likelihoods still match
    train(bernoulli, 1)
    before = contents(tmp_path)
    with pytest.raises(CheckpointMismatchError, match=r"likelihood: checkpoint .*, this model "
                                                      r"ContinuousBernoulli"):
        train(continuous, 2)
    assert contents(tmp_path) == before


def test_a_shape_error_from_tensorflow_names_the_folder(tmp_path):
    saved(tmp_path, 1)
    model = MLP([4, 9, 2])
    checkpoint = tf.train.Checkpoint(model=model, epoch=tf.Variable(0, dtype=tf.int64))
    stored = fingerprint(MLP([4, 8, 2]))  # as if the fingerprint had not caught it
    with pytest.raises(CheckpointMismatchError, match=rf"{tmp_path}/ckpt-1 does not fit the model.*"
                                                      r"shape \(8,\).*shape \(9,\)"):
        CheckpointFolder(tmp_path, checkpoint, stored).restore()


def test_a_second_run_on_a_locked_folder_is_refused(tmp_path):
    model = MLP([4, 8, 2])
    with folder_for(tmp_path, model):
        with pytest.raises(CheckpointLockedError, match=rf"{tmp_path} is in use by another training "
                                                        rf"run \(pid {os.getpid()} on"):
            folder_for(tmp_path, model).lock()
    with folder_for(tmp_path, model):  # released
        pass
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointError, match="checkpoint_dir .*file is not a folder"):
        folder_for(tmp_path / "file", model).lock()


# A fit in another process, stopped with kill -9 between TensorFlow's files and the manifest of
# its second checkpoint; meanwhile a second fit on the same folder must be refused.
KILLED = textwrap.dedent("""
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.path.insert(0, sys.argv[2])
    import tensorflow as tf
    import vaelib.checkpoint
    from toy_data import dataset
    import vaelib

    write_json, calls = vaelib.checkpoint._write_json, []
    def stalling(path, content):
        calls.append(path)
        if len(calls) == 2:
            print("MID-SAVE", flush=True)
            time.sleep(600)
        write_json(path, content)
    vaelib.checkpoint._write_json = stalling
    vaelib.set_seed(1)
    vaelib.fit(vaelib.MLP([4, 8, 2], seed=3), tf.keras.optimizers.Adam(1e-2),
               vaelib.classification_loss, lambda e: dataset(seed=e),
               vaelib.FitConfig(epochs=4, progress=False, jit_compile=False, steps_per_call=1),
               checkpoint_dir=sys.argv[1])
""")


def train_toy(checkpoint_dir):
    set_seed(1)
    model = MLP([4, 8, 2], seed=3)
    history = fit(model, tf.keras.optimizers.Adam(1e-2), classification_loss, lambda e: dataset(seed=e),
                  FitConfig(epochs=4, progress=False, jit_compile=False, steps_per_call=1),
                  checkpoint_dir=checkpoint_dir)
    return model, history


def test_kill_9_during_a_save_resumes_from_the_last_complete_checkpoint(tmp_path):
    folder = tmp_path / "ckpt"
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(folder), str(TESTS)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "MID-SAVE" not in line and time.monotonic() < deadline and child.poll() is None:
            line = child.stdout.readline()
        assert "MID-SAVE" in line, child.stderr.read() if child.poll() is not None else "timed out"
        with pytest.raises(CheckpointLockedError, match=rf"{folder} is in use.*pid {child.pid}"):
            train_toy(folder)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        child.stderr.close()
    debris = contents(folder)
    assert "ckpt-2.index" in debris and "ckpt-2.json" not in debris  # TensorFlow's files, no manifest
    reference, _ = train_toy(None)
    with pytest.warns(RuntimeWarning, match=r"restoring ckpt-1.*ckpt-2: no manifest"):
        resumed, history = train_toy(folder)
    assert [row["epoch"] for row in history.epochs] == [2, 3, 4]
    for a, b in zip(reference.trainable_variables, resumed.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert all(contents(folder)[name] == data for name, data in debris.items() if name.startswith("ckpt-2"))
