"""Classification loss and metrics for chapter 3's MLP."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["classification_loss", "evaluate_classifier"]


def classification_loss(model: tf.Module, batch) -> dict[str, tf.Tensor]:
    """Mean softmax cross-entropy and accuracy of ``model`` on ``batch = (x, y)``.

    ``model(x)`` must return **logits**, ``[batch, num_classes]``: unbounded
    scores, not probabilities and not squashed by ``tanh``.

    Returns:
      ``{"loss": scalar, "accuracy": scalar}``, for :func:`vaelib.fit`.
    """
    x, y = batch
    logits = model(x)
    y = tf.cast(y, tf.int32)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    correct = tf.cast(tf.argmax(logits, axis=-1, output_type=tf.int32) == y, tf.float32)
    return {"loss": loss, "accuracy": tf.reduce_mean(correct)}


def evaluate_classifier(model: tf.Module, x: np.ndarray, y: np.ndarray, *, prefix: str = "test",
                        batch_size: int = 1000) -> dict[str, float]:
    """Loss and accuracy over a whole array, in batches.

    Args:
      model: returns logits.
      x: ``[N, d]`` float inputs.
      y: ``[N]`` integer labels.
      prefix: names the metrics ``f"{prefix}_loss"`` and ``f"{prefix}_accuracy"``.
      batch_size: examples per forward pass.

    Returns:
      Example-weighted means over all ``N`` examples.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    totals = {"loss": 0.0, "accuracy": 0.0}
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        for k, v in classification_loss(model, (xb, yb)).items():
            totals[k] += float(v) * len(xb)
    return {f"{prefix}_{k}": v / len(x) for k, v in totals.items()}
