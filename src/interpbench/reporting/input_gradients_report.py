"""The input_gradients report: Shah, Jain, Netrapalli (2021)'s findings checked against this run.

Findings (each ✅, ❌ or ⚠ not evaluated, with the numbers behind it or the reason; "small k" = every
k <= ``small_k``; the thresholds are ``input_gradients.report``'s, printed beside each finding):

1. Feature leakage: on BlockMNIST the standard model puts a substantial share (>= ``leak_min``) of its
   top-k input-gradient pixels in the null block at every small k (paper: ~40-50%).
2. The robust model puts little (< ``robust_leak_max``) of them there at every small k (paper: < 10%).
3. On BlockMNIST-Top (signal always on top) the standard model's share is far lower than on
   BlockMNIST (less than ``top_ratio_max`` of it at every small k): leakage needs the signal's position to vary.
4. DiffROAR of the robust model's input gradients is above the standard model's at every small k,
   by more than the retraining noise: ``gap(k) = DiffROAR_robust(k) - DiffROAR_standard(k)`` (means
   over retraining seeds) must exceed ``spread(k)``, the random ranking's spread across seeds at that
   k, defined as the half-width of its 95% Student-t interval over the per-seed DiffROAR values
   (``t_{0.975, n-1} * sd / sqrt(n)``, i.e. ``(ci_high - ci_low) / 2`` of its ``diffroar`` row).
5. The random ranking's DiffROAR stays near 0, judged with the same spread: at every k,
   ``|DiffROAR_random(k)| <= max(random_tol, spread(k))`` (its interval over seeds covers 0, or
   the mean is within ``random_tol`` of 0 when the seeds agree closely).
   Findings 4-5 are not evaluated when rows are missing or the spread is undefined (one seed).
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
    thr = f"null-block share >= {r.leak_min:.0%}, the whole 95% interval"
    if std.empty:
        out.append(missing(claim, _why(f"BlockMNIST standard-model {method} null_block_share", method, skipped), thr))
    elif _any_nan(std["value"]):
        out.append(missing(claim, f"the null-block share is NaN ({_listing(std)})", thr))
    else:
        out.append(checked(claim.replace("the standard model", f"the standard model ({std['model'].iloc[0]})"),
                           bool((_end(std, "ci_low") >= r.leak_min).all()), f"null-block share {_listing(std)}", thr))

    claim = (f"BlockMNIST: the robust model puts far less there at every k <= {small_k:.0%} (paper: < 10%)")
    thr = f"null-block share < {r.robust_leak_max:.0%}, the whole 95% interval"
    if rob.empty:
        out.append(missing(claim, _why(f"BlockMNIST robust-model {method} null_block_share", method, skipped), thr))
    elif _any_nan(rob["value"]):
        out.append(missing(claim, f"the null-block share is NaN ({_listing(rob)})", thr))
    else:
        out.append(checked(claim.replace("the robust model", f"the robust model ({rob['model'].iloc[0]})"),
                           bool((_end(rob, "ci_high") < r.robust_leak_max).all()), f"null-block share {_listing(rob)}", thr))

    claim = (f"BlockMNIST-Top (signal always on top): the standard model's null-block share is far below its "
             f"BlockMNIST share at every k <= {small_k:.0%} (leakage comes from the varying signal position)")
    thr = f"Top share < {r.top_ratio_max:g} x BlockMNIST share (Top's interval high against BlockMNIST's interval low)"
    both, absent = _paired(top, std, ("BlockMNIST-Top", "BlockMNIST"), ("_top", "_random"))
    if both.empty:
        out.append(missing(claim, _why(f"{absent} standard-model {method} null_block_share", method, skipped), thr))
    elif _any_nan(both["value_top"], both["value_random"]):
        out.append(missing(claim, "a null-block share is NaN", thr))
    else:
        out.append(checked(
            claim,
            bool((_end(both, "ci_high_top", "value_top") < r.top_ratio_max * _end(both, "ci_low_random", "value_random")).all()),
            "; ".join(f"k={row['x_label_top']}: {fmt(row['value_top'])} (Top) vs {fmt(row['value_random'])} (BlockMNIST)"
                      for _, row in both.iterrows()), thr))
    return out


def _end(rows: pd.DataFrame, col: str, value: str = "value") -> pd.Series:
    """An interval end of each row (the value where the table has none): a finding holds only when
    the noise the run measured cannot cross its threshold."""
    return rows[col].where(rows[col].notna(), rows[value]) if col in rows else rows[value]


def _spread(row: pd.Series, suffix: str = "") -> float:
    """The spread across seeds of a ``diffroar`` row: the half-width of its 95% t-interval over seeds."""
    return (row[f"ci_high{suffix}"] - row[f"ci_low{suffix}"]) / 2.0


def diffroar_findings(
    results: pd.DataFrame,
    small_k: float,
    *,
    report: IGReportParams | None = None,
    skipped: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings 4-5 (DiffROAR of the robust vs standard model's rankings, and of the random
    ranking), both judged against the random ranking's spread across retraining seeds; always two."""
    r = report or IGReportParams()
    out = []
    rows = results[results["metric"] == "diffroar"]
    dataset = rows["dataset"].iloc[0] if not rows.empty else "DiffROAR"
    std = _small(_curve(results, dataset, "standard", "diffroar"), small_k) if not rows.empty else rows
    rob = _small(_curve(results, dataset, "robust", "diffroar"), small_k) if not rows.empty else rows
    rnd = rows[(rows["dataset"] == dataset) & (rows["method"] == "random")].sort_values("x")
    spread_def = "spread = half-width of the random ranking's 95% t-interval over retraining seeds"

    method = rob["method"].iloc[0] if not rob.empty else "attribution"
    claim = (f"{dataset}: DiffROAR of the robust model's {method} is above the standard model's at every "
             f"k <= {small_k:.0%}, by more than the retraining noise")
    thr = f"robust - standard (means over seeds) > spread at every small k; {spread_def}"
    both, absent = _paired(rob, std, ("robust-model", "standard-model"), ("_robust", "_standard"))
    if not both.empty:
        both = both.merge(rnd.rename(columns={c: f"{c}_random" for c in rnd.columns if c != "x"}), on="x", how="left")
    if both.empty:
        out.append(missing(claim, _why(f"{absent} diffroar", None, skipped), thr))
    elif both["value_random"].isna().all() and not rnd["x"].isin(both["x"]).any():
        out.append(missing(claim, f"no random-ranking diffroar rows at k <= {small_k:.0%} (the noise it is "
                                  "compared with)", thr))
    elif _any_nan(both["value_robust"], both["value_standard"], both["value_random"]):
        out.append(missing(claim, "a DiffROAR value is NaN or the random ranking lacks a small k", thr))
    elif _any_nan(both["ci_low_random"], both["ci_high_random"]):
        out.append(missing(claim, "the random ranking's spread across seeds is undefined (fewer than 2 retraining "
                                  f"seeds: n = {int(both['n_random'].min())})", thr))
    else:
        gap = both["value_robust"] - both["value_standard"]
        spread = both.apply(_spread, axis=1, suffix="_random")
        out.append(checked(
            claim.replace("robust model's", f"robust model's ({rob['model'].iloc[0]})", 1)
                 .replace("standard model's", f"standard model's ({std['model'].iloc[0]})", 1),
            bool((gap > spread).all()),
            "; ".join(f"k={row['x_label_robust']}: robust {_ci(row, '_robust')} vs standard {_ci(row, '_standard')}, "
                      f"gap {fmt(g)} vs spread {fmt(h)} (n = {int(row['n_random'])} seeds)"
                      for (_, row), g, h in zip(both.iterrows(), gap, spread)), thr))

    claim = f"{dataset}: the random ranking's DiffROAR stays near 0 at every k"
    thr = f"|mean DiffROAR| <= max({r.random_tol:g}, spread) at every k; {spread_def}"
    if rnd.empty:
        out.append(missing(claim, _why("random-ranking diffroar", None, skipped), thr))
    elif _any_nan(rnd["value"]):
        out.append(missing(claim, f"a DiffROAR value is NaN ({_listing(rnd)})", thr))
    elif _any_nan(rnd["ci_low"], rnd["ci_high"]):
        out.append(missing(claim, "the random ranking's spread across seeds is undefined (fewer than 2 retraining "
                                  f"seeds: n = {int(rnd['n'].min())})", thr))
    else:
        spread = rnd.apply(_spread, axis=1)
        holds = (rnd["value"].abs() <= spread.clip(lower=r.random_tol)).all()
        out.append(checked(claim, bool(holds), "; ".join(
            f"k={row['x_label']}: {value_with_ci(row)}, |mean| {fmt(abs(row['value']))} vs spread {fmt(h)} "
            f"(n = {int(row['n'])} seeds)" for (_, row), h in zip(rnd.iterrows(), spread)), thr))
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


