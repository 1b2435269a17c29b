"""Figures, findings and the report section of the trojans study's feature-synthesis half
(Casper et al. 2023, sec. 4.2: the multiple-choice rediscovery test)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..data.trojans import trigger_picture  # noqa: E402
from ..judges import ALL  # noqa: E402
from ..protocols.trojan_synthesis import PAPER_ACCURACY, all_vs_best, kind_difference  # noqa: E402
from .findings import Finding, checked, missing  # noqa: E402
from .markdown import fmt, table, value_with_ci  # noqa: E402


def _blank(text: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center")
    return fig


def synthesis_grid(synthesis: Mapping, n_per_method: int = 2) -> plt.Figure:
    """Rows: trojans; columns: the true trigger, then ``n_per_method`` images of every method."""
    trojans, methods = synthesis.get("trojans", []), synthesis.get("methods", [])
    if not trojans or len(synthesis["x"]) == 0:
        return _blank("no synthesized images (synthesis off)")
    cols = 1 + n_per_method * len(methods)
    fig, axes = plt.subplots(len(trojans), cols, figsize=(0.9 * cols, 1.0 * len(trojans) + 0.8), squeeze=False)
    t, m = synthesis["trojan"], synthesis["method"]
    for r, (name, kind, trigger) in enumerate(zip(trojans, synthesis["kinds"], synthesis["triggers"])):
        axes[r, 0].imshow(trigger_picture(kind, trigger, 48))
        axes[r, 0].set_ylabel(f"{name}\n({kind})", fontsize=7)
        for mi, method in enumerate(methods):
            imgs = synthesis["x"][(t == r) & (m == mi)][:n_per_method]
            for k in range(n_per_method):
                ax = axes[r, 1 + mi * n_per_method + k]
                if k < len(imgs):
                    ax.imshow(imgs[k].permute(1, 2, 0).numpy())
                if r == 0 and k == 0:
                    ax.set_title(method, fontsize=6, loc="left")
        if r == 0:
            axes[r, 0].set_title("trigger", fontsize=6)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("The true trigger and each synthesis method's images of the trojan's target", fontsize=9)
    fig.tight_layout()
    return fig


def synthesis_losses_figure(losses: pd.DataFrame) -> plt.Figure:
    """One panel per method: its objective over the optimisation steps, a line per trojan."""
    if losses.empty:
        return _blank("no loss curves (synthesis off)")
    methods = list(dict.fromkeys(losses["method"]))
    cols = min(5, len(methods))
    rows = math.ceil(len(methods) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    for ax, method in zip(axes.flat, methods):
        for trojan, g in losses[losses["method"] == method].groupby("trojan", sort=False):
            ax.plot(g["step"], g["loss"], lw=1, label=trojan)
        ax.set_title(method, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Synthesis objectives (lower is better) over the optimisation steps")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- findings


def synthesis_findings(results: pd.DataFrame, choices: pd.DataFrame, report, *, enabled: bool, seed: int,
                       n_boot: int) -> list[Finding]:
    """The synthesis half's findings: which methods beat chance; patch vs style triggers; all
    methods together vs the best single one. Each is ⚠ when the test did not run."""
    claims = ("most synthesis methods beat chance in the multiple-choice test (paper, humans: 7 of 9)",
              "patch triggers are rediscovered more often than style triggers (paper: style mostly < .45 for every method)",
              "all methods together beat the best single method (paper: .49 vs RFLA-Perturb .47)")
    thresholds = (f"at least {report.beat_chance_min} methods with a 95% lower bound above chance (bootstrap over trojans)",
                  "patch − style accuracy: 95% lower bound > 0 (bootstrap over the trojans of each kind)",
                  "set accuracy, all − best single: 95% lower bound > 0 (paired bootstrap over trojans)")
    if not enabled or choices.empty:
        why = "synthesis is off" if not enabled else "no judge ran (no clean twin for the features judge, see the log)"
        return [missing(c, why, t) for c, t in zip(claims, thresholds)]
    judge = str(choices["judge"].iloc[0])
    acc = results[(results["metric"] == f"synthesis_accuracy_{judge}") & (results["x_name"] == "none")]
    acc = acc[acc["method"] != ALL]
    chance = 1.0 / int(choices["n_options"].iloc[0])
    beat = acc[acc["ci_low"] > chance].sort_values("value", ascending=False)
    listed = ", ".join(f"{r.method} ({fmt(r.value)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}])" for r in beat.itertuples())
    out = [checked(claims[0], len(beat) >= report.beat_chance_min,
                   f"{len(beat)} of {len(acc)} methods above chance {fmt(chance)} (judge {judge}, per image, "
                   f"n = {int(acc['n'].max()) if len(acc) else 0} trojans): {listed or 'none'}", thresholds[0])]
    d, lo, hi = kind_difference(choices, "patch", "style", seed=seed, n_boot=n_boot)
    if math.isnan(d):
        out.append(missing(claims[1], "no patch or no style trojan was tested", thresholds[1]))
    else:
        out.append(checked(claims[1], lo > 0, f"patch − style {fmt(d)} [{fmt(lo)}, {fmt(hi)}]", thresholds[1]))
    ab = all_vs_best(choices, seed=seed, n_boot=n_boot)
    if not ab:
        out.append(missing(claims[2], "no set decisions", thresholds[2]))
    else:
        out.append(checked(claims[2], ab["ci_low"] > 0,
                           f"all {fmt(ab['all_acc'])} vs best {ab['best']} {fmt(ab['best_acc'])}: difference "
                           f"{fmt(ab['diff'])} [{fmt(ab['ci_low'])}, {fmt(ab['ci_high'])}] over {ab['n']} trojans",
                           thresholds[2]))
    return out


# --------------------------------------------------------------------------- report section


def _cell(results: pd.DataFrame, method: str, metric: str, x_label: str | None = None) -> str:
    sel = results[(results["method"] == method) & (results["metric"] == metric)]
    sel = sel[sel["x_name"] == "none"] if x_label is None else sel[sel["x_label"] == x_label]
    return "—" if sel.empty else value_with_ci(sel.iloc[0])


def synthesis_section(results: pd.DataFrame, choices: pd.DataFrame, synthesis: Mapping, params) -> list[str]:
    """The report's Markdown lines for the synthesis half (the paper's layout: methods x judge)."""
    s = params.synthesis
    lines = ["## Feature synthesis: the multiple-choice test", ""]
    if not s.enabled:
        return lines + ["_Synthesis is off (trojans.synthesis.enabled: false)._", ""]
    if choices.empty:
        return lines + ["_No judge ran: the features judge reads the clean twin, which a pretrained trojaned model "
                        "does not have; configure synthesis.judge.name: clip with a checkpoint._", ""]
    judge = str(choices["judge"].iloc[0])
    n_opt = int(choices["n_options"].iloc[0])
    lines += [
        f"Each of {len(synthesis['methods'])} methods made {s.n_images} images per trojan from the trojaned model and "
        f"the target class alone. The judge `{judge}` ({_judge_text(judge)}) chose among {n_opt} options (the true "
        f"trigger and {n_opt - 1} distractors, same kind first; chance {fmt(1 / n_opt)}): per image, and per method's "
        "set of images (the paper's protocol; `all` pools every method's images). Values are means over trojans "
        "of the per-trojan accuracy with 95% bootstrap intervals over trojans.",
        "",
        "![synthesized images](synthesis.png)",
        "",
    ]
    rows = []
    for method in [*synthesis["methods"], ALL]:
        human, clip = PAPER_ACCURACY.get(method, (math.nan, math.nan))
        rows.append({"method": method,
                     f"{judge}: per image": _cell(results, method, f"synthesis_accuracy_{judge}"),
                     "patch": _cell(results, method, f"synthesis_accuracy_{judge}", "patch"),
                     "style": _cell(results, method, f"synthesis_accuracy_{judge}", "style"),
                     "natural": _cell(results, method, f"synthesis_accuracy_{judge}", "natural"),
                     f"{judge}: per set": _cell(results, method, f"synthesis_set_accuracy_{judge}"),
                     "paper humans": fmt(human, 2), "paper CLIP": fmt(clip, 2)})
    lines += [table(pd.DataFrame(rows)), ""]
    sets = choices[choices["level"] == "set"].pivot_table(index="method", columns="trojan", values="chosen",
                                                          aggfunc="first")
    truth = choices.groupby("trojan")["truth"].first()
    if not sets.empty:
        frame = sets.apply(lambda col: [("✓ " if v == truth[col.name] else "✗ ") + str(v) for v in col])
        lines += ["Set decisions per trojan (✓ correct; the option chosen):", "", table(frame.reset_index()), ""]
    lines += ["![synthesis losses](synthesis_losses.png)", ""]
    seconds = synthesis.get("seconds", {})
    if seconds:
        lines += ["Synthesis time per method (seconds, all trojans): "
                  + ", ".join(f"{m} {v:.1f}" for m, v in seconds.items()), ""]
    for name, why in sorted(synthesis.get("skipped", {}).items()):
        lines.append(f"- synthesis `{name}` not applicable: {why}")
    for name, why in sorted(synthesis.get("not_evaluated", {}).items()):
        lines.append(f"- trojan `{name}` not in the synthesis test: {why}")
    return lines


def _judge_text(judge: str) -> str:
    if judge == "features":
        return ("block features of the clean twin, the trojaned model's architecture and recipe trained on the clean "
                "scenes: it never saw a trigger and is not the model under test")
    return "OpenCLIP image embeddings"
