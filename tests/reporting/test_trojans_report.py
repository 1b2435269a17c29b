"""The trojans findings on hand-made results tables (thresholds from the parameters, noise-aware)."""

from __future__ import annotations

import math

from interpbench.data.trojans import parse_trojans
from interpbench.metrics.results import results_table
from interpbench.protocols.trojans import TrojanReportParams
from interpbench.reporting.trojans_report import trojans_findings

SPECS = parse_trojans({
    "smiley": {"kind": "patch", "trigger": "smiley", "target": 4, "poison_fraction": 0.05},
    "heart": {"kind": "natural", "trigger": "heart", "target": 3, "poison_fraction": 0.05},
}, 8)
LABELS = {"trojaned": "net_trojaned", "clean": "net_clean"}


def _rows(asr_low: float, drop_high: float, l1_p: dict, corr_p: dict) -> list[dict]:
    k = {"study": "trojans", "dataset": "scenes", "seed": 0}
    rows = [{**k, "model": "net_trojaned", "method": s.name, "metric": "asr", "value": 0.97, "ci_low": asr_low,
             "ci_high": 0.99, "n": 100} for s in SPECS]
    rows += [{**k, "model": m, "method": "none", "metric": "clean_acc", "value": v, "ci_low": v - 0.01,
              "ci_high": v + 0.01, "n": 800} for m, v in (("net_trojaned", 0.98), ("net_clean", 0.99))]
    rows.append({**k, "model": "net_trojaned", "method": "none", "metric": "clean_acc_drop", "value": 0.01,
                 "ci_low": 0.0, "ci_high": drop_high, "n": 800})
    for short, base, ps in (("l1", "blank", l1_p), ("correlation", "sobel_edges", corr_p)):
        for method, p in ps.items():
            rows.append({**k, "model": "net_trojaned", "method": method, "metric": f"{short}_minus_{base}", "value": -0.01,
                         "ci_low": -0.02, "ci_high": 0.0, "n": 16})
            rows.append({**k, "model": "net_trojaned", "method": method, "metric": f"{short}_vs_{base}_p_holm",
                         "value": p, "n": 16})
    return rows


def test_findings_pass_and_fail_on_the_intervals_not_the_means():
    report = TrojanReportParams(asr_min=0.9, clean_tol=0.02, alpha=0.05, few_max=1)
    ok = trojans_findings(results_table(_rows(0.93, 0.015, {"occlusion": 0.01, "saliency": 0.5},
                                              {"kernel_shap": 0.001, "lime": 0.02, "lrp": math.nan})),
                          SPECS, report, labels=LABELS)
    status = {f.claim.split(" (")[0]: f.status for f in ok}
    assert status["trojan `smiley` is implanted"] == "passed" and status["trojan `heart` is implanted"] == "passed"
    assert status["the trojaned model's clean accuracy is within the tolerance of its clean twin's"] == "passed"
    l1, corr = ok[-2], ok[-1]
    assert l1.status == "passed" and "1 of 2 methods beat it: occlusion" in l1.evidence
    assert corr.status == "failed" and "2 of 2 methods" in corr.evidence  # few_max 1; lrp (NaN) not tested
    assert "at most 1 methods" in corr.threshold

    # mean ASR 0.97 but its lower bound 0.85 < 0.9; drop 0.01 but upper bound 0.03 > 0.02: both fail
    bad = trojans_findings(results_table(_rows(0.85, 0.03, {}, {})), SPECS, report, labels=LABELS)
    assert [f.status for f in bad[:3]] == ["failed", "failed", "failed"]
    assert [f.status for f in bad[3:]] == ["not_evaluated", "not_evaluated"]
