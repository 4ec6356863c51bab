"""Reader for the IDX format of MNIST-style datasets (gzipped).

An IDX file is a big-endian header (two zero bytes, a type code, the number of
dimensions, then one uint32 per dimension) followed by the raw values. MNIST
and Fashion-MNIST use type ``0x08`` (uint8): images ``[N, 28, 28]``, labels ``[N]``.
"""

from __future__ import annotations

import gzip
import math
import os
import pathlib
import zlib

import numpy as np

__all__ = ["IDXError", "parse_idx", "read_idx_gz", "check_pairs"]


class IDXError(ValueError):
    """A file is not a well-formed uint8 IDX file."""


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parses the bytes of an (uncompressed) IDX file.

    Args:
      raw: the file's bytes.
      name: used in error messages.

    Returns:
      A uint8 array with the shape the header gives.

    Raises:
      IDXError: bad magic number, unsupported type, or a body of the wrong size.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{name}: not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise IDXError(f"{name}: IDX type code {raw[2]:#04x} is not uint8 (0x08)")
    ndim = raw[3]
    if ndim == 0:
        raise IDXError(f"{name}: IDX header gives no dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{name}: header truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(shape) + header  # Python ints: a crafted header cannot overflow to a match
    if len(raw) != expected:
        raise IDXError(
            f"{name}: {len(raw)} bytes, header {shape} needs {expected}: "
            "the file is truncated or corrupt; delete it and download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_gz(path: str | os.PathLike) -> np.ndarray:
    """Reads a gzipped IDX file; see :func:`parse_idx`."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise IDXError(
            f"{path}: not a readable gzip file ({error}); delete it and download it again"
        ) from error
    return parse_idx(raw, str(path))


def check_pairs(arrays: tuple[np.ndarray, ...], where: object) -> None:
    """Checks ``(x_train, y_train, x_test, y_test)`` for MNIST-like shapes."""
    x_train, y_train, x_test, y_test = arrays
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise IDXError(f"{where}: {split} images have shape {x.shape}, expected [N, 28, 28]")
        if y.ndim != 1 or len(y) != len(x):
            raise IDXError(f"{where}: {len(x)} {split} images but labels of shape {y.shape}")
        if y.size and y.max() > 9:
            raise IDXError(f"{where}: {split} labels go up to {y.max()}, expected 0..9")
