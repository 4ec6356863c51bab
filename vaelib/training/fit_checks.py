"""What fit checks before its compiled step runs (chapter 6): its inputs, eagerly.

A compiled step cannot afford to check values, and an error from inside XLA names neither
the argument nor the fix. So :func:`vaelib.fit` checks here, in Python, before training:
the data is a dataset (or a function of the epoch returning one) of batched dense tensors;
its first batch is not empty, holds no NaN or infinity and passes the loss function's own
``check_batch``; ``evaluate`` returns named floats; the model's variables are finite.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping

import tensorflow as tf

from vaelib.training.step import LossFn


def _epochs_of(data) -> Callable[[int], tf.data.Dataset]:
    """``data`` as a function ``epoch -> dataset``, refusing other containers."""
    if isinstance(data, tf.data.Dataset):
        return lambda _: data
    if not callable(data):
        raise TypeError(
            "data must be a tf.data.Dataset (one epoch of batches) or a function epoch -> "
            f"dataset, got {type(data).__name__}; for arrays use vaelib.make_dataset(images, "
            "batch_size=..., binarization=...) or tf.data.Dataset.from_tensor_slices(x).batch(100)"
        )

    def make(epoch: int) -> tf.data.Dataset:
        dataset = data(epoch)
        if not isinstance(dataset, tf.data.Dataset):
            raise TypeError(
                f"data({epoch}) returned {type(dataset).__name__}, not a tf.data.Dataset"
            )
        return dataset

    return make


def _check_element_spec(spec) -> None:
    """Every component of a batch is a dense tensor with a batch axis."""
    for i, leaf in enumerate(tf.nest.flatten(spec)):
        if not isinstance(leaf, tf.TensorSpec):
            raise TypeError(f"data's batches must hold dense tensors; component {i} is {leaf}")
        if leaf.shape.rank == 0:
            raise ValueError(
                f"data's component {i} is a scalar {leaf}: the dataset is not batched; "
                "call .batch(batch_size) on it (vaelib.make_dataset batches already)"
            )


def _check_first_batch(batches, model: tf.Module, loss_fn: LossFn, strategy) -> Iterator:
    """Yields ``batches``, checking the first one before the compiled step sees it.

    A compiled step cannot afford to check values, so the first batch is
    checked here, eagerly: not empty, no NaN or infinity, and whatever the
    loss function's own ``check_batch(model, batch)`` checks (for
    :func:`vaelib.vae_loss`: pixels in [0, 1]).
    """
    iterator = iter(batches)
    try:
        first = next(iterator)
    except StopIteration:
        return
    local = strategy.experimental_local_results(first) if strategy is not None else (first,)
    for batch in local:
        for i, leaf in enumerate(tf.nest.flatten(batch)):
            if leaf.shape.rank and leaf.shape[0] == 0:
                raise ValueError(
                    f"data's first batch is empty (component {i} has shape {leaf.shape})"
                )
            if leaf.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(leaf))):
                raise ValueError(
                    f"data's first batch holds NaN or infinite values (component {i}); "
                    "clean the inputs before training"
                )
        check = getattr(loss_fn, "check_batch", None)
        if check is not None:
            check(model, batch)
    yield first
    yield from iterator


def _evaluated(result) -> dict[str, float]:
    if not isinstance(result, Mapping):
        raise TypeError(
            f"evaluate must return a dict of named floats, e.g. {{'test_elbo': -95.1}}, "
            f"got {type(result).__name__}"
        )
    return {k: float(v) for k, v in result.items()}


def _check_variables(model: tf.Module, where: str) -> None:
    for variable in model.trainable_variables:
        if not bool(tf.reduce_all(tf.math.is_finite(variable))):
            raise ValueError(
                f"variable {variable.name} of the model holds NaN or infinite values "
                f"{where}; rebuild the model (and lower the learning rate)"
            )
