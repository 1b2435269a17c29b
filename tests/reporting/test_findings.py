"""Findings that can fail or be seen missing: ✅ / ❌ / ⚠ not evaluated, thresholds from params, counts."""

from __future__ import annotations

import math

import pytest

from interpbench.metrics.results import results_table
from interpbench.pipelines.params import IGReportParams, SanityReportParams
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.sanity_checks.nodes import write_sanity_report
from interpbench.reporting.findings import Finding, finding_counts, render_finding
from interpbench.reporting.input_gradients_report import input_gradients_report
from interpbench.reporting.sanity_report import sanity_findings, sanity_report

MODEL = "mnist_cnn"
PROTOCOL = {"random_labels": {"enabled": True}}


def _row(model, method, metric, x, value, x_label="step"):
    return {"study": "sanity_checks", "dataset": "mnist", "model": model, "method": method, "metric": metric,
            "x_name": "step", "x": x, "x_label": x_label, "value": value, "ci_low": value, "ci_high": value, "n": 10,
            "seed": 0}


def _results(grad_last=0.1, random_labels=True, guided=(0.9, 0.8), gradient=(0.5, 0.4), fit=(0.97, 1.0)):
    rows = [_row(f"{MODEL}_cascading", "saliency", "spearman_abs", 0, 1.0, "original")]
    rows += [_row(f"{MODEL}_cascading", "guided_backprop", "spearman_abs", 0, 1.0, "original")]
    for step, (gb, g) in enumerate(zip(guided, gradient), start=1):
        rows += [_row(f"{MODEL}_cascading", "guided_backprop", "spearman_abs", step, gb, f"block{step}"),
                 _row(f"{MODEL}_cascading", "saliency", "spearman_abs", step, g, f"block{step}")]
    rows.append(_row(f"{MODEL}_cascading", "saliency", "spearman_abs", 3, grad_last, "all"))
    if random_labels:
        rows += [_row(f"{MODEL}_random_labels", "saliency", "spearman_abs", 1.0, 0.2, "random vs control")]
        # eval-mode fits: x = 1 the random-label model (permuted labels), x = 0 the true-label control
        rows += [{**_row(f"{MODEL}_random_labels", "none", "train_acc", x, v, who), "x_name": "labels_permuted"}
                 for x, v, who in ((1.0, fit[0], "random-label model"), (0.0, fit[1], "control")) if v is not None]
    return results_table(rows)


def test_all_findings_pass_and_show_their_thresholds():
    found = sanity_findings(_results(), MODEL)
    assert [f.status for f in found] == ["passed"] * 3
    text = sanity_report(_results(), [MODEL], {})
    assert text.count("- ✅ **") == 3
    assert "(threshold: Spearman (abs) < 0.3, the whole 95% interval)" in text and "(threshold: Spearman (abs) < 0.5, the whole 95% interval; evaluated when both models fit their training labels to eval accuracy >= 0.9)" in text
    assert finding_counts(found) == {"findings.passed": 3, "findings.failed": 0, "findings.not_evaluated": 0}


def test_missing_random_label_rows_are_not_evaluated_with_the_reason():
    found = sanity_findings(_results(random_labels=False), MODEL)
    assert [f.status for f in found] == ["passed", "passed", "not_evaluated"]
    text = sanity_report(_results(random_labels=False), [MODEL], {})
    assert f"- ⚠ not evaluated: **{MODEL}: the random-label model's Gradient maps differ" in text
    assert f"no random-label saliency spearman_abs rows for {MODEL} in the results" in text
    assert finding_counts(found) == {"findings.passed": 2, "findings.failed": 0, "findings.not_evaluated": 1}


def test_disabled_random_label_test_is_not_evaluated_and_counted():
    text, metrics = write_sanity_report(_results(random_labels=False), {"random_labels": {"enabled": False}}, None,
                                        {}, {"skipped": {}},
                                            slots={"primary": (MODEL, "mnist")})
    assert "⚠ not evaluated" in text and "random_labels.enabled: false" in text
    assert metrics == {"passed": {"value": 2.0, "step": 0}, "failed": {"value": 0.0, "step": 0},
                       "not_evaluated": {"value": 1.0, "step": 0}}


def test_not_applicable_method_and_nan_are_not_evaluated():
    results = _results()
    results = results[results["method"] != "guided_backprop"]
    found = sanity_findings(results, MODEL, skipped={"guided_backprop": "a functional ReLU"})
    assert found[1].status == "not_evaluated" and "`guided_backprop` was not applicable" in found[1].evidence
    assert "a functional ReLU" in found[1].evidence
    nan = sanity_findings(_results(grad_last=math.nan), MODEL)
    assert nan[0].status == "not_evaluated" and "NaN" in nan[0].evidence


def test_a_failing_finding_shows_a_cross():
    text, metrics = write_sanity_report(_results(grad_last=0.6), PROTOCOL, None, {}, {}, slots={"primary": (MODEL, "mnist")})
    assert f"- ❌ **{MODEL}: Gradient Spearman (abs) falls low once all blocks are randomized** " \
           "(threshold: Spearman (abs) < 0.3, the whole 95% interval): 0.600" in text
    assert metrics["failed"]["value"] == 1.0 and metrics["passed"]["value"] == 2.0


