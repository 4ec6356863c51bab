"""vaelib.models.code_prior: the masks in raster order; the autoregressive order of the
whole network by autodiff (no later code reaches a position, every earlier one does: no blind
spot); the probabilities of all grids sum to 1 on a small grid (enumeration); samples have the
model's probabilities (chi-square); fit trains it and its step traces once."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

import vaelib
from vaelib.models.code_prior import PixelCNNPrior, code_prior_loss, raster_mask
from vaelib.training.step import make_train_step


def test_the_masks_keep_the_positions_before_the_centre():
    np.testing.assert_array_equal(raster_mask(3, "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(raster_mask(3, "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(raster_mask(1, "B"), [[1]])
    assert raster_mask(1, "A").sum() == 0


@pytest.mark.parametrize("grid", [(4, 4), (3, 5)])
def test_each_position_depends_on_every_earlier_code_and_no_later_one(grid):
    prior = PixelCNNPrior(5, grid, embed_size=4, hidden=8, num_layers=2, seed=1)
    e = tf.random.stateless_normal([1, *grid, 4], seed=[0, 1])
    height, width = grid
    for i, j in itertools.product(range(height), range(width)):
        with tf.GradientTape() as tape:
            tape.watch(e)
            out = tf.reduce_sum(prior.logits_from_embedded(e)[0, i, j] * np.arange(1, 6))
        reach = np.abs(tape.gradient(out, e).numpy()[0]).sum(-1)  # [H, W]
        order = np.arange(height * width).reshape(grid)
        here = i * width + j
        assert np.all(reach[order >= here] == 0), (i, j)  # itself and later: never
        assert np.all(reach[order < here] > 0), (i, j)  # every earlier one: no blind spot


def test_the_probabilities_of_all_grids_sum_to_one():
    prior = PixelCNNPrior(3, (2, 2), embed_size=4, hidden=8, num_layers=1, seed=2)
    grids = np.array(list(itertools.product(range(3), repeat=4)), np.int32).reshape(-1, 2, 2)
    log_p = prior.log_prob(grids).numpy().astype(np.float64)
    assert special.logsumexp(log_p) == pytest.approx(0.0, abs=1e-5)
    assert np.ptp(log_p) > 0.1  # not uniform: the test has teeth


def test_samples_have_the_models_probabilities():
    prior = PixelCNNPrior(2, (1, 3), embed_size=4, hidden=8, num_layers=1, seed=3)
    grids = np.array(list(itertools.product(range(2), repeat=3)), np.int32).reshape(-1, 1, 3)
    p = np.exp(prior.log_prob(grids).numpy().astype(np.float64))
    samples = prior.sample(20000, seed=4).numpy()
    assert samples.shape == (20000, 1, 3) and samples.dtype == np.int32
    index = samples.reshape(-1, 3) @ np.array([4, 2, 1])
    counts = np.bincount(index, minlength=8)
    assert stats.chisquare(counts, 20000 * p / p.sum()).pvalue > 1e-3
    assert np.ptp(p) > 0.02


def test_fit_trains_it_towards_the_datas_entropy_and_the_step_traces_once():
    # codes whose second position copies the first: 1 bit of entropy per grid, ln 2 nats
    rng = np.random.default_rng(0)
    first = rng.integers(0, 2, size=512)
    codes = np.stack([first, first], axis=1).reshape(-1, 1, 2).astype(np.int32)
    prior = PixelCNNPrior(2, (1, 2), embed_size=8, hidden=16, num_layers=1, seed=0)
    before = -float(tf.reduce_mean(prior.log_prob(codes)))
    history = vaelib.fit(
        prior,
        tf.keras.optimizers.Adam(1e-2),
        code_prior_loss(prior),
        tf.data.Dataset.from_tensor_slices(codes).batch(64),
        vaelib.FitConfig(epochs=30, progress=False, jit_compile=False),
    )
    after = -float(tf.reduce_mean(prior.log_prob(codes)))
    assert after < before and after == pytest.approx(np.log(2), abs=0.05)
    assert history.column("train_nats_per_code")[-1] == pytest.approx(np.log(2) / 2, abs=0.05)
    data = tf.data.Dataset.from_tensor_slices(codes[:100]).batch(30)  # 30, 30, 30, 10
    step = make_train_step(
        prior,
        tf.keras.optimizers.Adam(1e-2),
        code_prior_loss(prior),
        element_spec=data.element_spec,
        jit_compile=True,
    )
    for _ in range(2):
        for batch in data:
            assert np.isfinite(float(step(batch)["loss"]))
    assert step.experimental_get_tracing_count() == 1


def test_bad_codes_are_refused():
    prior = PixelCNNPrior(4, (2, 3), embed_size=2, hidden=4, num_layers=0)
    with pytest.raises(ValueError, match=r"codes must be \[n, 2, 3\]"):
        prior.log_prob(np.zeros((5, 3, 2), np.int32))
    with pytest.raises(ValueError, match="codes must be integers"):
        prior.log_prob(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="below num_codes = 4"):
        prior.log_prob(np.full((1, 2, 3), 4, np.int32))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        raster_mask(4, "A")
