"""Nodes of the evaluation stage."""

from __future__ import annotations

import pandas as pd

from interpbench.metrics.results import results_table, summarize
from interpbench.models.training import accuracy_per_item
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.runtime import resolve_device


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


def collect_results(*tables: pd.DataFrame) -> pd.DataFrame:
    """Concatenate per-model tables into the study's results table (the results contract)."""
    return results_table(pd.concat(tables, ignore_index=True).to_dict("records"))
