"""Models (chapters 1-6, 11): densities, dense layers, the VAE, likelihoods.

- :mod:`vaelib.models.distributions`: log-densities and KL divergences, stable.
- :mod:`vaelib.models.mlp`: dense layers and MLPs as ``tf.Module``.
- :mod:`vaelib.models.vae`: the VAE's encoder, decoder and model (chapter 6).
- :mod:`vaelib.models.conv`: the convolutional encoder and decoder (chapter 11).
- :mod:`vaelib.models.likelihood_base`: the likelihood interface and the Bernoulli decoder.
- :mod:`vaelib.models.continuous_bernoulli`: the continuous Bernoulli density.
- :mod:`vaelib.models.likelihoods`: the Gaussian and the discretized logistic, and the table
  of all four.
- :mod:`vaelib.models.priors`: learned priors, a mixture of Gaussians and the VampPrior.
- :mod:`vaelib.models.flows`: planar flows, MADE and inverse autoregressive flow for q(z|x).
- :mod:`vaelib.models.quantizer`: the VQ-VAE's codebook: nearest codes, straight-through,
  the codebook and commitment losses, EMA updates, code usage and dead-code restarts.
- :mod:`vaelib.models.vqvae`: the VQ-VAE (chapter 11's convolutions, a 7x7 grid of codes),
  its loss and its bound under a uniform or a learned prior over codes.
- :mod:`vaelib.models.code_prior`: a PixelCNN-style autoregressive prior over code grids
  (masked convolutions, no blind spot), to sample and to score codes.
- :mod:`vaelib.models.linear_gaussian`: a model whose posterior and log p(x) are exact
  (chapter 4).
"""
