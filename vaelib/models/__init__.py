"""Models: densities, dense layers, the VAE's encoder and decoder (MLP and convolutional), likelihoods, the linear-Gaussian model (chapters 1-6, 11).

Modules: :mod:`vaelib.models.distributions`, :mod:`vaelib.models.mlp`, :mod:`vaelib.models.vae`, :mod:`vaelib.models.conv`, :mod:`vaelib.models.likelihoods`, :mod:`vaelib.models.linear_gaussian`.
"""
