"""Where vaelib 0.1's flat modules live now, for the old import paths and old checkpoints.

vaelib 0.1 was one folder of flat modules (``vaelib.train``, ``vaelib.likelihoods``, ...);
it is now grouped into subpackages by concept (see the package docstring). The chapters, the
tests and readers' code still use the flat paths, so :mod:`vaelib` registers each flat name
as an alias of the module that now holds it (``vaelib.train is vaelib.training.train``):
one module object, so patching either path patches both. A subpackage that took a flat
module's name (``vaelib.data``, ``vaelib.objectives``, ``vaelib.evaluation``,
``vaelib.diagnostics``, ``vaelib.speed``) holds every name that module had.

A checkpoint's fingerprint names the model's class by module (``vaelib.vae.VAE``);
:func:`flat_name` maps the new module paths back, so checkpoints written before the
regroup still restore.
"""

# flat module of vaelib 0.1 -> the module that holds its code now
FLAT_MODULES: dict[str, str] = {
    "download": "vaelib.data.download",
    "idx": "vaelib.data.idx",
    "pipeline": "vaelib.data.pipeline",
    "distributions": "vaelib.models.distributions",
    "mlp": "vaelib.models.mlp",
    "vae": "vaelib.models.vae",
    "conv": "vaelib.models.conv",
    "likelihoods": "vaelib.models.likelihoods",
    "linear_gaussian": "vaelib.models.linear_gaussian",
    "bounds": "vaelib.objectives.bounds",
    "estimators": "vaelib.objectives.estimators",
    "kl_options": "vaelib.objectives.kl_options",
    "classify": "vaelib.objectives.classify",
    "step": "vaelib.training.step",
    "train": "vaelib.training.train",
    "checkpoint": "vaelib.training.checkpoint",
    "seed": "vaelib.training.seed",
    "progress": "vaelib.training.progress",
    "tensorboard": "vaelib.training.tensorboard",
    "profiling": "vaelib.speed.profiling",
    "report": "vaelib.reporting.report",
    "published": "vaelib.reporting.published",
    "plotting": "vaelib.reporting.plotting",
    "graphs": "vaelib.reporting.graphs",
    "comparison": "vaelib.reporting.comparison",
    "drift": "vaelib.reporting.drift",
}
# flat modules whose name a subpackage took: the subpackage re-exports their names
FLAT_PACKAGES: dict[str, str] = {
    "data": "vaelib.data.sources",
    "objectives": "vaelib.objectives.importance_weighted",
    "evaluation": "vaelib.evaluation.marginal_likelihood",
    "diagnostics": "vaelib.diagnostics.latents",
    "speed": "vaelib.speed.runners",
}
# modules split out of a flat module since: the flat module they came from
SPLIT_FROM: dict[str, str] = {
    "vaelib.models.likelihood_base": "likelihoods",
    "vaelib.models.continuous_bernoulli": "likelihoods",
    "vaelib.data.dequantization": "likelihoods",
    "vaelib.diagnostics.surgery": "diagnostics",
    "vaelib.diagnostics.gaps": "diagnostics",
    "vaelib.speed.timing": "speed",
    "vaelib.speed.roofline": "speed",
}
_NEW_TO_FLAT = {new: f"vaelib.{old}" for old, new in {**FLAT_MODULES, **FLAT_PACKAGES}.items()}
_NEW_TO_FLAT.update({new: f"vaelib.{old}" for new, old in SPLIT_FROM.items()})


def flat_name(module: str) -> str:
    """The vaelib 0.1 name of a module path (``"vaelib.models.vae"`` -> ``"vaelib.vae"``);
    any other module path unchanged."""
    return _NEW_TO_FLAT.get(module, module)
