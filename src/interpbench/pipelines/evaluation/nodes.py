"""Nodes of the evaluation stage."""

from __future__ import annotations

import pandas as pd

from interpbench.config import parse
from interpbench.metrics.results import results_table, summarize
from interpbench.models.training import accuracy_per_item
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.pipelines.params import SanityParams
from interpbench.protocols.sanity_checks import randomization_rows, similarity_rows
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


def score_randomization(bundle: dict, protocol: dict, seed: int, *, study: str, model_name: str, dataset: str, mode: str) -> pd.DataFrame:
    """Similarity of each randomization step's maps to the trained model's, per method and metric."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    rows = randomization_rows(bundle, p.metrics, seed=seed, n_boot=p.n_boot,
                              study=study, dataset=dataset, model=f"{model_name}_{mode}")
    return results_table(rows)


def score_random_labels(
    bundle: dict, history: pd.DataFrame, protocol: dict, seed: int, *, study: str, model_name: str, dataset: str
) -> pd.DataFrame:
    """Data randomization rows: map similarity true- vs random-label model, and the random-label
    model's final train accuracy on its permuted labels (how well it fit them)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    keys = dict(study=study, dataset=dataset, model=f"{model_name}_random_labels")
    label_test = {"x_name": "data_randomization", "x": 1.0, "x_label": "true vs random labels"}
    rows = similarity_rows(bundle["maps"][0], [(bundle["maps"][1], label_test)], bundle["methods"], p.metrics,
                           seed=seed, n_boot=p.n_boot, **keys)
    last = history.iloc[-1]
    rows.append({**keys, "method": "none", "metric": "train_acc", "value": float(last["accuracy"]),
                 "n": p.random_labels.n_train, "seed": seed, "x_name": "epoch", "x": float(last["epoch"]),
                 "x_label": f"epoch {int(last['epoch'])}"})
    return results_table(rows)
