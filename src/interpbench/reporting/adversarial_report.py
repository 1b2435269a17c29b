"""Figures, findings and the Markdown report of the ``adversarial`` study (no Kedro)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from .figures import image_array  # noqa: E402
from .findings import Finding, checked, missing, render_findings  # noqa: E402
from .markdown import fmt, results_summary, row_where, rows_where, value_with_ci  # noqa: E402


def _image(x: torch.Tensor) -> np.ndarray:
    return image_array(x, clamp=True)


def _off(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _name(classes: list, k: int) -> str:
    return str(classes[k]) if classes and 0 <= k < len(classes) else str(k)


# --------------------------------------------------------------------------- figures
def localisation_curves(results: pd.DataFrame) -> plt.Figure:
    """Object mass and pointing game of SmoothGrad (standard model) vs N, one line per σ, with
    the gradients of both models and a uniform map as references."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("object_mass", "pointing_game")):
        sg = results[(results["metric"] == metric) & results["method"].str.startswith("smoothgrad_sigma")]
        for method, g in sg.groupby("method", sort=False):
            g = g.sort_values("x")
            ax.plot(g["x"], g["value"], marker="o", label=f"SmoothGrad σ={method.removeprefix('smoothgrad_sigma')}")
            ax.fill_between(g["x"], g["ci_low"], g["ci_high"], alpha=0.15)
        for model, style in (("standard", "k--"), ("robust", "r-")):
            r = row_where(results, model=model, method="saliency", metric=metric)
            if r is not None:
                ax.axhline(r["value"], color=style[0], linestyle=style[1:], label=f"gradient, {model}")
        if metric == "object_mass":
            r = row_where(results, method="uniform_map", metric=metric)
            if r is not None:
                ax.axhline(r["value"], color="grey", linestyle=":", label="uniform map (area)")
        ax.set_xscale("log")
        ax.set_xlabel("SmoothGrad samples N")
        ax.set_title(metric.replace("_", " "))
    axes[0].set_ylabel("share (mean, 95% CI)")
    if sg.empty and results[results["metric"] == "object_mass"].empty:
        axes[0].text(0.5, 0.5, "no object masks: not scored", ha="center", transform=axes[0].transAxes)
    if axes[1].get_legend_handles_labels()[0]:
        axes[1].legend(fontsize=7, loc="best")
    fig.suptitle("Exercises 1 and 5: attribution mass on the object")
    fig.tight_layout()
    return fig


def gradient_grid(maps: dict, test: dict, p) -> plt.Figure:
    """Rows: test images; columns: image, object mask, |gradient| standard, robust, SmoothGrad."""
    n = min(p.report.figure_images, len(test["y"]))
    h = p.smoothgrad.headline
    si, ni = maps["noise_levels"].index(h["noise_level"]), maps["n_samples"].index(h["n_samples"])
    cols = [("image", None), ("object mask", "mask"), ("gradient, standard", maps["standard_gradient"]),
            ("gradient, robust", maps["robust_gradient"]),
            (f"SmoothGrad N={h['n_samples']} σ={h['noise_level']:g}, standard", maps["standard_smoothgrad"][si, ni])]
    fig, axes = plt.subplots(n, len(cols), figsize=(2 * len(cols), 2 * n), squeeze=False)
    for i in range(n):
        for j, (title, m) in enumerate(cols):
            ax = axes[i, j]
            if m is None:
                ax.imshow(_image(test["x"][i]))
            elif isinstance(m, str):
                if "main_mask" in test:
                    ax.imshow(test["main_mask"][i].float().numpy(), cmap="gray")
            else:
                ax.imshow(m[i].numpy(), cmap="inferno")
            _off(ax)
            if i == 0:
                ax.set_title(title, fontsize=7)
    fig.suptitle("Exercises 1 and 5: gradients and SmoothGrad")
    fig.tight_layout()
    return fig


def min_eps_curves(results: pd.DataFrame) -> plt.Figure:
    """Success rate vs eps per norm and mode, standard vs robust."""
    curves = results[results["metric"] == "success_rate"]
    methods = list(dict.fromkeys(curves["method"]))
    fig, axes = plt.subplots(1, max(1, len(methods)), figsize=(3.6 * max(1, len(methods)), 3.4), squeeze=False)
    for ax, method in zip(axes[0], methods):
        for model, color in (("standard", "k"), ("robust", "r")):
            g = curves[(curves["method"] == method) & (curves["model"] == model)].sort_values("x")
            med = row_where(results, model=model, method=method, metric="min_eps_median")
            label = f"{model} (median eps* {fmt(med['value'], 3) if med is not None else '?'})"
            ax.plot(g["x"], g["value"], marker="o", color=color, label=label)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("eps")
        ax.set_title(method.removeprefix("pgd_").replace("_", " "), fontsize=9)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("share flipped within eps")
    fig.suptitle("Exercise 2: how far must we go? (PGD, minimal flipping eps on a grid)")
    fig.tight_layout()
    return fig


