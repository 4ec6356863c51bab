"""Normalizing flows for the encoder's q(z|x): planar flows and inverse autoregressive flow.

A flow pushes the encoder's Gaussian sample ``z_0`` through invertible maps
``z_K = f_K(... f_1(z_0))``; by the change of variables,

    log q_K(z_K | x) = log q_0(z_0 | x) - sum_k log |det d f_k / d z_{k-1}|,

so every layer returns its output and the log-determinant of its Jacobian, ``[batch]`` (or
``[..., batch]``), and the ELBO uses ``log q_K`` in place of the Gaussian's ``log q``.

* :class:`PlanarFlow` (Rezende & Mohamed 2015): ``f(z) = z + u_hat h(w^T z + b)`` with
  ``h = tanh``; ``det = 1 + u_hat^T h'(w^T z + b) w`` by the matrix determinant lemma. It is
  invertible when ``w^T u_hat >= -1``, which ``u_hat`` is made to satisfy (their appendix).
* :class:`MADE` (Germain et al. 2015): a dense network whose output ``i`` depends only on
  inputs before ``i`` in an ordering, by masking its weights.
* :class:`IAFLayer` (Kingma et al. 2016): ``f(z) = sigma * z + (1 - sigma) * m`` with
  ``(m, s) = MADE(z)`` and ``sigma = sigmoid(s)``, their numerically stable form; the Jacobian
  is triangular, so ``log |det| = sum_i log sigma_i``. Successive layers reverse the order.

Each layer is checked against a numerical Jacobian in ``tests/test_flows.py``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vaelib import validation

__all__ = ["PlanarFlow", "AmortizedPlanarFlow", "MADE", "IAFLayer", "Flow", "flow_log_det_check"]


class PlanarFlow(tf.Module):
    """``f(z) = z + u_hat tanh(w^T z + b)``, invertible, with its log-determinant.

    Args:
      latent_size: ``d``.
      seed: of the initial ``u`` and ``w`` (small normal draws; ``b = 0``).
    """

    def __init__(self, latent_size: int, seed: int = 0, name: str | None = None):
        super().__init__(name=name)
        latent_size = validation.positive_int("latent_size", latent_size)
        init = tf.random.stateless_normal([2, latent_size], seed=[seed, 0], stddev=0.1)
        self.u = tf.Variable(init[0], name="u")
        self.w = tf.Variable(init[1], name="w")
        self.b = tf.Variable(0.0, name="b")

    def u_hat(self) -> tf.Tensor:
        """``u`` moved along ``w`` so that ``w^T u_hat >= -1`` (Rezende & Mohamed, appendix A):
        ``u_hat = u + (m(w^T u) - w^T u) w / |w|^2`` with ``m(a) = -1 + softplus(a)``."""
        wu = tf.reduce_sum(self.w * self.u)
        return self.u + (-1.0 + tf.nn.softplus(wu) - wu) * self.w / tf.reduce_sum(self.w**2)

    def __call__(self, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``z`` ``[..., d]`` -> ``(f(z) [..., d], log |det df/dz| [...])``."""
        u_hat = self.u_hat()
        a = tf.reduce_sum(z * self.w, axis=-1) + self.b  # w^T z + b, [...]
        h = tf.tanh(a)
        out = z + h[..., None] * u_hat
        psi = (1.0 - h**2)[..., None] * self.w  # h'(a) w
        log_det = tf.math.log(tf.abs(1.0 + tf.reduce_sum(psi * u_hat, axis=-1)))
        return out, log_det


def _masks(latent_size: int, hidden_sizes: tuple[int, ...], order: np.ndarray, seed: int):
    """MADE's masks: hidden unit k gets a degree m(k) in [1, d-1]; a weight from unit k to
    unit l is kept when m(l) >= m(k) (hidden) or d(i) > m(k) (output i)."""
    rng = np.random.default_rng(seed)
    degrees = [np.argsort(order) + 1]  # input i's degree: 1 + its position in the order
    for size in hidden_sizes:
        low = int(min(degrees[-1].min(), latent_size - 1))
        degrees.append(rng.integers(low, latent_size, size=size))  # in [low, d-1]
    masks = [
        (degrees[i + 1][None, :] >= degrees[i][:, None]).astype(np.float32)
        for i in range(len(hidden_sizes))
    ]
    masks.append((degrees[0][None, :] > degrees[-1][:, None]).astype(np.float32))
    return masks


