"""Nodes of the reporting stage: figures, Markdown reports and MLflow metrics."""

from __future__ import annotations

import math

import pandas as pd
import torch
from matplotlib.figure import Figure

from interpbench.config import parse
from interpbench.pipelines.params import (
    SanityParams,
    SanityReportParams,
    ig_dataset_name,
    ig_slot_models,
    input_gradients_params,
)
from interpbench.protocols.input_gradients import model_label
from interpbench.reporting.figures import (
    attribution_grid,
    block_attribution_grid,
    grouped_bars,
    k_curves,
    metric_bars,
    randomization_grid,
    similarity_curves,
)
from interpbench.reporting.findings import Finding, finding_counts
from interpbench.reporting.input_gradients_report import input_gradients_findings, input_gradients_report
from interpbench.reporting.markdown import results_summary
from interpbench.reporting.sanity_report import sanity_report, sanity_report_findings


def plot_attribution_gallery(bundle: dict, *, title: str) -> Figure:
    """Input images (top row) and each method's attribution map of the predicted class."""
    cols = [f"y={int(y)} pred={int(p)}" for y, p in zip(bundle["y"], bundle["pred"])]
    return attribution_grid(bundle["x"], bundle["maps"], list(bundle["methods"]), cols, title=title)


def plot_accuracies(results: pd.DataFrame) -> Figure:
    return metric_bars(results, "test_acc", title="Test accuracy (95% bootstrap CI)", ylabel="accuracy")


def results_to_metrics(results: pd.DataFrame) -> dict:
    """Flatten the results table into MLflow metrics ``dataset.model.method.metric``.

    Rows along a curve (same key, several x) become that metric's history, step = position in x.
    """
    metrics: dict[str, list[dict]] = {}
    ordered = results.sort_values("x", kind="stable", na_position="first")
    for row in ordered.itertuples(index=False):
        if math.isnan(row.value):
            continue
        key = ".".join(p for p in (row.dataset, row.model, row.method, row.metric) if p and p != "none")
        series = metrics.setdefault(key, [])
        series.append({"value": float(row.value), "step": len(series)})
    return metrics


def findings_to_metrics(findings: list[Finding]) -> dict[str, dict]:
    """The findings' counts as MlflowMetricsHistoryDataset items ``{"passed": {"value", "step"}, ...}``;
    the ``{study}.findings_metrics`` entry's prefix ``{study}.findings`` makes them
    ``<study>.findings.passed / failed / not_evaluated``."""
    return {k.split(".", 1)[1]: {"value": float(v), "step": 0} for k, v in finding_counts(findings).items()}


def write_zoo_report(results: pd.DataFrame, galleries: list[str]) -> str:
    """The zoo's Markdown report: the accuracy table and the attribution galleries."""
    lines = [
        "# Model zoo on the embedded data",
        "",
        "Models trained by the `zoo` namespace on the embedded data sets (seeded). "
        "Accuracy with a 95% bootstrap interval over images.",
        "",
        results_summary(results, columns=("dataset", "model", "metric")),
        "",
        "![test accuracy](accuracy.png)",
        "",
        "## Attribution maps of the predicted class",
        "",
    ]
    lines += [f"![{g}]({g}_attributions.png)" for g in galleries]
    return "\n".join(lines) + "\n"


def plot_randomization_grid(images: dict, bundle: dict, protocol: dict, *, title: str) -> Figure:
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    return randomization_grid(images["x"], bundle["maps"], list(bundle["steps"]), list(bundle["methods"]),
                              p.figure_images, title=title)


def plot_similarity_curves(table: pd.DataFrame, protocol: dict, *, title: str) -> Figure:
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    return similarity_curves(table, p.metrics, title=title)


