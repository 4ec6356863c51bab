"""Both gradient estimators are unbiased; reparameterization has lower variance."""

import numpy as np
import pytest
import tensorflow as tf

from vaelib.estimators import reparameterization_gradient, score_function_gradient

MU = tf.constant([0.5, -1.0], tf.float64)
LOGVAR = tf.constant([0.2, -0.5], tf.float64)


def f(z):  # E_q[sum z^2] = sum(mu^2 + exp(logvar))
    return tf.reduce_sum(tf.square(z), axis=-1)


EXACT_MU = 2 * MU.numpy()
EXACT_LOGVAR = np.exp(LOGVAR.numpy())


def repeat(estimator, reps=400, num_samples=10, **kw):
    out = [
        np.concatenate(
            [g.numpy() for g in estimator(f, MU, LOGVAR, num_samples, seed=[r, 0], **kw)]
        )
        for r in range(reps)
    ]
    return np.array(out)


@pytest.mark.parametrize(
    "estimator,kw",
    [
        (reparameterization_gradient, {}),
        (score_function_gradient, {}),
        (score_function_gradient, {"baseline": True}),
    ],
)
def test_unbiased(estimator, kw):
    draws = repeat(estimator, **kw)
    exact = np.concatenate([EXACT_MU, EXACT_LOGVAR])
    stderr = draws.std(0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(0) - exact) < 4.5 * stderr + 1e-12)


def test_reparameterization_has_lower_variance():
    reparam = repeat(reparameterization_gradient).var(0).sum()
    score = repeat(score_function_gradient).var(0).sum()
    baseline = repeat(score_function_gradient, baseline=True).var(0).sum()
    assert reparam < baseline < score


def test_bad_num_samples():
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        reparameterization_gradient(f, MU, LOGVAR, 0, seed=[0, 0])
    with pytest.raises(ValueError, match="num_samples >= 2"):
        score_function_gradient(f, MU, LOGVAR, 1, seed=[0, 0], baseline=True)


def test_bad_arguments_are_named():
    with pytest.raises(
        ValueError,
        match=r"mu and logvar must have one shape and dtype, got \(2,\) float32 and \(3,\)",
    ):
        reparameterization_gradient(f, tf.zeros(2), tf.zeros(3), 3, seed=[0, 0])
    with pytest.raises(ValueError, match=r"seed must be two ints, e.g. \[0, 1\], got 5"):
        score_function_gradient(f, MU, LOGVAR, 3, seed=5)
    d_mu, _ = score_function_gradient(f, [0, 1], [0, 0], 3, seed=[0, 0])  # integers become float32
    assert d_mu.dtype == tf.float32 and d_mu.shape == (2,)
