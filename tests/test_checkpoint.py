"""Checkpoint folders: verified, never overwritten, refused on a mismatch, locked, kill -9 safe."""

import os
import pathlib
import re
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
from vaelib.checkpoint import (
    CheckpointError,
    CheckpointFolder,
    CheckpointLockedError,
    CheckpointMismatchError,
    CheckpointSaveError,
    fingerprint,
)
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
    return {
        p.name: p.read_bytes()
        for p in pathlib.Path(path).iterdir()
        if p.is_file() and p.name != ".vaelib-lock"
    }


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
    with pytest.warns(
        RuntimeWarning, match=r"restoring ckpt-1.*ckpt-3: no manifest.*ckpt-2: no manifest"
    ):
        assert restored(tmp_path) == (1, 1.0)
    model = MLP([4, 8, 2], seed=1)
    with pytest.warns(RuntimeWarning), folder_for(tmp_path, model) as folder:
        folder.restore()
        assert folder.save(2).name == "ckpt-4"  # above every number in use
    assert all(
        contents(tmp_path)[name] == data for name, data in before.items() if name != "checkpoint"
    )


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
    with pytest.raises(
        CheckpointError,
        match=rf"{tmp_path} holds checkpoint files but no intact "
        r"checkpoint.*unreadable manifest ckpt-1.json",
    ):
        restored(tmp_path)
    assert contents(tmp_path) == before


def test_files_that_are_not_vaelibs_are_refused_not_overwritten(tmp_path):
    model = MLP([4, 8, 2])
    tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model), str(tmp_path), 2
    ).save()  # no manifest
    before = contents(tmp_path)
    with pytest.raises(
        CheckpointError, match=rf"{tmp_path} holds checkpoint files.*ckpt-1: no manifest"
    ):
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
    assert all(
        contents(tmp_path)[name] == data for name, data in foreign.items() if name != "checkpoint"
    )


def test_a_checkpoint_of_another_configuration_is_refused_naming_the_field(tmp_path):
    config = VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=2)
    x = (np.random.default_rng(0).random((8, 6)) < 0.5).astype(np.float32)

    def train(model, epochs):
        return fit(
            model,
            tf.keras.optimizers.Adam(1e-2),
            vae_loss,
            tf.data.Dataset.from_tensor_slices(x).batch(4),
            FitConfig(epochs=epochs, progress=False, jit_compile=False),
            checkpoint_dir=tmp_path,
        )

    train(VAE(config), 1)
    before = contents(tmp_path)
    relu = VAE(VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=2, activation="relu"))
    with pytest.raises(
        CheckpointMismatchError,
        match=rf"{tmp_path}/ckpt-1 was written by another "
        r"configuration \(config.activation: checkpoint "
        r"'tanh', this model 'relu'",
    ):
        train(relu, 2)
    with pytest.raises(
        CheckpointMismatchError,
        match=r"config.hidden_sizes: checkpoint \(5,\), this model "
        r"\(7,\); variable vae/decoder/mlp/dense_0/b:0: "
        r"checkpoint \(5,\) float32, this model \(7,\)",
    ):
        train(VAE(VAEConfig(input_size=6, hidden_sizes=(7,), latent_size=2)), 2)
    assert contents(tmp_path) == before


def test_a_checkpoint_of_another_likelihood_is_refused(tmp_path):
    """The continuous Bernoulli's decoder has the Bernoulli's variables: only the likelihood
    differs."""
    config = VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=2)
    x = np.random.default_rng(0).random((8, 6)).astype(np.float32)  # grey pixels suit both

    def train(model, epochs):
        return fit(
            model,
            tf.keras.optimizers.Adam(1e-2),
            vae_loss,
            tf.data.Dataset.from_tensor_slices(x).batch(4),
            FitConfig(epochs=epochs, progress=False, jit_compile=False),
            checkpoint_dir=tmp_path,
        )

    bernoulli, continuous = VAE(config), VAE(config, likelihood="continuous_bernoulli")
    assert [v.shape for v in bernoulli.variables] == [v.shape for v in continuous.variables]
    assert "likelihood" not in fingerprint(
        bernoulli
    )  # fingerprints written before likelihoods still match
    train(bernoulli, 1)
    before = contents(tmp_path)
    with pytest.raises(
        CheckpointMismatchError,
        match=r"likelihood: checkpoint .*, this model "
        r"ContinuousBernoulli",
    ):
        train(continuous, 2)
    assert contents(tmp_path) == before


