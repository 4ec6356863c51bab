"""Checksummed, atomic downloads into a cache folder.

A file reaches its final name only after its SHA-256 matches: it is written to
a uniquely named temporary file in the same folder, checked, then renamed with
``os.replace`` (atomic on POSIX and Windows). So a truncated body, a wrong
file or two processes downloading at once never leave a corrupt file behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import tempfile
import urllib.error
import urllib.request

__all__ = ["DownloadError", "ChecksumError", "CacheError", "sha256_of", "fetch", "verify_cached"]

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected checksum."""


class ChecksumError(DownloadError):
    """A file's SHA-256 differs from the pinned one."""


class CacheError(DownloadError):
    """The cache folder cannot be created or written: a set-up problem, never a reason to fall
    back to other data."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_cached(path: pathlib.Path, sha256: str) -> None:
    """Checks a cached file; removes it and raises if it is corrupt.

    Raises:
      ChecksumError: naming the file and what to do (run again to re-download).
    """
    actual = sha256_of(path)
    if actual != sha256:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"cached file {path} is corrupt (sha256 {actual[:12]}..., expected {sha256[:12]}...); "
            "it has been removed: run again to download it afresh"
        )


def _writable_dir(folder: pathlib.Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CacheError(
            f"cannot create cache folder {folder}: {error.strerror}; "
            "pass cache_dir= a writable folder or set $VAELIB_CACHE_DIR"
        ) from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CacheError(
            f"cache folder {folder} is not writable; "
            "pass cache_dir= a writable folder or set $VAELIB_CACHE_DIR"
        )


def _fetch_one(url: str, sha256: str, target: pathlib.Path, timeout: float) -> None:
    """Downloads ``url`` to ``target`` via a verified temporary file."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = pathlib.Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            expected_len = response.headers.get("Content-Length")
            received = 0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
        if expected_len is not None and received != int(expected_len):
            raise DownloadError(f"{url}: truncated, got {received} of {expected_len} bytes")
        if digest.hexdigest() != sha256:
            raise ChecksumError(
                f"{url}: sha256 {digest.hexdigest()[:12]}..., "
                f"expected {sha256[:12]}... (wrong or corrupt file; not cached)"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    filename: str,
    sha256: str,
    folder: str | os.PathLike,
    mirrors: tuple[str, ...],
    *,
    timeout: float = 30.0,
) -> pathlib.Path:
    """Downloads ``filename`` from the first mirror that serves the right bytes.

    Args:
      filename: the file's name on the mirrors and in ``folder``.
      sha256: its expected hex SHA-256.
      folder: the cache folder; created if missing.
      mirrors: base URLs, each ending in ``/``; tried in order.
      timeout: seconds for each connection and read.

    Returns:
      The path of the verified file in ``folder``.

    Raises:
      DownloadError: every mirror failed; the message gives each reason.
      TypeError, ValueError: ``mirrors`` is not a tuple of base URLs ending in
        ``/``, or ``timeout`` is not positive.
    """
    if isinstance(mirrors, str) or not all(isinstance(m, str) and m.endswith("/") for m in mirrors):
        raise TypeError(
            f"mirrors must be a tuple of base URLs, each ending in '/', got {mirrors!r}"
        )
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    folder = pathlib.Path(folder)
    _writable_dir(folder)
    target = folder / filename
    reasons = []
    for base in mirrors:
        url = base + filename
        try:
            _fetch_one(url, sha256, target, timeout)
            return target
        except (urllib.error.URLError, http.client.HTTPException, OSError, DownloadError) as error:
            reason = getattr(error, "reason", error)
            reasons.append(
                f"{url}: {reason}" if not isinstance(error, DownloadError) else str(error)
            )
    raise DownloadError(f"could not download {filename}: " + "; ".join(reasons))
