"""The input_gradients report: Shah, Jain, Netrapalli (2021)'s findings checked against this run.

Findings (each ✅, ❌ or ⚠ not evaluated, with the numbers behind it or the reason; "small k" = every
k <= ``small_k``; the thresholds are ``input_gradients.report``'s, printed beside each finding):

1. Feature leakage: on BlockMNIST the standard model puts a substantial share (>= ``leak_min``) of its
   top-k input-gradient pixels in the null block at every small k (paper: ~40-50%).
2. The robust model puts little (< ``robust_leak_max``) of them there at every small k (paper: < 10%).
3. On BlockMNIST-Top (signal always on top) the standard model's share is far lower than on
   BlockMNIST (less than ``top_ratio_max`` of it at every small k): leakage needs the signal's position to vary.
4. DiffROAR of the robust model's input gradients is above the standard model's at every small k.
5. The random ranking's DiffROAR stays near 0 (|DiffROAR| <= ``random_tol`` at every k).
6. Per data set, adversarial training worked: the robust model's PGD accuracy at the training eps
   beats the standard model's by > ``robust_gain_min``, its clean accuracy at most ``clean_tol`` below
   the standard one's (one finding per data set with robustness rows; not evaluated when none has).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from interpbench.pipelines.params import IGReportParams
from interpbench.reporting.findings import Finding, checked, missing, render_findings
from interpbench.reporting.markdown import fmt, results_summary, table, value_with_ci

_DEFAULTS = IGReportParams()
# Today's thresholds (the defaults of ``input_gradients.report``), kept as names for callers.
LEAK = _DEFAULTS.leak_min
ROBUST_LEAK = _DEFAULTS.robust_leak_max
RANDOM_TOL = _DEFAULTS.random_tol
ROBUST_GAIN = _DEFAULTS.robust_gain_min
CLEAN_TOL = _DEFAULTS.clean_tol


def _any_nan(*frames_or_values) -> bool:
    for v in frames_or_values:
        if isinstance(v, (pd.Series, pd.DataFrame)):
            if v.isna().to_numpy().any():
                return True
        elif pd.isna(v):
            return True
    return False


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


def _paired(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], suffixes: tuple[str, str]):
    """Curves ``a`` and ``b`` matched on k (columns suffixed), and the names of the absent ones
    ("matching-k" when both exist but share no k)."""
    both = a.merge(b, on="x", suffixes=suffixes) if not a.empty and not b.empty else pd.DataFrame()
    absent = " and ".join(n for n, c in zip(names, (a, b)) if c.empty) or "matching-k"
    return both, absent


def _why(what: str, method: str | None, skipped: Mapping[str, str] | None) -> str:
    """The reason a finding could not be evaluated: the method's not-applicable record, else absent rows."""
    if method is not None:
        for name, reason in sorted((skipped or {}).items()):
            if name.split(" on ")[0] == method:
                return f"`{name}` was not applicable: {reason}"
    return f"no {what} rows in the results"


