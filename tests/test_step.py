"""make_train_step, make_train_loop, stack_batches: one trace, XLA in place, many steps per call."""

import numpy as np
import pytest
import tensorflow as tf
from toy_data import classification_data, dataset

from vaelib.classify import classification_loss
from vaelib.mlp import MLP
from vaelib.seed import set_seed
from vaelib.step import make_train_loop, make_train_step, metric_names, stack_batches


def test_step_traces_once_across_batch_sizes():
    model = MLP([4, 8, 2])
    ds = dataset()  # 200 = 6 * 32 + 8: the last batch is smaller
    step = make_train_step(
        model, tf.keras.optimizers.Adam(1e-2), classification_loss, element_spec=ds.element_spec
    )
    for _ in range(2):
        for batch in ds:
            step(batch)
    assert step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("jit_compile", [False, True])
def test_train_loop_runs_many_steps_in_one_call(jit_compile):
    model = MLP([4, 8, 2], seed=0)
    x, y = classification_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(30)  # 6 batches of 30, then 20
    optimizer = tf.keras.optimizers.SGD(0.1)
    loop = make_train_loop(
        model, optimizer, classification_loss, element_spec=ds.element_spec, jit_compile=jit_compile
    )
    for _ in range(2):  # two epochs
        stacks = list(stack_batches(ds, 4))
        assert [int(s[0].shape[0]) for s in stacks] == [4, 2, 1]  # the last batch is smaller
        for stack in stacks:
            ran, metrics = loop(stack)
            assert int(ran) == stack[0].shape[0] == len(metrics["loss"])
    assert int(optimizer.iterations) == 14
    assert loop.experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="size must be a positive int"):
        next(stack_batches(ds, 0))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_loop_stops_at_a_non_finite_step(jit_compile):
    model = MLP([4, 2], seed=0)
    x, y = classification_data(n=40)
    x[25] = np.nan  # in the third batch of 10
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    loop = make_train_loop(
        model, tf.keras.optimizers.SGD(0.1), classification_loss, jit_compile=jit_compile
    )
    ran, metrics = loop(next(stack_batches(ds, 4)))
    losses = metrics["loss"].numpy()[: int(ran)]
    assert len(losses) == 3 and np.isfinite(losses[:2]).all() and not np.isfinite(losses[2])


def test_model_without_variables():
    with pytest.raises(ValueError, match="no trainable variables"):
        make_train_step(tf.Module(name="empty"), tf.keras.optimizers.Adam(), classification_loss)


def test_non_positive_learning_rate():
    with pytest.raises(ValueError, match="learning_rate must be positive and finite, got -0.1"):
        make_train_step(MLP([4, 2]), tf.keras.optimizers.SGD(-0.1), classification_loss)


def _one_step(jit_compile):
    set_seed(0)
    model = MLP([4, 32, 32, 2])
    step = make_train_step(
        model, tf.keras.optimizers.Adam(1e-2), classification_loss, jit_compile=jit_compile
    )
    batch = next(iter(dataset()))
    for _ in range(3):
        step(batch)
    return model, step, batch


def test_xla_step_matches_the_plain_graph_step():
    xla_model = _one_step(True)[0]
    graph_model = _one_step(False)[0]
    for a, b in zip(xla_model.trainable_variables, graph_model.trainable_variables, strict=False):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_xla_step_updates_weights_in_place():
    # Without train._after_all, XLA copies every weight that the backward pass reads again.
    model, step, batch = _one_step(True)
    hlo = step.experimental_get_compiler_ir(batch)(stage="optimized_hlo")
    entry = hlo[hlo.index("\nENTRY") :]
    weight_shapes = {
        "f32[" + ",".join(map(str, v.shape)) + "]"
        for v in model.trainable_variables
        if v.shape.rank == 2
    }
    copies = [
        line
        for line in entry.splitlines()
        if " copy(" in line and line.split(" = ")[1].split("{")[0] in weight_shapes
    ]
    assert not copies, copies


class _GradientCount:
    """Counts ``tf.GradientTape.gradient`` calls: one per trace of a training step."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = tf.GradientTape.gradient

        def counted(tape, *args, **kwargs):
            self.calls += 1
            return original(tape, *args, **kwargs)

        monkeypatch.setattr(tf.GradientTape, "gradient", counted)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_loop_traces_its_step_once(monkeypatch, jit_compile):
    # The step (its gradient and update) is traced once, in the loop's body; running the first
    # step ahead of the loop traced and compiled it twice.
    gradients = _GradientCount(monkeypatch)
    model = MLP([4, 8, 2], seed=0)
    ds = dataset()
    loop = make_train_loop(
        model,
        tf.keras.optimizers.Adam(1e-2),
        classification_loss,
        element_spec=ds.element_spec,
        jit_compile=jit_compile,
    )
    ran, metrics = loop(next(stack_batches(ds, 3)))
    assert gradients.calls == 1
    assert int(ran) == 3 and list(metrics) == list(classification_loss(model, next(iter(ds))))


def test_metric_names_reads_the_loss_without_running_it():
    model = MLP([4, 2], seed=0)
    calls = tf.Variable(0)

    def loss_fn(model, batch):
        calls.assign_add(1)  # would show if the traced loss ran
        loss = classification_loss(model, batch)["loss"]
        return {"loss": loss, "b": 2.0 * loss, "a": loss + 1.0}

    spec = dataset().element_spec
    assert metric_names(model, loss_fn, spec) == ["loss", "b", "a"]
    assert int(calls.numpy()) == 0
    with pytest.raises(
        TypeError, match="dict of scalar tensors with a 'loss' entry, got (Symbolic)?Tensor"
    ):
        metric_names(model, lambda m, b: classification_loss(m, b)["loss"], spec)
    with pytest.raises(TypeError, match=r"got keys \['a'\]"):
        metric_names(model, lambda m, b: {"a": classification_loss(m, b)["loss"]}, spec)
