"""The input_gradients report: each finding's ✅/❌ follows the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from interpbench.metrics.results import results_table
from interpbench.reporting.input_gradients_report import input_gradients_findings, input_gradients_report

STD, ROB = "mlp_standard", "mlp_robust_l2"
RSTD, RROB = "resnet_small_standard", "resnet_small_robust_l2"


def _rows(dataset, model, method, metric, values: dict[float, float], half: float | dict = 0.01, n: int = 200):
    """Rows at each k; ``half`` the interval's half-width (a number, or per k)."""
    h = half if isinstance(half, dict) else dict.fromkeys(values, half)
    return [{"study": "input_gradients", "dataset": dataset, "model": model, "method": method, "metric": metric,
             "x_name": "k", "x": k, "x_label": f"{100 * k:g}%", "value": v, "ci_low": v - h[k], "ci_high": v + h[k],
             "n": n, "seed": 0} for k, v in values.items()]


def _acc(dataset, model, clean, robust):
    keys = {"study": "input_gradients", "dataset": dataset, "model": model, "n": 200, "seed": 0}
    return [{**keys, "method": "none", "metric": "clean_acc", "value": clean},
            {**keys, "method": "pgd_l2", "metric": "robust_acc", "x_name": "eps", "x": 3.0, "x_label": "eps=3", "value": robust}]


def _paper_like(changes: dict | None = None) -> pd.DataFrame:
    """Results as the paper reports them; ``changes`` replace single values:
    ``("share", dataset, model, k)`` or ``("diffroar", model, method, k)`` -> value."""
    share = {("blockmnist", STD): {0.05: 0.39, 0.1: 0.43, 0.2: 0.46}, ("blockmnist", ROB): {0.05: 0.002, 0.1: 0.04, 0.2: 0.2},
             ("blockmnist_top", STD): {0.05: 0.03, 0.1: 0.1, 0.2: 0.2}, ("blockmnist_top", ROB): {0.05: 0.0, 0.1: 0.0, 0.2: 0.04}}
    diff = {(RSTD, "saliency"): {0.05: 0.0, 0.1: -0.01, 0.5: 0.0}, (RROB, "saliency"): {0.05: 0.05, 0.1: 0.02, 0.5: 0.01},
            ("none", "random"): {0.05: -0.03, 0.1: 0.01, 0.5: 0.0}}
    for (table, a, b, k), value in (changes or {}).items():
        (share if table == "share" else diff)[(a, b)][k] = value
    rows = [r for (d, m), v in share.items() for r in _rows(d, m, "saliency", "null_block_share", v)]
    # DiffROAR rows: means over 3 retraining seeds, half-width 0.01 of the t-interval over seeds.
    rows += [r for (m, meth), v in diff.items() for r in _rows("scenes", m, meth, "diffroar", v, n=3)]
    rows += _acc("blockmnist", STD, 0.99, 0.49) + _acc("blockmnist", ROB, 0.99, 0.93)
    return results_table(rows)


def _holds(findings, word):
    (f,) = [f for f in findings if word in f.claim]
    return f.holds, f.evidence


def test_paper_like_results_pass_every_finding():
    findings = input_gradients_findings(_paper_like(), small_k=0.1)
    assert len(findings) == 6 and all(f.holds for f in findings), [f.claim for f in findings if not f.holds]
    holds, evidence = _holds(findings, "substantial share")
    assert "k=5%: 0.390 [0.380, 0.400]" in evidence and "k=10%: 0.430" in evidence and "20%" not in evidence
    assert "0.930" in _holds(findings, "adversarial training worked")[1]


@pytest.mark.parametrize(
    "change, bad, claim",
    [
        (("share", "blockmnist", STD, 0.05), 0.1, "substantial share"),  # the standard model does not leak at 5%
        (("share", "blockmnist", ROB, 0.1), 0.2, "far less"),  # the robust model leaks at 10%
        (("share", "blockmnist_top", STD, 0.1), 0.4, "BlockMNIST-Top"),  # Top as leaky as BlockMNIST
        (("diffroar", RROB, "saliency", 0.1), -0.3, "DiffROAR of the robust"),  # robust below standard at 10%
        (("diffroar", "none", "random", 0.5), 0.3, "random ranking's"),  # random far from 0
    ],
)
def test_each_finding_fails_when_its_numbers_contradict_it(change, bad, claim):
    findings = input_gradients_findings(_paper_like({change: bad}), small_k=0.1)
    assert not _holds(findings, claim)[0]
    assert sum(not f.holds for f in findings) == 1


def _diffroar_table(rob: float, std: float, rnd: float, rnd_half: float, n: int = 3, ks=(0.05, 0.1)) -> pd.DataFrame:
    """DiffROAR rows (means over ``n`` seeds) with the random ranking's interval half-width ``rnd_half``."""
    rows = _rows("scenes", RROB, "saliency", "diffroar", dict.fromkeys(ks, rob), half=0.2, n=n)
    rows += _rows("scenes", RSTD, "saliency", "diffroar", dict.fromkeys(ks, std), half=0.2, n=n)
    rows += _rows("scenes", "none", "random", "diffroar", dict.fromkeys(ks, rnd), half=rnd_half, n=n)
    return results_table(rows)


