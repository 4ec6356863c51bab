"""The IDX parser against arrays encoded by the tests' own writer."""

import gzip

import numpy as np
import pytest
from conftest import idx_bytes

from vaelib import idx


def test_roundtrip_images_and_labels():
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    np.testing.assert_array_equal(idx.parse_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(idx.parse_idx(idx_bytes(labels)), labels)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x05", "not uint8"),
        (b"\x00\x00\x08\x03\x00\x00", "header truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "truncated or corrupt"),
    ],
)
def test_malformed_bytes(raw, message):
    with pytest.raises(idx.IDXError, match=message):
        idx.parse_idx(raw, "x.idx")


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8)))[:-10])
    with pytest.raises(idx.IDXError, match="train-images-idx3-ubyte.gz"):
        idx.read_idx_gz(path)


def test_check_pairs_rejects_mismatch():
    x = np.zeros((4, 28, 28), np.uint8)
    with pytest.raises(idx.IDXError, match="4 train images but labels"):
        idx.check_pairs((x, np.zeros(3, np.uint8), x, np.zeros(4, np.uint8)), "here")
    with pytest.raises(idx.IDXError, match=r"expected \[N, 28, 28\]"):
        idx.check_pairs((x[:, :27], np.zeros(4, np.uint8), x, np.zeros(4, np.uint8)), "here")


def test_a_header_whose_size_overflows_int64_is_refused():
    # 2^16 four times is 2^64 elements: 0 in int64 arithmetic, so the header alone "matched"
    raw = bytes([0, 0, 0x08, 4]) + np.array([2**16] * 4, ">u4").tobytes()
    with pytest.raises(
        idx.IDXError,
        match=r"x.idx: 20 bytes, header \(65536, 65536, 65536, 65536\) "
        r"needs 18446744073709551636",
    ):
        idx.parse_idx(raw, "x.idx")
    with pytest.raises(idx.IDXError, match="x.idx: IDX header gives no dimensions"):
        idx.parse_idx(bytes([0, 0, 0x08, 0, 7]), "x.idx")


def test_a_truncated_file_is_named(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(
        gzip.compress(idx_bytes(np.zeros(10, np.uint8))[:-3])
    )  # a valid gzip, short body
    with pytest.raises(
        idx.IDXError, match=f"{path}: 15 bytes, header \\(10,\\) needs 18.*truncated"
    ):
        idx.read_idx_gz(path)
