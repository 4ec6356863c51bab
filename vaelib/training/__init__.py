"""Training: the compiled step, fit, checkpoints, seeds, progress, TensorBoard summaries (chapters 1-3, 6).

Modules: :mod:`vaelib.training.step`, :mod:`vaelib.training.train`, :mod:`vaelib.training.checkpoint`, :mod:`vaelib.training.seed`, :mod:`vaelib.training.progress`, :mod:`vaelib.training.tensorboard`.
"""
