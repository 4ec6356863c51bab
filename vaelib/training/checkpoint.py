"""A folder of checkpoints that are written once, verified, and never overwritten.

(Over 300 lines because :class:`CheckpointFolder` is one class whose methods (lock, save,
verify, restore, rotate) keep one set of invariants about the folder, listed below; each
method relies on all of them, and the tests exercise them together. The fingerprint and
the errors are small and could live apart; the fingerprint does, in
:mod:`vaelib.training.fingerprint`.)

:func:`vaelib.fit` saves a checkpoint after every epoch when given a
``checkpoint_dir``; :class:`CheckpointFolder` is how. A checkpoint ``ckpt-N`` is
TensorFlow's two files (``ckpt-N.index``, ``ckpt-N.data-...``) plus a manifest,
``ckpt-N.json``, written last and atomically: the epoch, a :func:`fingerprint`
of the model's configuration, and the size and SHA-256 of each file. So:

* a checkpoint is *complete* only once its manifest exists, and *intact* only
  if its files still match it; a save killed half-way (even by ``kill -9``)
  leaves no manifest, and a later run restores the highest intact ``ckpt-N``,
  warning about the ones it skips;
* TensorFlow's ``checkpoint`` index file is written for other tools but never
  trusted: the files themselves are;
* every save takes a number above every ``ckpt-*`` name in the folder, so no
  file this run did not write is ever overwritten;
* a run deletes only what it wrote itself: rotation (``max_to_keep``) counts and
  deletes only the checkpoints saved by this :class:`CheckpointFolder`; those of
  earlier runs, foreign files and checkpoints skipped as incomplete or corrupt
  stay where they are, never counted, never deleted (the warning says so);
* a save that fails (a full disk) removes the files it had begun, and raises
  :class:`CheckpointSaveError` naming the folder and the space a checkpoint needs,
  so the next run finds the folder as it was before;
* a checkpoint of another configuration (a tanh model resumed as a relu one) is
  refused with an error naming the differing field;
* one training run at a time: the folder is locked (``flock``) while a run uses
  it, and a second one stops with :class:`CheckpointLockedError`.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import shutil
import socket
import tempfile
import time
import warnings
from typing import Mapping

import tensorflow as tf

from vaelib import validation
from vaelib.data.download import sha256_of
from vaelib.training.fingerprint import (  # noqa: F401 (re-exported: the old path)
    _qualname,
    fingerprint,
)

__all__ = [
    "CheckpointError",
    "CheckpointLockedError",
    "CheckpointMismatchError",
    "CheckpointSaveError",
    "CheckpointFolder",
    "fingerprint",
]

FORMAT = 1
LOCK_NAME = ".vaelib-lock"
_NUMBERED = re.compile(r"^ckpt-(\d+)(?:\D|$)")


class CheckpointError(RuntimeError):
    """A checkpoint folder cannot be used as it is. Nothing in it was changed."""


class CheckpointLockedError(CheckpointError):
    """Another training run is using the checkpoint folder."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """The checkpoint was written by a model of another configuration or shape."""


class CheckpointSaveError(CheckpointError):
    """A checkpoint could not be written (a full disk, say). The files that save had
    begun were removed; every checkpoint written before it is intact."""


def _size(num_bytes: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if num_bytes < 1000 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "bytes" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    raise AssertionError  # unreachable


def _write_json(path: pathlib.Path, content: dict) -> None:
    """Writes ``content`` to ``path`` as JSON, atomically."""
    _write_text(path, json.dumps(content, indent=1))


def _write_text(path: pathlib.Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically: a temporary file, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        pathlib.Path(tmp).unlink(missing_ok=True)


class CheckpointFolder:
    """Numbered, verified checkpoints of one ``tf.train.Checkpoint`` in one folder.

    Use it as a context manager (which holds the lock), then :meth:`restore`
    once and :meth:`save` after each epoch.

    Args:
      folder: the folder; created if missing.
      checkpoint: what to save and restore (model, optimizer, epoch counter).
      fingerprint: the model's :func:`fingerprint`, stored in each manifest.
      max_to_keep: checkpoints of this run kept; after a save, this run's older
        ones beyond it are deleted. Files this run did not write never are.
      writer: ``False`` on a worker that must not write (every worker of a
        multi-worker run but the chief): it restores, takes no lock, and saves nothing.

    Raises:
      TypeError, ValueError: ``folder`` is not a path (``"~/ckpts"`` is the home
        folder's), or ``max_to_keep`` is not a positive int.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        checkpoint: tf.train.Checkpoint,
        fingerprint: Mapping[str, str],
        *,
        max_to_keep: int = 2,
        writer: bool = True,
    ):
        self.max_to_keep = validation.positive_int("max_to_keep", max_to_keep)
        self.folder = validation.path("checkpoint_dir", folder)
        self.checkpoint, self.fingerprint = checkpoint, dict(fingerprint)
        self.writer = validation.flag("writer", writer)
        self._lock_file = None
        self._last = 0  # the highest number this run wrote
        self._written: list[tuple[int, list[str]]] = []  # (number, file names) this run wrote

    def __enter__(self) -> "CheckpointFolder":
        if self.writer:
            self.lock()
        return self

    def __exit__(self, *exc) -> None:
        self.unlock()

    def lock(self) -> None:
        """Creates the folder and locks it for this process.

        Raises:
          CheckpointLockedError: another process holds the lock.
          CheckpointError: the folder cannot be created.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as error:
            raise CheckpointError(f"checkpoint_dir {self.folder} is not a folder") from error
        except OSError as error:
            raise CheckpointError(
                f"cannot create checkpoint_dir {self.folder}: {error.strerror}"
            ) from error
        try:
            import fcntl
        except ImportError:  # Windows
            warnings.warn(
                f"cannot lock {self.folder} on this platform: make sure that only one "
                "training run uses it at a time",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        lock_file = open(self.folder / LOCK_NAME, "a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another process"
            lock_file.close()
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise CheckpointLockedError(
                    f"checkpoint_dir {self.folder} is in use by another training run ({holder}); "
                    "wait for it to finish, or pass another checkpoint_dir"
                ) from None
            warnings.warn(
                f"cannot lock {self.folder} ({error.strerror}): make sure that only one "
                "training run uses it at a time",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        lock_file.truncate(0)
        lock_file.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.ctime()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    def unlock(self) -> None:
        """Releases the lock (closing the file releases ``flock``)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _numbers(self) -> list[int]:
        """Every number that any ``ckpt-N...`` name in the folder uses, complete or not."""
        if not self.folder.is_dir():
            return []
        return sorted(
            {int(m.group(1)) for p in self.folder.iterdir() if (m := _NUMBERED.match(p.name))}
        )

    def _problem(self, number: int) -> tuple[str | None, dict | None]:
        """``(None, manifest)`` if ``ckpt-<number>`` is complete and intact, else
        ``(why, None)``."""
        path = self.folder / f"ckpt-{number}.json"
        if not path.exists():
            return "no manifest: an interrupted save, or not written by vaelib", None
        try:
            manifest = json.loads(path.read_text())
            files = {
                name: (int(f["bytes"]), str(f["sha256"])) for name, f in manifest["files"].items()
            }
            manifest["epoch"] = int(manifest["epoch"])
            if not isinstance(manifest["fingerprint"], dict):
                raise TypeError("fingerprint is not a mapping")
        except (ValueError, KeyError, TypeError, AttributeError, OSError) as error:
            return f"unreadable manifest {path.name} ({type(error).__name__}: {error})", None
        if not any(name.endswith(".index") for name in files):
            return f"manifest {path.name} lists no index file", None
        for name, (size, sha256) in files.items():
            file = self.folder / name
            if not file.exists():
                return f"{file} is missing", None
            if file.stat().st_size != size:
                return (
                    f"{file} has {file.stat().st_size} bytes, not {size} (truncated or corrupt)",
                    None,
                )
            if sha256_of(file) != sha256:
                return f"{file} is corrupt (its SHA-256 differs from the manifest's)", None
        return None, manifest

    def restore(self) -> int | None:
        """Restores the highest intact checkpoint; returns its epoch, or ``None`` if there is none.

        Raises:
          CheckpointMismatchError: it was written by another configuration (the
            message names the fields) or its variables do not fit the model.
          CheckpointError: the folder holds ``ckpt-*`` files but no intact
            checkpoint; nothing is restored and nothing changed.
        """
        numbers = self._numbers()
        skipped = []
        for number in reversed(numbers):
            problem, manifest = self._problem(number)
            if problem is not None:
                skipped.append(f"ckpt-{number}: {problem}")
                continue
            if skipped:
                warnings.warn(
                    f"{self.folder}: restoring ckpt-{number}, the highest intact checkpoint; "
                    "skipped " + "; ".join(skipped) + f". The skipped files stay in "
                    f"{self.folder} as they are, never counted among max_to_keep nor "
                    "deleted: inspect them, then move or delete them yourself",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self._check_fingerprint(number, manifest["fingerprint"])
            self._read(number)
            return int(manifest["epoch"])
        if numbers:
            raise CheckpointError(
                f"checkpoint_dir {self.folder} holds checkpoint files but no intact checkpoint ("
                + "; ".join(skipped)
                + "). Nothing was restored or changed: move those files "
                "away to start afresh, or pass another checkpoint_dir"
            )
        return None

    def _check_fingerprint(self, number: int, stored: Mapping[str, str]) -> None:
        fields = list(dict.fromkeys([*stored, *self.fingerprint]))
        differ = [f for f in fields if stored.get(f) != self.fingerprint.get(f)]
        if differ:
            shown = "; ".join(
                f"{f}: checkpoint {stored.get(f, '(none)')}, this model "
                f"{self.fingerprint.get(f, '(none)')}"
                for f in differ[:4]
            )
            raise CheckpointMismatchError(
                f"checkpoint {self.folder / f'ckpt-{number}'} was written by another configuration "
                f"({shown}{'; ...' if len(differ) > 4 else ''}); build the model as it was, "
                "or pass another checkpoint_dir"
            )

    def _read(self, number: int) -> None:
        prefix = self.folder / f"ckpt-{number}"
        try:
            self.checkpoint.read(str(prefix)).assert_existing_objects_matched()
        except ValueError as error:
            raise CheckpointMismatchError(
                f"checkpoint {prefix} does not fit the model: {error}"
            ) from error
        except (IndexError, AssertionError, tf.errors.OpError) as error:
            raise CheckpointError(f"cannot restore checkpoint {prefix}: {error}") from error

    def save(self, epoch: int) -> pathlib.Path | None:
        """Writes the next checkpoint, then its manifest, then deletes this run's old ones.

        Returns:
          Its path prefix (``.../ckpt-N``), or ``None`` where ``writer`` is false.

        Raises:
          CheckpointSaveError: the files could not be written (a full disk, a file-size
            limit, a folder that vanished); the ones this save had begun are removed.
        """
        if not self.writer:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        before = {p.name for p in self.folder.iterdir()}
        number = max([self._last, *self._numbers()]) + 1  # above every name: nothing is overwritten
        prefix = self.folder / f"ckpt-{number}"
        try:
            self.checkpoint.write(str(prefix))
            files = sorted(
                p
                for p in self.folder.iterdir()
                if p.name == f"{prefix.name}.index" or p.name.startswith(f"{prefix.name}.data-")
            )
            _write_json(
                self.folder / f"ckpt-{number}.json",
                {
                    "format": FORMAT,
                    "number": number,
                    "epoch": int(epoch),
                    "fingerprint": self.fingerprint,
                    "writer": f"pid {os.getpid()} on {socket.gethostname()}",
                    "files": {
                        p.name: {"bytes": p.stat().st_size, "sha256": sha256_of(p)} for p in files
                    },
                },
            )
        except BaseException as error:  # a full disk, or an interrupt: remove what was begun
            self._remove_new(number, before)
            if isinstance(error, (OSError, tf.errors.OpError)):
                raise self._save_error(prefix, error) from error
            raise
        self._last = number
        self._written.append((number, [p.name for p in files]))
        kept = self._rotate()
        # TensorFlow's index file, for tf.train.latest_checkpoint and other tools; never read here
        try:
            _write_text(
                self.folder / "checkpoint",
                "".join(
                    [f'model_checkpoint_path: "{prefix.name}"\n']
                    + [f'all_model_checkpoint_paths: "ckpt-{n}"\n' for n in kept]
                ),
            )
        except OSError as error:  # the checkpoint itself is complete and verified
            warnings.warn(
                f"{prefix} is saved, but TensorFlow's index file "
                f"{self.folder / 'checkpoint'} could not be updated "
                f"({error.strerror or error}); vaelib never reads it",
                RuntimeWarning,
                stacklevel=2,
            )
        return prefix

    def _remove_new(self, number: int, before: set[str]) -> None:
        """Removes what a failed save of ``ckpt-<number>`` had begun: every ``ckpt-<number>...``
        name (TensorFlow's ``ckpt-N_temp`` folder, partial files) that was not there before."""
        for path in self.folder.iterdir():
            match = _NUMBERED.match(path.name)
            if match and int(match.group(1)) == number and path.name not in before:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def _save_error(self, prefix: pathlib.Path, error: Exception) -> CheckpointSaveError:
        """The library's error for a failed save: the folder, the cause, the space needed."""
        if isinstance(error, tf.errors.OpError):  # without TensorFlow's "{{function_node ...}}"
            message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", error.message).strip()
            cause = f"{type(error).__name__}: {(message.splitlines() or [''])[0]}"
        else:
            cause = f"{type(error).__name__}: {error.strerror or error}"
        full = (
            isinstance(error, tf.errors.ResourceExhaustedError)
            or getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
            or any(word in str(error).lower() for word in ("no space", "too large", "quota"))
        )
        needed = self._bytes_needed()
        try:
            free = f"{_size(shutil.disk_usage(self.folder).free)} free there"
        except OSError:
            free = "its free space unknown"
        space = (
            f"a checkpoint needs about {_size(needed)}"
            if needed
            else "a checkpoint's size is unknown"
        ) + f", {free}"
        return CheckpointSaveError(
            f"could not save checkpoint {prefix.name} in checkpoint_dir {self.folder} ({cause}); "
            + (
                f"the disk is full or a file-size limit was reached: {space}. "
                if full
                else f"{space}. "
            )
            + "The files this save had begun were removed and every earlier checkpoint is intact: "
            "free some space (or pass another checkpoint_dir) and run again; fit resumes from "
            "the last checkpoint saved, if any"
        )

    def _bytes_needed(self) -> int:
        """The size of this run's last checkpoint, or else of the variables it will hold."""
        if self._written:
            return sum(
                (self.folder / name).stat().st_size
                for name in self._written[-1][1]
                if (self.folder / name).exists()
            )
        try:
            objects = tf.train.TrackableView(self.checkpoint).descendants()
        except (AttributeError, TypeError, ValueError):
            return 0
        seen, total = set(), 0
        for obj in objects:
            shape, dtype = getattr(obj, "shape", None), getattr(obj, "dtype", None)
            if shape is None or dtype is None or id(obj) in seen:
                continue
            seen.add(id(obj))
            try:
                total += int(tf.TensorShape(shape).num_elements() or 0) * tf.as_dtype(dtype).size
            except (TypeError, ValueError):
                continue
        return total

    def _rotate(self) -> list[int]:
        """Deletes this run's checkpoints beyond ``max_to_keep``, oldest first; returns the kept.

        Only checkpoints this :class:`CheckpointFolder` wrote are counted or deleted: an
        earlier run's, a foreign file or a checkpoint skipped as corrupt is never touched.
        """
        while len(self._written) > self.max_to_keep:
            number, names = self._written.pop(0)
            (self.folder / f"ckpt-{number}.json").unlink(missing_ok=True)  # first: a half-deleted
            for name in names:  # checkpoint is then incomplete, never mistaken for an intact one
                (self.folder / name).unlink(missing_ok=True)
        return [number for number, _ in self._written]
