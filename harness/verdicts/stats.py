"""The statistics behind three-valued gates.

Intervals on a value or a paired change, the p-value of "the bound holds",
Holm's step-down adjustment across a run's gates, and the minimum detectable
effect. One convention throughout: a confidence ``c`` is a *two-sided* interval
at level ``c``; a gate passes when the whole interval is on the good side of its
bound (a one-sided test at level ``(1 - c) / 2``), as ``compare`` reports it.

numpy, scipy and statsmodels are imported inside the functions, so importing
the core (``harness --help``) stays light.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, Sequence

INSTALL_HINT = "pip install 'posttrain-harness[ml]' (or: pip install scipy statsmodels)"


def _require(module: str) -> Any:
    """Import ``module`` or say which install gives gates their statistics."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"judging gates needs {module.split('.')[0]} ({exc}); {INSTALL_HINT}") from None


def bootstrap_means(values: Sequence[float], *, seed: int = 0, n_boot: int = 2000):
    """``n_boot`` bootstrap means of ``values`` (a numpy array).

    Resampling is over items, drawn as ``numpy.random.default_rng(seed).integers(0, n,
    size=(n_boot, n))`` in row chunks so memory stays bounded for large suites. Both
    :func:`harness.verdicts.compare.paired_bootstrap` and the gates draw from here, so a gate's interval
    at the comparison's confidence is the comparison table's interval.
    """
    import numpy as np

    d = np.asarray(values, dtype=float)
    n = d.size
    if n == 0:
        raise ValueError("bootstrap_means needs at least one value")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n))
        means[start:start + rows] = d[idx].mean(axis=1)
    return means


def percentile_interval(means, confidence: float) -> tuple[float, float]:
    """The two-sided percentile interval of bootstrap ``means`` at ``confidence``."""
    import numpy as np

    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_p_value(means, threshold: float, bad_above: bool) -> float:
    """p-value of "the true value is on the good side of ``threshold``", matching
    :func:`percentile_interval`: the interval at level ``1 - p`` just touches the bound.

    ``bad_above``: values above the threshold break the rule (``max``-like rules).
    Bootstrap means equal to the threshold count against the gate.
    """
    import numpy as np

    bad = np.mean(means >= threshold) if bad_above else np.mean(means <= threshold)
    return float(min(1.0, 2.0 * bad))


def proportion_interval(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval on a proportion ``k / n`` (scipy's ``binomtest``)."""
    binomtest = _require("scipy.stats").binomtest
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def proportion_p_value(k: int, n: int, threshold: float, bad_above: bool) -> float:
    """Exact binomial p-value of "the true rate is on the good side of ``threshold``",
    dual to :func:`proportion_interval` (doubled one-sided test, capped at 1)."""
    binomtest = _require("scipy.stats").binomtest
    p0 = min(1.0, max(0.0, threshold))
    one_sided = binomtest(k, n, p0, alternative="less" if bad_above else "greater").pvalue
    return float(min(1.0, 2.0 * one_sided))


def _tango_p_down(up: int, down: int, n: int, delta: float) -> float:
    """Restricted MLE of the rate of items that went down, given the change ``delta`` (Tango 1998)."""
    a, b = 2 * n, -up - down + (2 * n - up + down) * delta
    c = -down * delta * (1 - delta)
    return (math.sqrt(max(b * b - 4 * a * c, 0.0)) - b) / (2 * a)


def tango_statistic(up: int, down: int, n: int, delta: float) -> float:
    """Tango's score statistic for "the paired change of a 0/1 score is ``delta``".

    ``up`` / ``down``: items that went 0→1 / 1→0 of ``n`` paired items. At
    ``delta = 0`` it is McNemar's statistic ``(up − down) / √(up + down)``.
    """
    q = _tango_p_down(up, down, n, delta)
    var = n * (2 * q + delta * (1 - delta))
    num = up - down - n * delta
    if var <= 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def tango_sd(up: int, down: int, n: int, delta: float) -> float:
    """Per-item standard deviation of the paired change under ``delta`` (the score test's)."""
    q = _tango_p_down(up, down, n, delta)
    return math.sqrt(max(2 * q + delta * (1 - delta), 0.0))


def paired_proportion_interval(up: int, down: int, n: int, confidence: float) -> tuple[float, float]:
    """Tango's score interval on the paired change ``(up − down) / n`` of a 0/1 score.

    Unlike a bootstrap it does not collapse to a point when few items flip: with
    none flipped out of ``n`` it is ``±z² / (n + z²)``.
    """
    stats = _require("scipy.stats")
    brentq = _require("scipy.optimize").brentq
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    est, eps = (up - down) / n, 1e-12

    def root(target: float, lo: float, hi: float, end: float) -> float:
        f = lambda d: tango_statistic(up, down, n, d) - target  # noqa: E731 - decreasing in d
        if lo >= hi or f(lo) * f(hi) > 0:
            return end
        return float(brentq(f, lo, hi, xtol=1e-12))

    return (root(z, -1 + eps, est, -1.0) if est > -1 else -1.0,
            root(-z, est, 1 - eps, 1.0) if est < 1 else 1.0)


def paired_proportion_p_value(up: int, down: int, n: int, threshold: float, bad_above: bool) -> float:
    """p-value of "the paired change is on the good side of ``threshold``", dual to
    :func:`paired_proportion_interval` (doubled one-sided score test, capped at 1)."""
    norm = _require("scipy.stats").norm
    t = tango_statistic(up, down, n, min(1.0, max(-1.0, threshold)))
    return float(min(1.0, 2.0 * (norm.cdf(t) if bad_above else norm.sf(t))))


def holm_order(p_values: Sequence[float], alphas: Sequence[float]) -> list[tuple[int, float]]:
    """Holm's step-down levels: ``[(index, adjusted_alpha), ...]`` in testing order.

    The gate with the k-th smallest ``p / alpha`` (k from 0) is tested at
    ``alpha / (m - k)``; testing stops at the first gate that does not pass. With
    one ``alpha`` for all gates this is Holm (1979) exactly (statsmodels'
    ``multipletests(method="holm")`` rejects the same gates).
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i] / alphas[i], i))
    return [(i, alphas[i] / (m - k)) for k, i in enumerate(order)]


def holm_adjusted_p(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels), for the record."""
    if not p_values:
        return []
    multipletests = _require("statsmodels.stats.multitest").multipletests
    return [float(p) for p in multipletests(list(p_values), method="holm")[1]]


def minimum_detectable_effect(sd: float, n: int, confidence: float, power: float = 0.8) -> float:
    """The smallest true effect (in the metric's units) that ``n`` items with per-item
    standard deviation ``sd`` detect with probability ``power``, judged by a two-sided
    interval at ``confidence`` (a one-sided test at ``(1 - confidence) / 2``).

    ``(z[1 - alpha/2] + z[power]) * sd / sqrt(n)`` (normal approximation, scipy's
    quantiles); statsmodels' ``NormalIndPower`` gives the same power at this effect.
    """
    if n < 1:
        raise ValueError("minimum_detectable_effect needs at least one item")
    if sd <= 0:
        return 0.0
    norm = _require("scipy.stats").norm
    alpha = 1.0 - confidence
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * sd / math.sqrt(n))


def sample_sd(values: Sequence[float]) -> float:
    """Sample standard deviation (``ddof = 1``; 0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = math.fsum(values) / n
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
