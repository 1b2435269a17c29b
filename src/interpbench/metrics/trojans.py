"""Scores of attribution maps against a trojan trigger's footprint, and of the trojans themselves
(Casper et al. 2023, *Red Teaming Deep Neural Networks with Feature Synthesis Tools*, §4.1).

Maps are importance maps ``a`` [N, H, W] (the study sums ``|attribution|`` over the colour
channels); ``M`` [N, H, W] is the trigger's footprint (bool).

- ``scale01(a) = (a - min a) / (max a - min a)`` per image; a constant map becomes zeros.
- ``footprint_l1`` (Casper's first metric): ``mean_pixels |scale01(a) - M|``; lower is better.
  A map equal to M scores 0; the blank map scores the footprint's area share.
- ``footprint_correlation`` (Casper's final metric): Pearson correlation over pixels of
  ``scale01(a)`` with ``M``; higher is better; a map equal to M scores 1. Undefined (NaN) for a
  constant map or footprint.
- ``footprint_mass``: ``sum_{M} a / sum a``, the share of the attribution mass inside the
  footprint (NaN for an all-zero map); a uniform map scores the area share.
- ``pointing_game`` (Zhang et al. 2018): 1 when the map's maximum lies in the footprint, else 0
  (ties: the first pixel in row-major order); NaN for a constant map.
- ``attack_success_rate``: the share of triggered images classified as the target, with a 95%
  Wilson score interval (Wilson 1927).
- ``beats_baseline``: one-sided Wilcoxon signed-rank test over images of the paired differences
  method - baseline (``scipy.stats.wilcoxon``, zero differences dropped), with the mean difference
  and its paired-bootstrap interval; ``holm`` adjusts p-values over methods (Holm 1979).
- ``paired_difference_ci``: mean of ``a - b`` over paired items and its percentile-bootstrap interval.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .results import bootstrap_ci

#: metric -> True when higher is better
DIRECTION = {"footprint_l1": False, "footprint_correlation": True, "footprint_mass": True, "pointing_game": True}


def _pair(maps, footprint) -> tuple[np.ndarray, np.ndarray]:
    a = torch.as_tensor(maps).double().numpy() if not isinstance(maps, np.ndarray) else maps.astype(np.float64)
    m = torch.as_tensor(footprint).numpy() if not isinstance(footprint, np.ndarray) else footprint
    if a.ndim != 3 or a.shape != m.shape:
        raise ConfigError(f"maps {a.shape} and footprints {m.shape} must both be [N, H, W].")
    return a.reshape(len(a), -1), m.reshape(len(m), -1).astype(np.float64)


def scale01(flat: np.ndarray) -> np.ndarray:
    """Per row: ``(a - min) / (max - min)``; constant rows become zeros."""
    lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (flat - lo) / np.where(span > 0, span, 1.0), 0.0)


def footprint_l1(maps, footprint) -> np.ndarray:
    """Per image ``mean |scale01(a) - M|`` (float64 [N])."""
    a, m = _pair(maps, footprint)
    return np.abs(scale01(a) - m).mean(axis=1)


def footprint_correlation(maps, footprint) -> np.ndarray:
    """Per image Pearson correlation of ``scale01(a)`` with ``M``; NaN when either is constant."""
    a, m = _pair(maps, footprint)
    a = scale01(a)
    a, m = a - a.mean(axis=1, keepdims=True), m - m.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (m * m).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * m).sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


def footprint_mass(maps, footprint) -> np.ndarray:
    """Per image share of ``a``'s (non-negative) mass inside the footprint; NaN for a zero map."""
    a, m = _pair(maps, footprint)
    if (a < 0).any():
        raise ConfigError("footprint_mass needs non-negative importance maps (e.g. |attribution| summed over channels).")
    total = a.sum(axis=1)
    return np.where(total > 0, (a * m).sum(axis=1) / np.where(total > 0, total, 1.0), np.nan)


def pointing_game(maps, footprint) -> np.ndarray:
    """Per image 1.0 when the map's maximum is in the footprint, else 0.0; NaN for a constant map."""
    a, m = _pair(maps, footprint)
    hit = m[np.arange(len(a)), a.argmax(axis=1)]
    constant = a.max(axis=1) == a.min(axis=1)
    return np.where(constant, np.nan, hit)


SCORES = {"footprint_l1": footprint_l1, "footprint_correlation": footprint_correlation,
          "footprint_mass": footprint_mass, "pointing_game": pointing_game}


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``k / n`` (NaN for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def attack_success_rate(predicted, target) -> dict:
    """``{"value", "ci_low", "ci_high", "n", "k"}``: the share of ``predicted == target`` with its
    Wilson interval (``predicted``, ``target``: class indices [N] of triggered non-target images)."""
    p, t = np.asarray(predicted), np.asarray(target)
    if p.shape != t.shape:
        raise ConfigError(f"predicted {p.shape} and target {t.shape} must have the same shape.")
    n, k = int(p.size), int((p == t).sum())
    lo, hi = wilson_interval(k, n)
    return {"value": k / n if n else math.nan, "ci_low": lo, "ci_high": hi, "n": n, "k": k}


def paired_difference_ci(a, b, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired items (NaN pairs dropped) and its 95% percentile-bootstrap interval."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return bootstrap_ci(d[~np.isnan(d)], n_boot=n_boot, seed=seed)


def beats_baseline(method, baseline, *, higher_is_better: bool, n_boot: int = 1000, seed: int = 0) -> dict:
    """Does ``method`` score better than ``baseline`` on the same images? One-sided Wilcoxon
    signed-rank test of the paired differences (pairs with a NaN dropped; all-zero differences: p = 1).

    Returns ``{"diff", "diff_low", "diff_high", "p", "n"}`` with ``diff`` = mean(method - baseline)
    (negative is better for a lower-is-better metric)."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(method, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(keep.sum())
    diff, lo, hi = paired_difference_ci(a, b, n_boot=n_boot, seed=seed)
    d = a - b
    if n == 0:
        p = math.nan
    elif not np.any(d != 0):
        p = 1.0
    else:
        p = float(wilcoxon(a, b, alternative="greater" if higher_is_better else "less", zero_method="wilcox").pvalue)
    return {"diff": diff, "diff_low": lo, "diff_high": hi, "p": p, "n": n}


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (NaN ones left NaN and not counted)."""
    valid = sorted((p, k) for k, p in pvalues.items() if not math.isnan(p))
    m, out, running = len(valid), {k: math.nan for k in pvalues}, 0.0
    for i, (p, k) in enumerate(valid):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out
