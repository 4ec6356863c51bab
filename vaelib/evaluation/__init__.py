"""Evaluation: log-likelihood estimates L_k, in bounded memory (chapter 7).

Modules: :mod:`vaelib.evaluation.marginal_likelihood`.

The package also holds every name of the flat module ``vaelib.evaluation`` of vaelib 0.1,
so ``vaelib.evaluation.X`` still works (chapters and old code use it).
"""

from vaelib.evaluation.marginal_likelihood import (  # noqa: F401 (re-exported)
    DEFAULT_MEMORY_BYTES,
    PROGRESS_DELAY,
    _progress_bar,
    BoundEvaluator,
    _check_bound_args,
    _EVALUATORS,
    _evaluator,
    _iwae_bound_op_by_op,
    iwae_bound,
    evaluate_bounds,
)