def write_sanity_report(
    results: pd.DataFrame, protocol: dict, report: dict | None, *bundles: dict, models: list[str]
) -> tuple[str, dict[str, dict]]:
    """The sanity_checks Markdown report and its findings' counts (for MLflow, see
    :func:`findings_to_metrics`); ``bundles`` are each model's cascading maps (for the methods that
    were not applicable), ``report`` the ``sanity_checks.report`` thresholds."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    r = parse(SanityReportParams, report or {}, "sanity_checks.report")
    skipped = {m: dict(b.get("skipped", {})) for m, b in zip(models, bundles)}
    findings = sanity_report_findings(results, models, skipped, report=r, random_labels_enabled=p.random_labels.enabled)
    text = sanity_report(results, models, skipped, findings=findings)
    return text, findings_to_metrics(findings)


# --- Study "input_gradients" (Shah, Jain, Netrapalli 2021) ------------------------------------


def plot_gradient_examples(test: dict, standard_maps: dict, robust_maps: dict, params: dict, *, slot: str) -> Figure:
    """Test images, then each method's |attribution| of the true class for the standard and the
    robust model (per-image normalised; the dashed line separates BlockMNIST's blocks)."""
    p = input_gradients_params(params)
    pair = ig_slot_models(p, slot)
    n = min(p.report.figure_images, standard_maps["maps"].shape[1])
    names = [model_label(pair.model.architecture, v, pair.attack.norm) for v in ("standard", "robust")]
    rows, labels = [], []
    for i, method in enumerate(standard_maps["methods"]):
        for name, bundle in zip(names, (standard_maps, robust_maps)):
            rows.append(bundle["maps"][i, :n])
            labels.append(f"{name}\n{method}")
    cols = [f"y={int(y)}" for y in test["y"][:n]]
    boundary = test["x"].shape[-2] // 2 if "signal_mask" in test else None
    return block_attribution_grid(test["x"][:n], torch.stack(rows), labels, cols, boundary=boundary,
                                  title=f"{ig_dataset_name(p, slot)}: |attribution| of the true class, standard vs robust")


def plot_null_block_share(results: pd.DataFrame) -> Figure:
    return k_curves(results, "null_block_share", title="Share of the top-k pixels in the null block (lower is better)",
                    ylabel="null-block share", reference=0.5, reference_label="random map", ylim=(0, 1))


def plot_diffroar(results: pd.DataFrame) -> Figure:
    return k_curves(results, "diffroar", title="DiffROAR(k) = acc(top-k unmasked) - acc(bottom-k unmasked)",
                    ylabel="DiffROAR", reference=0.0)


def plot_robustness(results: pd.DataFrame) -> Figure:
    return grouped_bars(results, ["clean_acc", "robust_acc"], title="Clean and PGD accuracy (95% bootstrap CI)",
                        ylabel="accuracy")


def write_input_gradients_report(
    results: pd.DataFrame, params: dict, *maps: dict, slots: list[str]
) -> tuple[str, dict[str, dict]]:
    """The study's Markdown report and its findings' counts (for MLflow, see :func:`findings_to_metrics`);
    ``maps`` are the (standard, robust) attribution bundles of each slot."""
    p = input_gradients_params(params)
    owners = [s for s in slots for _ in ("standard", "robust")]
    skipped = {f"{m} on {s}": r for s, b in zip(owners, maps) for m, r in b.get("skipped", {}).items()}
    setup = []
    for slot in slots:
        pair = ig_slot_models(p, slot)
        a = pair.attack
        setup.append(f"{ig_dataset_name(p, slot)}: {pair.model.architecture}; standard {pair.standard.epochs} epochs "
                     f"({pair.standard.optimizer}, lr {pair.standard.lr:g}); robust {pair.robust.epochs} epochs of "
                     f"PGD-{a.norm} training (eps {a.eps:g}, {a.steps} steps, init {pair.robust_init})")
    d = p.diffroar
    setup.append(f"DiffROAR on {ig_dataset_name(p, d.data)}: {d.method} rankings of both models and a random ranking; "
                 f"retrained {d.train.epochs} epochs ({d.train.optimizer}, lr {d.train.lr:g}); fill {d.fill}")
    setup.append(f"attributions explain the {p.explanation.target} class; methods {', '.join(p.explanation.methods)}")
    figures = {"accuracy": "accuracy.png", "null_block_share": "null_block_share.png", "diffroar": "diffroar.png",
               **{f"gradients_{s}": f"{s}_gradients.png" for s in slots}}
    method = "saliency" if "saliency" in p.explanation.methods else next(iter(p.explanation.methods))
    findings = input_gradients_findings(results, p.report.small_k, method, report=p.report, skipped=skipped)
    text = input_gradients_report(results, small_k=p.report.small_k, method=method, setup=setup, skipped=skipped,
                                  figures=figures, report=p.report, findings=findings)
    return text, findings_to_metrics(findings)
