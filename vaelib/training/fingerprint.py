"""The fingerprint of a model's configuration (chapter 6), stored in every checkpoint.

A checkpoint restores into a model only if the model is the one it was written from: the
same class, configuration, activations, variable shapes and dtypes and optimizer class.
:func:`fingerprint` lists them as strings; :class:`vaelib.checkpoint.CheckpointFolder` stores
it in each checkpoint's manifest and refuses a checkpoint whose fingerprint differs, naming
the differing field. Classes are named by their vaelib 0.1 module paths (:mod:`vaelib.layout`),
so checkpoints written before vaelib was grouped into subpackages still match.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from vaelib import layout


def _qualname(obj: object) -> str:
    # vaelib's classes by their vaelib 0.1 (flat) module paths, so that checkpoints written
    # before vaelib was grouped into subpackages match (vaelib.layout)
    return f"{layout.flat_name(type(obj).__module__)}.{type(obj).__qualname__}"


def _describe(part: object) -> str:
    """A prior's or a flow's class, and for a flow each layer's class and what its variables do
    not show (an IAF layer's order and forget bias: two flows whose orders differ have the same
    variables but are different maps)."""
    layers = getattr(part, "layers", None)
    if isinstance(layers, list):
        return f"{_qualname(part)}[{', '.join(_describe(layer) for layer in layers)}]"
    details = []
    made = getattr(part, "made", None)
    if made is not None and getattr(made, "order", None) is not None:
        details.append(f"order={[int(i) for i in made.order]}")
    if getattr(part, "forget_bias", None) is not None:
        details.append(f"forget_bias={part.forget_bias!r}")
    return f"{_qualname(part)}({', '.join(details)})" if details else _qualname(part)


def fingerprint(model: tf.Module, optimizer: object | None = None) -> dict[str, str]:
    """What must agree between a checkpoint and the model that restores it.

    Args:
      model: a ``tf.Module``. Its class, its ``likelihood`` unless that is the
        Bernoulli (a :class:`vaelib.VAE`'s decoder likelihood), each field of its ``config``
        (if that is a dataclass, as :class:`vaelib.VAEConfig`), the ``activation`` of each
        submodule that has one (as :class:`vaelib.Dense`), and each variable's
        shape and dtype. A learned prior or a flow posterior attached as ``model.prior`` or
        ``model.flow`` (chapter 12) is recorded by class (a flow layer by layer); the
        standard normal prior, the default, is left out, so the default VAE's fingerprint is
        the one it had before priors existed.
      optimizer: its class is recorded; its learning rate is not, so that a run
        stopped by a non-finite loss can resume with a lower one.

    Returns:
      ``{field: value}``, strings only (it is stored as JSON).
    """
    out = {"model": _qualname(model)}
    likelihood = getattr(model, "likelihood", None)
    # A VAE's decoder likelihood (chapter 11): the continuous Bernoulli's variables are the
    # Bernoulli's, so only this field tells them apart. The Bernoulli, the default, is left
    # out, so the fingerprints of checkpoints written before likelihoods existed still match.
    if likelihood is not None and getattr(likelihood, "name", None) != "Bernoulli":
        out["likelihood"] = repr(likelihood)
    prior = getattr(model, "prior", None)
    if prior is not None and type(prior).__name__ != "StandardNormalPrior":
        out["prior"] = _describe(prior)
    flow = getattr(model, "flow", None)
    if flow is not None:
        out["flow"] = _describe(flow)
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        out.update(
            {f"config.{f.name}": repr(getattr(config, f.name)) for f in dataclasses.fields(config)}
        )
    for module in (model, *model.submodules):
        if hasattr(module, "activation") and (
            module.activation is None or callable(module.activation)
        ):
            name = getattr(module.activation, "__name__", repr(module.activation))
            out[f"{module.name_scope.name}activation"] = name
    for variable in model.variables:
        out[f"variable {variable.name}"] = f"{tuple(variable.shape)} {variable.dtype.name}"
    if optimizer is not None:
        out["optimizer"] = _qualname(optimizer)
    return out
