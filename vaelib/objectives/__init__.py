"""Objectives: the ELBO and the importance-weighted bound, their gradient estimators, the training losses (chapters 2-6, 9, 10).

Modules: :mod:`vaelib.objectives.bounds`, :mod:`vaelib.objectives.estimators`, :mod:`vaelib.objectives.importance_weighted`, :mod:`vaelib.objectives.kl_options`, :mod:`vaelib.objectives.classify`.

The package also holds every name of the flat module ``vaelib.objectives`` of vaelib 0.1,
so ``vaelib.objectives.X`` still works (chapters and old code use it).
"""

from vaelib.objectives.importance_weighted import (  # noqa: F401 (re-exported)
    ESTIMATORS,
    LogJoint,
    _check_estimator,
    _check_num_samples,
    importance_weighted_bound,
    iwae_loss,
    active_units,
)