def _attacked_rows(examples: dict, title, suptitle: str) -> plt.Figure:
    """Rows: the test images, attacked on the standard model, on the robust model (a row missing
    from ``examples`` stays blank); ``title(row, column)`` gives each image's title (or None)."""
    n = len(examples["x"])
    rows = [("original", examples["x"]), ("standard, attacked", examples.get("standard")),
            ("robust, attacked", examples.get("robust"))]
    fig, axes = plt.subplots(3, max(n, 1), figsize=(1.8 * max(n, 1), 6), squeeze=False)
    for r, (label, xs) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            _off(ax)
            if xs is None:
                continue
            ax.imshow(_image(xs[i]))
            text = title(r, i)
            if text is not None:
                ax.set_title(text, fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def min_eps_grid(examples: dict) -> plt.Figure:
    """Rows: test images, attacked on the standard model, on the robust model, all at one eps (the
    standard model's median minimal eps); titles: the prediction and the image's minimal eps."""
    classes = examples.get("classes", [])

    def title(r: int, i: int) -> str:
        if r == 0:
            return _name(classes, int(examples["y"][i]))
        which = "standard" if r == 1 else "robust"
        return (f"→ {_name(classes, int(examples[f'{which}_pred'][i]))}, eps* "
                f"{fmt(float(examples[f'{which}_min_eps'][i]), 3)}")

    return _attacked_rows(examples, title, f"Exercise 2: PGD-{examples['norm']} {examples['mode']} at eps "
                          f"{examples['eps']:.3g} (the standard model's median eps*)")


def smoothgrad_grid_figure(maps: dict, test: dict) -> plt.Figure:
    """SmoothGrad of the first test image (standard model): rows σ, columns N, beside the gradient."""
    ns, sigmas = maps["n_samples"], maps["noise_levels"]
    fig, axes = plt.subplots(len(sigmas), len(ns) + 1, figsize=(1.9 * (len(ns) + 1), 1.9 * len(sigmas)), squeeze=False)
    for r, sigma in enumerate(sigmas):
        axes[r, 0].imshow(_image(test["x"][0]) if r == 0 else maps["standard_gradient"][0].numpy(),
                          cmap=None if r == 0 else "inferno")
        axes[r, 0].set_ylabel(f"σ = {sigma:g}", fontsize=8)
        for c, n in enumerate(ns):
            axes[r, c + 1].imshow(maps["standard_smoothgrad"][r, c, 0].numpy(), cmap="inferno")
            if r == 0:
                axes[r, c + 1].set_title(f"N = {n}", fontsize=8)
        for ax in axes[r]:
            _off(ax)
    axes[0, 0].set_title("image (row 1), gradient", fontsize=7)
    fig.suptitle("Exercise 1: SmoothGrad of one test image over N and σ (standard model)")
    fig.tight_layout()
    return fig


def mislabelled_figure(examples: dict, results: pd.DataFrame) -> plt.Figure:
    """Top: originals and their mislabelled versions (standard model's attack); bottom: clean test
    accuracy of the models trained on each mislabelled set, with chance."""
    classes = examples.get("classes", [])
    key = next((k for k in ("standard/all", "standard/two_class") if k in examples), None)
    n = 0 if key is None else min(6, len(examples[key]["y"]))
    fig = plt.figure(figsize=(max(8, 1.6 * n), 6))
    grid = fig.add_gridspec(3, max(n, 1))
    if key is not None:
        variant = key.split("/")[1]
        pair = examples.get("two_class", [])
        for i in range(n):
            for r, (img, label) in enumerate(((examples["originals"][variant][i], int(examples[key]["source_y"][i])),
                                              (examples[key]["x"][i], int(examples[key]["y"][i])))):
                ax = fig.add_subplot(grid[r, i])
                ax.imshow(_image(img))
                _off(ax)
                k = pair[label] if variant == "two_class" and pair else label
                ax.set_title(("label " if r == 0 else "relabelled ") + _name(classes, k), fontsize=7)
    ax = fig.add_subplot(grid[2, :])
    acc = results[results["metric"] == "clean_test_acc"]
    labels, values, lows, highs, chance = [], [], [], [], []
    for row in acc.itertuples():
        labels.append(f"{row.model.removeprefix('trained_on_')}\n{row.method.removeprefix('mislabelled_')}")
        values.append(row.value)
        lows.append(row.value - row.ci_low if not math.isnan(row.ci_low) else 0)
        highs.append(row.ci_high - row.value if not math.isnan(row.ci_high) else 0)
        c = row_where(results, model=row.model, method=row.method, metric="chance")
        chance.append(c["value"] if c is not None else np.nan)
    xs = np.arange(len(values))
    ax.bar(xs, values, yerr=[lows, highs], color="tab:blue", capsize=3)
    ax.scatter(xs, chance, color="k", marker="_", s=400, label="chance", zorder=3)
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylabel("clean test accuracy\n(mean, t-interval over seeds)", fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle("Exercise 3: non-robust features are features (Ilyas et al. 2019)")
    fig.tight_layout()
    return fig


def large_eps_grid(examples: dict) -> plt.Figure:
    """Rows: test image, its large-eps targeted version on the standard model, on the robust model."""
    classes = examples.get("classes", [])

    def title(r: int, i: int) -> str | None:
        if r == 0:
            return f"{_name(classes, int(examples['y'][i]))} → {_name(classes, int(examples['target'][i]))}"
        judged = examples.get("judged", {}).get(f"{'standard' if r == 1 else 'robust'}/standard")
        return None if judged is None else ("judge: target" if judged[i] > 0 else "judge: not target")

    return _attacked_rows(examples, title, "Exercise 4: large-eps targeted attacks (source → target)")


def neuron_grid(vis: dict, test: dict, p) -> plt.Figure:
    """Per model and shown unit: its top test images, then the maximising inputs from each start."""
    classes = vis.get("classes", [])
    n_units = min(p.report.figure_units, len(vis["standard"]["units"]))
    k = min(3, vis["standard"]["top_index"].shape[1])
    starts = list(vis["standard"]["starts"])
    cols = k + len(starts)
    fig, axes = plt.subplots(2 * n_units, cols, figsize=(1.7 * cols, 1.8 * 2 * n_units), squeeze=False)
    for m, which in enumerate(("standard", "robust")):
        v = vis[which]
        for u in range(n_units):
            r = m * n_units + u
            for j in range(k):
                axes[r, j].imshow(_image(test["x"][int(v["top_index"][u, j])]))
            for j, start in enumerate(starts):
                axes[r, k + j].imshow(_image(v[f"{start}_max"][u]))
                if r == 0:
                    axes[r, k + j].set_title(f"max. from {start}", fontsize=7)
            for ax in axes[r]:
                _off(ax)
            axes[r, 0].set_ylabel(f"{which} unit {int(v['units'][u])}\n({_name(classes, int(v['unit_class'][u]))})",
                                  fontsize=7)
    for j in range(k):
        axes[0, j].set_title(f"top test image {j + 1}", fontsize=7)
    fig.suptitle("Exercise 6: feature visualisation by maximising penultimate units")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- findings
def _interval(r) -> str:
    return f"{value_with_ci(r)} (n={int(r['n'])})"


def _difference_finding(results, claim: str, threshold: float, **keys) -> Finding:
    r = row_where(results, **keys)
    text = f"whole 95% interval of the difference above {threshold:g}"
    if r is None or math.isnan(r["value"]) or math.isnan(r["ci_low"]):
        return missing(claim, f"no difference row ({', '.join(f'{k}={v}' for k, v in keys.items())})", text)
    return checked(claim, r["ci_low"] > threshold, f"difference {_interval(r)}", text)


def adversarial_findings(results: pd.DataFrame, p) -> list[Finding]:
    """Every finding of the practicum this study checks (thresholds from ``p.report``)."""
    q, j = p.report, p.judge.primary
    h = p.smoothgrad.headline
    findings = [
        _difference_finding(results, f"SmoothGrad (N={h['n_samples']}, σ={h['noise_level']:g}) concentrates more "
                            "attribution mass on the object than the gradient (standard model)", q.smoothgrad_gain_min,
                            model="standard", method="smoothgrad_minus_saliency", metric="object_mass_difference"),
    ]
    ratios = results[results["metric"] == "min_eps_ratio"]
    claim = "Robust models need larger eps: per image, the robust model's minimal flipping eps is larger, for every norm and mode"
    text = f"geometric mean over images of robust / standard minimal eps: whole 95% interval above {q.eps_ratio_min:g}"
    if ratios.empty or ratios["ci_low"].isna().any():
        findings.append(missing(claim, "no minimal-eps ratio rows (both models, same norm and mode)", text))
    else:
        parts = []
        for r in ratios.itertuples():
            s = row_where(results, model="standard", method=r.method, metric="min_eps_median")
            b = row_where(results, model="robust", method=r.method, metric="min_eps_median")
            parts.append(f"{r.method.removeprefix('pgd_')}: ratio {fmt(r.value, 2)} [{fmt(r.ci_low, 2)}, {fmt(r.ci_high, 2)}] "
                         f"(median eps* standard {fmt(s['value'], 4)}, robust {fmt(b['value'], 4)})")
        findings.append(checked(claim, bool((ratios["ci_low"] > q.eps_ratio_min).all()), "; ".join(parts), text))
    for variant, label in (("all", "all classes"), ("two_class", "two-class variant")):
        rows = rows_where(results, model="trained_on_standard_attacks", method=f"mislabelled_{variant}")
        r, c = row_where(rows, metric="clean_test_acc"), row_where(rows, metric="chance")
        claim = f"Non-robust features are features ({label}): a model trained only on the standard model's mislabelled set " \
                "beats chance on the clean test set"
        text = f"t-interval over seeds above chance + {q.above_chance_min:g}"
        fit = row_where(rows, metric="mislabelled_fit")
        if variant == "two_class" and p.mislabelled.two_class is None:
            findings.append(missing(claim, "the two-class variant is switched off (mislabelled.two_class: null)", text))
        elif r is None or c is None or math.isnan(r["ci_low"]):
            findings.append(missing(claim, f"no {variant} mislabelled-set rows (or fewer than 2 seeds)", text))
        elif fit is not None and fit["value"] < q.fit_min:
            findings.append(missing(claim, f"the models fit their mislabelled set only to {fmt(fit['value'])} (< "
                                    f"{q.fit_min:g}): train longer (mislabelled.train) before reading clean accuracy {fmt(r['value'])}",
                                    text))
        else:
            findings.append(checked(claim, r["ci_low"] > c["value"] + q.above_chance_min,
                                    f"clean test accuracy {_interval(r)}, chance {fmt(c['value'])}", text))
    ctrl = rows_where(results, model="trained_on_robust_attacks", metric="clean_test_acc")
    fits = rows_where(results, model="trained_on_robust_attacks", metric="mislabelled_fit")
    claim = "Control: the same construction on the robust model does not beat chance"
    text = f"t-interval over seeds not above chance + {q.above_chance_min:g}"
    if ctrl.empty or ctrl["ci_low"].isna().any():
        findings.append(missing(claim, "no robust-source mislabelled-set rows (or fewer than 2 seeds)", text))
    elif (fits["value"] < q.fit_min).any():
        findings.append(missing(claim, f"the models fit their mislabelled sets only to {', '.join(fmt(v) for v in fits['value'])} "
                                f"(< {q.fit_min:g}): a model that learnt nothing is at chance whatever the set holds", text))
    else:
        parts, ok = [], True
        for r in ctrl.itertuples():
            c = row_where(results, model=r.model, method=r.method, metric="chance")
            ok &= bool(r.ci_low <= c["value"] + q.above_chance_min)
            parts.append(f"{r.method.removeprefix('mislabelled_')}: {fmt(r.value)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}], "
                         f"chance {fmt(c['value'])}")
        findings.append(checked(claim, ok, "; ".join(parts), text))
    eps = p.large_eps
    findings.append(_difference_finding(
        results, f"Large-eps targeted attacks (L{'2' if eps.norm == 'l2' else '∞'} eps {eps.eps:g}) on the robust model "
        f"are judged as the target far more often than on the standard one ({j} judge)", q.judge_gain_min,
        model="robust_minus_standard", method=f"pgd_{eps.norm}_targeted_eps{eps.eps:g}", metric=f"judged_as_target_{j}"))
    findings.append(_difference_finding(
        results, "Robust gradients put more mass on the object than the standard model's", q.robust_gain_min,
        model="robust_minus_standard", method="saliency", metric="object_mass_difference"))
    findings.append(_difference_finding(
        results, f"Maximising a robust model's unit gives an input the {j} judge classifies as the unit's class more "
        "often than for the standard model", q.unit_gain_min,
        model="robust_minus_standard", method="maximize", metric=f"judged_as_unit_class_{j}"))
    return findings


# --------------------------------------------------------------------------- report
def _section(results: pd.DataFrame, title: str, figures: list[str], text: str, mask) -> list[str]:
    rows = results[mask]
    lines = [f"## {title}", "", text, ""]
    lines += [f"![{f}]({f}.png)" for f in figures] + [""]
    lines += [results_summary(rows, columns=("model", "method", "metric", "x_label")), ""]
    return lines


def adversarial_report(results: pd.DataFrame, p, findings: list[Finding]) -> str:
    """The Markdown report (``p``: the parsed :class:`AdversarialParams`)."""
    dataset = results["dataset"].iloc[0] if len(results) else "?"
    h, a, m = p.smoothgrad.headline, p.robust.attack, p.mislabelled
    metric, method = results["metric"], results["method"]
    lines = [
        "# Adversaries & Interpretability, measured",
        "",
        "The practicum of Santurkar & Tsipras (MadryLab `robustness`) as measurements on "
        f"`{dataset}`. Models: the *standard* model is input_gradients' rgb-slot model (reused); the *robust* model is "
        f"it fine-tuned with PGD-{a.norm} (eps {a.eps:g}, {a.steps} steps, {p.robust.train.epochs} epochs; Madry et al. "
        "2018). Judges, never the attacked models (checked by identity): *standard* = the same architecture trained "
        f"from seed + {p.judge.seed_offset} (independent of both attacked models); *robust* = input_gradients' rgb-slot "
        "robust model (a PGD fine-tune of the attacked standard model, so related to it). The findings use the "
        f"**{p.judge.primary}** judge.",
        "",
        "## Findings",
        "",
        *render_findings(findings),
        "",
    ]
    lines += _section(results, "1 and 5. Gradients, SmoothGrad and the object", ["smoothgrad", "smoothgrad_grid", "gradients"],
                      "Share of the |map| mass inside the object mask (`object_mass`; a uniform map scores the object's "
                      "area) and the pointing game (the map's maximum on the object), mean and 95% bootstrap interval "
                      f"over test images. SmoothGrad over N samples and noise σ (× the image range); the headline "
                      f"N={h['n_samples']}, σ={h['noise_level']:g}. `*_difference` rows: paired differences per image.",
                      metric.str.startswith("object_mass") | metric.str.startswith("pointing_game"))
    lines += _section(results, "2. How far must we go?", ["min_eps", "min_eps_examples"],
                      "Per image, the first eps of the grid at which PGD flips the prediction (untargeted: any other "
                      "class; targeted: a seeded random other class); `success_rate`: share flipped within eps; "
                      "`min_eps_median` with a bootstrap interval of the median (`inf`: half the images resist the whole "
                      "grid); `min_eps_median_difference`: robust - standard, paired by image; `min_eps_ratio`: the geometric mean over "
                      "images of robust / standard minimal eps (unflipped images censored at twice the grid's largest eps).",
                      metric.isin(["min_eps_median", "not_flipped", "min_eps_median_difference", "min_eps_ratio"]))
    lines += _section(results, "3. Non-robust features are features", ["mislabelled"],
                      f"Each of {p.data.n_train or 'all'} training images attacked toward another class ({m.targets} "
                      f"target; PGD-{m.attack.norm} eps {m.attack.eps:g}, {m.attack.steps} steps) on the source model "
                      f"and relabelled as it; a fresh model trained on that set alone ({m.seeds} seeds, {m.train.epochs} epochs) and "
                      "tested on the clean, correctly labelled test set; `mislabelled_fit`: its accuracy on the set it "
                      "was trained on (the findings need it at least `fit_min`). Two-class variant: the classes "
                      f"{m.two_class} (each image relabelled as the other class). `attack_hit_rate`: share of the set "
                      "the source model classifies as its new label.",
                      method.str.startswith("mislabelled_"))
    lines += _section(results, "4. Large-eps targeted attacks draw the target", ["large_eps"],
                      f"PGD-{p.large_eps.norm} eps {p.large_eps.eps:g}, {p.large_eps.steps} steps toward a seeded random "
                      "other class. `judged_as_target_<judge>`: share of attacked images the judge assigns to the "
                      "target; `perturbation_in_target_shape`: share of Σ_c|δ| inside the target class's shape drawn "
                      "where the object is (the uniform map: its area).",
                      method.str.contains("targeted_eps") | (metric == "perturbation_in_target_shape"))
    lines += _section(results, "6. Feature visualisation by neuron maximisation", ["neurons"],
                      "Every penultimate unit maximised by L2 PGD from noise and from a test image (the robustness "
                      f"library's eps {p.neurons.eps:g}, step {p.neurons.step_size:g} at 224 px, scaled by √(d/d₂₂₄); "
                      f"{p.neurons.steps} steps). `activation_vs_top_images`: activation reached / mean activation of "
                      f"the unit's top {p.neurons.top_images} test images; `judged_as_unit_class_<judge>`: share of "
                      "maximising inputs the judge classifies as the majority class of the unit's top images.",
                      method.str.startswith("maximize"))
    return "\n".join(lines)
