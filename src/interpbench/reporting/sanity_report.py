"""The sanity_checks report: the paper's findings checked against this run's numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from interpbench.pipelines.params import SanityReportParams
from interpbench.reporting.findings import Finding, checked, finding_counts, missing, render_findings
from interpbench.reporting.markdown import fmt, row_where, table, value_with_ci

__all__ = ["Finding", "finding_counts", "sanity_findings", "sanity_report"]


def _upper(row: pd.Series) -> float:
    """The 95% interval's upper end (the value itself where the table has no interval): a finding
    "below a threshold" holds only when the noise the run measured cannot reach it."""
    return float(row["value"]) if _nan(row.get("ci_high", math.nan)) else float(row["ci_high"])


def _lows(rows: pd.DataFrame) -> pd.Series:
    return rows["ci_low"].where(rows["ci_low"].notna(), rows["value"]) if "ci_low" in rows else rows["value"]


def _highs(rows: pd.DataFrame) -> pd.Series:
    return rows["ci_high"].where(rows["ci_high"].notna(), rows["value"]) if "ci_high" in rows else rows["value"]


def _nan(x: float) -> bool:
    return x is None or math.isnan(float(x))


def sanity_findings(
    results: pd.DataFrame,
    model: str,
    top_steps: int | None = None,
    *,
    report: SanityReportParams | None = None,
    skipped: Mapping[str, str] | None = None,
    random_labels_enabled: bool = True,
) -> list[Finding]:
    """Adebayo et al.'s three findings for one model, from the results table; always three.

    1. Gradient (saliency) Spearman (abs) to the original falls below ``gradient_similarity_max``
       once every block is randomized (cascading). 2. Guided Backprop stays markedly more similar
       than Gradient (mean Spearman abs over the top ``top_steps`` blocks, by more than
       ``guided_backprop_margin``). 3. The random-label model's Gradient maps differ from the
       true-label control's (same subset and recipe; Spearman abs below
       ``random_labels_similarity_max``), evaluated only when both models fit their training labels
       in eval mode (``train_acc`` rows, ``x_name`` ``labels_permuted``) to at least
       ``random_labels_fit_min``. A finding whose rows are missing or NaN, whose method was not
       applicable (``skipped``: method -> reason), whose test is switched off or whose models did
       not fit their labels is ``not_evaluated`` with the reason.
    """
    r = report or SanityReportParams()
    steps = r.top_steps if top_steps is None else top_steps
    skipped = dict(skipped or {})

    def why_absent(methods: tuple[str, ...], what: str) -> str:
        for m in methods:
            if m in skipped:
                return f"`{m}` was not applicable to {model}: {skipped[m]}"
        return f"no {what} rows for {model} in the results"

    out = []
    casc = results[(results["model"] == f"{model}_cascading") & (results["metric"] == "spearman_abs")]
    claim1 = f"{model}: Gradient Spearman (abs) falls low once all blocks are randomized"
    thr1 = f"Spearman (abs) < {r.gradient_similarity_max:g}, the whole 95% interval"
    last = casc["x"].max() if not casc.empty else None
    grad = row_where(casc, method="saliency", x=last) if last is not None else None
    if grad is None:
        out.append(missing(claim1, why_absent(("saliency",), "cascading saliency spearman_abs"), thr1))
    elif _nan(grad["value"]):
        out.append(missing(claim1, f"the Spearman (abs) at step {int(last)} is NaN", thr1))
    else:
        out.append(checked(claim1, _upper(grad) < r.gradient_similarity_max,
                           f"{value_with_ci(grad)} at step {int(last)} ({grad['x_label']})", thr1))

    claim2 = f"{model}: Guided Backprop stays markedly more similar than Gradient over the top {steps} blocks"
    thr2 = (f"mean Spearman (abs) Guided Backprop - Gradient > {r.guided_backprop_margin:g} over steps 1-{steps}, "
            "Guided Backprop's interval lows against Gradient's interval highs")
    top = casc[(casc["x"] >= 1) & (casc["x"] <= steps)]
    g, gb = top[top["method"] == "saliency"], top[top["method"] == "guided_backprop"]
    if g.empty or gb.empty:
        absent = tuple(m for m, rows in (("saliency", g), ("guided_backprop", gb)) if rows.empty)
        out.append(missing(claim2, why_absent(absent, f"cascading {' and '.join(absent)} spearman_abs (steps 1-{steps})"), thr2))
    elif _nan(g["value"].mean()) or _nan(gb["value"].mean()):
        out.append(missing(claim2, "the Spearman (abs) values are NaN", thr2))
    else:
        out.append(checked(
            claim2, _lows(gb).mean() - _highs(g).mean() > r.guided_backprop_margin,
            f"mean Spearman (abs) over steps 1-{steps}: Guided Backprop {fmt(gb['value'].mean())} "
            f"(interval lows {fmt(_lows(gb).mean())}) vs Gradient {fmt(g['value'].mean())} "
            f"(interval highs {fmt(_highs(g).mean())})", thr2))

    claim3 = f"{model}: the random-label model's Gradient maps differ from the true-label control's"
    thr3 = (f"Spearman (abs) < {r.random_labels_similarity_max:g}, the whole 95% interval; evaluated when both models fit their training "
            f"labels to eval accuracy >= {r.random_labels_fit_min:g}")
    rl_rows = results[results["model"] == f"{model}_random_labels"]
    rl = row_where(rl_rows, method="saliency", metric="spearman_abs")
    fits = rl_rows[(rl_rows["metric"] == "train_acc") & (rl_rows["x_name"] == "labels_permuted")]
    fit_random, fit_true = row_where(fits, x=1.0), row_where(fits, x=0.0)
    if not random_labels_enabled:
        out.append(missing(claim3, "the random-label test is switched off "
                                   "(sanity_checks.protocol.random_labels.enabled: false)", thr3))
    elif rl is None:
        out.append(missing(claim3, why_absent(("saliency",), "random-label saliency spearman_abs"), thr3))
    elif fit_random is None or fit_true is None:
        absent = " and ".join(w for w, f in (("random-label model", fit_random), ("true-label control", fit_true))
                              if f is None)
        out.append(missing(claim3, f"no eval-mode fit (train_acc, x_name labels_permuted) of the {absent} "
                                   f"for {model} in the results", thr3))
    elif _nan(fit_random["value"]) or _nan(fit_true["value"]):
        out.append(missing(claim3, "the eval-mode fit of the random-label model or of the control is NaN", thr3))
    elif fit_random["value"] < r.random_labels_fit_min:
        out.append(missing(claim3, f"the random-label model fit only {fmt(fit_random['value'])} of its permuted "
                                   f"labels (eval mode; < {r.random_labels_fit_min:g}), so it has not memorised "
                                   "them and the comparison says nothing", thr3))
    elif fit_true["value"] < r.random_labels_fit_min:
        out.append(missing(claim3, f"the true-label control fit only {fmt(fit_true['value'])} of its training "
                                   f"labels (eval mode; < {r.random_labels_fit_min:g}), so it is no trained "
                                   "reference", thr3))
    elif _nan(rl["value"]):
        out.append(missing(claim3, "the random-label vs control Spearman (abs) is NaN", thr3))
    else:
        out.append(checked(claim3, _upper(rl) < r.random_labels_similarity_max,
                           f"Spearman (abs) random-label model vs true-label control {value_with_ci(rl)}; "
                           f"eval-mode fit of the training labels: random-label model {value_with_ci(fit_random)}, "
                           f"control {value_with_ci(fit_true)}", thr3))
    return out


def sanity_report_findings(
    results: pd.DataFrame,
    models: list[str],
    skipped: Mapping[str, Mapping[str, str]] | None = None,
    *,
    report: SanityReportParams | None = None,
    random_labels_enabled: bool = True,
) -> list[Finding]:
    """Every model's findings, in order."""
    skipped = skipped or {}
    return [f for m in models for f in sanity_findings(results, m, report=report, skipped=skipped.get(m),
                                                          random_labels_enabled=random_labels_enabled)]


