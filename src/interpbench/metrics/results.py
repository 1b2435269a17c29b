"""The results contract: one long-format table per study (see DESIGN.md, "Results contract").

Columns: study, dataset, model, method, metric, x_name, x, x_label, value, ci_low, ci_high, n, seed.
``summarize`` turns per-item values into one row with the mean and a 95% percentile bootstrap
interval over items (Efron & Tibshirani 1993, ch. 13): resample items with replacement B times,
take the 2.5% and 97.5% quantiles of the resampled means. ``summarize_seeds`` turns one value per
retraining seed into one row with the mean over seeds and a 95% Student-t interval over seeds
(``mean ± t_{0.975, n-1} · sd / sqrt(n)``, sd with n - 1 in the denominator).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError

RESULT_COLUMNS: dict[str, str] = {
    "study": "string",
    "dataset": "string",
    "model": "string",
    "method": "string",
    "metric": "string",
    "x_name": "string",
    "x": "float64",
    "x_label": "string",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "n": "int64",
    "seed": "int64",
}


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile-bootstrap interval; NaN bounds for fewer than 2 items."""
    v = _finite(values)
    if v.size < 2:
        return _mean(v), math.nan, math.nan
    mean = float(v.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    means = v[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return mean, float(lo), float(hi)


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[~np.isnan(v)]


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if v.size else math.nan


def _row(values, interval: tuple[float, float, float], seed: int, keys: dict) -> dict:
    mean, lo, hi = interval
    return {**keys, "value": mean, "ci_low": lo, "ci_high": hi, "n": int(_finite(values).size), "seed": seed}


def summarize(values, *, seed: int = 0, n_boot: int = 1000, **keys) -> dict:
    """One results row from per-item ``values`` plus the identifying ``keys`` (study, model, ...)."""
    return _row(values, bootstrap_ci(values, n_boot=n_boot, seed=seed), seed, keys)


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student-t interval ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``
    (``s`` the sample standard deviation, ``ddof=1``); NaN bounds for fewer than 2 values.

    Meant for a handful of independent repeats (retraining seeds): with n = 3 the factor is
    t_{0.975, 2} = 4.303, so the interval is wide -- that is what three repeats can tell.
    """
    from scipy import stats

    v = _finite(values)
    if v.size < 2:
        return _mean(v), math.nan, math.nan
    mean = float(v.mean())
    half = float(stats.t.ppf((1.0 + level) / 2.0, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, mean - half, mean + half


def summarize_seeds(values, *, seed: int = 0, **keys) -> dict:
    """One results row from one value per seed (e.g. each retraining's accuracy): the mean over
    seeds, its 95% t-interval over seeds (:func:`t_interval`), ``n`` = the number of seeds."""
    return _row(values, t_interval(values), seed, keys)


def results_table(rows: Iterable[dict], *, defaults: dict | None = None) -> pd.DataFrame:
    """Validate ``rows`` against the contract and return them as a typed, sorted DataFrame.

    Missing ``x_name``/``x``/``x_label`` default to ``none``/NaN/``""``; ``defaults`` fills other
    columns shared by every row (e.g. ``study`` and ``seed``).
    """
    base = {"x_name": "none", "x": math.nan, "x_label": "", "ci_low": math.nan, "ci_high": math.nan}
    base.update(defaults or {})
    records = [{**base, **row} for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))
    missing = [c for c in RESULT_COLUMNS if frame[c].isna().all() and c not in ("x", "ci_low", "ci_high")]
    if records and missing:
        raise ConfigError(f"results table: columns {missing} have no values; every row needs them.")
    frame = frame.astype(RESULT_COLUMNS)
    order = ["study", "dataset", "model", "method", "metric", "x_name", "x"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)
