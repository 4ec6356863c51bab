"""fit: learning, history, non-finite losses, resuming, many steps per call."""

import numpy as np
import pytest
import tensorflow as tf

from toy_data import classification_data, dataset
from vaelib.classify import classification_loss
from vaelib.mlp import MLP
from vaelib.seed import set_seed
from vaelib.train import FitConfig, NonFiniteLossError, fit


def test_fit_learns_and_records():
    set_seed(0)
    model = MLP([4, 16, 2])
    history = fit(model, tf.keras.optimizers.Adam(1e-2), classification_loss, dataset(),
                  FitConfig(epochs=15, progress=False),
                  evaluate=lambda m: {"n_vars": len(m.trainable_variables)})
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

    with pytest.raises(NonFiniteLossError, match=r"loss became -inf at step 9 \(epoch 1\).*"
                                                 "last good checkpoint is kept"):
        fit(model, tf.keras.optimizers.SGD(0.01), exploding, dataset(),
            FitConfig(epochs=3, progress=False), checkpoint_dir=str(tmp_path))
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")  # epoch 0's, intact


def run_resumable(checkpoint_dir, epochs, interrupt_after=None):
    set_seed(1)
    model = MLP([4, 8, 2], seed=3)

    def stop(epoch, row):
        if interrupt_after is not None and epoch + 1 == interrupt_after:
            raise KeyboardInterrupt

    history = fit(model, tf.keras.optimizers.Adam(1e-2), classification_loss, lambda e: dataset(seed=e),
                  FitConfig(epochs=epochs, progress=False), callbacks=(stop,),
                  checkpoint_dir=checkpoint_dir)
    return model, history


def test_interrupted_training_resumes_to_the_same_parameters(tmp_path):
    reference, _ = run_resumable(str(tmp_path / "a"), epochs=4)
    with pytest.raises(KeyboardInterrupt):
        run_resumable(str(tmp_path / "b"), epochs=4, interrupt_after=2)
    resumed, history = run_resumable(str(tmp_path / "b"), epochs=4)
    assert [row["epoch"] for row in history.epochs] == [3, 4]  # only the missing epochs ran
    for a, b in zip(reference.trainable_variables, resumed.trainable_variables):
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
        config = FitConfig(epochs=2, steps_per_call=steps_per_call, jit_compile=jit_compile, progress=False)
        history = fit(model, tf.keras.optimizers.Adam(1e-2), classification_loss, dataset, config)
        return model, history

    one_model, one = train(1)
    many_model, many = train(3)  # 7 batches per epoch: calls of 3, 3, 1
    assert many.step_loss == one.step_loss and len(one.step_loss) == 14
    for a, b in zip(one_model.trainable_variables, many_model.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert [r["train_accuracy"] for r in many.epochs] == [r["train_accuracy"] for r in one.epochs]
