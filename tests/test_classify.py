"""Classification loss against a NumPy log-softmax."""

import numpy as np
import pytest
import tensorflow as tf

from vaelib.classify import classification_loss, evaluate_classifier


class Fixed(tf.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = tf.constant(logits)

    def __call__(self, x):
        return tf.gather(self.logits, tf.cast(x[:, 0], tf.int32))


def test_matches_numpy_and_batches_agree():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2, size=(37, 10)).astype(np.float32)
    y = rng.integers(0, 10, 37)
    x = np.arange(37, dtype=np.float32)[:, None]
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected_loss = -log_softmax[np.arange(37), y].mean()
    expected_acc = (logits.argmax(-1) == y).mean()
    out = classification_loss(Fixed(logits), (x, y))
    assert float(out["loss"]) == pytest.approx(expected_loss, rel=1e-5)
    assert float(out["accuracy"]) == pytest.approx(expected_acc)
    batched = evaluate_classifier(Fixed(logits), x, y, batch_size=10, prefix="val")
    assert batched["val_loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert batched["val_accuracy"] == pytest.approx(expected_acc)


def test_length_mismatch():
    with pytest.raises(ValueError, match="x has 3 examples but y has 2"):
        evaluate_classifier(Fixed(np.zeros((3, 2), np.float32)), np.zeros((3, 1)), np.zeros(2))


def test_bad_batches_are_named():
    model = Fixed(np.zeros((3, 2), np.float32))
    x = np.zeros((2, 1), np.float32)
    with pytest.raises(TypeError, match=r"classification_loss takes batches \(x, y\), got ndarray"):
        classification_loss(model, x)
    with pytest.raises(
        TypeError, match="labels y must be integer class indices, got dtype float64"
    ):
        classification_loss(model, (x, np.array([0.5, 1.2])))
    with pytest.raises(ValueError, match=r"empty batch \(0 examples\)"):
        classification_loss(model, (x[:0], np.zeros(0, np.int32)))
    with pytest.raises(ValueError, match="x has no examples"):
        evaluate_classifier(model, x[:0], np.zeros(0, np.int32))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        evaluate_classifier(model, x, np.zeros(2, np.int32), batch_size=0)
    with pytest.raises(ValueError, match="x holds NaN"):
        evaluate_classifier(model, x * np.nan, np.zeros(2, np.int32))
