"""Speed: throughput, roofline, interleaved timing rounds, profiles (chapter 8, benchmarks/).

Modules: :mod:`vaelib.speed.runners`, :mod:`vaelib.speed.profiling`.

The package also holds every name of the flat module ``vaelib.speed`` of vaelib 0.1,
so ``vaelib.speed.X`` still works (chapters and old code use it).
"""

from vaelib.speed.runners import (  # noqa: F401 (re-exported)
    MODES,
    throughput,
    matmul_flops_per_second,
    optimizer_update_seconds,
    vae_flops_per_example,
    StepBound,
    step_bound,
    vae_step_runner,
    vae_step_throughput,
    Rounds,
    _deviating,
    run_rounds,
)
