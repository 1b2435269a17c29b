"""Figures, findings and the Markdown report of the study ``neuron_robustness`` (no Kedro)."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .findings import Finding, checked, missing, render_findings  # noqa: E402
from .markdown import fmt, results_summary, table, value_with_ci  # noqa: E402


def _layer_order(results: pd.DataFrame) -> list[str]:
    clean = results[(results["method"] == "none") & (results["metric"] == "interpretable")].sort_values("x")
    return list(clean["x_label"]) or list(dict.fromkeys(results["x_label"]))


def label_change_curves(results: pd.DataFrame) -> plt.Figure:
    """``label_changed`` vs noise std per layer, 95% bootstrap intervals over units."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    rows = results[(results["metric"] == "label_changed") & (results["x_name"] == "noise_std")]
    for layer in _layer_order(results):
        g = rows[rows["x_label"] == layer].sort_values("x")
        if g.empty:
            continue
        ax.errorbar(g["x"], g["value"], yerr=[g["value"] - g["ci_low"].fillna(g["value"]),
                                              g["ci_high"].fillna(g["value"]) - g["value"]],
                    marker="o", capsize=3, label=layer)
    ax.set_xscale("log")
    stds = sorted(set(rows["x"]))
    if stds:
        ax.set_xticks(stds, [f"{v:g}" for v in stds])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("noise std (images in [0, 1])")
    ax.set_ylabel("interpretable units whose label changes")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Network Dissection labels under random noise")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title="layer")
    fig.tight_layout()
    return fig


