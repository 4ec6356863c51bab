"""The tf.data pipeline: shapes, dtypes, binarization, determinism."""

import numpy as np
import pytest

from vaelib import pipeline

rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
LABELS = rng.integers(0, 10, 50).astype(np.uint8)


def epoch(ds):
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple) else np.asarray(b) for b in ds]


@pytest.mark.parametrize("binarization", pipeline.BINARIZATIONS)
def test_shapes_and_values(binarization):
    ds = pipeline.make_dataset(IMAGES, LABELS, batch_size=16, binarization=binarization)
    batches = epoch(ds)
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    x, y = batches[0]
    assert x.shape == (16, 784) and x.dtype == np.float32 and y.dtype == np.int32
    if binarization == "none":
        assert 0.0 <= x.min() and x.max() <= 1.0 and len(np.unique(x)) > 2
    else:
        assert set(np.unique(x)) <= {0.0, 1.0}


def test_unshuffled_threshold_matches_numpy():
    ds = pipeline.make_dataset(IMAGES, batch_size=50, binarization="threshold", shuffle=False)
    np.testing.assert_array_equal(epoch(ds)[0], pipeline.binarize(IMAGES, "threshold"))


def test_dynamic_is_bernoulli_of_intensity():
    images = np.full((2000, 28, 28), 64, np.uint8)
    x = epoch(pipeline.make_dataset(images, batch_size=2000, binarization="dynamic"))[0]
    p = 64 / 255
    assert abs(x.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)


def test_deterministic_under_seed_and_new_each_epoch():
    def make(seed):
        return pipeline.make_dataset(
            IMAGES, LABELS, batch_size=10, binarization="dynamic", seed=seed
        )

    a, b = make(1), make(1)
    a1, a2 = epoch(a), epoch(a)
    b1, b2 = epoch(b), epoch(b)
    for u, v in zip(a1 + a2, b1 + b2, strict=False):
        np.testing.assert_array_equal(u[0], v[0])
        np.testing.assert_array_equal(u[1], v[1])
    assert not np.array_equal(a1[0][0], a2[0][0])  # a new epoch, new order and draws
    assert not np.array_equal(a1[0][0], epoch(make(2))[0][0])


def test_bad_input():
    with pytest.raises(TypeError, match="uint8"):
        pipeline.make_dataset(IMAGES.astype(np.float32), batch_size=4, binarization="threshold")
    with pytest.raises(ValueError, match=r"\[N, 28, 28\]"):
        pipeline.make_dataset(IMAGES.reshape(50, 784), batch_size=4, binarization="threshold")
    with pytest.raises(ValueError, match="binarization must be one of"):
        pipeline.make_dataset(IMAGES, batch_size=4, binarization="otsu")
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        pipeline.make_dataset(IMAGES, batch_size=0, binarization="threshold")
    with pytest.raises(ValueError, match=r"labels must have shape \[50\]"):
        pipeline.make_dataset(IMAGES, LABELS[:3], batch_size=4, binarization="threshold")


def test_fixed_is_one_draw_kept_across_epochs():
    ds = pipeline.make_dataset(IMAGES, batch_size=50, binarization="fixed", shuffle=False, seed=3)
    first, second = epoch(ds)[0], epoch(ds)[0]
    np.testing.assert_array_equal(first, second)  # the same draw every epoch
    np.testing.assert_array_equal(first, pipeline.binarize(IMAGES, "fixed", seed=3))
    assert not np.array_equal(first, pipeline.binarize(IMAGES, "fixed", seed=4))


def test_fixed_is_bernoulli_of_intensity():
    images = np.full((2000, 28, 28), 64, np.uint8)
    x = pipeline.binarize(images, "fixed", seed=0)
    p = 64 / 255
    assert abs(x.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)


def test_ambiguous_and_impossible_modes_are_refused():
    with pytest.raises(ValueError, match="'static' is ambiguous.*'fixed'.*'threshold'"):
        pipeline.binarize(IMAGES, "static")
    with pytest.raises(ValueError, match="'static' is ambiguous"):
        pipeline.make_dataset(IMAGES, batch_size=4, binarization="static")
    with pytest.raises(ValueError, match="use 'fixed'"):
        pipeline.binarize(IMAGES, "dynamic")


def test_empty_and_mislabelled_inputs_are_refused():
    with pytest.raises(ValueError, match=r"images is empty \(0 images\)"):
        pipeline.make_dataset(IMAGES[:0], batch_size=4, binarization="dynamic")
    with pytest.raises(ValueError, match="images is empty"):
        pipeline.binarize(IMAGES[:0], "fixed")
    with pytest.raises(TypeError, match="labels must be integer class indices, got dtype float64"):
        pipeline.make_dataset(IMAGES, LABELS + 0.5, batch_size=4, binarization="fixed")
    with pytest.raises(ValueError, match="labels must be class indices >= 0, got values from -1"):
        pipeline.make_dataset(
            IMAGES, LABELS.astype(np.int64) - 1, batch_size=4, binarization="fixed"
        )
    with pytest.raises(ValueError, match="batch_size must be a positive int, got True"):
        pipeline.make_dataset(IMAGES, batch_size=True, binarization="fixed")
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        pipeline.make_dataset(IMAGES, batch_size=4, binarization="fixed", seed=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative int, got 'a'"):
        pipeline.binarize(IMAGES, "fixed", seed="a")
