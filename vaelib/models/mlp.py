"""Dense layers and the multilayer perceptron (chapter 3), in the ``tf.Module`` style.

The TF1 notes built layers as functions that returned ``(output, [W, b])`` and
kept the variables in Python lists. Here a layer is a ``tf.Module``: it owns
its variables (``module.trainable_variables`` finds them, checkpoints save them)
and its forward pass is ``__call__``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from vaelib import validation

__all__ = ["Dense", "MLP"]

Activation = Callable[[tf.Tensor], tf.Tensor]


def _glorot_uniform(shape: tuple[int, int], seed: tuple[int, int]) -> tf.Tensor:
    limit = (6.0 / (shape[0] + shape[1])) ** 0.5
    return tf.random.stateless_uniform(shape, seed=seed, minval=-limit, maxval=limit)


class Dense(tf.Module):
    """An affine map followed by an optional nonlinearity: ``activation(x @ w + b)``.

    Args:
      input_size: size of the last axis of the input.
      output_size: size of the last axis of the output.
      activation: elementwise nonlinearity, or ``None`` for a linear layer
        (use ``None`` for a readout that produces logits).
      seed: seed of the Glorot-uniform initial weights (biases start at 0).
      name: module name, also the variables' name scope.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        activation: Activation | None = None,
        *,
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        input_size = validation.positive_int("input_size", input_size)
        output_size = validation.positive_int("output_size", output_size)
        seed = validation.integer("seed", seed)
        if activation is not None and not callable(activation):
            raise TypeError(
                f"activation must be a function such as tf.nn.relu, or None, got {activation!r}"
            )
        self.input_size, self.output_size, self.activation = input_size, output_size, activation
        with self.name_scope:
            self.w = tf.Variable(_glorot_uniform((input_size, output_size), (seed, 0)), name="w")
            self.b = tf.Variable(tf.zeros([output_size]), name="b")

    @tf.Module.with_name_scope
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Maps ``[..., input_size]`` to ``[..., output_size]``."""
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape.rank is not None and x.shape.rank < 2:
            raise ValueError(
                f"{self.name}: expected inputs [batch, {self.input_size}] (a batch axis "
                f"first), got shape {x.shape}"
            )
        if x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self.name}: expected inputs of size {self.input_size} on the last "
                f"axis, got shape {x.shape}"
            )
        y = (
            x @ self.w + self.b
        )  # matmul broadcasts over leading axes, e.g. [num_samples, batch, ...]
        return y if self.activation is None else self.activation(y)


class MLP(tf.Module):
    """A stack of :class:`Dense` layers; hidden layers share one activation.

    Args:
      sizes: ``[input_size, hidden_1, ..., output_size]``, at least two entries.
      activation: nonlinearity of the hidden layers.
      output_activation: nonlinearity of the last layer; ``None`` (the default)
        returns logits. The TF1 notes put ``tanh`` here and then fed the result
        to a softmax cross-entropy as if it were logits (chapter 3).
      seed: layer ``i`` is initialized with seed ``seed + i``.
      name: module name.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Activation = tf.nn.relu,
        output_activation: Activation | None = None,
        *,
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(
                f"sizes must be a list [input_size, hidden_1, ..., output_size], got {sizes!r}"
            )
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {sizes}")
        self.sizes = sizes
        with self.name_scope:
            self.layers = [
                Dense(
                    n_in,
                    n_out,
                    activation if i < len(sizes) - 2 else output_activation,
                    seed=seed + i,
                    name=f"dense_{i}",
                )
                for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False))
            ]

    @tf.Module.with_name_scope
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Maps ``[batch, sizes[0]]`` to ``[batch, sizes[-1]]``."""
        for layer in self.layers:
            x = layer(x)
        return x