class MADE(tf.Module):
    """A masked dense network: output ``i`` (of each of ``num_outputs`` blocks) depends only on
    the inputs that come before ``i`` in ``order``.

    Args:
      latent_size: ``d``, inputs and outputs per block.
      hidden_sizes: hidden layers (ReLU).
      num_outputs: blocks of ``d`` outputs (2 for IAF's ``m`` and ``s``).
      order: a permutation of ``range(d)``, the dimensions in the order they are generated:
        output ``order[k]`` depends on inputs ``order[:k]`` (default: 0, 1, ...).
      seed: of the weights and the hidden units' degrees.
    """

    def __init__(
        self,
        latent_size: int,
        hidden_sizes: tuple[int, ...] = (64,),
        num_outputs: int = 2,
        order=None,
        seed: int = 0,
        context_size: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.latent_size = validation.positive_int("latent_size", latent_size)
        if self.latent_size < 2:
            raise ValueError("MADE needs latent_size >= 2 (one dimension has nothing before it)")
        order = np.arange(latent_size) if order is None else np.asarray(order)
        if sorted(order.tolist()) != list(range(latent_size)):
            raise ValueError(f"order must be a permutation of range({latent_size}), got {order}")
        self.order = order
        self.num_outputs = validation.positive_int("num_outputs", num_outputs)
        masks = _masks(latent_size, tuple(hidden_sizes), order, seed)
        sizes = [latent_size, *hidden_sizes]
        self.weights, self.biases, self.masks = [], [], []
        for i, mask in enumerate(masks):
            fan_in = sizes[i]
            fan_out = mask.shape[1]
            if i == len(masks) - 1:  # the output layer, one copy of the mask per block
                mask = np.tile(mask, (1, num_outputs))
                fan_out = mask.shape[1]
            w = tf.random.stateless_normal(
                [fan_in, fan_out], seed=[seed, i + 1], stddev=float(np.sqrt(1.0 / fan_in))
            )
            self.weights.append(tf.Variable(w, name=f"w{i}"))
            self.biases.append(tf.Variable(tf.zeros([fan_out]), name=f"b{i}"))
            self.masks.append(tf.constant(mask))
        # a context h (the encoder's view of x) enters the first layer unmasked: every unit
        # may depend on x without breaking the order among the z's
        self.context_size = validation.integer("context_size", context_size, minimum=0)
        self.context_weight = None
        if self.context_size:
            first = self.weights[0].shape[1]
            std = float(np.sqrt(1.0 / self.context_size))
            init = tf.random.stateless_normal([self.context_size, first], [seed, 99], stddev=std)
            self.context_weight = tf.Variable(init, name="context_w")

    def __call__(self, z: tf.Tensor, context: tf.Tensor | None = None) -> list[tf.Tensor]:
        """``z`` ``[..., d]`` (and ``context`` ``[..., context_size]`` if the MADE takes one)
        -> ``num_outputs`` tensors ``[..., d]``."""
        if (context is None) != (self.context_weight is None):
            raise ValueError(
                f"this MADE takes a context of size {self.context_size}, got "
                f"{'none' if context is None else 'one'}"
            )
        h = z
        last = len(self.weights) - 1
        for i, (w, b, mask) in enumerate(zip(self.weights, self.biases, self.masks, strict=True)):
            h = tf.einsum("...i,ij->...j", h, w * mask) + b
            if i == 0 and context is not None:
                h += tf.einsum("...i,ij->...j", context, self.context_weight)
            if i < last:
                h = tf.nn.relu(h)
        return tf.split(h, self.num_outputs, axis=-1)


class IAFLayer(tf.Module):
    """``f(z) = sigma * z + (1 - sigma) * m``, ``(m, s) = MADE(z)``, ``sigma = sigmoid(s)``.

    ``sigma`` starts near ``sigmoid(forget_bias)`` (Kingma et al. use a bias that keeps the first
    updates close to the identity). ``log |det| = sum_i log sigma_i``.
    """

    def __init__(
        self,
        latent_size: int,
        hidden_sizes: tuple[int, ...] = (64,),
        order=None,
        forget_bias: float = 2.0,
        seed: int = 0,
        context_size: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.made = MADE(latent_size, hidden_sizes, 2, order, seed, context_size)
        self.forget_bias = validation.real("forget_bias", forget_bias)

    def __call__(self, z: tf.Tensor, context: tf.Tensor | None = None):
        """``(f(z), log |det|)``; ``context`` if the layer was built with a ``context_size``."""
        m, s = self.made(z, context)
        log_sigma = tf.math.log_sigmoid(s + self.forget_bias)
        sigma = tf.exp(log_sigma)
        return sigma * z + (1.0 - sigma) * m, tf.reduce_sum(log_sigma, axis=-1)


class AmortizedPlanarFlow(tf.Module):
    """A planar flow whose ``u``, ``w`` and ``b`` are linear functions of a context ``h`` (the
    encoder's view of ``x``), as Rezende & Mohamed amortize them: one map per image.

    Args:
      latent_size: ``d``.
      context_size: the size of ``h``.
      seed: of the initial map (small weights, so the flow starts near the identity).
    """

    def __init__(self, latent_size: int, context_size: int, seed: int = 0, name: str | None = None):
        super().__init__(name=name)
        d = validation.positive_int("latent_size", latent_size)
        c = validation.positive_int("context_size", context_size)
        init = tf.random.stateless_normal([c, 2 * d + 1], seed=[seed, 0], stddev=0.01)
        self.map = tf.Variable(init, name="map")
        bias = tf.concat([tf.zeros([d]), tf.fill([d], 0.1), [0.0]], axis=0)  # u, w, b
        self.bias = tf.Variable(bias, name="bias")
        self.latent_size = d

    def __call__(self, z: tf.Tensor, context: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``z`` ``[..., batch, d]``, ``context`` ``[batch, context_size]``."""
        d = self.latent_size
        params = tf.matmul(context, self.map) + self.bias  # [batch, 2d + 1]
        u, w, b = params[:, :d], params[:, d : 2 * d], params[:, 2 * d]
        wu = tf.reduce_sum(w * u, axis=-1, keepdims=True)
        u_hat = u + (-1.0 + tf.nn.softplus(wu) - wu) * w / tf.reduce_sum(w**2, -1, keepdims=True)
        h = tf.tanh(tf.reduce_sum(z * w, axis=-1) + b)  # broadcasts over leading sample axes
        out = z + h[..., None] * u_hat
        psi = (1.0 - h**2)[..., None] * w
        log_det = tf.math.log(tf.abs(1.0 + tf.reduce_sum(psi * u_hat, axis=-1)))
        return out, log_det


class Flow(tf.Module):
    """Layers applied in turn; returns the output and the summed log-determinant.

    ``Flow.iaf(d, num_layers)`` stacks IAF layers whose orders alternate (forward, reversed);
    ``Flow.planar(d, num_layers)`` stacks planar layers. With ``context_size``, the layers take
    a context (amortized planar layers; IAF layers whose MADE sees it).
    """

    def __init__(self, layers, name: str | None = None):
        super().__init__(name=name)
        if not layers:
            raise ValueError("a Flow needs at least one layer")
        self.layers = list(layers)

    @classmethod
    def iaf(
        cls,
        latent_size: int,
        num_layers: int = 2,
        hidden_sizes=(64,),
        seed: int = 0,
        context_size: int = 0,
    ):
        num_layers = validation.positive_int("num_layers", num_layers)
        orders = [np.arange(latent_size), np.arange(latent_size)[::-1]]
        return cls(
            [
                IAFLayer(
                    latent_size,
                    hidden_sizes,
                    orders[k % 2],
                    seed=seed + k,
                    context_size=context_size,
                )
                for k in range(num_layers)
            ]
        )

    @classmethod
    def planar(cls, latent_size: int, num_layers: int = 4, seed: int = 0, context_size: int = 0):
        num_layers = validation.positive_int("num_layers", num_layers)
        if context_size:
            return cls(
                [
                    AmortizedPlanarFlow(latent_size, context_size, seed + k)
                    for k in range(num_layers)
                ]
            )
        return cls([PlanarFlow(latent_size, seed + k) for k in range(num_layers)])

    def __call__(self, z: tf.Tensor, context: tf.Tensor | None = None):
        """``(z_K, sum_k log |det|)``; ``context`` goes to the layers that take one."""
        log_det = tf.zeros(tf.shape(z)[:-1], z.dtype)
        for layer in self.layers:
            takes = isinstance(layer, AmortizedPlanarFlow) or (
                isinstance(layer, IAFLayer) and layer.made.context_size > 0
            )
            z, step = layer(z, context) if takes else layer(z)
            log_det += step
        return z, log_det


def flow_log_det_check(layer, z: tf.Tensor, context: tf.Tensor | None = None):
    """``(log |det|`` the layer returns, ``log |det|`` of its Jacobian in ``z`` by automatic
    differentiation and ``slogdet``), for ``z`` ``[batch, d]``: what the tests compare."""
    with tf.GradientTape() as tape:
        tape.watch(z)
        out, log_det = layer(z) if context is None else layer(z, context)
    jacobian = tape.batch_jacobian(out, z)  # [batch, d, d]
    _, numeric = np.linalg.slogdet(jacobian.numpy().astype(np.float64))
    return log_det.numpy(), numeric
