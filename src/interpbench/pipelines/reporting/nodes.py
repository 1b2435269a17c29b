"""Nodes of the reporting stage: figures, Markdown reports and MLflow metrics."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from interpbench.config import parse
from interpbench.pipelines.params import SanityParams
from interpbench.reporting.figures import attribution_grid, metric_bars, randomization_grid, similarity_curves
from interpbench.reporting.markdown import results_summary
from interpbench.reporting.sanity_report import sanity_report


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


def write_sanity_report(results: pd.DataFrame, *bundles: dict, models: list[str]) -> str:
    """The sanity_checks Markdown report; ``bundles`` are each model's cascading maps (for the
    methods that were not applicable)."""
    skipped = {m: dict(b.get("skipped", {})) for m, b in zip(models, bundles)}
    return sanity_report(results, models, skipped)