def test_a_shape_error_from_tensorflow_names_the_folder(tmp_path):
    saved(tmp_path, 1)
    model = MLP([4, 9, 2])
    checkpoint = tf.train.Checkpoint(model=model, epoch=tf.Variable(0, dtype=tf.int64))
    stored = fingerprint(MLP([4, 8, 2]))  # as if the fingerprint had not caught it
    with pytest.raises(
        CheckpointMismatchError,
        match=rf"{tmp_path}/ckpt-1 does not fit the model.*"
        r"shape \(8,\).*shape \(9,\)",
    ):
        CheckpointFolder(tmp_path, checkpoint, stored).restore()


def test_a_second_run_on_a_locked_folder_is_refused(tmp_path):
    model = MLP([4, 8, 2])
    with folder_for(tmp_path, model):
        with pytest.raises(
            CheckpointLockedError,
            match=rf"{tmp_path} is in use by another training "
            rf"run \(pid {os.getpid()} on",
        ):
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
    history = fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        classification_loss,
        lambda e: dataset(seed=e),
        FitConfig(epochs=4, progress=False, jit_compile=False, steps_per_call=1),
        checkpoint_dir=checkpoint_dir,
    )
    return model, history


def test_kill_9_during_a_save_resumes_from_the_last_complete_checkpoint(tmp_path):
    folder = tmp_path / "ckpt"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(folder), str(TESTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    assert (
        "ckpt-2.index" in debris and "ckpt-2.json" not in debris
    )  # TensorFlow's files, no manifest
    reference, _ = train_toy(None)
    with pytest.warns(RuntimeWarning, match=r"restoring ckpt-1.*ckpt-2: no manifest"):
        resumed, history = train_toy(folder)
    assert [row["epoch"] for row in history.epochs] == [2, 3, 4]
    for a, b in zip(reference.trainable_variables, resumed.trainable_variables, strict=False):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert all(
        contents(folder)[name] == data for name, data in debris.items() if name.startswith("ckpt-2")
    )


# Issue 22: a run deletes only what it wrote; a failed save leaves the folder as it was.


def fit_toy(checkpoint_dir, epochs, **config):
    """The toy classifier trained with fit; max_to_keep is fit's default (2) unless given."""
    set_seed(1)
    return fit(
        MLP([4, 8, 2], seed=3),
        tf.keras.optimizers.Adam(1e-2),
        classification_loss,
        lambda e: dataset(seed=e),
        FitConfig(epochs=epochs, progress=False, jit_compile=False, steps_per_call=1, **config),
        checkpoint_dir=checkpoint_dir,
    )


def unchanged(path, before):
    """Every file that existed before still exists with the same bytes (the lock file and
    TensorFlow's index file, which vaelib rewrites and never reads, aside)."""
    after = contents(path)
    changed = sorted(
        name for name, data in before.items() if name != "checkpoint" and after.get(name) != data
    )
    assert not changed, f"changed or deleted: {changed}"


@pytest.mark.parametrize("damage", ["truncated", "one bit flipped"])
def test_a_skipped_corrupt_checkpoint_and_an_earlier_runs_are_never_deleted(tmp_path, damage):
    fit_toy(tmp_path, 2)  # ckpt-1, ckpt-2
    data = next(tmp_path.glob("ckpt-2.data-*"))
    raw = data.read_bytes()
    data.write_bytes(raw[:-10] if damage == "truncated" else raw[:-1] + bytes([raw[-1] ^ 1]))
    before = contents(tmp_path)
    with pytest.warns(RuntimeWarning) as warned:
        history = fit_toy(tmp_path, 5)  # resumes after epoch 1, saves ckpt-3, -4, -5, -6
    assert [row["epoch"] for row in history.epochs] == [2, 3, 4, 5]
    unchanged(tmp_path, before)  # ckpt-1 (intact, an earlier run's) and the corrupt ckpt-2 stay
    numbers = sorted(int(p.stem.split("-")[1]) for p in tmp_path.glob("ckpt-*.json"))
    assert numbers == [1, 2, 5, 6]  # this run's two newest, and what it did not write
    assert re.search(
        rf"restoring ckpt-1.*ckpt-2: .*{data.name}.*stay in {tmp_path} as they are, "
        r"never counted among max_to_keep nor deleted",
        str(warned[0].message),
    )


# A fit in another process whose files may not exceed a size limit (RLIMIT_FSIZE; the
# kernel refuses a write beyond it, as it would on a full disk): its saves fail.
FULL_DISK = textwrap.dedent("""
    import os, resource, signal, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.path.insert(0, sys.argv[2])
    import tensorflow as tf
    import vaelib
    from toy_data import dataset

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), resource.RLIM_INFINITY))
    vaelib.set_seed(1)
    try:
        vaelib.fit(vaelib.MLP([4, 300, 300, 2], seed=3), tf.keras.optimizers.Adam(1e-2),
                   vaelib.classification_loss, lambda e: dataset(seed=e),
                   vaelib.FitConfig(epochs=3, progress=False, jit_compile=False, steps_per_call=1),
                   checkpoint_dir=sys.argv[1])
    except vaelib.CheckpointSaveError as error:
        print("SAVE-ERROR", error)
""")


def fit_with_file_size_limit(folder, limit):
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(folder), str(TESTS), str(limit)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "SAVE-ERROR" in done.stdout, done.stdout + done.stderr
    return done.stdout.split("SAVE-ERROR", 1)[1]


def test_a_failed_first_save_is_cleaned_up_and_the_next_run_starts(tmp_path):
    folder = tmp_path / "ckpt"
    message = fit_with_file_size_limit(folder, 100_000)  # the data file is about 1.1 MB
    assert f"could not save checkpoint ckpt-1 in checkpoint_dir {folder}" in message
    assert "File too large" in message and "function_node" not in message
    assert re.search(r"a checkpoint needs about 1\.\d MB, [\d.]+ [kMG]B free there", message)
    assert sorted(p.name for p in folder.iterdir()) == [".vaelib-lock"]  # no ckpt-1_temp left
    set_seed(1)
    history = fit(
        MLP([4, 300, 300, 2], seed=3),
        tf.keras.optimizers.Adam(1e-2),
        classification_loss,
        lambda e: dataset(seed=e),
        FitConfig(epochs=1, progress=False, jit_compile=False, steps_per_call=1),
        checkpoint_dir=folder,
    )  # before issue 22: "holds checkpoint files but no intact"
    assert len(history.epochs) == 1 and (folder / "ckpt-1.json").exists()


def test_a_failed_later_save_keeps_every_earlier_file_and_resumes(tmp_path):
    fit_toy(tmp_path, 1)  # ckpt-1 of the small classifier, from an earlier run
    (tmp_path / "notes.txt").write_text("the user's own file")
    before = contents(tmp_path)
    patched = tf.train.Checkpoint.write

    def fails(self, prefix, *args, **kwargs):  # a full disk inside TensorFlow's writer
        os.makedirs(f"{prefix}_temp")
        part = pathlib.Path(f"{prefix}_temp/part-00000-of-00001.data-00000-of-00001.tempstate1")
        part.write_bytes(b"0")
        raise tf.errors.ResourceExhaustedError(
            None,
            None,
            "{{function_node __wrapped__SaveV2_dtypes_6_device_/job:localhost/"
            f"replica:0/task:0/device:CPU:0}}}} {prefix}_temp/part-00000; No space left on "
            "device [Op:SaveV2]",
        )

    tf.train.Checkpoint.write = fails
    try:
        message = (
            rf"could not save checkpoint ckpt-2 in checkpoint_dir {tmp_path} \("
            r"ResourceExhaustedError: /.*No space left on device \[Op:SaveV2\]\); the "
            r"disk is full.*needs about [\d.]+ (bytes|kB).*every earlier checkpoint is intact"
        )
        with pytest.raises(CheckpointSaveError, match=message):
            fit_toy(tmp_path, 3)
    finally:
        tf.train.Checkpoint.write = patched
    unchanged(tmp_path, before)
    assert set(contents(tmp_path)) == set(before)  # and nothing new is left behind
    assert not (tmp_path / "ckpt-2_temp").exists()
    history = fit_toy(tmp_path, 3)
    assert [row["epoch"] for row in history.epochs] == [2, 3]
    unchanged(tmp_path, before)


@pytest.mark.parametrize("how", ["fit", "folder"])
def test_a_tilde_in_checkpoint_dir_is_the_home_folder(tmp_path, monkeypatch, how):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    if how == "fit":
        fit_toy("~/vae-ckpts", 1)
    else:
        saved("~/vae-ckpts", 1)
    assert (home / "vae-ckpts" / "ckpt-1.json").exists()
    assert list(work.iterdir()) == []  # no folder literally named "~"
    with pytest.raises(
        ValueError,
        match=r"checkpoint_dir '~no-such-user-x/c' starts with '~' but "
        r"names no home folder",
    ):
        fit_toy("~no-such-user-x/c", 1)
    for bad, error in (("", ValueError), (3, TypeError), (b"ckpts", TypeError)):
        with pytest.raises(error, match="checkpoint_dir must be a folder path"):
            fit_toy(bad, 1)
    assert list(work.iterdir()) == []


def test_a_learned_prior_or_flow_is_in_the_fingerprint_and_the_default_vaes_is_unchanged(tmp_path):
    """Chapter 12's models: two IAF flows whose orders differ have the same variables, so only
    the fingerprint's ``flow`` field tells them apart; the standard normal prior is the default."""
    from vaelib.models.flows import Flow, IAFLayer
    from vaelib.models.priors import MixturePrior, StandardNormalPrior
    from vaelib.objectives.flow_loss import flow_loss

    config = VAEConfig(input_size=6, hidden_sizes=(5,), latent_size=3)
    plain = fingerprint(VAE(config))
    assert set(plain) == set(fingerprint(VAE(config))) and "prior" not in plain
    standard = VAE(config)
    standard.prior = StandardNormalPrior(3)
    assert fingerprint(standard) == plain
    mixture = VAE(config)
    mixture.prior = MixturePrior(3, num_components=4)
    assert fingerprint(mixture)["prior"] == "vaelib.models.priors.MixturePrior"

    x = (np.random.default_rng(0).random((8, 6)) < 0.5).astype(np.float32)

    def with_flow(orders):
        model = VAE(config)
        model.flow = Flow([IAFLayer(3, (4,), order, seed=k) for k, order in enumerate(orders)])
        return model

    def train(model, epochs):
        return fit(
            model,
            tf.keras.optimizers.Adam(1e-2),
            flow_loss(model.flow),
            tf.data.Dataset.from_tensor_slices(x).batch(4),
            FitConfig(epochs=epochs, progress=False, jit_compile=False),
            checkpoint_dir=tmp_path,
        )

    forward, backward = with_flow([[0, 1, 2], [2, 1, 0]]), with_flow([[2, 1, 0], [0, 1, 2]])
    assert [v.shape for v in forward.variables] == [v.shape for v in backward.variables]
    assert fingerprint(forward)["flow"].startswith(
        "vaelib.models.flows.Flow[vaelib.models.flows.IAFLayer(order=[0, 1, 2], forget_bias=2.0)"
    )
    train(forward, 1)
    before = contents(tmp_path)
    with pytest.raises(CheckpointMismatchError, match=r"flow: checkpoint .*order=\[0, 1, 2\]"):
        train(backward, 2)
    assert contents(tmp_path) == before
    train(with_flow([[0, 1, 2], [2, 1, 0]]), 2)  # the same flow resumes
