"""vaelib.models.flows: each layer's log-determinant against the Jacobian computed by automatic
differentiation (slogdet), planar flows stay invertible, MADE is autoregressive."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.models.flows import (
    MADE,
    AmortizedPlanarFlow,
    Flow,
    IAFLayer,
    PlanarFlow,
    flow_log_det_check,
)
from vaelib.objectives.flow_loss import flow_elbo, flow_loss
from vaelib.training.step import make_train_step

Z = tf.constant(np.random.default_rng(0).normal(size=(16, 4)), tf.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planar_log_det_is_the_jacobians(seed):
    layer = PlanarFlow(4, seed=seed)
    layer.u.assign(tf.random.stateless_normal([4], seed=[seed, 9]))  # not just near identity
    layer.w.assign(tf.random.stateless_normal([4], seed=[seed, 8]))
    returned, numeric = flow_log_det_check(layer, Z)
    np.testing.assert_allclose(returned, numeric, atol=1e-4)


def test_planar_flow_stays_invertible_for_any_u():
    """w^T u_hat >= -1 whatever u is, so the map is monotone along w and invertible: its
    Jacobian determinant never crosses zero."""
    layer = PlanarFlow(4, seed=0)
    layer.w.assign([1.0, -2.0, 0.5, 0.0])
    layer.u.assign(-10.0 * layer.w)  # w^T u = -52.5: not invertible as it stands
    assert float(tf.reduce_sum(layer.w * layer.u_hat())) >= -1.0 - 1e-5  # float32
    with tf.GradientTape() as tape:
        z = tf.constant(np.random.default_rng(1).normal(size=(64, 4)) * 3, tf.float32)
        tape.watch(z)
        out, _ = layer(z)
    signs, _ = np.linalg.slogdet(tape.batch_jacobian(out, z).numpy().astype(np.float64))
    assert np.all(signs > 0)  # det = 1 + h'(a) w^T u_hat >= h(a)^2 > 0


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]])
def test_made_is_autoregressive_in_its_order(order):
    made = MADE(4, hidden_sizes=(16, 16), num_outputs=2, order=order, seed=3)
    z = tf.constant(np.random.default_rng(2).normal(size=(8, 4)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        outputs = made(z)
    position = np.argsort(order)  # position[i]: where dimension i comes in the order
    for out in outputs:
        jac = np.abs(tape.batch_jacobian(out, z).numpy()).max(axis=0)  # [out i, in j]
        for i in range(4):
            for j in range(4):
                if position[j] >= position[i]:
                    assert jac[i, j] == 0, (order, i, j)
    # and not trivially: the first output in the order sees nothing, the last sees the rest
    last = int(np.argmax(position))
    assert np.abs(tape.batch_jacobian(outputs[0], z).numpy()[:, last]).sum() > 0


@pytest.mark.parametrize("order", [None, [3, 2, 1, 0]])
def test_iaf_log_det_is_the_jacobians_and_the_sum_of_log_sigma(order):
    layer = IAFLayer(4, hidden_sizes=(16,), order=order, forget_bias=0.5, seed=4)
    for w in layer.made.weights:  # larger weights than at initialization: a real test
        w.assign(w * 3.0)
    returned, numeric = flow_log_det_check(layer, Z)
    np.testing.assert_allclose(returned, numeric, atol=1e-4)


@pytest.mark.parametrize("kind", ["iaf", "planar"])
def test_a_flow_adds_its_layers_log_dets(kind):
    flow = Flow.iaf(4, num_layers=3, hidden_sizes=(16,)) if kind == "iaf" else Flow.planar(4, 5)
    returned, numeric = flow_log_det_check(flow, Z)
    np.testing.assert_allclose(returned, numeric, atol=2e-4)
    out, log_det = flow(tf.reshape(tf.concat([Z, Z], 0), [2, 16, 4]))  # [samples, batch, d]
    assert out.shape == (2, 16, 4) and log_det.shape == (2, 16)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="permutation"):
        MADE(3, order=[0, 0, 1])
    with pytest.raises(ValueError, match="latent_size >= 2"):
        MADE(1)
    with pytest.raises(ValueError, match="at least one layer"):
        Flow([])


def test_a_layer_with_a_context_has_its_jacobians_log_det_and_depends_on_it():
    context = tf.constant(np.random.default_rng(3).normal(size=(16, 6)), tf.float32)
    for layer in (
        IAFLayer(4, (16,), context_size=6, forget_bias=0.5, seed=5),
        AmortizedPlanarFlow(4, context_size=6, seed=6),
    ):
        for v in layer.trainable_variables:  # away from the near-identity start
            v.assign(v * 30.0 if "map" in v.name else v * 3.0)
        returned, numeric = flow_log_det_check(layer, Z, context)
        np.testing.assert_allclose(returned, numeric, atol=1e-4)
        other, _ = layer(Z, context * 0.0)
        assert not np.allclose(other.numpy(), layer(Z, context)[0].numpy())


def test_an_identity_flow_gives_the_gaussian_encoders_monte_carlo_elbo():
    model = vaelib.VAE(vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2))
    x = tf.constant((np.random.default_rng(4).random((5, 12)) < 0.4).astype(np.float32))
    # the identity map, with log |det| = 0, in the flow's calling convention
    eps = tf.random.stateless_normal([50, 5, 2], seed=[1, 0])

    def identity(z, context):
        return z, tf.zeros(tf.shape(z)[:-1])

    got = flow_elbo(model, x, identity, 50, eps=eps)
    q_mu, q_logvar = model.encoder(x)
    z = vaelib.reparameterize(q_mu, q_logvar, eps)
    want = tf.reduce_mean(
        model.log_px_z(x, z)
        + vaelib.std_normal_log_prob(z)
        - vaelib.normal_log_prob_from_eps(eps, q_logvar),
        axis=0,
    )
    np.testing.assert_allclose(got["elbo"].numpy(), want.numpy(), rtol=1e-6)
    assert np.all(got["log_det"].numpy() == 0)


@pytest.mark.parametrize("kind", ["iaf", "planar"])
def test_training_with_a_flow_moves_it_and_traces_once(kind):
    vaelib.set_seed(0)
    model = vaelib.VAE(vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2))
    flow = (
        Flow.iaf(2, 2, (8,), context_size=4) if kind == "iaf" else Flow.planar(2, 2, context_size=4)
    )
    model.flow = flow
    before = [v.numpy().copy() for v in flow.trainable_variables]
    x = (np.random.default_rng(5).random((23, 12)) < 0.4).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices(x).batch(10)
    step = make_train_step(
        model,
        tf.keras.optimizers.Adam(1e-2),
        flow_loss(flow),
        element_spec=data.element_spec,
        jit_compile=True,
    )
    for _ in range(3):
        for batch in data:
            assert np.isfinite(float(step(batch)["loss"]))
    assert step.experimental_get_tracing_count() == 1
    after = [v.numpy() for v in flow.trainable_variables]
    assert any(np.abs(a - b).max() > 0 for a, b in zip(after, before, strict=True))
