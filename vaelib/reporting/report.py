"""Numbers from code into prose: glue, and the protocol card of a reported log-likelihood.

The book never types a measured number into a sentence. The cell that measures
it calls :func:`glue`, and the markdown pastes it with ``{glue:text}`key```
(myst-nb), so a re-run changes the sentence too. ``tests/test_prose.py`` fails
on a result-like number typed by hand.

:func:`glue` writes the same output that ``myst_nb.glue(name, value,
display=False)`` writes, without importing myst-nb, so the chapters also run
where myst-nb is not installed (Colab); there the glued value is simply not
shown.

A test log-likelihood means something only with its protocol: the data and
its binarization, the model, the objective, how long it trained, how many
importance samples, how many seeds. :class:`ProtocolCard` holds these, built
from the run itself (:func:`describe_architecture` reads a ``VAEConfig``), and
:func:`mean_std` formats a number over seeds.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from typing import Any, Sequence

import numpy as np

from vaelib import validation
from vaelib.data.pipeline import BINARIZATIONS, STATIC_IS_AMBIGUOUS
from vaelib.models.likelihoods import get_likelihood

__all__ = ["glue", "glue_text", "mean_std", "describe_architecture", "ProtocolCard"]

GLUE_PREFIX = "application/papermill.record/"  # myst-nb's (and scrapbook's) prefix


def glue_text(value: Any, fmt: str | None = None, *, name: str | None = None) -> str:
    """The text :func:`glue` stores: ``format(value, fmt)``, or the string itself.

    Args:
      value: a number (Python or NumPy, or a 0-d array or tensor), or an already
        formatted string.
      fmt: a format spec such as ``".2f"`` or ``",d"``; required for numbers, so
        that a sentence never shows a float's full ``repr``.
      name: the glue key, named in the messages.

    Raises:
      ValueError: a number without ``fmt``, or a non-finite number (a NaN in a
        sentence is a bug upstream, not a result).
      TypeError: an array of several values (a per-example array, say), a bool,
        or anything else that is neither a number nor a string.
    """
    key = f"glue {name!r}" if name is not None else "glue"
    if isinstance(value, str):
        if fmt is not None:
            raise ValueError(f"{key}: fmt applies to numbers; value is already a string")
        return value
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        flat = np.ravel(np.asarray(value))
        first = ", ".join(
            f"{v:.6g}" if isinstance(v, float) else repr(v) for v in flat[:3].tolist()
        )
        raise TypeError(
            f"{key}: value must be one number or a string, got an array of shape "
            f"{tuple(shape)} ({first}{', ...' if flat.size > 3 else ''}); glue one "
            "number made from it, e.g. its mean"
        )
    if shape is not None:  # a 0-d array or tensor: its one number
        value = np.asarray(value)[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{key}: value must be a number or a string, got {value!r}")
    if fmt is None:
        raise ValueError(
            f"{key}: glue a number with a format spec (fmt='.2f', ',d', ...), got {value!r}"
        )
    if not math.isfinite(float(value)):
        raise ValueError(f"{key}: refusing to glue a non-finite number ({value!r}) into the prose")
    return format(value, fmt)


def glue(name: str, value: Any, fmt: str | None = None) -> None:
    """Stores ``value`` under ``name`` for ``{glue:text}`name``` in the notebook's markdown.

    Args:
      name: the key; unique within a notebook.
      value: a number (with ``fmt``) or a string; see :func:`glue_text`.
      fmt: format spec for a number, e.g. ``".1f"``.

    Outside IPython (a plain script) nothing is displayed.

    Raises:
      ValueError, TypeError: as :func:`glue_text`, naming ``name``; or a bad ``name``.
    """
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"glue name must be letters, digits and underscores, got {name!r}")
    text = glue_text(value, fmt, name=name)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return
    if get_ipython() is None:
        return
    # Stored as a Python string literal, as myst-nb's own glue stores a str: myst-nb reads
    # text/plain back with literal_eval, which would turn a bare "0.50" into 0.5 and
    # "4,000" into the tuple (4, 0).
    display(
        {GLUE_PREFIX + "text/plain": repr(text)},
        raw=True,
        metadata={"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}},
    )


def mean_std(values: Sequence[float], fmt: str = ".2f") -> str:
    """``"mean ± std"`` over seeds (sample std, ``ddof=1``); the single value if there is one.

    Raises:
      ValueError: no values, or a non-finite one.
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"mean_std got a non-finite value: {values}")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return format(mean, fmt)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def describe_architecture(config: Any, likelihood: Any = None) -> str:
    """One line for a :class:`vaelib.VAEConfig`: encoder, latent size, decoder, units.

    Example: ``"encoder 784-500-500 -> 2x10 (q_mu, q_logvar), decoder 10-500-500-784
    (logits), tanh"``. ``likelihood`` (a name or a likelihood object; default: logits, the
    Bernoulli's) names the decoder's outputs, e.g. the Gaussian's ``2x784 (mu, logvar)``.
    """
    try:
        encoder = (config.input_size, *config.hidden_sizes)
        decoder = config.decoder_hidden_sizes or tuple(reversed(config.hidden_sizes))
        latent, activation = config.latent_size, config.activation
    except AttributeError as err:
        raise TypeError(
            f"describe_architecture needs a VAEConfig, got {type(config).__name__}"
        ) from err
    params = ("logits",) if likelihood is None else get_likelihood(likelihood).param_names
    out = f"{len(params)}x{config.input_size}" if len(params) > 1 else str(config.input_size)
    enc = "-".join(str(s) for s in encoder)
    dec = "-".join(str(s) for s in (latent, *decoder, out))
    return (
        f"encoder {enc} -> 2x{latent} (q_mu, q_logvar), decoder {dec} ({', '.join(params)}), "
        f"{activation}"
    )


