"""vaelib: the shared code of the course "TensorFlow graphs and VAEs from first principles".

Notation, used in every chapter, docstring and variable name:

============  ==========================================================
name          meaning
============  ==========================================================
``x``         an observation: a batch of flattened images, ``[batch, 784]``
``z``         a latent code, ``[batch, latent_size]`` (or ``[num_samples, batch, latent_size]``)
``eps``       standard normal noise used to build ``z``; never a prior sample
``q_mu``      mean of the encoder's Gaussian q(z|x), ``[batch, latent_size]``
``q_logvar``  log *variance* (log sigma^2) of q(z|x), always, ``[batch, latent_size]``
``x_logits``  decoder output: Bernoulli logits of p(x|z), ``[..., batch, 784]``
``log_px_z``  log p(x|z), per example, in nats, summed over pixels, ``[..., batch]``
``log_pz``    log p(z) under the N(0, I) prior, summed over latents, ``[..., batch]``
``log_qz_x``  log q(z|x), summed over latents, ``[..., batch]``
``num_samples``  Monte Carlo / importance samples per example (k in the papers)
============  ==========================================================

Log-densities are per example, in nats, summed (never averaged) over pixels or
latent dimensions. ``elbo()`` returns the bound itself (higher is better); the
training loss is ``-tf.reduce_mean(elbo)``.
"""

__version__ = "0.1.0"

# Flat public API, in the order the chapters introduce it.
from vaelib import diagnostics, profiling, published, speed  # as modules: vaelib.published.published(key), ...
from vaelib.bounds import elbo, elbo_terms, vae_loss
from vaelib.evaluation import evaluate_bounds, iwae_bound
from vaelib.checkpoint import CheckpointError, CheckpointLockedError, CheckpointMismatchError
from vaelib.checkpoint import CheckpointSaveError
from vaelib.classify import classification_loss, evaluate_classifier
from vaelib.comparison import Comparison, Estimate, compare, compare_ratios, summarize
from vaelib.conv import ConvVAEConfig
from vaelib.data import Dataset, DataSource, load_dataset, load_fashion_mnist, load_mnist
from vaelib.distributions import (bernoulli_log_prob, kl_normal_std, normal_log_prob,
                                   normal_log_prob_from_eps, std_normal_log_prob)
from vaelib.estimators import reparameterization_gradient, score_function_gradient
from vaelib.graphs import draw_graph
from vaelib.kl_options import KLOptions, kl_loss
from vaelib.likelihoods import (Bernoulli, ContinuousBernoulli, DiscretizedLogistic, Gaussian,
                                 bits_per_dim, dequantize, grey_levels)
from vaelib.linear_gaussian import LinearGaussian, kl_gaussians
from vaelib.mlp import MLP, Dense
from vaelib.objectives import active_units, importance_weighted_bound, iwae_loss
from vaelib.pipeline import binarize, make_dataset
from vaelib.plotting import image_grid, latent_grid, latent_scatter, plot_curves
from vaelib.report import ProtocolCard, describe_architecture, glue, mean_std
from vaelib.seed import set_seed
from vaelib.step import make_train_loop, make_train_step, stack_batches
from vaelib.tensorboard import TensorBoard
from vaelib.train import FitConfig, History, NonFiniteLossError, WorkerLostError, fit
from vaelib.vae import VAE, Decoder, Encoder, VAEConfig, reparameterize

__all__ = [
    # data (chapter 0)
    "Dataset", "DataSource", "load_dataset", "load_fashion_mnist", "load_mnist", "binarize",
    "make_dataset",
    # graphs, modules, training (chapters 1-3)
    "draw_graph", "Dense", "MLP", "classification_loss", "evaluate_classifier", "set_seed",
    "FitConfig", "History", "NonFiniteLossError", "WorkerLostError", "fit", "TensorBoard",
    "make_train_loop",
    "make_train_step",
    "stack_batches", "CheckpointError", "CheckpointLockedError", "CheckpointMismatchError",
    "CheckpointSaveError",
    # densities, bounds, estimators, the VAE (chapters 4-7)
    "bernoulli_log_prob", "kl_normal_std", "normal_log_prob", "normal_log_prob_from_eps",
    "std_normal_log_prob",
    "LinearGaussian", "kl_gaussians", "reparameterization_gradient", "score_function_gradient",
    "VAE", "VAEConfig", "Encoder", "Decoder", "reparameterize", "elbo", "elbo_terms", "iwae_bound",
    "evaluate_bounds", "vae_loss",
    # the importance-weighted objective and its gradient estimators (chapter 9)
    "iwae_loss", "importance_weighted_bound", "active_units",
    # inside a trained VAE: KL options, diagnostics (chapter 10)
    "KLOptions", "kl_loss", "diagnostics",
    # convolutional VAEs and decoder likelihoods (chapter 11)
    "ConvVAEConfig", "Bernoulli", "ContinuousBernoulli", "Gaussian", "DiscretizedLogistic",
    "bits_per_dim", "dequantize", "grey_levels",
    # numbers into prose: glue, protocol cards, published results
    "glue", "mean_std", "describe_architecture", "ProtocolCard", "published",
    # comparisons: paired differences, seeds, verdicts (every "better" in the book)
    "compare", "compare_ratios", "summarize", "Comparison", "Estimate",
    # figures and speed
    "image_grid", "latent_grid", "latent_scatter", "plot_curves", "profiling", "speed",
]
