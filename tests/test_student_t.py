"""vaelib.reporting.student_t against SciPy (an independent implementation)."""

import math

import numpy as np
import pytest
from scipy import stats

from vaelib.reporting.student_t import t_cdf, t_quantile, welch_satterthwaite


@pytest.mark.parametrize("df", [0.5, 1, 2, 2.37, 3, 4.6, 10, 29.5, 100, 1e4])
def test_cdf_and_quantile_match_scipy(df):
    for t in [-30.0, -4.3, -1.0, -0.1, 0.0, 0.3, 1.96, 2.5, 12.0]:
        assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-12, rel=1e-9)
    for p in [0.001, 0.025, 0.3, 0.5, 0.9, 0.975, 0.999]:
        assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-8, abs=1e-10)


def test_infinite_df_is_the_standard_normal():
    assert t_quantile(0.975, math.inf) == pytest.approx(stats.norm.ppf(0.975), rel=1e-10)
    assert t_cdf(-1.0, math.inf) == pytest.approx(stats.norm.cdf(-1.0), rel=1e-12)


def test_known_critical_values():
    # The table every statistics book prints: 12.71, 4.30, 3.18, 2.78, ... 1.96.
    for df, expected in [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (30, 2.042)]:
        assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_welch_satterthwaite_is_welchs_df_for_two_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=7), rng.normal(scale=3.0, size=12)
    se_a, se_b = a.std(ddof=1) / math.sqrt(a.size), b.std(ddof=1) / math.sqrt(b.size)
    df = welch_satterthwaite([se_a, se_b], [a.size - 1, b.size - 1])
    # Welch's df written out from its definition; the independent check is the p-value below,
    # against SciPy's Welch test:
    va, vb = se_a**2, se_b**2
    expected = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    assert df == pytest.approx(expected, rel=1e-12)
    t_stat = (a.mean() - b.mean()) / math.hypot(se_a, se_b)
    p_ours = 2 * (1 - t_cdf(abs(t_stat), df))
    assert p_ours == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-8)


def test_welch_satterthwaite_limits():
    assert welch_satterthwaite([1.0, 0.0], [2, 999]) == pytest.approx(2.0)
    assert welch_satterthwaite([0.0, 0.0], [2, 999]) == math.inf
    # A dominant part sets the df: tiny seed SE, 999 image df
    assert welch_satterthwaite([1.0, 1e-3], [999, 2]) == pytest.approx(999, rel=1e-3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: t_quantile(1.0, 3), "p must be"),
        (lambda: t_quantile(0.5, 0), "df"),
        (lambda: t_cdf(1.0, -1), "df"),
        (lambda: welch_satterthwaite([1.0], [1, 2]), "one entry each"),
        (lambda: welch_satterthwaite([-1.0], [1]), "negative"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
