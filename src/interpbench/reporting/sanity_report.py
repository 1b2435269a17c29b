"""The sanity_checks report: the paper's findings checked against this run's numbers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from interpbench.reporting.markdown import fmt, table, value_with_ci


@dataclass
class Finding:
    claim: str
    evidence: str
    holds: bool


def _row(results: pd.DataFrame, **eq) -> pd.Series | None:
    sel = results
    for k, v in eq.items():
        sel = sel[sel[k] == v]
    return None if sel.empty else sel.iloc[0]


def sanity_findings(results: pd.DataFrame, model: str, top_steps: int = 2) -> list[Finding]:
    """Adebayo et al.'s three findings for one model, from the results table.

    1. Gradient (saliency) Spearman (abs) to the original falls below 0.3 once every block is
       randomized (cascading). 2. Guided Backprop stays markedly more similar than Gradient over
       the top ``top_steps`` blocks (mean Spearman abs over those steps). 3. The random-label
       model's Gradient maps differ from the true-label model's (Spearman abs well below 1).
    """
    out = []
    casc = results[(results["model"] == f"{model}_cascading") & (results["metric"] == "spearman_abs")]
    if not casc.empty:
        last = casc["x"].max()
        grad = _row(casc, method="saliency", x=last)
        if grad is not None:
            out.append(Finding(
                f"{model}: Gradient Spearman (abs) < 0.3 once all blocks are randomized",
                f"{value_with_ci(grad)} at step {int(last)} ({grad['x_label']})", grad["value"] < 0.3))
        top = casc[(casc["x"] >= 1) & (casc["x"] <= top_steps)]
        g, gb = top[top["method"] == "saliency"], top[top["method"] == "guided_backprop"]
        if not g.empty and not gb.empty:
            out.append(Finding(
                f"{model}: Guided Backprop stays markedly more similar than Gradient over the top {top_steps} blocks",
                f"mean Spearman (abs) over steps 1-{top_steps}: Guided Backprop {fmt(gb['value'].mean())} "
                f"vs Gradient {fmt(g['value'].mean())}",
                gb["value"].mean() - g["value"].mean() > 0.15))
    rl = _row(results, model=f"{model}_random_labels", method="saliency", metric="spearman_abs")
    acc = _row(results, model=f"{model}_random_labels", metric="train_acc")
    if rl is not None:
        fit = f"; the random-label model fit its permuted labels to train accuracy {fmt(acc['value'])}" if acc is not None else ""
        out.append(Finding(
            f"{model}: the random-label model's Gradient maps differ from the true-label model's",
            f"Spearman (abs) true vs random labels {value_with_ci(rl)}{fit}", rl["value"] < 0.5))
    return out


def sanity_report(results: pd.DataFrame, models: list[str], skipped: dict[str, dict[str, str]]) -> str:
    lines = [
        "# Sanity checks for saliency maps",
        "",
        "Reproduces Adebayo et al. (NeurIPS 2018): maps of the trained model compared with maps after "
        "cascading randomization (blocks re-initialised from the output down), independent randomization "
        "(one block at a time) and data randomization (labels permuted before training). Similarity to the "
        "original maps: Spearman rank correlation of abs-normalised and of signed maps, SSIM of min-max "
        "maps, Spearman of HOG descriptors; mean over images with a 95% bootstrap interval. Every map "
        "explains the logit of the original model's predicted class.",
        "",
        "## Findings",
        "",
    ]
    findings = [f for m in models for f in sanity_findings(results, m)]
    lines += [f"- {'✅' if f.holds else '❌'} **{f.claim}**: {f.evidence}." for f in findings]
    for m in models:
        lines += ["", f"## {m}", "",
                  f"![cascading randomization]({m}_cascading_grid.png)", "",
                  f"![cascading similarity]({m}_cascading_similarity.png)", "",
                  f"![independent similarity]({m}_independent_similarity.png)", "",
                  f"![true vs random labels]({m}_random_labels_grid.png)", ""]
        casc = results[(results["model"] == f"{m}_cascading") & (results["metric"] == "spearman_abs")]
        if not casc.empty:
            wide = casc.pivot_table(index="method", columns="x", values="value")
            wide.columns = [casc.drop_duplicates("x").set_index("x").loc[c, "x_label"] for c in wide.columns]
            lines += ["Spearman (abs) to the original map along the cascade:", "",
                      table(wide.round(3).reset_index()), ""]
        for method, reason in sorted(skipped.get(m, {}).items()):
            lines.append(f"- `{method}` not applicable: {reason}")
    return "\n".join(lines) + "\n"
