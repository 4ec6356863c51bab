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

Layout: subpackages by concept, in layers. A module imports only from its own layer and the
layers below (a contract that ``lint-imports`` checks; see pyproject.toml), top to bottom:

- :mod:`vaelib.reporting`: numbers into prose (glue, protocol cards, published results,
  comparisons, drift), figures and graph drawings.
- :mod:`vaelib.speed`: throughput, the roofline, interleaved timing rounds, profiles.
- :mod:`vaelib.evaluation` (log-likelihood estimates) and :mod:`vaelib.diagnostics`
  (inside a trained VAE), independent of each other.
- :mod:`vaelib.training`: the compiled step, ``fit``, checkpoints, seeds, progress, TensorBoard.
- :mod:`vaelib.objectives`: the ELBO, the importance-weighted bound, gradient estimators, losses.
- :mod:`vaelib.models`: densities, dense layers, the VAE (MLP and convolutional), likelihoods.
- :mod:`vaelib.data`: MNIST and Fashion-MNIST, downloads, IDX files, binarization, pipelines.
- :mod:`vaelib.validation` (argument checks) and :mod:`vaelib.layout` (the old flat paths).

Every name of the public API is here at the top (``vaelib.fit``, ``vaelib.VAE``, ...), and
vaelib 0.1's flat module paths still work (``vaelib.train``, ``vaelib.speed.run_rounds``):
:mod:`vaelib.layout` says where each one lives now.
"""

__version__ = "0.1.0"

import importlib as _importlib
import sys as _sys

# as modules too: vaelib.published.published(key), vaelib.speed.run_rounds, ...
from vaelib import data, diagnostics, evaluation, objectives, speed  # noqa: F401
from vaelib import layout as _layout

# The public API: vaelib.fit, vaelib.VAE, ... (listed in __all__ in the order the chapters
# introduce them)
from vaelib.data.in_memory import InMemoryData
from vaelib.data.pipeline import binarize, make_dataset
from vaelib.data.sources import Dataset, DataSource, load_dataset, load_fashion_mnist, load_mnist
from vaelib.evaluation.marginal_likelihood import elbo, evaluate_bounds, iwae_bound
from vaelib.models.conv import ConvVAEConfig
from vaelib.models.distributions import (
    bernoulli_log_prob,
    kl_normal_std,
    normal_log_prob,
    normal_log_prob_from_eps,
    std_normal_log_prob,
)
from vaelib.models.likelihoods import (
    Bernoulli,
    ContinuousBernoulli,
    DiscretizedLogistic,
    Gaussian,
    bits_per_dim,
    dequantize,
    grey_levels,
)
from vaelib.models.linear_gaussian import LinearGaussian, kl_gaussians
from vaelib.models.mlp import MLP, Dense
from vaelib.models.vae import VAE, Decoder, Encoder, VAEConfig, reparameterize
from vaelib.objectives.bounds import elbo_terms, vae_loss
from vaelib.objectives.classify import classification_loss, evaluate_classifier
from vaelib.objectives.estimators import reparameterization_gradient, score_function_gradient
from vaelib.objectives.importance_weighted import (
    active_units,
    elbo_k_loss,
    importance_weighted_bound,
    iwae_loss,
)
from vaelib.objectives.kl_options import KLOptions, kl_loss
from vaelib.reporting.comparison import Comparison, compare
from vaelib.reporting.estimates import Estimate, summarize
from vaelib.reporting.graphs import draw_graph
from vaelib.reporting.plotting import image_grid, latent_grid, latent_scatter, plot_curves
from vaelib.reporting.ratios import compare_ratios
from vaelib.reporting.report import ProtocolCard, describe_architecture, glue, mean_std
from vaelib.training.checkpoint import (
    CheckpointError,
    CheckpointLockedError,
    CheckpointMismatchError,
    CheckpointSaveError,
)
from vaelib.training.seed import set_seed
from vaelib.training.step import make_train_loop, make_train_step, stack_batches
from vaelib.training.tensorboard import TensorBoard
from vaelib.training.train import FitConfig, History, NonFiniteLossError, WorkerLostError, fit

# vaelib 0.1's flat modules, at their old paths too: vaelib.train is vaelib.training.train
for _old, _new in _layout.FLAT_MODULES.items():
    _module = _importlib.import_module(_new)
    _sys.modules[f"{__name__}.{_old}"] = _module
    globals()[_old] = _module
del _old, _new, _module

__all__ = [
    # data (chapter 0)
    "Dataset",
    "DataSource",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "binarize",
    "make_dataset",
    "InMemoryData",
    # graphs, modules, training (chapters 1-3)
    "draw_graph",
    "Dense",
    "MLP",
    "classification_loss",
    "evaluate_classifier",
    "set_seed",
    "FitConfig",
    "History",
    "NonFiniteLossError",
    "WorkerLostError",
    "fit",
    "TensorBoard",
    "make_train_loop",
    "make_train_step",
    "stack_batches",
    "CheckpointError",
    "CheckpointLockedError",
    "CheckpointMismatchError",
    "CheckpointSaveError",
    # densities, bounds, estimators, the VAE (chapters 4-7)
    "bernoulli_log_prob",
    "kl_normal_std",
    "normal_log_prob",
    "normal_log_prob_from_eps",
    "std_normal_log_prob",
    "LinearGaussian",
    "kl_gaussians",
    "reparameterization_gradient",
    "score_function_gradient",
    "VAE",
    "VAEConfig",
    "Encoder",
    "Decoder",
    "reparameterize",
    "elbo",
    "elbo_terms",
    "iwae_bound",
    "evaluate_bounds",
    "vae_loss",
    # the importance-weighted objective and its gradient estimators (chapter 9)
    "iwae_loss",
    "elbo_k_loss",
    "importance_weighted_bound",
    "active_units",
    # inside a trained VAE: KL options, diagnostics (chapter 10)
    "KLOptions",
    "kl_loss",
    "diagnostics",
    # convolutional VAEs and decoder likelihoods (chapter 11)
    "ConvVAEConfig",
    "Bernoulli",
    "ContinuousBernoulli",
    "Gaussian",
    "DiscretizedLogistic",
    "bits_per_dim",
    "dequantize",
    "grey_levels",
    # numbers into prose: glue, protocol cards, published results
    "glue",
    "mean_std",
    "describe_architecture",
    "ProtocolCard",
    "published",
    # comparisons: paired differences, seeds, verdicts (every "better" in the book)
    "compare",
    "compare_ratios",
    "summarize",
    "Comparison",
    "Estimate",
    # figures and speed
    "image_grid",
    "latent_grid",
    "latent_scatter",
    "plot_curves",
    "profiling",
    "speed",
]
