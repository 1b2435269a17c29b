"""Figures, findings and the Markdown report of the study ``trojans`` (Casper et al. 2023)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..data.trojans import TrojanSpec  # noqa: E402
from ..metrics.trojans import scale01  # noqa: E402
from .findings import Finding, checked, missing, render_findings  # noqa: E402
from .markdown import fmt, results_summary, row_where, table  # noqa: E402

PANELS = (("footprint_l1", "L1 to the footprint (lower is better)"),
          ("footprint_correlation", "correlation with the footprint (higher is better)"))


# --------------------------------------------------------------------------- figures


def score_boxes(scores: pd.DataFrame, baselines: tuple[str, ...] = ("blank", "sobel_edges")) -> plt.Figure:
    """Casper et al.'s Fig. 3 style: per metric, one box per method over the scored triggered images
    (patch and natural trojans pooled), methods sorted by their mean; baselines as horizontal lines."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(7 * len(PANELS), 4.8), squeeze=False)
    for ax, (metric, title) in zip(axes[0], PANELS):
        s = scores[scores["metric"] == metric].dropna(subset=["value"])
        groups = {m: g["value"].to_numpy() for m, g in s.groupby("method") if m not in baselines}
        order = sorted(groups, key=lambda m: groups[m].mean(), reverse=metric != "footprint_l1")
        if order:
            ax.boxplot([groups[m] for m in order], showmeans=True)
            ax.set_xticks(range(1, len(order) + 1), order, rotation=60, ha="right", fontsize=8)
        for i, base in enumerate(baselines):
            v = s.loc[s["method"] == base, "value"]
            if len(v):
                ax.axhline(v.mean(), color=f"C{i + 1}", linestyle="--", label=f"{base} (mean {v.mean():.3f})")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Attribution maps of triggered images vs the trigger's footprint (patch and natural trojans)")
    fig.tight_layout()
    return fig


