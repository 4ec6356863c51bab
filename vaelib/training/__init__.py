"""Training (chapters 1-3, 6): the compiled step, fit, checkpoints, seeds, progress, summaries.

- :mod:`vaelib.training.step`: the compiled training step and the multi-step loop.
- :mod:`vaelib.training.feeds`: how fit feeds its step (``tf.data``, :class:`vaelib.InMemoryData`).
- :mod:`vaelib.training.epoch_loop`: many steps per call, each drawing its own batch from
  :class:`vaelib.InMemoryData`.
- :mod:`vaelib.training.train`: ``fit``, the epoch loop.
- :mod:`vaelib.training.fit_config`: what fit takes (``FitConfig``) and returns (``History``).
- :mod:`vaelib.training.fit_checks`: the checks of fit's inputs before training.
- :mod:`vaelib.training.checkpoint`: a folder of verified, never-overwritten checkpoints.
- :mod:`vaelib.training.fingerprint`: the configuration a checkpoint must match.
- :mod:`vaelib.training.seed`, :mod:`vaelib.training.progress`: seeds, progress bars.
- :mod:`vaelib.training.tensorboard`: TensorBoard summaries of a run.
"""
