"""The input_gradients report: Shah, Jain, Netrapalli (2021)'s findings checked against this run.

Findings (each ✅ or ❌ with the numbers behind it; "small k" = every k <= ``small_k``):

1. Feature leakage: on BlockMNIST the standard model puts a substantial share (>= ``LEAK``) of its
   top-k input-gradient pixels in the null block at every small k (paper: ~40-50%).
2. The robust model puts little (< ``ROBUST_LEAK``) of them there at every small k (paper: < 10%).
3. On BlockMNIST-Top (signal always on top) the standard model's share is far lower than on
   BlockMNIST (less than half at every small k): leakage needs the signal's position to vary.
4. DiffROAR of the robust model's input gradients is above the standard model's at every small k.
5. The random ranking's DiffROAR stays near 0 (|DiffROAR| <= ``RANDOM_TOL`` at every k).
6. Per data set, adversarial training worked: the robust model's PGD accuracy at the training eps
   beats the standard model's by > ``ROBUST_GAIN``, its clean accuracy at most ``CLEAN_TOL`` below the standard one's.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from interpbench.reporting.markdown import fmt, results_summary, table, value_with_ci
from interpbench.reporting.sanity_report import Finding

LEAK = 0.25
ROBUST_LEAK = 0.10
RANDOM_TOL = 0.10
ROBUST_GAIN = 0.10
CLEAN_TOL = 0.05


def _variant(model: str) -> str:
    return "robust" if "_robust_" in model else "standard" if model.endswith("_standard") else "other"


def _curve(results: pd.DataFrame, dataset: str, variant: str, metric: str, method: str | None = None) -> pd.DataFrame:
    sel = results[(results["dataset"] == dataset) & (results["metric"] == metric)]
    sel = sel[sel["model"].map(_variant) == variant]
    if method is not None:
        sel = sel[sel["method"] == method]
    return sel.sort_values("x")


def _small(curve: pd.DataFrame, small_k: float) -> pd.DataFrame:
    return curve[curve["x"] <= small_k + 1e-12]


def _ci(row: pd.Series, suffix: str) -> str:
    return value_with_ci({c: row[f"{c}{suffix}"] for c in ("value", "ci_low", "ci_high")})


def _listing(curve: pd.DataFrame) -> str:
    return ", ".join(f"k={r['x_label']}: {value_with_ci(r)}" for _, r in curve.iterrows())


def leakage_findings(results: pd.DataFrame, small_k: float, method: str = "saliency") -> list[Finding]:
    """Findings 1-3 (null-block share of ``method``'s top-k pixels)."""
    out = []
    std = _small(_curve(results, "blockmnist", "standard", "null_block_share", method), small_k)
    rob = _small(_curve(results, "blockmnist", "robust", "null_block_share", method), small_k)
    if not std.empty:
        model = std["model"].iloc[0]
        out.append(Finding(
            f"BlockMNIST: the standard model ({model}) puts a substantial share (>= {LEAK:.0%}) of its top-k "
            f"{method} pixels in the null block at every k <= {small_k:.0%} (paper: ~40-50%)",
            f"null-block share {_listing(std)}", bool((std["value"] >= LEAK).all())))
    if not rob.empty:
        model = rob["model"].iloc[0]
        out.append(Finding(
            f"BlockMNIST: the robust model ({model}) puts far less, < {ROBUST_LEAK:.0%}, there at every "
            f"k <= {small_k:.0%} (paper: < 10%)",
            f"null-block share {_listing(rob)}", bool((rob["value"] < ROBUST_LEAK).all())))
    top = _small(_curve(results, "blockmnist_top", "standard", "null_block_share", method), small_k)
    if not top.empty and not std.empty:
        both = top.merge(std, on="x", suffixes=("_top", "_random"))
        out.append(Finding(
            f"BlockMNIST-Top (signal always on top): the standard model's null-block share is less than half "
            f"of its BlockMNIST share at every k <= {small_k:.0%} (leakage comes from the varying signal position)",
            "; ".join(f"k={r['x_label_top']}: {fmt(r['value_top'])} (Top) vs {fmt(r['value_random'])} (BlockMNIST)"
                      for _, r in both.iterrows()),
            bool((both["value_top"] < 0.5 * both["value_random"]).all())))
    return out


def diffroar_findings(results: pd.DataFrame, small_k: float) -> list[Finding]:
    """Findings 4-5 (DiffROAR of the robust vs standard model's rankings, and of the random ranking)."""
    out = []
    rows = results[results["metric"] == "diffroar"]
    if rows.empty:
        return out
    dataset = rows["dataset"].iloc[0]
    std = _small(_curve(results, dataset, "standard", "diffroar"), small_k)
    rob = _small(_curve(results, dataset, "robust", "diffroar"), small_k)
    if not std.empty and not rob.empty:
        both = rob.merge(std, on="x", suffixes=("_robust", "_standard"))
        method = rob["method"].iloc[0]
        out.append(Finding(
            f"{dataset}: DiffROAR of the robust model's {method} ({rob['model'].iloc[0]}) is above the standard "
            f"model's ({std['model'].iloc[0]}) at every k <= {small_k:.0%}",
            "; ".join(f"k={r['x_label_robust']}: {_ci(r, '_robust')} vs {_ci(r, '_standard')}" for _, r in both.iterrows()),
            bool((both["value_robust"] > both["value_standard"]).all())))
    rnd = rows[rows["method"] == "random"].sort_values("x")
    if not rnd.empty:
        out.append(Finding(
            f"{dataset}: the random ranking's DiffROAR stays near 0 (|DiffROAR| <= {RANDOM_TOL}) at every k",
            f"DiffROAR {_listing(rnd)}", bool((rnd["value"].abs() <= RANDOM_TOL).all())))
    return out


def robustness_findings(results: pd.DataFrame) -> list[Finding]:
    """Finding 6, per data set: the robust model resists PGD at the training eps, the standard one not."""
    out = []
    for dataset in sorted(results.loc[results["metric"] == "robust_acc", "dataset"].unique()):
        get = {
            (v, m): _curve(results, dataset, v, m)
            for v in ("standard", "robust") for m in ("clean_acc", "robust_acc")
        }
        if any(c.empty for c in get.values()):
            continue
        s_clean, r_clean = get[("standard", "clean_acc")].iloc[0], get[("robust", "clean_acc")].iloc[0]
        s_adv, r_adv = get[("standard", "robust_acc")].iloc[0], get[("robust", "robust_acc")].iloc[0]
        holds = r_adv["value"] - s_adv["value"] > ROBUST_GAIN and r_clean["value"] >= s_clean["value"] - CLEAN_TOL
        out.append(Finding(
            f"{dataset}: adversarial training worked ({r_adv['method']}, {r_adv['x_label']}): the robust model's PGD "
            f"accuracy beats the standard model's by > {ROBUST_GAIN}, its clean accuracy at most {CLEAN_TOL} below the standard model's",
            f"PGD accuracy {r_adv['model']} {value_with_ci(r_adv)} vs {s_adv['model']} {value_with_ci(s_adv)}; "
            f"clean accuracy {value_with_ci(r_clean)} vs {value_with_ci(s_clean)}", bool(holds)))
    return out


def input_gradients_findings(results: pd.DataFrame, small_k: float = 0.1, method: str = "saliency") -> list[Finding]:
    return leakage_findings(results, small_k, method) + diffroar_findings(results, small_k) + robustness_findings(results)


def _wide(results: pd.DataFrame, metric: str, index=("dataset", "model", "method")) -> str:
    rows = results[results["metric"] == metric]
    if rows.empty:
        return "_(no rows)_"
    wide = rows.pivot_table(index=list(index), columns="x", values="value", sort=True)
    labels = rows.drop_duplicates("x").set_index("x")["x_label"]
    wide.columns = [f"k={labels[c]}" for c in wide.columns]
    return table(wide.round(3).reset_index())


def input_gradients_report(
    results: pd.DataFrame,
    *,
    small_k: float = 0.1,
    method: str = "saliency",
    setup: list[str] | None = None,
    skipped: Mapping[str, str] | None = None,
    figures: Mapping[str, str] | None = None,
) -> str:
    """The Markdown report; ``figures`` maps a section key (gradients_<slot>, null_block_share,
    diffroar, accuracy) to its PNG file name."""
    figures = dict(figures or {})
    findings = input_gradients_findings(results, small_k, method)
    lines = [
        "# Do input gradients highlight discriminative features?",
        "",
        "Reproduces Shah, Jain & Netrapalli (NeurIPS 2021) with a standard and a PGD adversarially trained "
        "(robust) model of the same architecture. **Feature leakage**: on BlockMNIST (a signal block, the digit, "
        "and a fixed non-discriminative null block, signal on top or at the bottom at random) the share of the "
        "top-k pixels by |input gradient| of the true class that fall in the null block; BlockMNIST-Top keeps the "
        "signal on top. **DiffROAR** (eq. 1): retrain a fresh model on images keeping only their top-k (or "
        "bottom-k) pixels by |attribution|, the rest set to the training mean; DiffROAR(k) = acc(top-k) - "
        "acc(bottom-k), > 0 when the attribution ranks discriminative pixels first, ≈ 0 for a random ranking. "
        "Values are means over test images with a 95% bootstrap interval.",
        "",
    ]
    if setup:
        lines += ["Setup:", "", *[f"- {s}" for s in setup], ""]
    lines += ["## Findings", ""]
    marks = [f"- {'✅' if f.holds else '❌'} **{f.claim}**: {f.evidence}." for f in findings]
    lines += marks or ["_(no findings: empty results)_"]
    lines += ["", "## Robustness (clean and PGD accuracy at the training eps)", ""]
    acc = results[results["metric"].isin(["clean_acc", "robust_acc"])]
    columns = ("dataset", "model", "method", "metric", "x_label")
    lines += [results_summary(acc, columns=columns) if not acc.empty else "_(no rows)_", ""]
    if "accuracy" in figures:
        lines += [f"![clean and PGD accuracy]({figures['accuracy']})", ""]
    lines += ["## Feature leakage: share of the top-k pixels in the null block", "",
              "Lower is better; a random map gives 0.5 (the null block is half the image).", "",
              _wide(results, "null_block_share"), ""]
    if "null_block_share" in figures:
        lines += [f"![null-block share vs k]({figures['null_block_share']})", ""]
    for key in sorted(k for k in figures if k.startswith("gradients_")):
        lines += [f"![{key}]({figures[key]})", ""]
    lines += ["## DiffROAR", "",
              "On an easy task (BlockMNIST's two digits) a model retrained to convergence reaches high accuracy from "
              "almost any pixel subset (the mask's own shape also carries class information), so acc(top-k) and "
              "acc(bottom-k) are both close to 1 and DiffROAR is small: read it relative to the random ranking's. "
              "Shah et al. report larger gaps on natural images (CIFAR-10: conf/gpu_cifar10).", "",
              "DiffROAR(k) per ranking:", "", _wide(results, "diffroar"), "",
              "Accuracy of the models retrained on the top-k / bottom-k unmasked pixels:", "",
              _wide(results, "acc_top"), "", _wide(results, "acc_bottom"), ""]
    if "diffroar" in figures:
        lines += [f"![DiffROAR vs k]({figures['diffroar']})", ""]
    for name, reason in sorted((skipped or {}).items()):
        lines.append(f"- `{name}` not applicable: {reason}")
    return "\n".join(lines) + "\n"