def _wide(results: pd.DataFrame, metric: str, index=("dataset", "model", "method"), ci: bool = False) -> str:
    """``metric`` with one column per k: the value, or with ``ci`` "value [ci_low, ci_high]"."""
    rows = results[results["metric"] == metric]
    if rows.empty:
        return "_(no rows)_"
    labels = rows.drop_duplicates("x").set_index("x")["x_label"]
    if ci:
        rows = rows.assign(shown=rows.apply(value_with_ci, axis=1))
        wide = rows.pivot_table(index=list(index), columns="x", values="shown", aggfunc="first", sort=True).fillna("")
    else:
        wide = rows.pivot_table(index=list(index), columns="x", values="value", sort=True).round(3)
    wide.columns = [f"k={labels[c]}" for c in wide.columns]
    return table(wide.reset_index())


def _per_seed(results: pd.DataFrame) -> str:
    """The per-seed rows: one line per (model, method, seed), acc_top / acc_bottom / DiffROAR per k."""
    rows = results[results["metric"].isin(["acc_top_seed", "acc_bottom_seed", "diffroar_seed"])]
    if rows.empty:
        return "_(no rows)_"
    labels = rows.drop_duplicates("x").set_index("x")["x_label"]
    short = {"acc_top_seed": "top", "acc_bottom_seed": "bottom", "diffroar_seed": "DiffROAR"}
    wide = rows.pivot_table(index=["model", "method", "seed"], columns=["x", "metric"], values="value", sort=True)
    order = [(x, m) for x in sorted(rows["x"].unique()) for m in short if (x, m) in wide.columns]
    wide = wide[order].round(3)
    wide.columns = [f"k={labels[x]} {short[m]}" for x, m in order]
    return table(wide.reset_index())


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
        "Values are means over test images with a 95% bootstrap interval, except DiffROAR and its accuracies: "
        "means over retraining seeds with a 95% t-interval over seeds.",
        "",
    ]
    if setup:
        lines += ["Setup:", "", *[f"- {s}" for s in setup], ""]
    lines += ["## Findings", ""]
    lines += render_findings(findings, "_(no findings: empty results)_")
    lines += ["", "## Robustness (clean and PGD accuracy at the training eps)", ""]
    acc = results[results["metric"].isin(["clean_acc", "robust_acc"])]
    columns = ("dataset", "model", "method", "metric", "x_label")
    lines += [results_summary(acc, columns=columns), ""]
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
              "Each (ranking, k, top/bottom) is retrained with several seeds (fresh initialisation and data order; "
              "the rankings and masks are fixed). Seed s gives DiffROAR_s(k) = acc_top_s(k) - acc_bottom_s(k); the "
              "tables below give the mean over seeds with a 95% Student-t interval over the per-seed values "
              "(mean ± t_{0.975, n-1} · sd / sqrt(n), n = seeds; with 3 seeds t = 4.30, so the interval is wide). "
              "The random ranking's half-width is the spread the DiffROAR findings compare with. A random ranking's "
              "top-k and bottom-k masks are the same kind of task, so its DiffROAR is pure retraining noise.", "",
              "DiffROAR(k) per ranking (mean over seeds [95% t-interval over seeds]):", "",
              _wide(results, "diffroar", ci=True), "",
              "Accuracy of the models retrained on the top-k / bottom-k unmasked pixels (mean over seeds [interval]):",
              "", "acc_top (top-k pixels kept):", "", _wide(results, "acc_top", ci=True), "",
              "acc_bottom (bottom-k pixels kept):", "", _wide(results, "acc_bottom", ci=True), "",
              "Per retraining seed (accuracy on the masked test set; DiffROAR = top - bottom of the same seed):", "",
              _per_seed(results), ""]
    if "diffroar" in figures:
        lines += [f"![DiffROAR vs k]({figures['diffroar']})", ""]
    for name, reason in sorted((skipped or {}).items()):
        lines.append(f"- `{name}` not applicable: {reason}")
    return "\n".join(lines) + "\n"