def attack_panel(panel: dict) -> plt.Figure:
    """Per attacked unit: its top-activating probe images with the activation mask, before and after."""
    units = panel.get("units", [])
    if not units:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no unit attacked", ha="center", va="center")
        return fig
    m = max(len(u["x_before"]) for u in units)
    fig, axes = plt.subplots(2 * len(units), m, figsize=(1.6 * m, 3.4 * len(units)), squeeze=False)
    for r, u in enumerate(units):
        for k, (which, name) in enumerate((("before", u["source"]), ("after", u["target"]))):
            row = axes[2 * r + k]
            x, mask = u[f"x_{which}"], u[f"mask_{which}"]
            for j, ax in enumerate(row):
                ax.axis("off")
                if j >= len(x):
                    continue
                img = x[j].permute(1, 2, 0).numpy()
                ax.imshow(img, interpolation="nearest")
                mk = mask[j].numpy().astype(float)
                ax.imshow(np.ma.masked_where(mk == 0, mk), cmap="autumn", alpha=0.45, interpolation="nearest",
                          extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5))
            row[0].set_title(f"{u['layer']} unit {u['unit']} {which}" + (f" (source {name})" if which == "before"
                                                                          else f" (target {name})"),
                             fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def _row(results, **keys) -> pd.Series | None:
    sel = results
    for k, v in keys.items():
        sel = sel[np.isclose(sel[k], v)] if isinstance(v, float) else sel[sel[k] == v]
    return sel.iloc[0] if len(sel) else None


def neuron_findings(results: pd.DataFrame, attacked: pd.DataFrame, p) -> list[Finding]:
    """The paper's headline findings checked against this run's numbers (thresholds from ``p.report``)."""
    r = p.report
    layers = p.model.layers
    deep = layers[-1]
    method = f"{p.noise.kind}_noise"
    out = []
    claim = f"noise at std {r.noise_std} changes a substantial fraction of the deepest layer's (`{deep}`) unit labels"
    thr = f"95% lower bound over units > {r.changed_min}"
    row = _row(results, metric="label_changed", method=method, x_label=deep, x=float(r.noise_std))
    if row is None or math.isnan(row["value"]) or row["n"] < 2:
        out.append(missing(claim, f"fewer than 2 interpretable units in `{deep}` on the clean probe set", thr))
    else:
        seeds = _row(results, metric="label_changed_seeds", method=method, x_label=deep, x=float(r.noise_std))
        ev = (f"{fmt(row['value'])} [{fmt(row['ci_low'])}, {fmt(row['ci_high'])}] of {int(row['n'])} interpretable "
              f"units" + (f"; over {int(seeds['n'])} noise seeds {value_with_ci(seeds)}" if seeds is not None else ""))
        out.append(checked(claim, row["ci_low"] > r.changed_min, ev, thr))
    lo_std, hi_std = min(p.noise.stds), max(p.noise.stds)
    claim = f"label changes in `{deep}` grow with the noise (std {lo_std} vs {hi_std})"
    thr = "intervals over units disjoint, larger at the larger std"
    a = _row(results, metric="label_changed", method=method, x_label=deep, x=float(lo_std))
    b = _row(results, metric="label_changed", method=method, x_label=deep, x=float(hi_std))
    if a is None or b is None or lo_std == hi_std or a["n"] < 2:
        out.append(missing(claim, "needs two noise levels and at least 2 interpretable units", thr))
    else:
        out.append(checked(claim, b["ci_low"] > a["ci_high"],
                           f"{value_with_ci(a)} at std {lo_std} vs {value_with_ci(b)} at std {hi_std}", thr))
    layer = p.attack.layer or deep
    claim = f"the crafted attack moves most targeted `{layer}` units to the target concept"
    thr = f"Wilson 95% lower bound ≥ {r.attack_success_min} (the paper: > 0.8)"
    row = _row(results, metric="target_reached", method="crafted_attack", x_label=layer)
    if row is None or row["n"] == 0:
        out.append(missing(claim, "no unit attacked (no interpretable unit with a target concept, or n_units = 0)", thr))
    else:
        out.append(checked(claim, row["ci_low"] >= r.attack_success_min,
                           f"{int(round(row['value'] * row['n']))}/{int(row['n'])} units = {value_with_ci(row)}", thr))
    claim = "the crafted attack touches fewer than the threshold share of probe images"
    thr = f"every attacked unit's share < {r.touched_max}"
    if attacked is None or attacked.empty:
        out.append(missing(claim, "no unit attacked", thr))
    else:
        mx = float(attacked["touched"].max())
        out.append(checked(claim, mx < r.touched_max, f"mean {fmt(float(attacked['touched'].mean()))}, max {fmt(mx)} "
                           f"over {len(attacked)} units (images holding the source or target concept)", thr))
    return out


def neuron_report(results: pd.DataFrame, attacked: pd.DataFrame, manifest: dict, p, findings: list[Finding]) -> str:
    """The Markdown report (``p``: the parsed :class:`NeuronRobustnessParams`)."""
    model = results["model"].iloc[0].rsplit(".", 1)[0] if len(results) else "?"
    lines = [
        "# Neuron robustness: corrupting Network Dissection's unit labels",
        "",
        "Reproduces Srivastava, Oikarinen, Weng 2023 (*Corrupting Neuron Explanations of Deep Visual Features*) on "
        "Network Dissection (Bau et al. 2017, NetDissect-Lite): each unit's threshold is the top-0.005 quantile of its "
        "activations over the probe set (NetDissect-Lite's readout point 994/999); its activation maps, upsampled "
        "bilinearly and thresholded, are compared with every concept's masks by IoU pooled over the probe set; the "
        f"unit's label is the best concept, interpretable when IoU > {p.dissection.iou_threshold}. The probe set is "
        "then corrupted -- random noise on every image, or a crafted PGD attack on the images holding a unit's label "
        "or a target concept -- and dissected again.",
        "",
        "Setup:",
        "",
        f"- probe set: `{manifest['root']}` ({manifest['source']}), {manifest['n_images']} images, "
        f"{manifest['n_labels']} concepts in categories {', '.join(manifest['categories'])}",
        *([f"- share of probe images holding a concept: min {fmt(manifest['concept_share'][0])}, median "
           f"{fmt(manifest['concept_share'][1])}, max {fmt(manifest['concept_share'][2])} (an attack on a unit touches "
           f"the images of its label and of the target concept)"] if "concept_share" in manifest else []),
        f"- model: `{model}`, layers {', '.join(f'`{x}`' for x in p.model.layers)}",
        f"- noise: {p.noise.kind}, std {p.noise.stds}, {p.noise.seeds} seeds, "
        f"{'8-bit re-quantised' if p.noise.quantize else 'not quantised'}",
        f"- crafted attack: L∞ eps {fmt(p.attack.eps * 255, 1)}/255, {p.attack.steps} steps, step "
        f"{'2·eps/steps' if p.attack.step_size is None else p.attack.step_size}, no random start, "
        f"{p.attack.n_units} units of `{p.attack.layer or p.model.layers[-1]}`, target: {p.attack.target}",
        "",
        "## Findings",
        "",
        *render_findings(findings),
        "",
        "## Clean dissection",
        "",
    ]
    clean = results[results["method"] == "none"]
    lines += [results_summary(clean, columns=("model", "metric", "x_label")), "",
              "`iou_margin`: the label's IoU minus the runner-up concept's, over interpretable units -- how far a "
              "corruption must move the IoUs to change a label.", ""]
    lines += ["## Random noise", "", "![label changes](label_changes.png)", ""]
    noise = results[(results["x_name"] == "noise_std") & (results["metric"].isin(["label_changed", "label_changed_seeds"]))]
    if not noise.empty:
        shown = noise[["x_label", "x", "metric"]].rename(columns={"x_label": "layer", "x": "std"}).copy()
        shown["value [95% CI]"] = noise.apply(value_with_ci, axis=1)
        shown["n"] = noise["n"]
        lines += ["`label_changed`: per unit the share of noise seeds that change its label, averaged over the clean "
                  "interpretable units (bootstrap over units); `label_changed_seeds`: per seed the share of those "
                  "units, averaged over seeds (t interval over seeds).", "", table(shown), ""]
    lines += ["## Crafted attack", ""]
    if attacked is None or attacked.empty:
        lines += ["_(no unit attacked)_", ""]
    else:
        cols = ["layer", "unit", "source", "target", "label_after", "iou_clean", "iou_after", "target_iou_after",
                "target_reached", "touched"]
        shown = attacked[cols].copy()
        for c in ("iou_clean", "iou_after", "target_iou_after", "touched"):
            shown[c] = shown[c].map(fmt)
        att = results[results["method"] == "crafted_attack"]
        lines += [table(shown), "", results_summary(att, columns=("model", "metric")), "",
                  "![attack panel](attack_panel.png)", ""]
    return "\n".join(lines)
