"""Evaluation: log-likelihood estimates L_k, in bounded memory (chapter 7).

Modules: :mod:`vaelib.evaluation.marginal_likelihood`.

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
    evaluate_bounds,
    iwae_bound,
)
