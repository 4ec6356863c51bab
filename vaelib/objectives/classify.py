"""Classification loss and metrics for chapter 3's MLP."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vaelib import validation

__all__ = ["classification_loss", "evaluate_classifier"]


def classification_loss(model: tf.Module, batch) -> dict[str, tf.Tensor]:
    """Mean softmax cross-entropy and accuracy of ``model`` on ``batch = (x, y)``.

    ``model(x)`` must return **logits**, ``[batch, num_classes]``: unbounded
    scores, not probabilities and not squashed by ``tanh``.

    Returns:
      ``{"loss": scalar, "accuracy": scalar}``, for :func:`vaelib.fit`.

    Raises:
      TypeError: ``batch`` is not a pair ``(x, y)``, or ``y`` is not integer.
      ValueError: called eagerly on an empty batch (its mean is undefined).
    """
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(
            f"classification_loss takes batches (x, y), got {type(batch).__name__}"
            + (f" of {len(batch)}" if isinstance(batch, (tuple, list)) else "")
            + "; make the dataset with labels"
        )
    x, y = batch
    dtype = getattr(y, "dtype", None)
    dtype = np.asarray(y).dtype if dtype is None else dtype
    if not tf.as_dtype(dtype).is_integer:
        raise TypeError(
            f"labels y must be integer class indices, got dtype {tf.as_dtype(dtype).name}"
        )
    if tf.executing_eagerly() and len(y) == 0:
        raise ValueError(
            "classification_loss got an empty batch (0 examples), whose mean is "
            "undefined; check how the dataset is batched"
        )
    logits = model(x)
    y = tf.cast(y, tf.int32)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    correct = tf.cast(tf.argmax(logits, axis=-1, output_type=tf.int32) == y, tf.float32)
    return {"loss": loss, "accuracy": tf.reduce_mean(correct)}


def _check_batch(model: tf.Module, batch) -> None:
    """What :func:`vaelib.fit` checks on the first batch, eagerly, before compiling the step."""
    classification_loss(model, batch)


classification_loss.check_batch = _check_batch


def evaluate_classifier(
    model: tf.Module, x: np.ndarray, y: np.ndarray, *, prefix: str = "test", batch_size: int = 1000
) -> dict[str, float]:
    """Loss and accuracy over a whole array, in batches.

    Args:
      model: returns logits.
      x: ``[N, d]`` float inputs.
      y: ``[N]`` integer labels.
      prefix: names the metrics ``f"{prefix}_loss"`` and ``f"{prefix}_accuracy"``.
      batch_size: examples per forward pass.

    Returns:
      Example-weighted means over all ``N`` examples.

    Raises:
      ValueError: no examples, ``x`` and ``y`` of different lengths, NaN in ``x``,
        or a ``batch_size`` that is not a positive int.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("x has no examples: the mean loss of an empty set is undefined")
    batch_size = validation.positive_int("batch_size", batch_size)
    if np.issubdtype(np.asarray(x).dtype, np.floating) and not np.isfinite(x).all():
        raise ValueError("x holds NaN or infinite values; clean the inputs")
    totals = {"loss": 0.0, "accuracy": 0.0}
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        for k, v in classification_loss(model, (xb, yb)).items():
            totals[k] += float(v) * len(xb)
    return {f"{prefix}_{k}": v / len(x) for k, v in totals.items()}
