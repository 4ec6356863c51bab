"""The download code, run for real against an HTTP server on 127.0.0.1."""

import hashlib
import threading

import pytest

from vaelib import download


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_good_file_is_cached(file_server, tmp_path):
    file_server.files["a.gz"] = b"payload" * 1000
    path = download.fetch("a.gz", sha(b"payload" * 1000), tmp_path, (file_server.url,))
    assert path == tmp_path / "a.gz"
    assert path.read_bytes() == b"payload" * 1000
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]  # no temporary left behind


def test_wrong_checksum_is_not_cached(file_server, tmp_path):
    file_server.files["a.gz"] = b"not the file you want"
    with pytest.raises(download.DownloadError, match="sha256") as info:
        download.fetch("a.gz", sha(b"the real file"), tmp_path, (file_server.url,))
    assert "a.gz" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_is_not_cached(file_server, tmp_path):
    body = bytes(range(256)) * 400
    file_server.files["a.gz"] = body
    file_server.truncate.add("a.gz")
    with pytest.raises(download.DownloadError, match="a.gz"):
        download.fetch("a.gz", sha(body), tmp_path, (file_server.url,), timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_server_down(dead_url, tmp_path):
    with pytest.raises(download.DownloadError, match="could not download a.gz"):
        download.fetch("a.gz", sha(b"x"), tmp_path, (dead_url,), timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_falls_through_to_next_mirror(file_server, dead_url, tmp_path):
    file_server.files["a.gz"] = b"right"
    path = download.fetch("a.gz", sha(b"right"), tmp_path, (dead_url, file_server.url))
    assert path.read_bytes() == b"right"


def test_missing_on_first_mirror(file_server, tmp_path):
    file_server.files["a.gz"] = b"right"
    mirrors = (file_server.url + "nothing-here/", file_server.url)
    assert download.fetch("a.gz", sha(b"right"), tmp_path, mirrors).read_bytes() == b"right"
    assert file_server.requests == ["nothing-here/a.gz", "a.gz"]


def test_concurrent_downloads_leave_one_good_file(file_server, tmp_path):
    body = bytes(range(256)) * 4000
    file_server.files["a.gz"] = body
    errors = []

    def worker():
        try:
            download.fetch("a.gz", sha(body), tmp_path, (file_server.url,))
        except Exception as error:  # noqa: BLE001 (collected for the assertion)
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]
    assert download.sha256_of(tmp_path / "a.gz") == sha(body)


def test_unwritable_cache_folder(file_server, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(download.DownloadError, match="cache folder.*cache_dir="):
        download.fetch("a.gz", sha(b"x"), blocker / "cache", (file_server.url,))


def test_verify_cached_removes_corrupt_file(tmp_path):
    path = tmp_path / "a.gz"
    path.write_bytes(b"corrupt")
    with pytest.raises(download.ChecksumError, match="run again"):
        download.verify_cached(path, sha(b"good"))
    assert not path.exists()


def test_mirrors_must_be_a_tuple_of_base_urls(tmp_path):
    from vaelib import download

    with pytest.raises(
        TypeError, match="mirrors must be a tuple of base URLs, each ending in '/', got 'http"
    ):
        download.fetch("a.gz", "0" * 64, tmp_path, "http://127.0.0.1:9/")  # a string, not a tuple
    with pytest.raises(TypeError, match="ending in '/'"):
        download.fetch("a.gz", "0" * 64, tmp_path, ("http://127.0.0.1:9",))
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds, got 0"):
        download.fetch("a.gz", "0" * 64, tmp_path, ("http://127.0.0.1:9/",), timeout=0)
    assert list(tmp_path.iterdir()) == []
