"""vaelib.models.quantizer: nearest codes against a NumPy brute-force search; the three
gradient paths of the VQ-VAE (straight-through is the identity on the encoder path, the
codebook loss moves only the codebook, the commitment loss only the encoder); the EMA update
with decay 0 is a step of K-means and its fixed point the cluster means; code usage against
SciPy's entropy; dead-code restarts; a compiled step traces once."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from vaelib.models.quantizer import VectorQuantizer, code_usage


def brute_force(z, codebook):
    d = ((z[..., None, :] - codebook) ** 2).sum(-1)
    return d.argmin(-1), d


def test_nearest_codes_and_distances_are_the_brute_force_ones():
    vq = VectorQuantizer(16, 4, seed=3)
    z = np.random.default_rng(0).normal(scale=0.1, size=(3, 5, 4)).astype(np.float32)
    want, d = brute_force(z.astype(np.float64), vq.codebook.numpy().astype(np.float64))
    np.testing.assert_array_equal(vq.nearest(z).numpy(), want)
    np.testing.assert_allclose(vq.distances(z).numpy(), d, rtol=1e-4, atol=1e-6)
    out = vq(z)
    np.testing.assert_array_equal(out.codes.numpy(), want)
    # per image (the first axis), summed over its 5 positions and 4 coordinates
    per_image = ((z - vq.codebook.numpy()[want]) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose(out.codebook_loss.numpy(), per_image.mean(), rtol=1e-5)
    np.testing.assert_allclose(out.commitment_loss.numpy(), per_image.mean(), rtol=1e-5)
    np.testing.assert_array_equal(out.z_q.numpy(), vq.codebook.numpy()[want])
    np.testing.assert_allclose(out.z_q_st.numpy(), out.z_q.numpy(), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(vq.lookup(out.codes).numpy(), out.z_q.numpy())


def test_each_loss_pulls_on_its_own_side_and_straight_through_is_the_identity():
    vq = VectorQuantizer(8, 3, seed=1)
    z = tf.constant(np.random.default_rng(1).normal(scale=0.2, size=(6, 3)), tf.float32)
    w = tf.constant(np.random.default_rng(2).normal(size=(6, 3)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        out = vq(z)
        decoder_side = tf.reduce_sum(w * out.z_q_st)
    # straight-through: the decoder's gradient reaches z_e unchanged, the codebook not at all
    np.testing.assert_array_equal(tape.gradient(decoder_side, z).numpy(), w.numpy())
    assert tape.gradient(decoder_side, vq.codebook) is None
    z_q = out.z_q.numpy()
    # the codebook loss: d/de_k = -2/N sum over the vectors that chose k of (z - e_k)
    want = np.zeros((8, 3), np.float32)
    np.add.at(want, out.codes.numpy(), -2.0 / 6 * (z.numpy() - z_q))
    grad = tape.gradient(out.codebook_loss, vq.codebook)
    np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(), want, rtol=1e-5, atol=1e-7)
    assert tape.gradient(out.codebook_loss, z) is None
    # the commitment loss: 2/N (z - e) on the encoder, nothing on the codebook
    np.testing.assert_allclose(
        tape.gradient(out.commitment_loss, z).numpy(), 2.0 / 6 * (z.numpy() - z_q), rtol=1e-5
    )
    assert tape.gradient(out.commitment_loss, vq.codebook) is None
    np.testing.assert_allclose(
        out.codebook_loss.numpy(), np.mean(((z.numpy() - z_q) ** 2).sum(-1)), rtol=1e-6
    )


def clustered(num_codes, code_size, per_code, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_codes, code_size))
    z = centres[:, None, :] + 0.05 * rng.normal(size=(num_codes, per_code, code_size))
    return centres, z.reshape(-1, code_size).astype(np.float32)


def test_the_ema_update_with_decay_zero_is_a_k_means_step():
    vq = VectorQuantizer(5, 2, ema_decay=0.0, epsilon=1e-12)
    centres, z = clustered(5, 2, 40)
    vq.codebook.assign(centres.astype(np.float32) + 0.01)  # each code near one cluster
    codes = vq.nearest(z).numpy()
    vq.ema_update(z, codes)
    want = np.stack([z[codes == k].mean(0) for k in range(5)])
    np.testing.assert_allclose(vq.codebook.numpy(), want, rtol=1e-5, atol=1e-6)
    assert not vq.codebook.trainable


def test_repeated_ema_updates_converge_to_the_cluster_means_and_an_unused_code_stays():
    vq = VectorQuantizer(6, 2, ema_decay=0.9)
    centres, z = clustered(5, 2, 40, seed=1)
    start = np.vstack([centres + 0.3, [[50.0, 50.0]]]).astype(np.float32)  # code 5: far
    vq.codebook.assign(start)
    vq.ema_sums.assign(start)
    for _ in range(60):  # code 5's count falls to 0.9^60 = 0.002, still far above epsilon
        vq.ema_update(z, vq.nearest(z))
    codes = vq.nearest(z).numpy()
    want = np.stack([z[codes == k].mean(0) for k in range(5)])
    np.testing.assert_allclose(vq.codebook.numpy()[:5], want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(vq.codebook.numpy()[5], [50.0, 50.0], rtol=1e-2)
    assert np.bincount(codes, minlength=6)[5] == 0


def test_code_usage_counts_perplexity_and_dead_codes():
    codes = np.random.default_rng(0).integers(0, 6, size=(50, 7))
    usage = code_usage(codes, 8)
    counts = np.bincount(codes.ravel(), minlength=8)
    np.testing.assert_array_equal(usage.counts, counts)
    assert usage.dead == 2
    assert usage.perplexity == pytest.approx(np.exp(stats.entropy(counts)), rel=1e-12)
    assert code_usage(np.arange(8).repeat(3), 8).perplexity == pytest.approx(8.0)
    one = code_usage(np.zeros(10, int), 8)
    assert one.perplexity == pytest.approx(1.0) and one.dead == 7
    assert str(one) == "1 of 8 codes used, perplexity 1.0, 7 dead"


@pytest.mark.parametrize("ema", [None, 0.99])
def test_dead_codes_restart_at_encoder_outputs_and_used_ones_stay(ema):
    vq = VectorQuantizer(6, 2, seed=0, ema_decay=ema)
    z = np.random.default_rng(3).normal(size=(30, 2)).astype(np.float32)
    counts = np.array([5, 0, 3, 0, 0, 22])
    before = vq.codebook.numpy()
    assert vq.restart_dead(z, counts, min_count=1, seed=0) == 3
    after = vq.codebook.numpy()
    np.testing.assert_array_equal(after[[0, 2, 5]], before[[0, 2, 5]])
    for row in after[[1, 3, 4]]:
        assert np.any(np.all(z == row, axis=1))  # each new code is one of the outputs
    assert len({tuple(r) for r in after[[1, 3, 4]]}) == 3  # drawn without replacement
    if ema is not None:  # the EMA restarts there too, so the next update keeps them
        np.testing.assert_array_equal(vq.ema_sums.numpy()[[1, 3, 4]], after[[1, 3, 4]])
        np.testing.assert_array_equal(vq.ema_counts.numpy()[[1, 3, 4]], 1.0)
    assert vq.restart_dead(z, np.full(6, 4), min_count=1) == 0


def test_a_compiled_step_with_the_quantizer_traces_once():
    vq = VectorQuantizer(8, 3, ema_decay=0.9)
    encoder = tf.Variable(tf.random.stateless_normal([4, 3], seed=[0, 1]))
    optimizer = tf.keras.optimizers.Adam(1e-2)
    optimizer.build([encoder])  # its slots exist before the first call, as fit does
    traces = []

    @tf.function(jit_compile=False)
    def step(x):
        traces.append(1)
        with tf.GradientTape() as tape:
            z_e = tf.matmul(x, encoder)
            out = vq(z_e)
            loss = tf.reduce_mean((out.z_q_st - z_e) ** 2) + 0.25 * out.commitment_loss
        optimizer.apply_gradients([(tape.gradient(loss, encoder), encoder)])
        vq.ema_update(z_e, out.codes)
        return loss

    for seed in range(3):
        step(tf.random.stateless_normal([16, 4], seed=[seed, 2]))
    assert len(traces) == 1


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="ema_decay must be None or in"):
        VectorQuantizer(4, 2, ema_decay=1.0)
    vq = VectorQuantizer(4, 2)
    with pytest.raises(ValueError, match=r"z_e must be \[..., code_size\] with code_size = 2"):
        vq(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="needs a quantizer built with ema_decay"):
        vq.ema_update(np.zeros((3, 2), np.float32), np.zeros(3, np.int32))
    with pytest.raises(ValueError, match=r"counts must have shape \(4,\)"):
        vq.restart_dead(np.zeros((3, 2), np.float32), [1, 2])
    with pytest.raises(ValueError, match="codes must be integers in"):
        code_usage([0, 4], 4)
    with pytest.raises(ValueError, match="codes is empty"):
        code_usage([], 4)
    with pytest.raises(ValueError, match="codes must be integers"):
        vq.lookup(tf.constant([0.5]))
