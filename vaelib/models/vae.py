"""The variational autoencoder's modules (chapter 6): Encoder, Decoder, VAE.

(Over 300 lines because the VAE is read as one unit in chapter 6: its configuration, the
encoder, the decoder and the model that joins them through the reparameterization trick
refer to one another on every page; split, a reader would hop between four files.)

* :class:`Encoder` maps ``x`` to the Gaussian q(z|x): ``(q_mu, q_logvar)``.
* :class:`Decoder` maps ``z`` to the parameters of p(x|z): for the default
  Bernoulli likelihood, its logits ``x_logits``.
* :class:`VAE` holds both and a likelihood (:mod:`vaelib.likelihoods`, Bernoulli
  by default), draws ``z`` with the reparameterization trick and returns the
  per-sample log-densities that every bound in :mod:`vaelib.bounds` is built from.
  Given a :class:`vaelib.conv.ConvVAEConfig` it builds the convolutional encoder
  and decoder of chapter 11 instead of MLPs.

The default :class:`VAEConfig` is *the course's VAE, adapted from the notes*:
encoder 784-500-500 then a linear layer to ``(q_mu, q_logvar)``, a 10-dimensional
latent space, decoder 10-500-500-784 giving logits (trained with Adam at 1e-3 on
batches of 100, as the notes did). It differs from the notes' own model in four
ways, stated once here and in chapter 6:

* the notes' encoder has a third layer of 500 units (their ``_mlp`` ends in a
  500-unit "readout" with the same nonlinearity), so it is 784-500-500-500;
* the notes use sigmoid units; the default here is tanh (as Kingma & Welling
  2013 and Burda et al. 2015);
* the notes' decoder ends in a sigmoid and takes ``log(1e-10 + p)``; here it
  returns logits and the likelihood is computed from them (stable, exact);
* the notes initialize their MLP layers from a truncated N(0, 0.001^2) with
  biases 0.1 (and the ``q_mu``/``q_logvar`` layers from a truncated N(0, 0.1^2));
  here every layer has Glorot-uniform weights and zero biases.

Chapter 8 builds the notes' layers and sigmoid units (with this module's
initialization and logits); ``benchmarks/train_step.py`` runs the notes' exact
TF1 graph through ``tf.compat.v1``.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from vaelib import validation
from vaelib.models.conv import ConvDecoder, ConvEncoder, ConvVAEConfig, check_latent
from vaelib.models.distributions import normal_log_prob_from_eps, std_normal_log_prob
from vaelib.models.likelihoods import Likelihood, get_likelihood
from vaelib.models.mlp import MLP

__all__ = ["VAEConfig", "Encoder", "Decoder", "VAE", "reparameterize"]

ACTIVATIONS = {
    "tanh": tf.tanh,
    "relu": tf.nn.relu,
    "softplus": tf.nn.softplus,
    "sigmoid": tf.sigmoid,
}


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """Sizes of a VAE.

    Attributes:
      input_size: pixels per image (784 for MNIST).
      hidden_sizes: hidden layer sizes of the encoder.
      latent_size: dimension of ``z``.
      decoder_hidden_sizes: hidden layer sizes of the decoder, from ``z`` up;
        ``None`` mirrors the encoder's.
      activation: ``"tanh"`` (as in Kingma & Welling 2013 and Burda et al. 2015),
        ``"relu"``, ``"softplus"`` or ``"sigmoid"`` (the notes').
      seed: initialization seed.
    """

    input_size: int = 784
    hidden_sizes: tuple[int, ...] = (500, 500)
    latent_size: int = 10
    decoder_hidden_sizes: tuple[int, ...] | None = None
    activation: str = "tanh"
    seed: int = 0

    def __post_init__(self):
        # vaelib.validation's rules; NumPy integers are stored as Python ints (and a list as a
        # tuple), so the configuration and its checkpoint fingerprint are those of plain ints
        def set_field(field, value):
            return object.__setattr__(self, field, value)

        for field in ("input_size", "latent_size"):
            set_field(field, validation.positive_int(field, getattr(self, field)))
        set_field("hidden_sizes", validation.integers("hidden_sizes", self.hidden_sizes))
        if self.decoder_hidden_sizes is not None:
            set_field(
                "decoder_hidden_sizes",
                validation.integers("decoder_hidden_sizes", self.decoder_hidden_sizes),
            )
        set_field("seed", validation.integer("seed", self.seed))
        validation.text("activation", self.activation, choices=sorted(ACTIVATIONS))


def reparameterize(q_mu: tf.Tensor, q_logvar: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """``z = q_mu + exp(q_logvar / 2) * eps``: a sample of q(z|x) that is differentiable
    in ``q_mu`` and ``q_logvar`` (chapter 5). ``eps`` ~ N(0, I) broadcasts against them."""
    return q_mu + tf.exp(0.5 * q_logvar) * eps


class Encoder(tf.Module):
    """The inference network q_phi(z|x) = N(q_mu(x), diag(exp(q_logvar(x)))).

    Args:
      config: sizes.
      name: module name.
    """

    def __init__(self, config: VAEConfig, name: str | None = None):
        super().__init__(name=name)
        self.config = config
        with self.name_scope:
            self.net = MLP(
                [config.input_size, *config.hidden_sizes, 2 * config.latent_size],
                activation=ACTIVATIONS[config.activation],
                seed=config.seed,
                name="mlp",
            )

    @tf.Module.with_name_scope
    def __call__(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Maps ``x`` ``[batch, input_size]`` to ``(q_mu, q_logvar)``, each
        ``[batch, latent_size]``."""
        q_mu, q_logvar = tf.split(self.net(x), 2, axis=-1)
        return q_mu, q_logvar


class Decoder(tf.Module):
    """The generative network: ``z`` to the parameters of p_theta(x|z); for the
    default Bernoulli likelihood, p_theta(x|z) = Bernoulli(sigmoid(x_logits(z))).

    Args:
      config: sizes; by default the hidden layers are the encoder's, reversed.
      num_params: parameter blocks per pixel (the likelihood's ``num_params``): the
        last layer has ``num_params * input_size`` outputs.
      name: module name.
    """

    def __init__(self, config: VAEConfig, num_params: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.config, self.num_params = config, num_params
        with self.name_scope:
            hidden = (
                config.decoder_hidden_sizes
                if config.decoder_hidden_sizes is not None
                else tuple(reversed(config.hidden_sizes))
            )
            self.net = MLP(
                [config.latent_size, *hidden, num_params * config.input_size],
                activation=ACTIVATIONS[config.activation],
                seed=config.seed + 100,
                name="mlp",
            )

    @tf.Module.with_name_scope
    def __call__(self, z: tf.Tensor) -> tf.Tensor:
        """Maps ``z`` ``[..., latent_size]`` to ``x_params`` ``[..., num_params * input_size]``
        (``x_logits`` ``[..., input_size]`` for the Bernoulli).

        Raises:
          ValueError: the last axis of ``z`` is not ``latent_size``.
        """
        z = check_latent(z, self.config.latent_size)
        return self.net(z)


class VAE(tf.Module):
    """Encoder and decoder, with the standard normal prior p(z) = N(0, I).

    Args:
      config: sizes (default: the course's VAE, adapted from the notes; see the module
        docstring for how it differs from the notes' own). A
        :class:`vaelib.conv.ConvVAEConfig` builds the convolutional encoder and decoder.
      likelihood: p(x|z), a :class:`vaelib.likelihoods.Likelihood` or its name
        (``"bernoulli"``, the default and the model of chapters 6-9;
        ``"continuous_bernoulli"``, ``"gaussian"``, ``"discretized_logistic"``).
        The decoder outputs its ``num_params`` parameter blocks per pixel.
      name: module name.
    """

    def __init__(
        self,
        config: VAEConfig | ConvVAEConfig = VAEConfig(),
        likelihood: str | Likelihood = "bernoulli",
        name: str | None = None,
    ):
        super().__init__(name=name)
        if not isinstance(config, (VAEConfig, ConvVAEConfig)):
            raise TypeError(
                f"config must be a vaelib.VAEConfig or vaelib.conv.ConvVAEConfig, "
                f"got {type(config).__name__}"
            )
        self.config = config
        # a frozen dataclass, not a tf.Module: no variables, nothing added to checkpoints
        self.likelihood = get_likelihood(likelihood)
        with self.name_scope:
            if isinstance(config, ConvVAEConfig):
                self.encoder = ConvEncoder(config, name="encoder")
                self.decoder = ConvDecoder(config, self.likelihood.num_params, name="decoder")
            else:
                self.encoder = Encoder(config, name="encoder")
                self.decoder = Decoder(config, self.likelihood.num_params, name="decoder")
            # The model owns its noise: the generator's state is a variable, so a
            # checkpoint saves it (a resumed run draws the same eps as an
            # uninterrupted one) and XLA-compiled steps draw reproducibly.
            self.noise = tf.random.Generator.from_seed(config.seed)

    def check_input(self, x) -> tf.Tensor:
        """Converts ``x`` to float32 (NumPy arrays and tensors of any float dtype; a float32
        tensor is passed through, so a compiled step gains no op) and checks it: shape
        ``[batch, input_size]``, a float dtype and, when running eagerly, finite values in
        the likelihood's support ([0, 1] for the Bernoulli and the continuous Bernoulli;
        levels ``v / 255`` for the discretized logistic; any real for the Gaussian). In a
        compiled step only the structure, dtype and shape are checked; :func:`vaelib.fit`
        checks the values of the first batch before.

        Raises:
          TypeError: a tuple such as a labelled batch ``(x, y)``; a ``tf.data.Dataset``
            (pass a fixed array of its examples); integer pixels (0..255), which must be
            binarized (or scaled) first.
          ValueError: wrong rank or width, NaN or infinite values, or values outside
            the likelihood's support.
        """
        if isinstance(x, (tuple, dict)):
            raise TypeError(
                f"x must be one tensor of pixels, got a {type(x).__name__} of {len(x)}: "
                "a labelled batch (x, y) needs its labels dropped first, e.g. "
                "dataset.map(lambda x, y: x), or vaelib.make_dataset without labels"
            )
        validation.examples("x", x)  # not a tf.data.Dataset: say what to pass
        dtype = getattr(x, "dtype", None)
        if dtype is not None and not tf.as_dtype(dtype).is_floating:
            raise TypeError(
                f"x must hold float pixels in [0, 1], got dtype {tf.as_dtype(dtype).name}; "
                "convert images with vaelib.binarize(images, 'fixed' | 'threshold')"
            )
        if isinstance(x, (tf.Tensor, tf.Variable)) and x.dtype != tf.float32:
            x = tf.cast(x, tf.float32)  # float64 or float16 tensors, as NumPy arrays are converted
        try:
            x = tf.convert_to_tensor(x, tf.float32)
        except (TypeError, ValueError) as error:  # strings, ragged lists, objects
            raise TypeError(
                f"x must be an array or tensor [batch, {self.config.input_size}] of "
                f"float pixels, got {type(x).__name__} {str(x)[:60]!r}"
            ) from error
        if x.shape.rank != 2 or (x.shape[-1] is not None and x.shape[-1] != self.config.input_size):
            raise ValueError(f"x must have shape [batch, {self.config.input_size}], got {x.shape}")
        if tf.executing_eagerly() and tf.size(x) > 0:
            if not bool(tf.reduce_all(tf.math.is_finite(x))):
                bad = int(tf.where(~tf.reduce_all(tf.math.is_finite(x), axis=1))[0, 0])
                raise ValueError(
                    f"x holds NaN or infinite pixels (first in example {bad}); "
                    "clean or re-binarize the images"
                )
            self.likelihood.check_values(x)
        return x

    def log_weights(
        self, x: tf.Tensor, num_samples: int = 1, seed: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """Draws ``num_samples`` codes per example and scores them.

        Args:
          x: ``[batch, input_size]`` pixels (binary, for the default Bernoulli).
          num_samples: codes per example, ``k``.
          seed: optional ``[2]`` int seed for stateless noise; by default the
            model's own generator ``self.noise`` draws it.

        Returns:
          A dict with ``q_mu``, ``q_logvar`` (``[batch, latent]``), ``eps``, ``z``
          (``[num_samples, batch, latent]``), ``x_logits`` (the decoder's output, the
          likelihood's parameters: ``[num_samples, batch, num_params * input_size]``;
          logits for the Bernoulli) and ``log_px_z``, ``log_pz``, ``log_qz_x``
          (``[num_samples, batch]``, nats).
        """
        x = self.check_input(x)
        q_mu, q_logvar = self.encoder(x)
        shape = tf.concat([[num_samples], tf.shape(q_mu)], axis=0)  # the batch's own size
        eps = (
            self.noise.normal(shape)
            if seed is None
            else tf.random.stateless_normal(shape, seed=seed)
        )
        z = reparameterize(q_mu, q_logvar, eps)
        x_logits = self.decoder(z)
        return {
            "q_mu": q_mu,
            "q_logvar": q_logvar,
            "eps": eps,
            "z": z,
            "x_logits": x_logits,
            "log_px_z": self.likelihood.log_prob(x, x_logits),
            "log_pz": std_normal_log_prob(z),
            # from eps, not z - q_mu: exact even when q_logvar is very negative
            "log_qz_x": normal_log_prob_from_eps(eps, q_logvar),
        }

    def log_px_z(self, x: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """log p(x|z), per example, in nats, summed over pixels, under the model's likelihood.

        Args:
          x: ``[batch, input_size]`` pixels (not checked here: see :meth:`check_input`).
          z: ``[..., batch, latent_size]`` codes.

        Returns:
          ``[..., batch]``.
        """
        return self.likelihood.log_prob(x, self.decoder(z))

    def _decode(self, z: tf.Tensor, mean: bool, seed: int) -> tf.Tensor:
        x_params = self.decoder(z)
        return (
            self.likelihood.mean(x_params) if mean else self.likelihood.sample(x_params, [seed, 1])
        )

    def sample(self, num: int, seed: int = 0, *, mean: bool = True) -> tf.Tensor:
        """Images decoded from ``num`` prior samples ``z ~ N(0, I)``, ``[num, input_size]``.

        With ``mean`` (the default) each image is the likelihood's mean E[x|z] (pixel
        probabilities, for the Bernoulli); otherwise one draw x ~ p(x|z).
        """
        num, seed = validation.positive_int("num", num), validation.integer("seed", seed)
        mean = validation.flag("mean", mean)
        z = tf.random.stateless_normal([num, self.config.latent_size], seed=[seed, 0])
        return self._decode(z, mean, seed)

    def reconstruct(self, x: tf.Tensor, *, mean: bool = True, seed: int = 0) -> tf.Tensor:
        """Images decoded from the encoder's mean ``q_mu``, ``[batch, input_size]``: the
        likelihood's mean E[x|z] (pixel probabilities, for the Bernoulli), or with
        ``mean=False`` one draw x ~ p(x|z)."""
        seed, mean = validation.integer("seed", seed), validation.flag("mean", mean)
        q_mu, _ = self.encoder(self.check_input(x))
        return self._decode(q_mu, mean, seed)
