import math

import numpy as np
import pytest

from interpbench.errors import ConfigError
from interpbench.metrics.results import RESULT_COLUMNS, bootstrap_ci, results_table, summarize


def test_bootstrap_constant_values_have_zero_width():
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5, 0.5)


def test_bootstrap_interval_covers_mean_and_matches_normal_theory():
    rng = np.random.default_rng(0)
    v = rng.normal(size=400)
    mean, lo, hi = bootstrap_ci(v, n_boot=2000, seed=1)
    se = v.std(ddof=1) / np.sqrt(len(v))
    assert lo < mean < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_bootstrap_single_item_and_nan():
    mean, lo, hi = bootstrap_ci([2.0, float("nan")])
    assert mean == 2.0 and math.isnan(lo) and math.isnan(hi)


def test_results_table_has_contract_columns_and_types():
    rows = [summarize([1, 0, 1, 1], study="s", dataset="d", model="m", method="none", metric="acc", seed=3)]
    t = results_table(rows)
    assert list(t.columns) == list(RESULT_COLUMNS)
    assert t.loc[0, "value"] == 0.75 and t.loc[0, "n"] == 4 and t.loc[0, "x_name"] == "none"
    assert str(t["n"].dtype) == "int64" and str(t["x"].dtype) == "float64"


def test_results_table_rejects_rows_without_identity():
    with pytest.raises(ConfigError, match="study"):
        results_table([{"dataset": "d", "model": "m", "method": "x", "metric": "acc", "value": 1.0, "n": 1, "seed": 0}])
