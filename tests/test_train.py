"""fit: learning, history, non-finite losses, resuming, many steps per call."""

import numpy as np
import pytest
import tensorflow as tf
from toy_data import dataset

from vaelib.classify import classification_loss
from vaelib.mlp import MLP
from vaelib.seed import set_seed
from vaelib.train import FitConfig, NonFiniteLossError, fit


def test_fit_learns_and_records():
    set_seed(0)
    model = MLP([4, 16, 2])
    history = fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        classification_loss,
        dataset(),
        FitConfig(epochs=15, progress=False),
        evaluate=lambda m: {"n_vars": len(m.trainable_variables)},
    )
    assert len(history.step_loss) == 15 * 7
    assert history.column("train_accuracy")[-1] > 0.9
    assert history.column("train_loss")[-1] < 0.5 * history.column("train_loss")[0]
    assert history.column("n_vars") == [4] * 15
    with pytest.raises(KeyError, match="no metric 'test_elbo'"):
        history.column("test_elbo")


def test_non_finite_loss_names_step_and_metric(tmp_path):
    model = MLP([4, 2])
    calls = tf.Variable(0.0)

    def exploding(model, batch):
        out = classification_loss(model, batch)
        calls.assign_add(1.0)
        return {**out, "loss": out["loss"] + tf.math.log(10.0 - calls)}  # log(0) on the 10th step

    with pytest.raises(
        NonFiniteLossError,
        match=r"loss became -inf at step 9 \(epoch 1\).*"
        "last good checkpoint is kept",
    ):
        fit(
            model,
            tf.keras.optimizers.SGD(0.01),
            exploding,
            dataset(),
            FitConfig(epochs=3, progress=False),
            checkpoint_dir=str(tmp_path),
        )
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")  # epoch 0's, intact


def run_resumable(checkpoint_dir, epochs, interrupt_after=None):
    set_seed(1)
    model = MLP([4, 8, 2], seed=3)

    def stop(epoch, row):
        if interrupt_after is not None and epoch + 1 == interrupt_after:
            raise KeyboardInterrupt

    history = fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        classification_loss,
        lambda e: dataset(seed=e),
        FitConfig(epochs=epochs, progress=False),
        callbacks=(stop,),
        checkpoint_dir=checkpoint_dir,
    )
    return model, history