def trigger_map_grid(trigger_maps: Mapping, n_per_trojan: int) -> plt.Figure:
    """Rows: ``n_per_trojan`` triggered images of each scored trojan; columns: the image, its
    footprint, then every method's importance map scaled to [0, 1] (NaN: not applicable, blank)."""
    images = trigger_maps["images"]
    if "maps" not in trigger_maps or not images["trojans"]:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no patch or natural trojan: no maps", ha="center")
        return fig
    maps, methods = trigger_maps["maps"], trigger_maps["methods"]
    trojan = images["trojan"].numpy()
    rows = [i for t in range(len(images["trojans"])) for i in np.flatnonzero(trojan == t)[:n_per_trojan]]
    cols = 2 + len(methods)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.1 * cols, 1.15 * len(rows) + 0.6), squeeze=False)
    for r, i in enumerate(rows):
        x = images["x"][i].permute(1, 2, 0).numpy()
        panels = [(x, "image"), (images["footprint"][i].numpy().astype(float), "footprint")]
        for m, name in enumerate(methods):
            a = maps[m, i].numpy().astype(np.float64)
            panels.append((np.full_like(a, np.nan) if np.isnan(a).any() else scale01(a.reshape(1, -1)).reshape(a.shape), name))
        for c, (img, title) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(img, cmap=None if img.ndim == 3 else "inferno", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=6, rotation=30)
        axes[r, 0].set_ylabel(images["trojans"][trojan[i]], fontsize=7)
    fig.suptitle("Triggered images, trigger footprints and maps of the target class", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- findings


def trojans_findings(results: pd.DataFrame, specs: list[TrojanSpec], report, *, labels: Mapping[str, str],
                     skipped: Mapping[str, str] | None = None, not_evaluated: Mapping[str, str] | None = None,
                     twin: bool = True) -> list[Finding]:
    """Every finding the study knows, checked against ``results`` with the thresholds of ``report``
    (:class:`interpbench.protocols.trojans.TrojanReportParams`).

    Noise-aware: a trojan counts as implanted when the 95% Wilson lower bound of its ASR reaches
    ``asr_min``; the clean accuracy is within ``clean_tol`` of the twin when the upper bound of the
    95% paired-bootstrap interval of (twin - trojaned) is at most ``clean_tol``; a method beats a
    baseline when its Holm-adjusted one-sided Wilcoxon p is below ``alpha``.

    ``not_evaluated``: ``{trojan: why}`` of trojans the run could not test; ``twin=False``: there is
    no clean twin (a pretrained trojaned model), so the clean-accuracy finding is not evaluated.
    """
    findings = []
    troj = labels["trojaned"]
    for spec in specs:
        claim = f"trojan `{spec.name}` is implanted ({spec.kind}, {'universal' if spec.universal else 'class-universal'})"
        threshold = f"ASR 95% lower bound ≥ {report.asr_min:g}"
        if not_evaluated and spec.name in not_evaluated:
            findings.append(missing(claim, not_evaluated[spec.name], threshold))
            continue
        r = row_where(results, model=troj, metric="asr", method=spec.name)
        if r is None or math.isnan(r["value"]):
            findings.append(missing(claim, "no ASR row (no triggered test images?)", threshold))
            continue
        findings.append(checked(claim, r["ci_low"] >= report.asr_min,
                                f"ASR {fmt(r['value'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] on {r['n']} "
                                f"triggered test images", threshold))
    claim = "the trojaned model's clean accuracy is within the tolerance of its clean twin's"
    threshold = f"twin − trojaned: 95% upper bound ≤ {report.clean_tol:g}"
    d = row_where(results, metric="clean_acc_drop")
    a, b = row_where(results, model=troj, metric="clean_acc"), row_where(results, model=labels["clean"], metric="clean_acc")
    if not twin:
        own = "" if a is None else (f"; the trojaned model's own clean accuracy: {fmt(a['value'])} "
                                    f"[{fmt(a['ci_low'])}, {fmt(a['ci_high'])}] on {a['n']} clean test images")
        findings.append(missing(claim, f"no clean twin (pretrained trojaned model){own}", threshold))
    elif d is None or a is None or b is None:
        findings.append(missing(claim, "clean accuracy rows missing", threshold))
    else:
        findings.append(checked(claim, d["ci_high"] <= report.clean_tol,
                                f"trojaned {fmt(a['value'])}, twin {fmt(b['value'])}; twin − trojaned {fmt(d['value'])} "
                                f"[{fmt(d['ci_low'])}, {fmt(d['ci_high'])}] over {d['n']} clean test images", threshold))
    for short, base, paper in (("l1", report.l1_baseline, "only Occlusion (.07 vs .08)"),
                               ("correlation", report.correlation_baseline,
                                "KernelSHAP (.80) and GradientSHAP (.26) above the edge detector (.22)")):
        claim = f"few methods beat `{base}` under the {short.upper() if short == 'l1' else short} metric (paper: {paper})"
        threshold = f"at most {report.few_max} methods with Holm-adjusted one-sided Wilcoxon p < {report.alpha:g}"
        p = results[results["metric"] == f"{short}_vs_{base}_p_holm"]
        diff = results[results["metric"] == f"{short}_minus_{base}"].set_index("method")
        tested = p[~p["value"].isna()]
        if tested.empty:
            why = f"no method could be compared with `{base}`"
            if skipped and base in skipped:
                why += f" ({base} not applicable)"
            findings.append(missing(claim, why, threshold))
            continue
        beat = tested[tested["value"] < report.alpha].sort_values("value")
        listed = ", ".join(f"{m} (Δ {fmt(diff.loc[m, 'value'])}, p {v:.2g})" for m, v in zip(beat["method"], beat["value"]))
        findings.append(checked(claim, len(beat) <= report.few_max,
                                f"{len(beat)} of {len(tested)} methods beat it: {listed or 'none'}", threshold))
    return findings


# --------------------------------------------------------------------------- report


def _score_table(results: pd.DataFrame, methods_order: list[str]) -> str:
    metrics = ["footprint_l1", "footprint_correlation", "footprint_mass", "pointing_game"]
    rows = results[results["metric"].isin([f"{m}_all" for m in metrics])]
    if rows.empty:
        return "_(no maps scored)_"
    cells = {}
    for r in rows.itertuples(index=False):
        v = fmt(r.value) if math.isnan(r.ci_low) else f"{fmt(r.value)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}]"
        cells.setdefault(r.method, {})[r.metric[:-4]] = v
    frame = pd.DataFrame([{"method": m, **{k: cells.get(m, {}).get(k, "NaN") for k in metrics}} for m in methods_order
                          if m in cells])
    return table(frame)


def _test_table(results: pd.DataFrame, short: str, base: str) -> str:
    d = results[results["metric"] == f"{short}_minus_{base}"].set_index("method")
    p = results[results["metric"] == f"{short}_vs_{base}_p_holm"].set_index("method")
    if d.empty:
        return "_(no comparison)_"
    order = d["value"].sort_values(ascending=short == "l1").index
    frame = pd.DataFrame({"method": order,
                          f"mean(method − {base}) [95% CI]": [f"{fmt(d.loc[m, 'value'])} [{fmt(d.loc[m, 'ci_low'])}, "
                                                              f"{fmt(d.loc[m, 'ci_high'])}]" for m in order],
                          "Holm p": [fmt(p.loc[m, "value"], 4) if m in p.index else "NaN" for m in order],
                          "n": [int(d.loc[m, "n"]) for m in order]})
    return table(frame)


def _setup(p) -> list[str]:
    """The report's data and model lines: the scenes and the trained pair, or an image folder and a
    pretrained trojaned model."""
    t, m = p.model.train, p.model.model
    if p.data.images is None:
        data = (f"- data: {p.data.n_train} training / {p.data.n_test} test colour scenes of {p.data.image_size} px, "
                f"{p.data.num_classes} shape classes")
    else:
        im = p.data.images
        data = (f"- data: the image folder `{im.root}` ({im.name}), {im.image_size} px center crops"
                f"{f' of images resized to {im.resize_size} px' if im.resize_size else ''}; up to "
                f"{im.max_per_class or 'all'} clean test images per class and "
                f"{im.source_max_per_class or 'all'} of a class-universal trojan's source class; up to "
                f"{im.max_triggered or 'every eligible image'} triggered images per trojan; class labels: {im.labels}")
    if p.model.pretrained:
        model = (f"- model: {m.architecture}, already trojaned, read from `{m.weights_path}`: no poisoning, no "
                 f"training, no clean twin")
    else:
        model = (f"- models: {m.architecture} {m.options or ''}, trojaned and clean twin with the same "
                 f"recipe: {t.epochs} epochs, {t.optimizer}, lr {t.lr:g} ({t.schedule}), batch {t.batch_size}")
    return [data, model]


def _poison(spec: TrojanSpec, p) -> str:
    if p.data.images is not None or spec.poison_fraction is None:
        return "— (not poisoned here)"
    return f"{spec.poison_fraction:g}"


def trojans_report(results: pd.DataFrame, specs: list[TrojanSpec], params, *, findings: list[Finding],
                   skipped: Mapping[str, str] | None = None, seconds: Mapping[str, float] | None = None,
                   not_evaluated: Mapping[str, str] | None = None, synthesis_lines: list[str] | None = None) -> str:
    """The Markdown report (``params``: the parsed :class:`interpbench.protocols.trojans.TrojansParams`);
    ``synthesis_lines``: the feature-synthesis section (:mod:`interpbench.reporting.synthesis_report`)."""
    p = params
    methods = list(p.explanation.methods)
    lines = [
        "# Trojans: attribution maps scored against the trigger, and feature synthesis rediscovering it",
        "",
        "Reproduces Casper et al. 2023 (*Red Teaming Deep Neural Networks with Feature Synthesis Tools*). Feature "
        "synthesis: see its section below. Attribution: trojans implanted by data poisoning give attribution maps "
        "a ground truth, the trigger's "
        "footprint M. Each map is the target class's |attribution| summed over colour channels; Casper's L1 is "
        "mean |A − M| with A scaled to [0, 1] per image (the blank map scores the footprint's area share), the "
        "correlation is Pearson's between A and M over pixels. Means over images with 95% bootstrap intervals; "
        "'beats' = Holm-adjusted one-sided Wilcoxon signed-rank test over images, paired with the baseline.",
        "",
        "Setup:",
        "",
        *_setup(p),
        f"- maps of {p.explanation.n_images} triggered test images per patch "
        f"{'trojan' if p.data.images is not None else 'and natural trojan'}; methods: "
        f"{', '.join(methods)}",
        "",
        "| trojan | kind | trigger | scope | target | poison fraction |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {s.name} | {s.kind} | {s.trigger} | {'any class' if s.universal else f'class {s.source}'} | "
              f"{s.target} | {_poison(s, p)} |" for s in specs]
    lines += ["", "## Findings", "", *render_findings(findings, "_(no findings)_"), ""]
    lines += ["## Attack success and clean accuracy", ""]
    acc = results[results["metric"].isin(["clean_acc", "clean_acc_drop", "asr"])]
    lines += [results_summary(acc), ""]
    lines += ["## Scores over every scored triggered image", "", _score_table(results, methods), "",
              "![box plots](scores.png)", "", "![maps](trigger_maps.png)", ""]
    lines += [f"## Against `{p.report.l1_baseline}` under L1 (negative is better)", "",
              _test_table(results, "l1", p.report.l1_baseline), ""]
    lines += [f"## Against `{p.report.correlation_baseline}` under correlation (positive is better)", "",
              _test_table(results, "correlation", p.report.correlation_baseline), ""]
    per = results[(results["x_name"] == "trojan") & results["metric"].isin(["footprint_l1", "footprint_correlation"])]
    if not per.empty:
        lines += ["## Per trojan", "", results_summary(per), ""]
    if seconds:
        lines += ["## Time per method (seconds, all scored images)", "",
                  table(pd.DataFrame({"method": list(seconds), "seconds": [f"{v:.2f}" for v in seconds.values()]})), ""]
    for name, reason in sorted((skipped or {}).items()):
        lines.append(f"- `{name}` not applicable: {reason}")
    for name, reason in (not_evaluated or {}).items():
        lines.append(f"- trojan `{name}` not evaluated: {reason}")
    if synthesis_lines:
        lines += ["", *synthesis_lines]
    return "\n".join(lines) + "\n"
