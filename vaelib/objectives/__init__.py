"""Objectives (chapters 2-6, 9, 10): the bounds, their gradient estimators, the training losses.

- :mod:`vaelib.objectives.bounds`: the ELBO and ``vae_loss``; ``LossFn``, what fit trains.
- :mod:`vaelib.objectives.estimators`: score-function and reparameterization gradients.
- :mod:`vaelib.objectives.importance_weighted`: the importance-weighted bound and its
  estimators (standard, STL, DReG), ``iwae_loss``, its control ``elbo_k_loss``, active units.
- :mod:`vaelib.objectives.discrete`: gradients through a categorical choice (score function,
  Gumbel-softmax, straight-through) and the exact gradient by enumeration.
- :mod:`vaelib.objectives.flow_loss`: the ELBO and the loss with a flow posterior.
- :mod:`vaelib.objectives.prior_loss`: the ELBO and the loss with a learned prior.
- :mod:`vaelib.objectives.kl_options`: beta, free bits and KL warm-up.
- :mod:`vaelib.objectives.classify`: the classifier's loss and accuracy (chapters 2, 3).

The package holds every name of vaelib 0.1's flat module ``vaelib.objectives``, so
``vaelib.objectives.ESTIMATORS`` and the like still work.
"""

from vaelib.objectives.importance_weighted import (  # noqa: F401 (re-exported)
    ESTIMATORS,
    LogJoint,
    _check_estimator,
    _check_num_samples,
    active_units,
    elbo_k_loss,
    importance_weighted_bound,
    iwae_loss,
)
