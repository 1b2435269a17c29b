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


def test_t_interval_and_summarize_seeds_by_hand():
    from interpbench.metrics.results import summarize_seeds, t_interval

    # mean 2, sd 1, half-width t_{0.975, 2} / sqrt(3) = 4.3026527 / 1.7320508 = 2.4841377
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and lo == pytest.approx(2 - 2.4841377, abs=1e-6) and hi == pytest.approx(2 + 2.4841377, abs=1e-6)
    # two values 0, 1: sd 0.7071068, t_{0.975, 1} = 12.7062047 -> half-width 6.3531024
    assert t_interval([0.0, 1.0])[2] == pytest.approx(0.5 + 6.3531024, abs=1e-6)
    assert np.isnan(t_interval([0.3])[1]) and np.isnan(t_interval([])[0])
    row = summarize_seeds([1.0, 2.0, 3.0, float("nan")], seed=4, metric="m")
    assert row["n"] == 3 and row["seed"] == 4 and row["value"] == 2.0 and row["metric"] == "m"
