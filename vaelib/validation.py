"""One set of rules for the arguments of every public function and configuration.

(Over 300 lines because it is one rule set: every check here must agree with every other
on what an integer, a flag, a path or a real number is; split, the rules would drift apart.)

Every public entry point and every configuration dataclass checks its arguments
with these functions, before any computation (and never inside a compiled step),
so that the same value is accepted or refused everywhere, with the same words:

* an **integer** is a ``numbers.Integral`` (a Python ``int`` or a NumPy integer
  such as ``np.int64(2)``, what a sweep over ``np.arange`` gives) but not a
  ``bool``; it is returned as a Python ``int``, so a configuration built from
  ``np.int64(2)`` equals (and fingerprints as) one built from ``2``;
* a **real number** is a ``numbers.Real`` (Python or NumPy) but not a ``bool``,
  finite unless said otherwise; NumPy's are returned as Python ``int`` or ``float``;
* a **flag** is ``True`` or ``False`` (or a NumPy ``bool_``), never 0, 1 or a string;
* **text** is a ``str``;
* a **path** is a ``str`` or ``os.PathLike``, non-empty; a leading ``~`` is
  expanded to the home folder (as a shell would), and one that names no home
  folder (``~nobody/x``) is refused: a folder literally named ``~`` is never made;
* **examples** (``x``) are an array or a tensor, never a ``tf.data.Dataset``,
  whose order and draws change at every pass.

A value of the wrong type raises :class:`ArgumentTypeError`, a ``TypeError``
(and also a ``ValueError``, which these checks raised before they were one
layer, so code that catches ``ValueError`` still catches it); a value of the
right type but outside the allowed range raises ``ValueError``. Every message
names the argument, what it must be, and what it got.
"""

from __future__ import annotations

import math
import numbers
import os
import pathlib
import sys
from typing import Any, Iterable

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "integer",
    "positive_int",
    "real",
    "flag",
    "text",
    "integers",
    "reals",
    "path",
    "examples",
    "num_examples",
]

_INTEGER = "an int or a NumPy integer, not a bool"
_REAL = "an int, a float or a NumPy number, not a bool"


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a ``TypeError``; also a ``ValueError``, see the module)."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _real_words(finite: bool, minimum: float | None, maximum: float | None, positive: bool) -> str:
    """``"a finite positive number"``, ``"a finite number in [0, 1]"``, ``"a number >= 0"``..."""
    words = f"a {'finite ' if finite else ''}{'positive ' if positive else ''}number"
    if minimum is not None and maximum is not None:
        return f"{words} in [{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f"{words} >= {minimum:g}"
    return f"{words} <= {maximum:g}" if maximum is not None else words


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as a Python ``int``, checked to be an integer ``>= minimum``.

    Raises:
      ArgumentTypeError: not an integer (a float, a bool, a string, ``None``).
      ValueError: below ``minimum``.
    """
    words = (
        "an int"
        if minimum is None
        else "a positive int"
        if minimum == 1
        else "a non-negative int"
        if minimum == 0
        else f"an int >= {minimum}"
    )
    if not _is_integer(value):
        raise ArgumentTypeError(f"{name} must be {words}, got {value!r} ({_INTEGER})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {words}, got {value!r}")
    return value


def positive_int(name: str, value: Any) -> int:
    """``value`` as a Python ``int`` ``>= 1`` (see :func:`integer`)."""
    return integer(name, value, minimum=1)


def real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    finite: bool = True,
) -> float:
    """``value`` checked to be a real number; NumPy numbers become Python ones.

    A Python ``int`` or ``float`` is returned unchanged (so ``beta=4`` still reads ``4``).

    Args:
      name: the argument's name, for the message.
      value: what the caller passed.
      minimum, maximum: inclusive bounds, or ``None``.
      positive: also refuse 0.
      finite: refuse NaN and infinities (NaN is always refused).

    Raises:
      ArgumentTypeError: not a real number (a bool, a string, ``None``, an array).
      ValueError: NaN, infinite (with ``finite``), or out of range.
    """
    words = _real_words(finite, minimum, maximum, positive)
    if not _is_real(value):
        raise ArgumentTypeError(f"{name} must be {words}, got {value!r} ({_REAL})")
    if type(value) not in (int, float):  # NumPy: an integer stays one, as a Python int would
        value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be {words}, got {value!r}")
    if (
        (positive and not value > 0)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise ValueError(f"{name} must be {words}, got {value!r}")
    return value


def flag(name: str, value: Any) -> bool:
    """``value`` as a Python ``bool``; only ``True``, ``False`` and NumPy's ``bool_`` pass."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def text(
    name: str, value: Any, *, choices: Iterable[str] | None = None, empty: bool = False
) -> str:
    """``value`` checked to be a ``str``: non-empty (unless ``empty``), one of ``choices`` if given.

    Raises:
      ArgumentTypeError: not a ``str``.
      ValueError: empty, blank or not among ``choices``.
    """
    if choices is not None:
        choices = tuple(choices)
        if not isinstance(value, str):
            raise ArgumentTypeError(f"{name} must be one of {choices}, got {value!r}")
        if value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be a string, got {value!r}")
    if not empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _sequence(name: str, value: Any, what: str) -> list:
    if not isinstance(value, (tuple, list, range, np.ndarray)):
        raise ArgumentTypeError(f"{name} must be a tuple of {what}, got {value!r}")
    return list(value)


