"""A small, linearly separable classification problem shared by the step and fit tests."""

import numpy as np
import tensorflow as tf


def classification_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) > 0).astype(np.int32)
    return x, y


def dataset(seed=0, batch_size=32):
    """One shuffled epoch; also usable as fit's ``epoch -> dataset`` function."""
    x, y = classification_data()
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(200, seed=seed).batch(batch_size)
