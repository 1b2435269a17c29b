"""Nodes of the study ``zoo``: explain and score the embedded default models."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure

from interpbench.explain import method_maps
from interpbench.metrics.results import results_table, summarize
from interpbench.models.training import accuracy_per_item, predict
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.reporting.figures import (
    attribution_grid,
    metric_bars,
)
from interpbench.reporting.markdown import results_summary
from interpbench.runtime import resolve_device

log = logging.getLogger(__name__)


def explain_examples(state: dict, test: dict, params: dict, seed: int, device: str) -> dict:
    """Attribution maps of the first ``n_images`` test images for each configured method.

    The explained output is the logit of the predicted class. A method that cannot run on the
    model is recorded as not applicable (its maps are NaN) instead of failing the run.
    """
    p = classifier_params(params, "classifier")
    dev = resolve_device(device)
    model = build_for_data(p, test["x"], state).to(dev)
    x = test["x"][: p.explain.n_images]
    pred = predict(model, x, device=dev)
    methods = {m: p.explain.method_params.get(m, {}) for m in p.explain.methods}
    maps, skipped = method_maps(model, x.to(dev), pred.to(dev), methods, seed)
    status = [f"not applicable: {skipped[m]}" if m in skipped else "ok" for m in p.explain.methods]
    return {"x": x, "y": test["y"][: len(x)], "pred": pred, "maps": maps, "methods": p.explain.methods, "status": status}


def score_classifier(
    state: dict, train: dict, test: dict, params: dict, seed: int, device: str, *, study: str, model_name: str, dataset: str
) -> pd.DataFrame:
    """Train and test accuracy of a trained model, with bootstrap intervals over images."""
    p = classifier_params(params, "classifier")
    dev = resolve_device(device)
    model = build_for_data(p, test["x"], state)
    keys = dict(study=study, dataset=dataset, model=model_name, method="none")
    rows = [
        summarize(accuracy_per_item(model, split["x"], split["y"], device=dev).numpy(), seed=seed, metric=metric, **keys)
        for metric, split in (("train_acc", train), ("test_acc", test))
    ]
    return results_table(rows)


def plot_accuracies(results: pd.DataFrame) -> Figure:
    return metric_bars(results, "test_acc", title="Test accuracy (95% bootstrap CI)", ylabel="accuracy")


def plot_attribution_gallery(bundle: dict, *, title: str) -> Figure:
    """Input images (top row) and each method's attribution map of the predicted class."""
    cols = [f"y={int(y)} pred={int(p)}" for y, p in zip(bundle["y"], bundle["pred"])]
    return attribution_grid(bundle["x"], bundle["maps"], list(bundle["methods"]), cols, title=title)


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

