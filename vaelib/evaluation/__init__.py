"""Evaluation: estimates of log p(x).

- :mod:`vaelib.evaluation.marginal_likelihood`: the importance-weighted bound L_k over a test
  set, in bounded memory (chapter 7).
- :mod:`vaelib.evaluation.evaluator`: the compiled passes behind it, and behind large eager
  calls of ``vaelib.elbo`` (:func:`vaelib.evaluation.marginal_likelihood.elbo`), one program per
  pass shape.
- :mod:`vaelib.evaluation.ais`: annealed importance sampling from the prior, whose estimate
  does not depend on the encoder (checked against the linear-Gaussian model's exact log p(x)).
- :mod:`vaelib.evaluation.model_bounds`: the ELBO and L_k per image of a VAE with a learned
  prior or a flow posterior (chapter 12).

The package also holds every name of the flat module ``vaelib.evaluation`` of vaelib 0.1,
so ``vaelib.evaluation.X`` still works (chapters and old code use it).
"""

from vaelib.evaluation.marginal_likelihood import (  # noqa: F401 (re-exported)
    _EVALUATORS,
    DEFAULT_MEMORY_BYTES,
    PROGRESS_DELAY,
    BoundEvaluator,
    _check_bound_args,
    _evaluator,
    _iwae_bound_op_by_op,
    _progress_bar,
    elbo,
    evaluate_bounds,
    iwae_bound,
)
from vaelib.evaluation.model_bounds import ModelBounds, model_bounds  # noqa: F401 (re-exported)