def test_thresholds_come_from_params():
    report = {"gradient_similarity_max": 0.7, "top_steps": 1, "guided_backprop_margin": 0.45,
              "random_labels_similarity_max": 0.15}
    text, metrics = write_sanity_report(_results(grad_last=0.6), PROTOCOL, report, {}, {}, slots={"primary": (MODEL, "mnist")})
    assert "(threshold: Spearman (abs) < 0.7, the whole 95% interval)" in text and "(threshold: Spearman (abs) < 0.15, " in text
    assert "over the top 1 blocks" in text and "> 0.45 over steps 1-1" in text
    # 0.6 < 0.7 passes now; 0.9 - 0.5 = 0.4 is not above 0.45; 0.2 is not below 0.15
    assert metrics["passed"]["value"] == 1.0 and metrics["failed"]["value"] == 2.0
    assert SanityReportParams() == SanityReportParams(0.3, 2, 0.15, 0.5, 0.9)  # today's values


def test_random_label_finding_not_evaluated_when_the_permuted_labels_are_not_fit():
    # Maps that differ (0.2 < 0.5) say nothing when the random-label model has not memorised its labels.
    found = sanity_findings(_results(fit=(0.6, 1.0)), MODEL)
    assert [f.status for f in found] == ["passed", "passed", "not_evaluated"]
    assert "the random-label model fit only 0.600 of its permuted labels (eval mode; < 0.9)" in found[2].evidence
    text = sanity_report(_results(fit=(0.6, 1.0)), [MODEL], {})
    assert f"- ⚠ not evaluated: **{MODEL}: the random-label model's Gradient maps differ from the true-label " \
           "control's**: the random-label model fit only 0.600" in text
    # the threshold comes from the parameters: 0.6 is enough under random_labels_fit_min 0.5
    lenient = sanity_findings(_results(fit=(0.6, 1.0)), MODEL, report=SanityReportParams(random_labels_fit_min=0.5))
    assert lenient[2].status == "passed" and "eval accuracy >= 0.5" in lenient[2].threshold
    # exactly at the threshold is enough (>=)
    assert sanity_findings(_results(fit=(0.9, 0.9)), MODEL)[2].status == "passed"


def test_random_label_finding_not_evaluated_without_a_fit_control_or_fit_rows():
    control = sanity_findings(_results(fit=(0.97, 0.5)), MODEL)[2]
    assert control.status == "not_evaluated" and "the true-label control fit only 0.500" in control.evidence
    no_rows = sanity_findings(_results(fit=(None, None)), MODEL)[2]
    assert no_rows.status == "not_evaluated"
    assert "no eval-mode fit" in no_rows.evidence and "random-label model and true-label control" in no_rows.evidence
    nan = sanity_findings(_results(fit=(math.nan, 1.0)), MODEL)[2]
    assert nan.status == "not_evaluated" and "is NaN" in nan.evidence


def test_random_label_finding_fails_when_maps_stay_similar_despite_the_fit():
    rows = _results()
    rows.loc[(rows["model"] == f"{MODEL}_random_labels") & (rows["method"] == "saliency"), ["value", "ci_low", "ci_high"]] = 0.8
    found = sanity_findings(rows, MODEL)[2]
    assert found.status == "failed" and "0.800" in found.evidence
    assert "random-label model 0.970" in found.evidence and "control 1.000" in found.evidence


def test_input_gradients_thresholds_from_params_and_missing_rows():
    empty = results_table([])
    text = input_gradients_report(empty, report=IGReportParams(leak_min=0.33, random_tol=0.02))
    assert "(threshold" not in text  # not evaluated findings print their reason, not the threshold
    assert text.count("⚠ not evaluated") == 6
    from interpbench.reporting.input_gradients_report import input_gradients_findings
    found = input_gradients_findings(empty, report=IGReportParams(leak_min=0.33, random_tol=0.02),
                                     skipped={"saliency on blockmnist": "no gradient"})
    assert found[0].threshold == "null-block share >= 33%, the whole 95% interval" and "`saliency on blockmnist` was not applicable" in found[0].evidence
    assert any(f.threshold.startswith("|mean DiffROAR| <= max(0.02, spread)") for f in found)
    assert finding_counts(found)["findings.not_evaluated"] == 6


def test_finding_type_and_renderer():
    assert render_finding(Finding("c", "passed", "e", "x < 1")) == "- ✅ **c** (threshold: x < 1): e."
    assert render_finding(Finding("c", "failed", "e", "x < 1")) == "- ❌ **c** (threshold: x < 1): e."
    assert render_finding(Finding("c", "not_evaluated", "no rows")) == "- ⚠ not evaluated: **c**: no rows."
    assert Finding("c", "passed", "e").holds and not Finding("c", "failed", "e").holds
    with pytest.raises(ValueError):
        Finding("c", "maybe", "e")
    assert findings_to_metrics([Finding("c", "failed", "e")])["failed"] == {"value": 1.0, "step": 0}


def test_a_finding_whose_interval_reaches_the_threshold_fails():
    """The point estimate alone is not enough: the measured noise must not reach the threshold."""
    results = _results(grad_last=0.25)
    results.loc[(results["model"] == f"{MODEL}_cascading") & (results["x"] == 3), "ci_high"] = 0.32
    gb = (results["model"] == f"{MODEL}_cascading") & (results["method"] == "guided_backprop") & (results["x"] >= 1)
    results.loc[gb, "ci_low"] = results.loc[gb, "value"] - 0.3  # GB - Gradient: 0.4 by value, 0.1 by interval ends
    findings = sanity_findings(results, MODEL)
    assert [f.status for f in findings] == ["failed", "failed", "passed"]
    assert "interval lows 0.550" in findings[1].evidence
