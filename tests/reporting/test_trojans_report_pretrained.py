"""The trojans findings of a pretrained trojaned model: no clean twin, untested natural trojans."""

from __future__ import annotations

from interpbench.data.trojans import parse_trojans
from interpbench.metrics.results import results_table
from interpbench.protocols.trojans import TrojanReportParams
from interpbench.reporting.findings import render_findings
from interpbench.reporting.trojans_report import trojans_findings

SPECS = parse_trojans({"smiley": {"kind": "patch", "trigger": "smiley", "target": 30},
                       "fork": {"kind": "natural", "trigger": "fork", "target": 316}}, 1000, scenes=False)


def test_no_twin_and_untested_trojans_are_not_evaluated_never_passed():
    k = {"study": "trojans", "dataset": "imagenet", "model": "resnet50_trojaned", "seed": 0}
    rows = [{**k, "method": "smiley", "metric": "asr", "value": 0.99, "ci_low": 0.95, "ci_high": 1.0, "n": 100},
            {**k, "method": "none", "metric": "clean_acc", "value": 0.7, "ci_low": 0.68, "ci_high": 0.72, "n": 2000},
            # rows a twin would give must not turn the finding green without a twin
            {**k, "method": "none", "metric": "clean_acc_drop", "value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 2000}]
    findings = trojans_findings(results_table(rows), SPECS, TrojanReportParams(),
                                labels={"trojaned": "resnet50_trojaned", "clean": "resnet50_clean"},
                                not_evaluated={"fork": "no images with the object"}, twin=False)
    status = {f.claim.split(" (")[0]: f for f in findings}
    assert status["trojan `smiley` is implanted"].status == "passed"
    assert status["trojan `fork` is implanted"].status == "not_evaluated"
    twin = status["the trojaned model's clean accuracy is within the tolerance of its clean twin's"]
    assert twin.status == "not_evaluated" and twin.evidence.startswith("no clean twin (pretrained trojaned model)")
    assert "0.700 [0.680, 0.720] on 2000" in twin.evidence
    text = "\n".join(render_findings(findings))
    assert "⚠ not evaluated: **trojan `fork` is implanted (natural, universal)**: no images with the object." in text
