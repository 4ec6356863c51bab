"""vaelib.evaluation.model_bounds: the ELBO and L_k with any prior and flow, against the model's
own log weights, flow_elbo with the same noise, and Monte Carlo agreement across chunkings."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

import vaelib
from vaelib.evaluation.model_bounds import log_weights, model_bounds
from vaelib.models.flows import Flow
from vaelib.models.priors import MixturePrior, StandardNormalPrior
from vaelib.objectives.flow_loss import flow_elbo

CONFIG = vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2, seed=3)


def binary(n, seed):
    return (np.random.default_rng(seed).random((n, 12)) < 0.4).astype(np.float32)


def reference(model, x, k, seed):
    """log w [k, N] from VAE.log_weights with the noise model_bounds draws in one call."""
    out = model.log_weights(tf.constant(x), k, seed=tf.constant([seed, 0]))
    return (out["log_px_z"] + out["log_pz"] - out["log_qz_x"]).numpy().astype(np.float64), out


def test_one_chunk_is_the_models_own_log_weights():
    model, x = vaelib.VAE(CONFIG), binary(9, 1)
    lw, _ = reference(model, x, 16, seed=4)
    got = model_bounds(model, x, 16, seed=4, batch_size=9, chunk_size=16)
    np.testing.assert_allclose(got.elbo, lw.mean(0), rtol=1e-5)
    np.testing.assert_allclose(got.iwae, logsumexp(lw, axis=0) - np.log(16), rtol=1e-5)
    np.testing.assert_allclose(got.elbo_se, lw.std(0, ddof=1) / 4, rtol=1e-3)
    assert np.all(got.iwae >= got.elbo - 1e-9)  # Jensen, for every image


def test_a_learned_prior_changes_only_log_pz():
    model, x = vaelib.VAE(CONFIG), binary(5, 2)
    prior = MixturePrior(2, 3, seed=5)
    lw, out = reference(model, x, 8, seed=1)
    want = lw - out["log_pz"].numpy() + prior.log_prob(out["z"]).numpy()
    got = model_bounds(model, x, 8, prior=prior, seed=1, batch_size=5, chunk_size=8)
    np.testing.assert_allclose(got.elbo, want.mean(0), rtol=1e-5)
    same = model_bounds(model, x, 8, prior=StandardNormalPrior(2), seed=1, batch_size=5)
    np.testing.assert_allclose(same.elbo, lw.mean(0), rtol=1e-5)


@pytest.mark.parametrize("kind", ["iaf", "planar"])
def test_with_a_flow_the_elbo_is_flow_elbos_with_the_same_noise(kind):
    model, x = vaelib.VAE(CONFIG), binary(6, 3)
    if kind == "iaf":
        flow = Flow.iaf(2, 2, (8,), context_size=4)
    else:
        flow = Flow.planar(2, 3, context_size=4)
    eps = tf.random.stateless_normal([10, 6, 2], seed=[7, 0])
    want = flow_elbo(model, tf.constant(x), flow, num_samples=10, eps=eps)["elbo"].numpy()
    got = model_bounds(model, x, 10, flow=flow, seed=7, batch_size=6, chunk_size=10)
    np.testing.assert_allclose(got.elbo, want, rtol=1e-5)
    direct = log_weights(model, tf.constant(x), eps, flow=flow).numpy()
    np.testing.assert_allclose(got.iwae, logsumexp(direct, axis=0) - np.log(10), rtol=1e-5)


def test_chunks_and_batches_change_the_codes_not_the_estimate():
    model, x = vaelib.VAE(CONFIG), binary(7, 4)
    whole = model_bounds(model, x, 400, seed=2, batch_size=7, chunk_size=400)
    parts = model_bounds(model, x, 400, seed=2, batch_size=3, chunk_size=37)
    assert not np.allclose(whole.elbo, parts.elbo)  # other codes
    se = np.hypot(whole.elbo_se, parts.elbo_se)
    assert np.all(np.abs(whole.elbo - parts.elbo) < 5 * se)
    again = model_bounds(model, x, 400, seed=2, batch_size=3, chunk_size=37)
    np.testing.assert_array_equal(parts.iwae, again.iwae)  # the same seed, the same codes


def test_bad_arguments_are_refused():
    model, x = vaelib.VAE(CONFIG), binary(3, 5)
    with pytest.raises(ValueError, match="num_samples"):
        model_bounds(model, x, 1)
    with pytest.raises(ValueError, match="chunk_size"):
        model_bounds(model, x, 4, chunk_size=0)


@pytest.mark.parametrize("kind", [None, "iaf"])
def test_with_and_without_xla_the_same_codes_and_bounds(kind):
    model, x = vaelib.VAE(CONFIG), binary(7, 5)
    flow = Flow.iaf(2, 2, (8,), context_size=4) if kind else None
    plain, xla = (
        model_bounds(model, x, 12, flow=flow, seed=2, batch_size=4, chunk_size=5, jit_compile=j)
        for j in (False, True)
    )
    np.testing.assert_allclose(xla.elbo, plain.elbo, rtol=1e-5)
    np.testing.assert_allclose(xla.iwae, plain.iwae, rtol=1e-5)
    with pytest.raises(TypeError, match="jit_compile must be True or False"):
        model_bounds(model, x, 12, jit_compile=None)
