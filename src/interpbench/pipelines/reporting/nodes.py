"""Nodes of the reporting stage: figures, Markdown reports and MLflow metrics."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from interpbench.reporting.figures import attribution_grid, metric_bars
from interpbench.reporting.markdown import results_summary


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
