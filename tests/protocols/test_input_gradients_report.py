"""The input_gradients report: each finding's ✅/❌ follows the numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from interpbench.metrics.results import results_table
from interpbench.reporting.input_gradients_report import input_gradients_findings, input_gradients_report

STD, ROB = "mlp_standard", "mlp_robust_l2"


def _rows(dataset, model, method, metric, values: dict[float, float]):
    return [{"study": "input_gradients", "dataset": dataset, "model": model, "method": method, "metric": metric,
             "x_name": "k", "x": k, "x_label": f"{100 * k:g}%", "value": v, "ci_low": v - 0.01, "ci_high": v + 0.01,
             "n": 200, "seed": 0} for k, v in values.items()]


def _acc(dataset, model, clean, robust):
    keys = {"study": "input_gradients", "dataset": dataset, "model": model, "n": 200, "seed": 0}
    return [{**keys, "method": "none", "metric": "clean_acc", "value": clean},
            {**keys, "method": "pgd_l2", "metric": "robust_acc", "x_name": "eps", "x": 3.0, "x_label": "eps=3", "value": robust}]


def _paper_like(changes: dict | None = None) -> pd.DataFrame:
    """Results as the paper reports them; ``changes`` replace single values:
    ``("share", dataset, model, k)`` or ``("diffroar", model, method, k)`` -> value."""
    share = {("blockmnist", STD): {0.05: 0.39, 0.1: 0.43, 0.2: 0.46}, ("blockmnist", ROB): {0.05: 0.002, 0.1: 0.04, 0.2: 0.2},
             ("blockmnist_top", STD): {0.05: 0.03, 0.1: 0.1, 0.2: 0.2}, ("blockmnist_top", ROB): {0.05: 0.0, 0.1: 0.0, 0.2: 0.04}}
    diff = {(STD, "saliency"): {0.05: 0.0, 0.1: -0.01, 0.5: 0.0}, (ROB, "saliency"): {0.05: 0.05, 0.1: 0.02, 0.5: 0.01},
            ("none", "random"): {0.05: -0.03, 0.1: 0.01, 0.5: 0.0}}
    for (table, a, b, k), value in (changes or {}).items():
        (share if table == "share" else diff)[(a, b)][k] = value
    rows = [r for (d, m), v in share.items() for r in _rows(d, m, "saliency", "null_block_share", v)]
    rows += [r for (m, meth), v in diff.items() for r in _rows("blockmnist", m, meth, "diffroar", v)]
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
        (("diffroar", ROB, "saliency", 0.1), -0.3, "DiffROAR of the robust"),  # robust below standard at 10%
        (("diffroar", "none", "random", 0.5), 0.3, "random ranking"),  # random far from 0
    ],
)
def test_each_finding_fails_when_its_numbers_contradict_it(change, bad, claim):
    findings = input_gradients_findings(_paper_like({change: bad}), small_k=0.1)
    assert not _holds(findings, claim)[0]
    assert sum(not f.holds for f in findings) == 1


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
