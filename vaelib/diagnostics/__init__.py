"""Diagnostics of a trained VAE (chapter 10): which latents it uses, the aggregate posterior,
ELBO surgery, and how far the encoder is from the best Gaussian for each image.

- :mod:`vaelib.diagnostics.latents`: codes of a data set, KL per dimension, active units
  (Burda et al. 2015: dimension ``j`` is active when ``Cov_x(E_q[z_j|x]) > 0.01``), the
  aggregate posterior's log-density.
- :mod:`vaelib.diagnostics.surgery`: ELBO surgery (Hoffman & Johnson 2016).
- :mod:`vaelib.diagnostics.gaps`: per-image Gaussians and the approximation and
  amortization gaps (Cremer et al. 2018).
- :mod:`vaelib.diagnostics.grid`: the exact posterior and log p(x) of a 2-D latent model on a
  grid (chapter 12).

The package holds every name of vaelib 0.1's flat module ``vaelib.diagnostics``, so
``vaelib.diagnostics.X`` still works. Arrays returned are NumPy, float64 where they are
statistics.
"""

from vaelib.diagnostics.gaps import (  # noqa: F401 (re-exported)
    GaussianFit,
    _elbo_of,
    _gaussian_args,
    gaussian_elbo,
    gaussian_iwae,
    optimize_gaussians,
)
from vaelib.diagnostics.grid import (  # noqa: F401 (re-exported)
    GridPosterior,
    grid_posterior,
    refinement_check,
    vae_log_joint,
)
from vaelib.diagnostics.latents import (  # noqa: F401 (re-exported)
    _check_positive_int,
    _gaussians,
    encode,
    kl_per_dimension,
    latent_variance,
    log_aggregate_posterior,
)
from vaelib.diagnostics.surgery import (  # noqa: F401 (re-exported)
    Surgery,
    elbo_surgery,
    reverse_marginal_kl,
)
from vaelib.objectives.importance_weighted import active_units  # noqa: F401 (as in 0.1)
