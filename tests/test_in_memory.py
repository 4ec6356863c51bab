"""InMemoryData: the batches fit draws on the device follow make_dataset's rules."""

import numpy as np
import pytest

from vaelib.data.in_memory import InMemoryData
from vaelib.data.pipeline import BINARIZATIONS, binarize

rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
LABELS = np.arange(50)  # each label names its image, so a batch shows which images it holds


def epoch(data, e):
    return [data.batch(e, j) for j in range(data.steps_per_epoch)]


@pytest.mark.parametrize("binarization", BINARIZATIONS)
def test_shapes_values_and_every_image_once_per_epoch(binarization):
    data = InMemoryData(IMAGES, LABELS, batch_size=16, binarization=binarization)
    assert data.steps_per_epoch == 4 and data.batch_sizes() == [(16, 3), (2, 1)]
    batches = epoch(data, 0)
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    x, y = batches[0]
    assert x.shape == (16, 784) and x.dtype.name == "float32" and y.dtype.name == "int32"
    if binarization == "none":
        assert 0.0 <= np.min(x) and np.max(x) <= 1.0 and len(np.unique(x)) > 2
    else:
        assert set(np.unique(x)) <= {0.0, 1.0}
    seen = np.concatenate([np.asarray(y) for _, y in batches])
    assert sorted(seen) == list(range(50))  # a permutation: every image exactly once
    again = np.concatenate([np.asarray(y) for _, y in epoch(data, 1)])
    assert sorted(again) == list(range(50)) and list(again) != list(seen)  # a new order


@pytest.mark.parametrize("binarization", ["fixed", "threshold", "none"])
def test_deterministic_binarizations_equal_numpy(binarization):
    data = InMemoryData(IMAGES, LABELS, batch_size=50, binarization=binarization, seed=3)
    x, y = data.batch(2, 0)
    expected = binarize(IMAGES, binarization, seed=3)[np.asarray(y)]  # the rows it picked
    np.testing.assert_array_equal(np.asarray(x), expected)


def test_unshuffled_keeps_the_images_order():
    data = InMemoryData(IMAGES, LABELS, batch_size=20, binarization="none", shuffle=False)
    ys = [np.asarray(y) for _, y in epoch(data, 5)]
    np.testing.assert_array_equal(np.concatenate(ys), np.arange(50))


def test_dynamic_is_bernoulli_of_intensity_and_redrawn():
    images = np.full((2000, 28, 28), 64, np.uint8)
    data = InMemoryData(images, batch_size=1000, binarization="dynamic")
    first, second = epoch(data, 0)
    x = np.concatenate([first, second])
    p = 64 / 255
    assert abs(x.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    # a new draw at every use: steps and epochs differ, about 2p(1-p) of the pixels
    for other in (np.asarray(second), np.asarray(data.batch(1, 0))):
        changed = np.mean(np.asarray(first) != other)
        assert abs(changed - 2 * p * (1 - p)) < 0.01


def test_every_grey_level_is_drawn_with_its_own_probability():
    """P(x = 1) = v / 255 for each of the 256 levels (0 never, 255 always), 5 SE bounds."""
    levels = np.arange(784) % 256
    images = np.tile(levels.reshape(1, 28, 28), (1000, 1, 1)).astype(np.uint8)
    data = InMemoryData(images, batch_size=500, binarization="dynamic", seed=3)
    x = np.concatenate([np.asarray(b) for b in epoch(data, 0)])
    count = np.bincount(levels, minlength=256) * len(x)
    freq = np.bincount(levels, weights=x.sum(axis=0), minlength=256) / count
    p = np.arange(256) / 255
    assert freq[0] == 0 and freq[255] == 1
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / count))


def test_the_stream_is_fixed_by_the_seed_alone():
    a = InMemoryData(IMAGES, LABELS, batch_size=16, seed=7)
    b = InMemoryData(IMAGES, LABELS, batch_size=16, seed=7)
    c = InMemoryData(IMAGES, LABELS, batch_size=16, seed=8)
    for (xa, ya), (xb, yb) in zip(epoch(a, 3), epoch(b, 3), strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a.batch(3, 0)[1], c.batch(3, 0)[1])


def test_drop_remainder_and_as_dataset():
    data = InMemoryData(IMAGES, batch_size=16, drop_remainder=True)
    assert data.steps_per_epoch == 3 and data.batch_sizes() == [(16, 3)]
    from_dataset = [np.asarray(x) for x in data.as_dataset(4)]
    for x, y in zip(from_dataset, epoch(data, 4), strict=True):
        np.testing.assert_array_equal(x, y)
    assert data.as_dataset(4).element_spec == data.element_spec


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"images": IMAGES.astype(np.float32)}, TypeError, "images must be uint8"),
        ({"binarization": "static"}, ValueError, "'static' is ambiguous"),
        ({"binarization": "grey"}, ValueError, "binarization"),
        ({"labels": LABELS[:10]}, ValueError, r"labels must have shape \[50\]"),
        ({"labels": LABELS.astype(float)}, TypeError, "labels must be integer"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 60, "drop_remainder": True}, ValueError, "drop the only batch"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, match):
    arguments = {"images": IMAGES, "batch_size": 16, **kwargs}
    with pytest.raises(error, match=match):
        InMemoryData(**arguments)


def test_batch_index_past_the_epoch():
    with pytest.raises(ValueError, match="index 4 is past the epoch's 4 batches"):
        InMemoryData(IMAGES, batch_size=16).batch(0, 4)
