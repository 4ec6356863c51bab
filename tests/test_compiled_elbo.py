"""vaelib.elbo's compiled path (BoundEvaluator.elbo): the same numbers as the op-by-op ELBO from
model.log_weights, the same noise, taken only for large eager calls."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib import evaluation
from vaelib.evaluation import marginal_likelihood
from vaelib.models.distributions import kl_normal_std
from vaelib.vae import VAE, VAEConfig

CONFIG = VAEConfig(input_size=12, hidden_sizes=(16, 8), latent_size=3, seed=5)


def data(n=6, seed=0):
    return (np.random.default_rng(seed).random((n, CONFIG.input_size)) < 0.4).astype(np.float32)


def reference(model, x, k, analytic_kl, seed=None):
    """The ELBO written out from model.log_weights, in float64."""
    w = {key: v.numpy().astype(np.float64) for key, v in model.log_weights(x, k, seed).items()}
    if analytic_kl:
        kl = kl_normal_std(w["q_mu"], w["q_logvar"]).numpy()
        return w["log_px_z"].mean(axis=0) - kl
    return (w["log_px_z"] + w["log_pz"] - w["log_qz_x"]).mean(axis=0)


@pytest.mark.parametrize("analytic_kl", [True, False])
@pytest.mark.parametrize("k", [1, 37, 1000])
def test_equals_the_reference_for_a_seed_in_one_pass_or_many(k, analytic_kl):
    model, x, seed = VAE(CONFIG), data(), tf.constant([4, 2])
    expected = reference(model, x, k, analytic_kl, seed)
    whole = evaluation.BoundEvaluator(model, memory_bytes=2**30)
    floats = whole.floats_per_sample
    small = evaluation.BoundEvaluator(model, memory_bytes=4 * floats * len(x) * 7)
    for evaluator in (whole, small):
        got = evaluator.elbo(x, k, analytic_kl=analytic_kl, seed=seed).numpy()
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-5)
    assert small.programs == (1 if k <= 7 else 2 if k % 7 else 1)  # passes of 7 or 6 codes


def test_equals_the_reference_with_the_models_generator():
    a, b = VAE(CONFIG), VAE(CONFIG)  # the same seed: the same weights and noise stream
    x = data()
    fast = [evaluation.BoundEvaluator(a).elbo(x, 50).numpy() for _ in range(2)]
    slow = [reference(b, x, 50, True) for _ in range(2)]
    for f, s in zip(fast, slow, strict=True):  # the generator advances alike
        np.testing.assert_allclose(f, s, rtol=2e-6, atol=2e-5)
    assert not np.allclose(fast[0], fast[1])


def test_vaelib_elbo_is_the_evaluation_layers_and_the_objective_stays_op_by_op():
    from vaelib.objectives import bounds

    assert vaelib.elbo is marginal_likelihood.elbo is evaluation.elbo
    model, x, seed = VAE(CONFIG), data(), tf.constant([1, 9])
    np.testing.assert_allclose(
        bounds.elbo(model, x, 5000, seed=seed), reference(model, x, 5000, True, seed), atol=1e-4
    )
    assert evaluation._evaluator(model).programs == 0  # 30,000 codes, yet op by op


def test_vaelib_elbo_compiles_large_eager_calls_only(monkeypatch):
    monkeypatch.setattr(marginal_likelihood, "COMPILED_MIN_CODES", 600)
    model, x, seed = VAE(CONFIG), data(n=6), tf.constant([1, 9])
    small = vaelib.elbo(model, x, 99, seed=seed)  # 594 codes: op by op
    assert evaluation._evaluator(model).programs == 0
    np.testing.assert_allclose(small, reference(model, x, 99, True, seed), rtol=2e-6, atol=2e-5)
    large = vaelib.elbo(model, x, 100, analytic_kl=False, seed=seed)  # 600 codes: compiled
    assert evaluation._evaluator(model).programs == 1
    np.testing.assert_allclose(large, reference(model, x, 100, False, seed), rtol=2e-6, atol=2e-5)

    @tf.function
    def in_graph(x):  # inside a tf.function: op by op, in that graph
        return vaelib.elbo(model, x, 100, seed=seed)

    np.testing.assert_allclose(
        in_graph(tf.constant(x)), reference(model, x, 100, True, seed), rtol=2e-6, atol=2e-5
    )
    assert evaluation._evaluator(model).programs == 1


def test_bad_arguments_are_named_on_either_path(monkeypatch):
    monkeypatch.setattr(marginal_likelihood, "COMPILED_MIN_CODES", 1)
    model = VAE(CONFIG)
    with pytest.raises(ValueError, match="num_samples"):
        evaluation.BoundEvaluator(model).elbo(data(), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vaelib.elbo(model, data() * 3.0, 10)  # pixels outside the Bernoulli's support
