"""make_epoch_loop and fit on InMemoryData: the batches drawn inside the compiled loop are the
ones InMemoryData.batch draws eagerly, one trace per batch size, stops, resumes."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.classify import classification_loss
from vaelib.data.in_memory import InMemoryData
from vaelib.mlp import MLP
from vaelib.train import FitConfig, NonFiniteLossError, fit
from vaelib.training.epoch_loop import epoch_calls, make_epoch_loop

rng = np.random.default_rng(1)
IMAGES = rng.integers(0, 256, (130, 28, 28), dtype=np.uint8)
LABELS = rng.integers(0, 10, 130)


def classifier():
    return MLP([784, 8, 10], seed=0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_in_memory_equals_fit_on_the_same_batches_through_tf_data(jit_compile):
    """The reference trains on data.as_dataset(epoch): batches drawn eagerly, fed through
    tf.data and make_train_loop's stacks. Same batches, same steps, same weights."""
    data = InMemoryData(IMAGES, LABELS, batch_size=32, binarization="dynamic", seed=2)
    config = FitConfig(epochs=3, steps_per_call=3, progress=False, jit_compile=jit_compile)
    results = []
    for feed in (data, data.as_dataset):
        model = classifier()
        history = fit(model, tf.keras.optimizers.Adam(1e-2), classification_loss, feed, config)
        results.append((model, history))
    (a, ha), (b, hb) = results
    assert len(ha.step_loss) == 3 * 5  # 4 batches of 32 and one of 2, per epoch
    np.testing.assert_allclose(ha.step_loss, hb.step_loss, rtol=1e-5, atol=1e-6)
    for va, vb in zip(a.trainable_variables, b.trainable_variables, strict=True):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-5, atol=1e-6)


def test_each_batch_size_traces_once_and_calls_cover_the_epoch():
    data = InMemoryData(IMAGES, LABELS, batch_size=32, binarization="fixed")
    assert epoch_calls(data, 3) == [(0, 3, 32), (3, 1, 32), (4, 1, 2)]
    optimizer = tf.keras.optimizers.SGD(0.1)
    run = make_epoch_loop(
        classifier(), optimizer, classification_loss, data, steps_per_call=3, jit_compile=True
    )
    for epoch in range(2):
        order = data.order(epoch)
        for first, count, size in epoch_calls(data, 3):
            ran, metrics = run(order, epoch, first, count, size)
            assert int(ran) == count and metrics["loss"].shape == (3,)
    assert int(optimizer.iterations) == 10
    assert {size: f.experimental_get_tracing_count() for size, f in run.loops.items()} == {
        32: 1,
        2: 1,
    }
    with pytest.raises(TypeError, match="data must be a vaelib.InMemoryData"):
        make_epoch_loop(classifier(), optimizer, classification_loss, IMAGES, steps_per_call=3)


def test_a_vae_trains_on_in_memory_data_with_the_default_config():
    data = InMemoryData(IMAGES, batch_size=50, binarization="dynamic")
    vaelib.set_seed(0)
    model = vaelib.VAE(vaelib.VAEConfig(hidden_sizes=(16,), latent_size=2))
    history = fit(
        model, tf.keras.optimizers.Adam(1e-3), vaelib.vae_loss, data, FitConfig(4, progress=False)
    )
    assert len(history.step_loss) == 4 * 3 and np.isfinite(history.step_loss).all()
    assert history.column("train_loss")[-1] < history.column("train_loss")[0]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_non_finite_step_stops_fit_at_that_step(jit_compile):
    optimizer = tf.keras.optimizers.SGD(0.01)

    def exploding(model, batch):
        out = classification_loss(model, batch)
        bad = tf.cast(optimizer.iterations == 6, tf.float32)
        return {**out, "loss": out["loss"] + tf.math.log(1.0 - bad)}  # -inf at step 6

    data = InMemoryData(IMAGES, LABELS, batch_size=32, binarization="none")
    with pytest.raises(NonFiniteLossError, match=r"loss became -inf at step 6 \(epoch 1\)"):
        fit(
            classifier(),
            optimizer,
            exploding,
            data,
            FitConfig(epochs=3, steps_per_call=4, progress=False, jit_compile=jit_compile),
        )
    assert int(optimizer.iterations) == 7  # the loop stopped right after the bad step


def test_the_first_batch_is_checked_before_training():
    def loss(model, batch):
        return classification_loss(model, batch)

    def refuse(model, batch):
        raise ValueError("checked: " + str(batch[0].shape))

    loss.check_batch = refuse
    optimizer = tf.keras.optimizers.SGD(0.1)
    data = InMemoryData(IMAGES, LABELS, batch_size=32)
    with pytest.raises(ValueError, match=r"checked: \(32, 784\)"):
        fit(classifier(), optimizer, loss, data, FitConfig(1, progress=False))
    assert int(optimizer.iterations) == 0


def test_a_resumed_run_sees_the_batches_of_an_uninterrupted_one(tmp_path):
    data = InMemoryData(IMAGES, LABELS, batch_size=32, seed=4)

    def train(epochs, folder):
        model = classifier()
        fit(
            model,
            tf.keras.optimizers.Adam(1e-2),
            classification_loss,
            data,
            FitConfig(epochs, steps_per_call=2, progress=False),
            checkpoint_dir=folder,
        )
        return model

    train(2, tmp_path / "resumed")
    resumed = train(4, tmp_path / "resumed")
    straight = train(4, tmp_path / "straight")
    for a, b in zip(resumed.trainable_variables, straight.trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_xla_compiles_the_loop_once_whatever_the_first_step():
    """If XLA took the first step (or the epoch) as a compile-time constant, its value would be
    written into the program, and every call at a new step would compile a new one (as tf.slice
    did: 30 compilations of about 3 s per MNIST epoch). The programs for two steps are equal."""
    data = InMemoryData(IMAGES, LABELS, batch_size=32, binarization="dynamic")
    run = make_epoch_loop(
        classifier(),
        tf.keras.optimizers.SGD(0.1),
        classification_loss,
        data,
        steps_per_call=2,
        jit_compile=True,
    )
    loop = run.loops[32]

    def program(epoch, first):
        args = (
            list(data.tensors()),
            data.order(epoch),
            tf.constant(epoch, tf.int64),
            tf.constant(first, tf.int32),
            tf.constant(2, tf.int32),
        )
        return loop.experimental_get_compiler_ir(*args)(stage="hlo")

    assert program(0, 0) == program(1, 2)


def test_with_a_strategy_fit_feeds_the_same_batches_through_as_dataset():
    data = InMemoryData(IMAGES, LABELS, batch_size=32, seed=5)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    models = []
    for feed in (data, data.as_dataset):
        with strategy.scope():
            model, optimizer = classifier(), tf.keras.optimizers.SGD(0.1)
        fit(
            model,
            optimizer,
            classification_loss,
            feed,
            FitConfig(2, progress=False),
            strategy=strategy,
        )
        models.append(model)
    for a, b in zip(*(m.trainable_variables for m in models), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
