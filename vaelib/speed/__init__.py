"""Speed (chapter 8, benchmarks/): timing rounds, the roofline, the training step as a runner,
profiles.

- :mod:`vaelib.speed.timing`: throughput over a window; interleaved rounds with medians.
- :mod:`vaelib.speed.roofline`: the machine's matmul rate, a step's FLOPs, a bound on a step.
- :mod:`vaelib.speed.runners`: the course's VAE step in each execution mode, timed.
- :mod:`vaelib.speed.profiling`: where a compiled step (or a loop of steps) spends its cores'
  time; :mod:`vaelib.speed.step_profile`: the profile's record and its tables.
- :mod:`vaelib.speed.hlo`: an XLA CPU program's ops by category, and its profiler trace
  (TensorFlow's or JAX's).
- :mod:`vaelib.speed.ledger`: where a program's time goes by vaelib function (the outermost
  calls, ``fit``'s set-up apart), for ``scripts/profile_chapter.py``.

The package holds every name of vaelib 0.1's flat module ``vaelib.speed``, so
``vaelib.speed.run_rounds`` and the like still work.
"""

from vaelib.speed.roofline import (  # noqa: F401 (re-exported)
    StepBound,
    matmul_flops_per_second,
    optimizer_update_seconds,
    step_bound,
    vae_flops_per_example,
)
from vaelib.speed.runners import MODES, vae_step_runner, vae_step_throughput  # noqa: F401
from vaelib.speed.timing import Rounds, _deviating, run_rounds, throughput  # noqa: F401