def leakage_findings(
    results: pd.DataFrame,
    small_k: float,
    method: str = "saliency",
    *,
    report: IGReportParams | None = None,
    skipped: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings 1-3 (null-block share of ``method``'s top-k pixels); always three."""
    r = report or IGReportParams()
    out = []
    std = _small(_curve(results, "blockmnist", "standard", "null_block_share", method), small_k)
    rob = _small(_curve(results, "blockmnist", "robust", "null_block_share", method), small_k)
    top = _small(_curve(results, "blockmnist_top", "standard", "null_block_share", method), small_k)

    claim = (f"BlockMNIST: the standard model puts a substantial share of its top-k {method} pixels in the null "
             f"block at every k <= {small_k:.0%} (paper: ~40-50%)")
    thr = f"null-block share >= {r.leak_min:.0%}"
    if std.empty:
        out.append(missing(claim, _why(f"BlockMNIST standard-model {method} null_block_share", method, skipped), thr))
    elif _any_nan(std["value"]):
        out.append(missing(claim, f"the null-block share is NaN ({_listing(std)})", thr))
    else:
        out.append(checked(claim.replace("the standard model", f"the standard model ({std['model'].iloc[0]})"),
                           bool((std["value"] >= r.leak_min).all()), f"null-block share {_listing(std)}", thr))

    claim = (f"BlockMNIST: the robust model puts far less there at every k <= {small_k:.0%} (paper: < 10%)")
    thr = f"null-block share < {r.robust_leak_max:.0%}"
    if rob.empty:
        out.append(missing(claim, _why(f"BlockMNIST robust-model {method} null_block_share", method, skipped), thr))
    elif _any_nan(rob["value"]):
        out.append(missing(claim, f"the null-block share is NaN ({_listing(rob)})", thr))
    else:
        out.append(checked(claim.replace("the robust model", f"the robust model ({rob['model'].iloc[0]})"),
                           bool((rob["value"] < r.robust_leak_max).all()), f"null-block share {_listing(rob)}", thr))

    claim = (f"BlockMNIST-Top (signal always on top): the standard model's null-block share is far below its "
             f"BlockMNIST share at every k <= {small_k:.0%} (leakage comes from the varying signal position)")
    thr = f"Top share < {r.top_ratio_max:g} x BlockMNIST share"
    both, absent = _paired(top, std, ("BlockMNIST-Top", "BlockMNIST"), ("_top", "_random"))
    if both.empty:
        out.append(missing(claim, _why(f"{absent} standard-model {method} null_block_share", method, skipped), thr))
    elif _any_nan(both["value_top"], both["value_random"]):
        out.append(missing(claim, "a null-block share is NaN", thr))
    else:
        out.append(checked(
            claim,
            bool((both["value_top"] < r.top_ratio_max * both["value_random"]).all()),
            "; ".join(f"k={row['x_label_top']}: {fmt(row['value_top'])} (Top) vs {fmt(row['value_random'])} (BlockMNIST)"
                      for _, row in both.iterrows()), thr))
    return out


def diffroar_findings(
    results: pd.DataFrame,
    small_k: float,
    *,
    report: IGReportParams | None = None,
    skipped: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings 4-5 (DiffROAR of the robust vs standard model's rankings, and of the random ranking); always two."""
    r = report or IGReportParams()
    out = []
    rows = results[results["metric"] == "diffroar"]
    dataset = rows["dataset"].iloc[0] if not rows.empty else "DiffROAR"
    std = _small(_curve(results, dataset, "standard", "diffroar"), small_k) if not rows.empty else rows
    rob = _small(_curve(results, dataset, "robust", "diffroar"), small_k) if not rows.empty else rows

    method = rob["method"].iloc[0] if not rob.empty else "attribution"
    claim = f"{dataset}: DiffROAR of the robust model's {method} is above the standard model's at every k <= {small_k:.0%}"
    thr = "DiffROAR robust > standard"
    both, absent = _paired(rob, std, ("robust-model", "standard-model"), ("_robust", "_standard"))
    if both.empty:
        out.append(missing(claim, _why(f"{absent} diffroar", None, skipped), thr))
    elif _any_nan(both["value_robust"], both["value_standard"]):
        out.append(missing(claim, "a DiffROAR value is NaN", thr))
    else:
        out.append(checked(
            claim.replace("robust model's", f"robust model's ({rob['model'].iloc[0]})", 1)
                 .replace("standard model's", f"standard model's ({std['model'].iloc[0]})", 1),
            bool((both["value_robust"] > both["value_standard"]).all()),
            "; ".join(f"k={row['x_label_robust']}: {_ci(row, '_robust')} vs {_ci(row, '_standard')}"
                      for _, row in both.iterrows()), thr))

    claim = f"{dataset}: the random ranking's DiffROAR stays near 0 at every k"
    thr = f"|DiffROAR| <= {r.random_tol:g}"
    rnd = rows[rows["method"] == "random"].sort_values("x")
    if rnd.empty:
        out.append(missing(claim, _why("random-ranking diffroar", None, skipped), thr))
    elif _any_nan(rnd["value"]):
        out.append(missing(claim, f"a DiffROAR value is NaN ({_listing(rnd)})", thr))
    else:
        out.append(checked(claim, bool((rnd["value"].abs() <= r.random_tol).all()), f"DiffROAR {_listing(rnd)}", thr))
    return out


def robustness_findings(results: pd.DataFrame, *, report: IGReportParams | None = None) -> list[Finding]:
    """Finding 6, per data set: the robust model resists PGD at the training eps, the standard one not."""
    r = report or IGReportParams()
    thr = f"PGD accuracy robust - standard > {r.robust_gain_min:g}; clean accuracy robust >= standard - {r.clean_tol:g}"
    out = []
    datasets = sorted(results.loc[results["metric"].isin(["robust_acc", "clean_acc"]), "dataset"].unique())
    if not datasets:
        return [missing("adversarial training worked: the robust model's PGD accuracy beats the standard model's, "
                        "its clean accuracy barely lower", "no clean_acc / robust_acc rows in the results", thr)]
    for dataset in datasets:
        claim = (f"{dataset}: adversarial training worked: the robust model's PGD accuracy beats the standard "
                 f"model's, its clean accuracy barely lower")
        get = {
            (v, m): _curve(results, dataset, v, m)
            for v in ("standard", "robust") for m in ("clean_acc", "robust_acc")
        }
        absent = [f"{v} {m}" for (v, m), c in get.items() if c.empty]
        if absent:
            out.append(missing(claim, f"no {', '.join(absent)} rows for {dataset} in the results", thr))
            continue
        s_clean, r_clean = get[("standard", "clean_acc")].iloc[0], get[("robust", "clean_acc")].iloc[0]
        s_adv, r_adv = get[("standard", "robust_acc")].iloc[0], get[("robust", "robust_acc")].iloc[0]
        if _any_nan(s_clean["value"], r_clean["value"], s_adv["value"], r_adv["value"]):
            out.append(missing(claim, f"an accuracy for {dataset} is NaN", thr))
            continue
        holds = r_adv["value"] - s_adv["value"] > r.robust_gain_min and r_clean["value"] >= s_clean["value"] - r.clean_tol
        out.append(checked(
            claim.replace("worked:", f"worked ({r_adv['method']}, {r_adv['x_label']}):", 1),
            bool(holds),
            f"PGD accuracy {r_adv['model']} {value_with_ci(r_adv)} vs {s_adv['model']} {value_with_ci(s_adv)}; "
            f"clean accuracy {value_with_ci(r_clean)} vs {value_with_ci(s_clean)}", thr))
    return out


def input_gradients_findings(
    results: pd.DataFrame,
    small_k: float | None = None,
    method: str = "saliency",
    *,
    report: IGReportParams | None = None,
    skipped: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every finding of the study (six with one robustness data set), evaluated or not."""
    r = report or IGReportParams()
    k = r.small_k if small_k is None else small_k
    return (leakage_findings(results, k, method, report=r, skipped=skipped)
            + diffroar_findings(results, k, report=r, skipped=skipped) + robustness_findings(results, report=r))


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
    small_k: float | None = None,
    method: str = "saliency",
    setup: list[str] | None = None,
    skipped: Mapping[str, str] | None = None,
    figures: Mapping[str, str] | None = None,
    report: IGReportParams | None = None,
    findings: list[Finding] | None = None,
) -> str:
    """The Markdown report; ``figures`` maps a section key (gradients_<slot>, null_block_share,
    diffroar, accuracy) to its PNG file name; ``findings`` when already computed."""
    figures = dict(figures or {})
    if findings is None:
        findings = input_gradients_findings(results, small_k, method, report=report, skipped=skipped)
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
    lines += render_findings(findings, "_(no findings: empty results)_")
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
