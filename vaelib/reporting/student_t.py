"""Student's t distribution: the critical value a comparison over a few seeds needs.

With three seeds, the spread of three per-seed differences is itself a rough number (two
degrees of freedom), and a difference must be 4.30 of its standard errors from zero, not 2,
to be called significant at the 95% level. :func:`t_quantile` gives that critical value for
any (also fractional) number of degrees of freedom, and :func:`welch_satterthwaite` the
degrees of freedom of a standard error made of several independent parts, each estimated
from its own sample (the images and the seeds, say).

Written with the standard library only (the regularized incomplete beta function by its
continued fraction, Numerical Recipes 6.4), so that ``vaelib`` does not need SciPy; the
tests check both against SciPy.
"""

from __future__ import annotations

import math
from typing import Sequence

__all__ = ["t_cdf", "t_quantile", "welch_satterthwaite"]


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b})")


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _check_df(df: float) -> float:
    df = float(df)
    if not df > 0 or math.isnan(df):
        raise ValueError(f"df (degrees of freedom) must be positive, got {df}")
    return df


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (``df`` may be fractional
    or ``math.inf``, the standard normal)."""
    df = _check_df(df)
    if math.isinf(df):
        return 0.5 * math.erfc(-t / math.sqrt(2.0))
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom, e.g.
    ``t_quantile(0.975, 2) = 4.303`` (bisection on :func:`t_cdf` to 1e-12).

    Raises:
      ValueError: ``p`` outside (0, 1), or ``df`` not positive.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be a probability strictly between 0 and 1, got {p}")
    df = _check_df(df)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:  # the t's tails are heavy: widen until the quantile is inside
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


def welch_satterthwaite(ses: Sequence[float], dfs: Sequence[float]) -> float:
    """Effective degrees of freedom of ``sqrt(sum(se**2))``, where each ``se`` was estimated
    with its own ``df`` (Satterthwaite 1946): ``(sum se^2)^2 / sum(se^4 / df)``.

    A part with ``se == 0`` adds nothing; if every part is 0, the result is ``math.inf``
    (an exact difference: no uncertainty to be uncertain about).

    Raises:
      ValueError: lengths that differ, a negative ``se``, or a non-positive ``df`` where
        ``se > 0``.
    """
    if len(ses) != len(dfs):
        raise ValueError(f"ses and dfs must have one entry each, got {len(ses)} and {len(dfs)}")
    total, denominator = 0.0, 0.0
    for se, df in zip(ses, dfs, strict=True):
        if se < 0:
            raise ValueError(f"a standard error cannot be negative, got {se}")
        if se == 0:
            continue
        df = _check_df(df)
        total += se * se
        denominator += se**4 / df
    if denominator == 0:
        return math.inf
    return total * total / denominator