def _check_binarization_text(field: str, value: Any) -> None:
    """A binarization as a card states it: a name of :data:`vaelib.pipeline.BINARIZATIONS`
    first, then any detail (``"fixed (one Bernoulli draw, seed 1)"``, ``"none: levels
    v / 255"``)."""
    validation.text(field, value)
    first = re.split(r"[\s:;,(]", value.strip(), maxsplit=1)[0]
    if first == "static":
        raise ValueError(f"{field} {STATIC_IS_AMBIGUOUS}")
    if first not in BINARIZATIONS:
        raise ValueError(
            f"{field} must start with one of {BINARIZATIONS}, then any detail, "
            f"e.g. 'fixed (one Bernoulli draw, seed 1)'; got {value!r}"
        )


@dataclasses.dataclass(frozen=True)
class ProtocolCard:
    """How a reported test log-likelihood was obtained, filled in from the run.

    Attributes:
      data: the data source, as ``DataSource.describe()`` gives it.
      num_train: training images used.
      num_test: test images scored.
      train_binarization: ``"dynamic"``, ``"fixed"``, ``"threshold"`` or ``"none"``,
        then any detail (``"none: levels v / 255"``); ``"static"`` is refused, as by
        :func:`vaelib.binarize`.
      test_binarization: the same, for the test images (with the seed of a fixed draw).
      architecture: :func:`describe_architecture` of the model's config.
      objective: what training maximized, e.g. ``"ELBO, 1 sample per example"``.
      training: optimizer, batch size, epochs and steps.
      estimate: how ``log p(x)`` was estimated, e.g. ``"L_5000"``.
      seeds: the seeds of the runs whose mean (± std) is reported, a non-empty tuple of ints.
      train_seconds: wall time of training, one finite entry >= 0 per seed.
      eval_seconds: wall time of scoring, one finite entry >= 0 per seed.

    Every text field must be a non-empty string. Anything else raises ``TypeError``
    or ``ValueError`` naming the field.
      result: the reported number with both of its uncertainties, over images and
        over seeds (:func:`vaelib.summarize` of the per-image values of every seed).
    """

    data: str
    num_train: int
    num_test: int
    train_binarization: str
    test_binarization: str
    architecture: str
    objective: str
    training: str
    estimate: str
    seeds: tuple[int, ...]
    train_seconds: tuple[float, ...]
    eval_seconds: tuple[float, ...]
    result: Any = None  # a vaelib.Estimate (vaelib.summarize)

    def __post_init__(self):
        # A card is a claim: every field is checked (vaelib.validation's rules), and NumPy
        # numbers and lists are stored as Python ones and tuples.
        def set_field(field, value):
            return object.__setattr__(self, field, value)

        for field in ("data", "architecture", "objective", "training", "estimate"):
            validation.text(field, getattr(self, field))
        for field in ("num_train", "num_test"):
            set_field(field, validation.positive_int(field, getattr(self, field)))
        for field in ("train_binarization", "test_binarization"):
            _check_binarization_text(field, getattr(self, field))
        if not isinstance(self.seeds, (tuple, list, range)):
            raise validation.ArgumentTypeError(
                f"seeds must be a tuple of the runs' seeds, e.g. (0,) or (0, 1, 2), "
                f"got {self.seeds!r}"
            )
        if not self.seeds:
            raise ValueError("seeds must name at least one run")
        set_field("seeds", validation.integers("seeds", self.seeds, minimum=None))
        for field in ("train_seconds", "eval_seconds"):
            value = getattr(self, field)
            if isinstance(value, (tuple, list)) and len(value) != len(self.seeds):
                raise ValueError(
                    f"{field} needs one entry per seed ({len(self.seeds)}), got {len(value)}"
                )
            set_field(field, validation.reals(field, value, minimum=0.0))
        if self.result is not None:
            if not hasattr(self.result, "per_seed") or not hasattr(self.result, "text"):
                raise TypeError(
                    "result must be a vaelib.summarize(...) Estimate, got "
                    f"{type(self.result).__name__}"
                )
            if self.result.num_seeds != len(self.seeds):
                raise ValueError(
                    f"result is over {self.result.num_seeds} seed(s) but the card "
                    f"names {len(self.seeds)}"
                )

    def rows(self) -> list[tuple[str, str]]:
        """``(field, value)`` pairs, in reading order."""

        # whole seconds, but never "0 s" for a short evaluation
        def per_seed(seconds):
            return ", ".join(f"{s:.0f} s" if s >= 10 else f"{s:.2g} s" for s in seconds)

        return [
            ("data", self.data),
            ("images", f"{self.num_train:,} train, {self.num_test:,} test"),
            ("binarization", f"train: {self.train_binarization}; test: {self.test_binarization}"),
            ("architecture", self.architecture),
            ("objective", self.objective),
            ("training", self.training),
            ("estimate", self.estimate),
            ("seeds", ", ".join(str(s) for s in self.seeds)),
            (
                "wall time",
                f"train {per_seed(self.train_seconds)}; "
                f"evaluate {per_seed(self.eval_seconds)} (this machine)",
            ),
        ] + ([("result", self.result.text())] if self.result is not None else [])

    def as_row(self, source: str, value: str, quantity: str) -> dict[str, str]:
        """This run as a row with the columns of :func:`vaelib.published.published_table`,
        so that a DataFrame shows the book's protocol beside the papers'.

        Args:
          source: what the row is, e.g. ``"this book, the course's VAE"``.
          value: the reported number with its unit (and its spread over seeds).
          quantity: what the number is, in words.
        """
        return {
            "source": source,
            "value": value,
            "quantity": quantity,
            "data": f"{self.data}; {self.num_train:,} train / {self.num_test:,} test used",
            "binarization": f"train: {self.train_binarization}; test: {self.test_binarization}",
            "architecture": self.architecture,
            "objective": self.objective,
            "training": self.training,
            "estimate": f"{self.estimate}; seeds {', '.join(str(s) for s in self.seeds)}",
        }

    def __str__(self) -> str:
        width = max(len(name) for name, _ in self.rows())
        return "\n".join(f"{name:>{width}}: {value}" for name, value in self.rows())