def _finding(table, word, **report):
    from interpbench.pipelines.params import IGReportParams

    (f,) = [f for f in input_gradients_findings(table, small_k=0.1, report=IGReportParams(**report)) if word in f.claim]
    return f


@pytest.mark.parametrize("rnd_half, status", [(0.05, "passed"), (0.15, "failed")])
def test_robust_above_standard_needs_a_gap_above_the_random_spread(rnd_half, status):
    # gap = 0.30 - 0.20 = 0.10 at every small k; the random ranking's spread (half-width over seeds) 0.05 or 0.15
    f = _finding(_diffroar_table(0.30, 0.20, 0.0, rnd_half), "DiffROAR of the robust")
    assert f.status == status
    assert f"gap 0.100 vs spread {rnd_half:.3f} (n = 3 seeds)" in f.evidence and "t-interval" in f.threshold


def test_robust_above_standard_fails_when_one_small_k_is_within_the_noise():
    table = _diffroar_table(0.30, 0.20, 0.0, 0.05)
    table.loc[(table["method"] == "random") & (table["x"] == 0.05), ["ci_low", "ci_high"]] = [-0.2, 0.2]
    assert _finding(table, "DiffROAR of the robust").status == "failed"


@pytest.mark.parametrize(
    "rnd, half, status",
    [(0.08, 0.10, "passed"),  # the interval over seeds covers 0
     (0.08, 0.02, "failed"),  # clearly off 0: beyond its spread and beyond random_tol
     (0.03, 0.01, "passed"),  # off 0 by less than random_tol (the seeds agree closely)
     (-0.12, 0.10, "failed")],
)
def test_random_ranking_near_zero_uses_the_same_spread(rnd, half, status):
    f = _finding(_diffroar_table(0.30, 0.20, rnd, half), "random ranking's", random_tol=0.05)
    assert f.status == status and f"vs spread {half:.3f}" in f.evidence and f.threshold.startswith(
        "|mean DiffROAR| <= max(0.05, spread)")


def test_diffroar_findings_are_not_evaluated_without_their_rows_or_noise():
    table = _diffroar_table(0.30, 0.20, 0.0, 0.05)
    no_random = table[table["method"] != "random"]
    assert _finding(no_random, "DiffROAR of the robust").status == "not_evaluated"
    assert "no random-ranking diffroar rows" in _finding(no_random, "DiffROAR of the robust").evidence
    assert _finding(no_random, "random ranking's").status == "not_evaluated"
    no_robust = table[table["model"] != RROB]
    assert _finding(no_robust, "DiffROAR of the robust").status == "not_evaluated"
    one_seed = _diffroar_table(0.30, 0.20, 0.0, float("nan"), n=1)
    for word in ("DiffROAR of the robust", "random ranking's"):
        f = _finding(one_seed, word)
        assert f.status == "not_evaluated" and "fewer than 2 retraining seeds" in f.evidence


def test_large_k_does_not_count_as_small_k():
    findings = input_gradients_findings(_paper_like({("share", "blockmnist", ROB, 0.2): 0.45}), small_k=0.1)
    assert _holds(findings, "far less")[0]
    findings = input_gradients_findings(_paper_like({("share", "blockmnist", ROB, 0.2): 0.45}), small_k=0.2)
    assert not _holds(findings, "far less")[0]


def test_robustness_finding_needs_a_gap_and_similar_clean_accuracy():
    table = _paper_like()
    table.loc[(table["model"] == ROB) & (table["metric"] == "clean_acc"), "value"] = 0.8
    assert not _holds(input_gradients_findings(table), "adversarial training worked")[0]


def test_report_lists_findings_tables_and_figures():
    text = input_gradients_report(_paper_like(), setup=["blockmnist: mlp"],
                                  figures={"diffroar": "diffroar.png", "gradients_blockmnist": "blockmnist_gradients.png"},
                                  skipped={"gradcam on blockmnist": "no conv layer"})
    assert text.count("- ✅ **") == 6 and "❌" not in text
    assert "| blockmnist | mlp_standard | saliency | 0.39 | 0.43 | 0.46 |" in text
    assert "![DiffROAR vs k](diffroar.png)" in text and "(blockmnist_gradients.png)" in text
    assert "`gradcam on blockmnist` not applicable: no conv layer" in text and "- blockmnist: mlp" in text
    empty = input_gradients_report(results_table([]))
    assert empty.count("- ⚠ not evaluated: **") == 6 and "✅" not in empty and "no clean_acc / robust_acc rows" in empty


def test_null_share_findings_need_the_whole_interval_past_the_threshold():
    """A point estimate past the threshold is not enough when the measured interval crosses it."""
    table = _paper_like()
    std = (table["model"] == STD) & (table["dataset"] == "blockmnist") & (table["metric"] == "null_block_share")
    table.loc[std, "ci_low"] = 0.2  # below leak_min 0.25 while the values stay at ~0.4
    findings = input_gradients_findings(table, small_k=0.1)
    assert findings[0].status == "failed" and findings[0].threshold.endswith("the whole 95% interval")