def integers(
    name: str,
    value: Any,
    *,
    minimum: int | None = 1,
    length: int | None = None,
    empty: bool = False,
) -> tuple[int, ...]:
    """A tuple (or list) of integers ``>= minimum`` as a tuple of Python ``int``.

    Raises:
      ArgumentTypeError: not a tuple or list (a single int, say), or an entry that is no integer.
      ValueError: the wrong length, empty (unless ``empty``), or an entry out of range.
    """
    what = "positive ints" if minimum == 1 else "ints"
    items = _sequence(name, value, what)
    if length is not None and len(items) != length:
        count = {1: "one", 2: "two", 3: "three", 4: "four"}.get(length, str(length))
        raise ValueError(f"{name} must be {count} {what}, got {value!r}")
    if not items and not empty:
        raise ValueError(f"{name} must be a non-empty tuple of {what}, got {value!r}")
    for item in items:
        if not _is_integer(item):
            raise ArgumentTypeError(
                f"{name} must be a tuple of {what}, got {value!r} "
                f"(the entry {item!r} is not {_INTEGER})"
            )
        if minimum is not None and item < minimum:
            raise ValueError(f"{name} must be a tuple of {what}, got {value!r}")
    return tuple(int(item) for item in items)


def reals(
    name: str, value: Any, *, minimum: float | None = None, length: int | None = None
) -> tuple[float, ...]:
    """A tuple (or list) of finite real numbers ``>= minimum`` as a tuple of Python ``float``.

    Raises:
      ArgumentTypeError: not a tuple or list, or an entry that is no real number.
      ValueError: the wrong length, or an entry that is NaN, infinite or out of range.
    """
    items = _sequence(name, value, "numbers")
    if length is not None and len(items) != length:
        raise ValueError(f"{name} needs {length} entries, got {len(items)}: {value!r}")
    for item in items:
        if not _is_real(item):
            raise ArgumentTypeError(
                f"{name} must be a tuple of finite numbers, got {value!r} "
                f"(the entry {item!r} is not {_REAL})"
            )
        if not math.isfinite(item) or (minimum is not None and item < minimum):
            raise ValueError(
                f"{name} must be a tuple of finite numbers"
                f"{f' >= {minimum:g}' if minimum is not None else ''}, got {value!r}"
            )
    return tuple(float(item) for item in items)


def path(name: str, value: Any) -> pathlib.Path:
    """A folder or file argument as a ``pathlib.Path``, with a leading ``~`` expanded.

    Raises:
      ArgumentTypeError: neither a ``str`` nor an ``os.PathLike``.
      ValueError: empty, or a ``~user`` that names no home folder.
    """
    raw = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(raw, str):
        raise ArgumentTypeError(
            f"{name} must be a folder path (a str or pathlib.Path), got {value!r}"
        )
    if not raw.strip():
        raise ValueError(
            f"{name} must be a folder path, got an empty string; pass '.' for the current folder"
        )
    expanded = os.path.expanduser(raw)
    if expanded.startswith("~"):
        raise ValueError(
            f"{name} {raw!r} starts with '~' but names no home folder on this "
            "machine; write the full path"
        )
    return pathlib.Path(expanded)


def examples(name: str, value: Any) -> Any:
    """Refuses what cannot be a fixed set of examples ``[N, ...]``; returns ``value`` as it is.

    Raises:
      ArgumentTypeError: a ``tf.data.Dataset`` (its order and draws change at every
        pass, so per-example results would not line up with anything), or an object
        with neither a length nor a shape (a generator, a number, ``None``).
    """
    tf = sys.modules.get("tensorflow")  # loaded by whoever made a dataset; not imported here
    if tf is not None and isinstance(value, tf.data.Dataset):
        raise ArgumentTypeError(
            f"{name} must be an array or tensor [N, input_size] of pixels, got "
            f"{type(value).__name__}, a tf.data.Dataset (its order and draws change at every "
            "pass): score a fixed set, e.g. vaelib.binarize(images, 'fixed'), or collect a "
            "dataset's batches first: np.concatenate(list(dataset.as_numpy_iterator()))"
        )
    if not hasattr(value, "__len__") and not hasattr(value, "shape"):
        raise ArgumentTypeError(
            f"{name} must be an array or tensor [N, input_size] of pixels, "
            f"got {type(value).__name__}"
        )
    return value


def num_examples(name: str, value: Any) -> int:
    """``N``, the length of the first axis of ``value`` (checked by :func:`examples`); also
    for a ``tf.Variable``, which has a shape but no ``len``.

    Raises:
      ArgumentTypeError: as :func:`examples`, or a scalar (no axis of examples).
    """
    examples(name, value)
    shape = getattr(value, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise ArgumentTypeError(
                f"{name} must be an array or tensor [N, input_size] of pixels, "
                f"got a scalar {value!r}"
            )
        if shape[0] is not None:
            return int(shape[0])
    return len(value)
