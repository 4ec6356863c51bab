"""Reproducibility: one call seeds every random number generator the course uses."""

from __future__ import annotations

import random

import numpy as np
import tensorflow as tf

from vaelib import validation

__all__ = ["set_seed"]


def set_seed(seed: int, *, deterministic: bool = True) -> None:
    """Seeds Python, NumPy and TensorFlow, and makes TensorFlow's ops deterministic.

    With ``deterministic=True`` two runs on the same machine and TensorFlow
    version give bit-identical results. Across machines (other CPUs, a GPU,
    another TensorFlow) the last digits of trained values may differ.

    Args:
      seed: a non-negative integer.
      deterministic: also call ``tf.config.experimental.enable_op_determinism()``.
    """
    seed = validation.integer("seed", seed, minimum=0)
    deterministic = validation.flag("deterministic", deterministic)
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
