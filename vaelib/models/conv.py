"""A convolutional encoder and decoder (chapter 11), as in TensorFlow's CVAE tutorial.

* :class:`ConvEncoder`: ``x`` ``[batch, 784]`` -> 28x28x1 -> conv 3x3 stride 2 (32) ->
  conv 3x3 stride 2 (64) -> flatten (7*7*64) -> dense to ``(q_mu, q_logvar)``.
* :class:`ConvDecoder`: ``z`` -> dense 7*7*32 -> transposed conv 3x3 stride 2 (64) ->
  transposed conv 3x3 stride 2 (32) -> transposed conv 3x3 stride 1 (``num_params``
  channels) -> ``x_params`` ``[..., num_params * 784]``, block ``i`` being channel ``i``.

They take and return what :class:`vaelib.Encoder` and :class:`vaelib.Decoder` do, so
:class:`vaelib.VAE` (given a :class:`ConvVAEConfig`), the bounds, ``fit`` and the
evaluation work unchanged. Hidden units are ReLU (as the tutorial); weights
Glorot-uniform from stateless seeds, biases 0. Padding is ``"SAME"`` throughout.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from vaelib import validation
from vaelib.models.mlp import Dense


def check_latent(z, latent_size: int) -> tf.Tensor:
    """``z`` as float32, checked to have ``latent_size`` on its last axis (the input of
    both decoders, this module's and :class:`vaelib.Decoder`).

    Raises:
      ValueError: the last axis of ``z`` is known and is not ``latent_size``.
    """
    z = tf.convert_to_tensor(z, tf.float32)
    if z.shape.rank is not None and z.shape[-1] is not None and z.shape[-1] != latent_size:
        raise ValueError(
            f"z must have latent_size={latent_size} on its last axis, got shape {z.shape}"
        )
    return z


__all__ = ["ConvVAEConfig", "ConvEncoder", "ConvDecoder"]


@dataclasses.dataclass(frozen=True)
class ConvVAEConfig:
    """Sizes of a convolutional VAE on 28x28 single-channel images.

    Attributes:
      channels: the two convolutions' channels, encoder order (the decoder mirrors them).
      latent_size: dimension of ``z``.
      seed: initialization seed.
    """

    channels: tuple[int, int] = (32, 64)
    latent_size: int = 10
    seed: int = 0
    input_size: int = dataclasses.field(default=784, init=False)  # read by VAE.check_input

    def __post_init__(self):
        # vaelib.validation's rules; NumPy integers (and a list) are stored as Python ints (a tuple)
        def set_field(field, value):
            return object.__setattr__(self, field, value)

        set_field("channels", validation.integers("channels", self.channels, length=2))
        set_field("latent_size", validation.positive_int("latent_size", self.latent_size))
        object.__setattr__(self, "seed", validation.integer("seed", self.seed))

    def describe(self) -> str:
        """One line, as :func:`vaelib.describe_architecture` gives for an MLP's config."""
        c1, c2 = self.channels
        return (
            f"encoder conv 3x3/2 {c1} - conv 3x3/2 {c2} - dense -> 2x{self.latent_size} "
            f"(q_mu, q_logvar), decoder dense 7x7x{c1} - deconv 3x3/2 {c2} - deconv 3x3/2 {c1} "
            f"- deconv 3x3/1 (likelihood parameters), relu"
        )


def _glorot(shape, fan_in: int, fan_out: int, seed: tuple[int, int]) -> tf.Tensor:
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return tf.random.stateless_uniform(shape, seed=seed, minval=-limit, maxval=limit)


class Conv(tf.Module):
    """A 3x3 convolution (or transposed convolution), ``SAME`` padding, optional ReLU.

    Args:
      in_channels, out_channels: channels of the input and output.
      stride: 1 or 2.
      transpose: a transposed convolution (upsamples by ``stride``).
      relu: apply ReLU.
      seed: initialization seed.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        *,
        transpose: bool = False,
        relu: bool = True,
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.stride, self.transpose, self.relu = stride, transpose, relu
        self.out_channels = out_channels
        # conv2d filters are [h, w, in, out]; conv2d_transpose's are [h, w, out, in]
        shape = (
            (3, 3, out_channels, in_channels) if transpose else (3, 3, in_channels, out_channels)
        )
        with self.name_scope:
            self.w = tf.Variable(
                _glorot(shape, 9 * in_channels, 9 * out_channels, (seed, 1)), name="w"
            )
            self.b = tf.Variable(tf.zeros([out_channels]), name="b")

    @tf.Module.with_name_scope
    def __call__(self, h: tf.Tensor) -> tf.Tensor:
        """``[n, H, W, in]`` -> ``[n, H * s, W * s, out]`` (transposed) or
        ``[n, H / s, W / s, out]``."""
        if self.transpose:
            shape = tf.shape(h)
            out_shape = tf.stack(
                [shape[0], shape[1] * self.stride, shape[2] * self.stride, self.out_channels]
            )
            y = tf.nn.conv2d_transpose(h, self.w, out_shape, self.stride, padding="SAME")
        else:
            y = tf.nn.conv2d(h, self.w, self.stride, padding="SAME")
        y = y + self.b
        return tf.nn.relu(y) if self.relu else y


class ConvEncoder(tf.Module):
    """q(z|x) with a convolutional network; same interface as :class:`vaelib.Encoder`."""

    def __init__(self, config: ConvVAEConfig, name: str | None = None):
        super().__init__(name=name)
        self.config = config
        c1, c2 = config.channels
        with self.name_scope:
            self.conv1 = Conv(1, c1, 2, seed=config.seed, name="conv1")
            self.conv2 = Conv(c1, c2, 2, seed=config.seed + 1, name="conv2")
            self.dense = Dense(
                7 * 7 * c2, 2 * config.latent_size, seed=config.seed + 2, name="dense"
            )

    @tf.Module.with_name_scope
    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Maps ``x`` ``[batch, 784]`` to ``(q_mu, q_logvar)``, each ``[batch, latent_size]``."""
        h = tf.reshape(tf.convert_to_tensor(x, tf.float32), [-1, 28, 28, 1])
        h = self.conv2(self.conv1(h))  # [batch, 7, 7, c2]
        q_mu, q_logvar = tf.split(
            self.dense(tf.reshape(h, [-1, 7 * 7 * self.config.channels[1]])), 2, axis=-1
        )
        return q_mu, q_logvar


class ConvDecoder(tf.Module):
    """p(x|z) with transposed convolutions; same interface as :class:`vaelib.Decoder`.

    Args:
      config: sizes.
      num_params: parameter blocks per pixel (the likelihood's ``num_params``).
    """

    def __init__(self, config: ConvVAEConfig, num_params: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.config, self.num_params = config, num_params
        c1, c2 = config.channels
        with self.name_scope:
            self.dense = Dense(
                config.latent_size, 7 * 7 * c1, tf.nn.relu, seed=config.seed + 100, name="dense"
            )
            self.deconv1 = Conv(c1, c2, 2, transpose=True, seed=config.seed + 101, name="deconv1")
            self.deconv2 = Conv(c2, c1, 2, transpose=True, seed=config.seed + 102, name="deconv2")
            self.out = Conv(
                c1, num_params, 1, transpose=True, relu=False, seed=config.seed + 103, name="out"
            )

    @tf.Module.with_name_scope
    def __call__(self, z: tf.Tensor) -> tf.Tensor:
        """Maps ``z`` ``[..., latent_size]`` to ``x_params`` ``[..., num_params * 784]``.

        Raises:
          ValueError: the last axis of ``z`` is not ``latent_size``.
        """
        z = check_latent(z, self.config.latent_size)
        lead = tf.shape(z)[:-1]
        h = tf.reshape(
            self.dense(tf.reshape(z, [-1, self.config.latent_size])),
            [-1, 7, 7, self.config.channels[0]],
        )
        h = self.out(self.deconv2(self.deconv1(h)))  # [n, 28, 28, num_params]
        h = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [-1, self.num_params * 784])
        return tf.reshape(h, tf.concat([lead, [self.num_params * 784]], axis=0))
