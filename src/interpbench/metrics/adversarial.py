"""Statistics of the ``adversarial`` study: medians of per-image minimal eps, and differences of
shares between two groups, with percentile-bootstrap intervals (Efron & Tibshirani 1993, ch. 13).

- ``median_ci(v)``: the median of ``v`` and the 2.5% / 97.5% quantiles of the medians of ``n_boot``
  resamples (with replacement). ``+inf`` (an image no grid eps flips) is a valid value: it sorts
  above every eps, so the median is ``inf`` only when at least half the images resist the whole grid;
  quantiles use the ``inverted_cdf`` rule (an observed value, never an interpolation with ``inf``).
- ``paired_median_difference_ci(a, b)``: ``median(a) - median(b)`` for values paired by image, and its
  bootstrap interval (the same resampled images for both); ``+inf`` is censored at ``cap`` (twice the
  grid's largest eps) for the difference only, so two unflipped images do not give ``inf - inf``.
- ``difference_ci(a, b)``: ``mean(a) - mean(b)`` for two independent groups (each resampled on its own).
"""

from __future__ import annotations

import math

import numpy as np


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha], method="inverted_cdf")
    return float(lo), float(hi)


def median_ci(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Median of ``values`` (NaN dropped, ``inf`` kept) and its percentile-bootstrap interval."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    med = float(np.quantile(v, 0.5, method="inverted_cdf"))
    if v.size < 2:
        return med, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, v.size, size=(n_boot, v.size))
    meds = np.quantile(v[idx], 0.5, axis=1, method="inverted_cdf")
    return (med, *_quantiles(meds, level))


def paired_median_difference_ci(a, b, cap: float, n_boot: int = 1000, seed: int = 0,
                                level: float = 0.95) -> tuple[float, float, float]:
    """``median(a) - median(b)`` over paired items, ``inf`` censored at ``cap``, with its bootstrap interval."""
    a = np.minimum(np.asarray(a, dtype=np.float64), cap)
    b = np.minimum(np.asarray(b, dtype=np.float64), cap)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size == 0:
        return math.nan, math.nan, math.nan
    diff = float(np.quantile(a, 0.5, method="inverted_cdf") - np.quantile(b, 0.5, method="inverted_cdf"))
    if a.size < 2:
        return diff, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    d = (np.quantile(a[idx], 0.5, axis=1, method="inverted_cdf")
         - np.quantile(b[idx], 0.5, axis=1, method="inverted_cdf"))
    return (diff, *_quantiles(d, level))


def difference_ci(a, b, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` of two independent groups (NaN dropped) and its bootstrap interval."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    diff = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return diff, math.nan, math.nan
    rng = np.random.default_rng(seed)
    ma = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
    return (diff, *_quantiles(ma - mb, level))


def geometric_mean_ratio_ci(a, b, cap: float, n_boot: int = 1000, seed: int = 0,
                            level: float = 0.95) -> tuple[float, float, float]:
    """``exp(mean_i log(a_i / b_i))`` over paired items (``+inf`` censored at ``cap``; items with a
    value <= 0 or NaN dropped) and its percentile-bootstrap interval: the typical factor between
    two per-image minimal eps on a geometric grid (2 = one doubling larger)."""
    a = np.minimum(np.asarray(a, dtype=np.float64), cap)
    b = np.minimum(np.asarray(b, dtype=np.float64), cap)
    keep = ~(np.isnan(a) | np.isnan(b)) & (a > 0) & (b > 0)
    logs = np.log(a[keep]) - np.log(b[keep])
    if logs.size == 0:
        return math.nan, math.nan, math.nan
    value = float(np.exp(logs.mean()))
    if logs.size < 2:
        return value, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, logs.size, size=(n_boot, logs.size))
    lo, hi = _quantiles(np.exp(logs[idx].mean(axis=1)), level)
    return value, lo, hi
