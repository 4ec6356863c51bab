"""fit(..., log_dir=...): TensorBoard summaries, read back independently, equal fit's history."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from toy_data import dataset

from vaelib.bounds import vae_loss
from vaelib.classify import classification_loss
from vaelib.distributions import kl_normal_std
from vaelib.mlp import MLP
from vaelib.seed import set_seed
from vaelib.tensorboard import TensorBoard, read_graphs, read_scalars
from vaelib.train import FitConfig, fit
from vaelib.vae import VAE, VAEConfig


def toy_vae_data(n=96, batch=32, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 16)) < 0.3).astype(np.float32)
    return x, tf.data.Dataset.from_tensor_slices(x).batch(batch)


def accumulate(log_dir):
    """TensorBoard's own reader (not vaelib's): every event file under log_dir."""
    runs = []
    for root, _, files in os.walk(log_dir):
        for name in files:
            if "tfevents" in name:
                acc = EventAccumulator(
                    os.path.join(root, name), size_guidance={"tensors": 0, "histograms": 0}
                )
                acc.Reload()
                runs.append(acc)
    return runs


def tensor_scalars(runs, tag):
    found = []
    for acc in runs:
        if tag in acc.Tags()["tensors"]:
            found += [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
    return sorted(found)


def test_fit_writes_what_it_returns(tmp_path):
    set_seed(0)
    x, data = toy_vae_data()
    model = VAE(VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=2))
    log_dir = tmp_path / "logs"
    history = fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        vae_loss,
        data,
        FitConfig(epochs=3, progress=False, steps_per_call=2),
        evaluate=lambda m: {"test_elbo": -1.5},
        log_dir=str(log_dir),
    )
    runs = accumulate(log_dir)
    steps = tensor_scalars(runs, "step/loss")
    assert [s for s, _ in steps] == list(range(9))
    np.testing.assert_allclose([v for _, v in steps], history.step_loss, rtol=1e-6)
    for column in history.epochs[0]:
        if column == "epoch":
            continue
        tag = f"epoch/{column}"
        logged = tensor_scalars(runs, tag)
        assert [s for s, _ in logged] == [3, 6, 9], tag
        np.testing.assert_allclose([v for _, v in logged], history.column(column), rtol=1e-6)
    # vaelib's own reader agrees with TensorBoard's
    ours = read_scalars(log_dir)
    assert sorted(ours["step/loss"]) == steps


def test_kl_per_dimension_histogram(tmp_path):
    set_seed(1)
    x, data = toy_vae_data()
    model = VAE(VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=3))
    board = TensorBoard(tmp_path, model=model, kl_batch=x[:20])
    fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        vae_loss,
        data,
        FitConfig(epochs=2, progress=False),
        log_dir=board,
    )
    board.close()
    q_mu, q_logvar = model.encoder(tf.constant(x[:20]))
    expected = tf.reduce_mean(kl_normal_std(q_mu[..., None], q_logvar[..., None]), axis=0)
    runs = accumulate(tmp_path)
    kl_sum = tensor_scalars(runs, "epoch/kl_batch")
    assert [s for s, _ in kl_sum] == [3, 6]
    np.testing.assert_allclose(kl_sum[-1][1], float(tf.reduce_sum(expected)), rtol=1e-5)
    histograms = [
        h
        for acc in runs
        if "kl_per_dimension" in acc.Tags()["tensors"]
        for h in acc.Tensors("kl_per_dimension")
    ]
    assert [h.step for h in histograms] == [3, 6]
    buckets = tf.make_ndarray(histograms[-1].tensor_proto)  # [bucket, (left, right, count)]
    assert buckets[:, 2].sum() == 3  # one count per latent dimension


def test_a_resumed_run_continues_the_steps(tmp_path):
    set_seed(2)
    model = MLP([4, 8, 2])
    optimizer = tf.keras.optimizers.Adam(1e-2)
    for epochs in (2, 4):  # the second call resumes from the checkpoint after epoch 2
        fit(
            model,
            optimizer,
            classification_loss,
            dataset(),
            FitConfig(epochs=epochs, progress=False),
            checkpoint_dir=str(tmp_path / "ckpt"),
            log_dir=tmp_path / "logs",
        )
    steps = [s for s, _ in tensor_scalars(accumulate(tmp_path / "logs"), "step/loss")]
    assert steps == list(range(4 * 7))  # 7 batches an epoch, no step written twice


def test_home_folder_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    board = TensorBoard("~/runs/a")
    assert board.log_dir == str(tmp_path / "runs" / "a")
    assert not (tmp_path / "~").exists()


def test_bad_log_dirs_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        fit(
            MLP([4, 2]),
            tf.keras.optimizers.SGD(0.1),
            classification_loss,
            dataset(),
            FitConfig(epochs=1, progress=False),
            log_dir=tmp_path / "file",
        )
    with pytest.raises(ValueError, match="folder path"):
        TensorBoard("")
    with pytest.raises(ValueError, match="encoder"):
        TensorBoard(tmp_path, model=MLP([4, 2]), kl_batch=np.zeros((2, 4), np.float32))


def test_nothing_is_written_without_log_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit(
        MLP([4, 2]),
        tf.keras.optimizers.SGD(0.1),
        classification_loss,
        dataset(),
        FitConfig(epochs=1, progress=False),
    )
    assert list(tmp_path.iterdir()) == []


def test_a_traced_graph_is_exported_and_read_back(tmp_path):
    x, beta = tf.ones([2, 3]), tf.ones([3, 1])  # made before tracing starts: no graphs of theirs

    @tf.function
    def predict(x, beta):
        return tf.sigmoid(tf.matmul(x, beta))

    writer = tf.summary.create_file_writer(str(tmp_path))
    tf.summary.trace_on(graph=True)
    predict(x, beta)
    with writer.as_default():
        tf.summary.trace_export(name="predict", step=0)
    writer.close()
    (graph,) = read_graphs(tmp_path)
    expected = [op.type for op in predict.get_concrete_function(x, beta).graph.get_operations()]
    assert [op for op, _ in graph] == [t for t in expected if t != "Placeholder"]
    assert {"MatMul", "Sigmoid"} <= {op for op, _ in graph}
