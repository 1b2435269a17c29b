"""Node functions several studies use: train a classifier, collect and log results tables."""

from __future__ import annotations

import logging
import math

import pandas as pd

from interpbench.metrics.results import results_table
from interpbench.models.training import train_model
from interpbench.pipelines.helpers import (
    build_for_data,
    classifier_params,
    cpu_state_dict,
)
from interpbench.reporting.findings import Finding, finding_counts
from interpbench.runtime import resolve_device, seed_everything

log = logging.getLogger(__name__)


def train_classifier(train: dict, params: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """Train the configured zoo model on ``train``; returns its state_dict and per-epoch history."""
    p = classifier_params(params, "classifier")
    p.train.seed = seed
    seed_everything(seed)  # the initial weights depend on the seed too
    model = build_for_data(p, train["x"])
    history = train_model(model, train["x"], train["y"], p.train, resolve_device(device), desc=p.model.architecture)
    return cpu_state_dict(model), pd.DataFrame(history)


def collect_results(*tables: pd.DataFrame) -> pd.DataFrame:
    """Concatenate per-model tables into the study's results table (the results contract)."""
    return results_table(pd.concat(tables, ignore_index=True).to_dict("records"))


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