def test_interrupted_training_resumes_to_the_same_parameters(tmp_path):
    reference, _ = run_resumable(str(tmp_path / "a"), epochs=4)
    with pytest.raises(KeyboardInterrupt):
        run_resumable(str(tmp_path / "b"), epochs=4, interrupt_after=2)
    resumed, history = run_resumable(str(tmp_path / "b"), epochs=4)
    assert [row["epoch"] for row in history.epochs] == [3, 4]  # only the missing epochs ran
    for a, b in zip(reference.trainable_variables, resumed.trainable_variables, strict=False):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_bad_config():
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        FitConfig(epochs=0)
    with pytest.raises(ValueError, match="steps_per_call must be a positive int, got 0"):
        FitConfig(steps_per_call=0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_many_steps_per_call_equals_one_step_per_call(jit_compile):
    def train(steps_per_call):
        set_seed(0)
        model = MLP([4, 16, 2])
        config = FitConfig(
            epochs=2, steps_per_call=steps_per_call, jit_compile=jit_compile, progress=False
        )
        history = fit(model, tf.keras.optimizers.Adam(1e-2), classification_loss, dataset, config)
        return model, history

    one_model, one = train(1)
    many_model, many = train(3)  # 7 batches per epoch: calls of 3, 3, 1
    assert many.step_loss == one.step_loss and len(one.step_loss) == 14
    for a, b in zip(one_model.trainable_variables, many_model.trainable_variables, strict=False):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert [r["train_accuracy"] for r in many.epochs] == [r["train_accuracy"] for r in one.epochs]


def tiny_vae_data(x):
    from vaelib.vae import VAE, VAEConfig

    return VAE(
        VAEConfig(input_size=6, hidden_sizes=(4,), latent_size=2)
    ), tf.data.Dataset.from_tensor_slices(x)


@pytest.mark.parametrize("steps_per_call", [1, 20])
def test_the_compiled_path_refuses_bad_pixels_before_the_first_step(steps_per_call):
    from vaelib.bounds import vae_loss

    x = (np.random.default_rng(0).random((10, 6)) < 0.5).astype(np.float32)
    config = FitConfig(
        epochs=1, progress=False, steps_per_call=steps_per_call
    )  # XLA, as by default
    cases = [
        (x * 255, ValueError, r"x must lie in \[0, 1\].*from 0 to 255.*vaelib.binarize"),
        (np.where(x > 0, np.nan, 0).astype(np.float32), ValueError, "first batch holds NaN"),
        ((x, np.zeros(10, np.int32)), TypeError, r"labelled batch \(x, y\)"),
    ]
    for data, error, message in cases:
        model, ds = tiny_vae_data(data)
        optimizer = tf.keras.optimizers.Adam(1e-2)
        before = [v.numpy() for v in model.trainable_variables]
        with pytest.raises(error, match=message):
            fit(model, optimizer, vae_loss, ds.batch(5), config)
        assert int(optimizer.iterations) == 0
        for a, b in zip(before, model.trainable_variables, strict=False):
            np.testing.assert_array_equal(a, b.numpy())


def test_wrong_containers_and_empty_data_are_named():
    model, optimizer = MLP([4, 2]), tf.keras.optimizers.SGD(0.1)
    x, y = np.zeros((3, 4), np.float32), np.zeros(3, np.int32)
    config = FitConfig(epochs=1, progress=False)
    with pytest.raises(
        TypeError, match="data must be a tf.data.Dataset .* got ndarray.*make_dataset"
    ):
        fit(model, optimizer, classification_loss, x, config)
    with pytest.raises(TypeError, match=r"data\(0\) returned list, not a tf.data.Dataset"):
        fit(model, optimizer, classification_loss, lambda epoch: [x], config)
    pairs = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(ValueError, match="data has no batches.*drop_remainder"):
        fit(model, optimizer, classification_loss, pairs.batch(4, drop_remainder=True), config)
    with pytest.raises(ValueError, match="data gave no batches in epoch 0"):  # cardinality unknown
        fit(
            model, optimizer, classification_loss, pairs.filter(lambda a, b: False).batch(4), config
        )
    with pytest.raises(
        ValueError, match=r"component 1 is a scalar.*not batched.*\.batch\(batch_size\)"
    ):
        fit(model, optimizer, classification_loss, pairs, config)
    with pytest.raises(TypeError, match="optimizer must be a Keras optimizer.*got float"):
        fit(model, 0.1, classification_loss, pairs.batch(2), config)
    with pytest.raises(TypeError, match="callbacks must be a tuple of functions"):
        fit(
            model,
            optimizer,
            classification_loss,
            pairs.batch(2),
            config,
            callbacks=lambda e, r: None,
        )
    with pytest.raises(TypeError, match="evaluate must return a dict of named floats.*got float"):
        fit(model, optimizer, classification_loss, pairs.batch(2), config, evaluate=lambda m: 0.5)


@pytest.mark.parametrize("learning_rate", [float("nan"), float("inf")])
def test_a_non_finite_learning_rate_is_refused_before_any_step(learning_rate):
    model = MLP([4, 2])
    before = [v.numpy() for v in model.trainable_variables]
    with pytest.raises(
        ValueError, match=f"learning_rate must be positive and finite, got {learning_rate}"
    ):
        fit(
            model,
            tf.keras.optimizers.SGD(learning_rate),
            classification_loss,
            dataset(),
            FitConfig(epochs=1, progress=False),
        )
    for a, b in zip(before, model.trainable_variables, strict=False):
        np.testing.assert_array_equal(a, b.numpy())


def test_non_finite_weights_are_refused_before_training():
    model = MLP([4, 2])
    model.layers[0].w.assign(tf.fill([4, 2], np.nan))
    with pytest.raises(
        ValueError, match="variable mlp/dense_0/w:0 of the model holds NaN.*before training"
    ):
        fit(
            model,
            tf.keras.optimizers.SGD(0.1),
            classification_loss,
            dataset(),
            FitConfig(epochs=1, progress=False),
        )


def test_bad_flags():
    with pytest.raises(ValueError, match="epochs must be a positive int, got True"):
        FitConfig(epochs=True)
    with pytest.raises(ValueError, match="max_to_keep must be a positive int, got 1.5"):
        FitConfig(max_to_keep=1.5)
    with pytest.raises(TypeError, match="jit_compile must be True or False, got 'yes'"):
        FitConfig(jit_compile="yes")