def sanity_report(
    results: pd.DataFrame,
    models: Mapping[str, str] | list[str],
    skipped: dict[str, dict[str, str]],
    *,
    report: SanityReportParams | None = None,
    random_labels_enabled: bool = True,
    findings: list[Finding] | None = None,
) -> str:
    """The Markdown report. ``models``: slot -> the model's label in ``results`` (figures are named
    by slot), or a list of labels that are also the slot names; ``findings`` when already computed
    (else from :func:`sanity_report_findings`)."""
    models = dict(models) if isinstance(models, Mapping) else {m: m for m in models}
    if findings is None:
        findings = sanity_report_findings(results, list(models.values()), skipped, report=report,
                                          random_labels_enabled=random_labels_enabled)
    lines = [
        "# Sanity checks for saliency maps",
        "",
        "Reproduces Adebayo et al. (NeurIPS 2018): maps of the trained model compared with maps after "
        "cascading randomization (blocks re-initialised from the output down), independent randomization "
        "(one block at a time) and data randomization (a model trained on permuted labels against a "
        "true-label control trained on the same subset with the same recipe). Similarity to the "
        "reference maps: Spearman rank correlation of abs-normalised and of signed maps, SSIM of min-max "
        "maps, Spearman of HOG descriptors; mean over images with a 95% bootstrap interval. The model "
        "randomization maps explain the logit of the original model's predicted class; the two data "
        "randomization models each explain their own predicted class.",
        "",
        "## Findings",
        "",
    ]
    lines += render_findings(findings)
    for slot, m in models.items():
        lines += ["", f"## {m}" if m == slot else f"## {m} (slot `{slot}`)", "",
                  f"![cascading randomization]({slot}_cascading_grid.png)", "",
                  f"![cascading similarity]({slot}_cascading_similarity.png)", "",
                  f"![independent similarity]({slot}_independent_similarity.png)", "",
                  f"![true vs random labels]({slot}_random_labels_grid.png)", ""]
        casc = results[(results["model"] == f"{m}_cascading") & (results["metric"] == "spearman_abs")]
        if not casc.empty:
            wide = casc.pivot_table(index="method", columns="x", values="value")
            wide.columns = [casc.drop_duplicates("x").set_index("x").loc[c, "x_label"] for c in wide.columns]
            lines += ["Spearman (abs) to the original map along the cascade:", "",
                      table(wide.round(3).reset_index()), ""]
        rl = results[results["model"] == f"{m}_random_labels"]
        sim = rl[(rl["metric"] == "spearman_abs") & (rl["x_name"] == "data_randomization")]
        if not sim.empty:
            lines += ["Data randomization, Spearman (abs) of the random-label model's maps to the true-label "
                      "control's:", "",
                      table(pd.DataFrame({"method": sim["method"], "spearman_abs": [value_with_ci(r) for _, r in sim.iterrows()]})),
                      ""]
        for _, fit in rl[rl["metric"] == "train_acc"].sort_values("x", ascending=False).iterrows():
            lines.append(f"- {fit['x_label']}: {value_with_ci(fit)}")
        for method, reason in sorted(skipped.get(m, {}).items()):
            lines.append(f"- `{method}` not applicable: {reason}")
    return "\n".join(lines) + "\n"
