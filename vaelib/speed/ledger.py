"""Where a program's time goes, by vaelib function: a ledger of calls, and `fit`'s set-up.

A chapter spends its time in a few of vaelib's functions (``fit``, ``iwae_bound``, ``ais``,
...). :class:`CallLedger` is a context manager that, while it is open, wraps every plain
function of the loaded ``vaelib`` modules (in every module that holds a reference to it, so
``vaelib.fit`` and ``vaelib.training.train.fit`` are one function) and records each
*outermost* call: its name, wall-clock start and seconds. A call made inside another wrapped
call (``fit`` calling ``make_train_loop``, a loss tracing ``elbo``) is part of the outer one's
time and is not recorded again, so the recorded seconds never count a second twice.

For a call that returns a :class:`vaelib.History` (``fit``), the record also holds the
epochs' seconds and the number of steps; :func:`fit_split` reads them as *set-up* (the first
epoch's seconds minus the median of the others': tracing, XLA's compilation, the first-batch
check) and *training* (the rest).

On exit every function is put back. Nothing is written unless :meth:`CallLedger.write` is
given a path. ``scripts/profile_chapter.py`` opens a ledger around a whole notebook.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import statistics
import sys
import threading
import time
import types
from typing import Any

from vaelib.training.fit_config import History

__all__ = ["Call", "CallLedger", "fit_split"]


@dataclasses.dataclass(frozen=True)
class Call:
    """One outermost call of a vaelib function.

    Attributes:
      name: the function's module and name, e.g. ``vaelib.training.train.fit``.
      started: wall-clock time at the call (``time.time()``, seconds since the epoch).
      seconds: how long the call took.
      epochs: for a call that returned a ``History``, each epoch's seconds; else empty.
      steps: for such a call, the training steps it ran; else 0.
    """

    name: str
    started: float
    seconds: float
    epochs: tuple[float, ...] = ()
    steps: int = 0


def fit_split(call: Call) -> tuple[float, float]:
    """``(set_up, training)`` seconds of a ``fit`` call.

    ``set_up`` is the first epoch's seconds minus the median of the later epochs' (0 for a
    one-epoch call, whose set-up cannot be told from its training; never negative), and
    ``training`` the rest of the call's seconds.

    Raises:
      ValueError: the call has no epochs (it did not return a ``History``).
    """
    if not call.epochs:
        raise ValueError(f"{call.name} returned no History: no epochs to split")
    if len(call.epochs) == 1:
        return 0.0, call.seconds
    set_up = max(0.0, call.epochs[0] - statistics.median(call.epochs[1:]))
    return set_up, call.seconds - set_up


class CallLedger:
    """Records the outermost calls of vaelib's functions while open (see the module).

    Args:
      prefix: wrap the functions of modules whose name starts with this.
    """

    def __init__(self, prefix: str = "vaelib"):
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a module name such as 'vaelib', got {prefix!r}")
        self.prefix = prefix
        self.calls: list[Call] = []
        self._local = threading.local()
        self._patched: list[tuple[types.ModuleType, str, Any]] = []

    def _wrap(self, fn: types.FunctionType) -> types.FunctionType:
        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if getattr(self._local, "depth", 0):
                return fn(*args, **kwargs)
            self._local.depth = 1
            started, start = time.time(), time.perf_counter()
            result = None
            try:
                result = fn(*args, **kwargs)
                return result
            finally:
                self._local.depth = 0
                seconds = time.perf_counter() - start
                epochs, steps = (), 0
                if isinstance(result, History):
                    epochs = tuple(float(row["seconds"]) for row in result.epochs)
                    steps = len(result.step_loss)
                self.calls.append(Call(name, started, seconds, epochs, steps))

        return wrapper

    def __enter__(self) -> CallLedger:
        if self._patched:
            raise RuntimeError("this CallLedger is already open")
        modules = {  # one entry per module object (vaelib.train is vaelib.training.train)
            id(m): m
            for key, m in list(sys.modules.items())
            if isinstance(m, types.ModuleType)
            and (key == self.prefix or key.startswith(self.prefix + "."))
        }
        wrappers: dict[int, types.FunctionType] = {}  # id(original) -> its one wrapper
        for module in modules.values():
            for attr, value in list(vars(module).items()):
                if not isinstance(value, types.FunctionType):
                    continue
                if not (value.__module__ or "").startswith(self.prefix):
                    continue
                if value.__module__ == __name__:  # the ledger's own functions
                    continue
                if id(value) not in wrappers:
                    wrappers[id(value)] = self._wrap(value)
                wrapper = wrappers[id(value)]
                self._patched.append((module, attr, value))
                setattr(module, attr, wrapper)
        return self

    def __exit__(self, *exc) -> None:
        for module, attr, value in reversed(self._patched):
            setattr(module, attr, value)
        self._patched.clear()

    def totals(self) -> dict[str, tuple[int, float]]:
        """``{name: (calls, seconds)}``, largest total first."""
        out: dict[str, list] = {}
        for call in self.calls:
            entry = out.setdefault(call.name, [0, 0.0])
            entry[0] += 1
            entry[1] += call.seconds
        return {k: (n, s) for k, (n, s) in sorted(out.items(), key=lambda kv: -kv[1][1])}

    def write(self, path: str | os.PathLike) -> None:
        """Writes the calls as JSON to ``path`` (a list of :class:`Call` fields)."""
        with open(os.path.expanduser(path), "w") as f:
            json.dump([dataclasses.asdict(c) for c in self.calls], f, indent=1)
