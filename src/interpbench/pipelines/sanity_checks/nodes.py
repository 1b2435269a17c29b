"""Nodes of the study ``sanity_checks`` (Adebayo et al. 2018)."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import torch
from matplotlib.figure import Figure

from interpbench.config import parse
from interpbench.metrics.results import results_table, summarize
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.helpers import (
    build_for_data,
    classifier_params,
    cpu_state_dict,
)
from interpbench.pipelines.inputs import slot_images, slot_labels, slot_model
from interpbench.pipelines.params import SanityParams, SanityReportParams
from interpbench.protocols.sanity_checks import (
    data_randomization_maps,
    fit_labels,
    label_subset,
    original_maps,
    randomization_maps,
    randomization_rows,
    similarity_rows,
)
from interpbench.reporting.figures import (
    randomization_grid,
    similarity_curves,
)
from interpbench.reporting.sanity_report import sanity_report, sanity_report_findings
from interpbench.runtime import resolve_device, seed_everything

log = logging.getLogger(__name__)


LABELS = ("random", "true")  #: the data randomization models: permuted labels, and the true-label control


def train_on_labels(
    train: dict, zoo_slot: dict, protocol: dict, seed: int, device: str, *, labels: str
) -> tuple[dict, pd.DataFrame, dict]:
    """Data randomization (Adebayo et al. 2018, §3.2): the zoo slot's architecture trained on a
    seeded subset of the training split, on a seeded permutation of its labels (``labels="random"``)
    or on its true labels (``"true"``: the control). Both use the same subset, seed (so the same
    initial weights and batch order) and ``random_labels.train`` recipe; only the labels differ.

    Returns the weights, the per-epoch history (running train-mode accuracy) and the fit measured
    after training in eval mode on the subset and its training labels: ``{"correct": [n] 0/1,
    "labels": labels, "epochs": epochs trained}``.
    """
    if labels not in LABELS:
        raise ValueError(f"train_on_labels: labels must be one of {LABELS}, got {labels!r}.")
    p = parse(SanityParams, protocol, "sanity_checks.protocol").random_labels
    if not p.enabled:
        return ({}, pd.DataFrame({"epoch": [], "loss": [], "accuracy": []}),
                {"correct": torch.zeros(0), "labels": labels, "epochs": 0})
    zoo = classifier_params(zoo_slot, "zoo slot")
    x, y_true, y_random = label_subset(train["x"], train["y"], p.n_train, seed)
    y = y_random if labels == "random" else y_true
    cfg = dataclasses.replace(p.train, seed=seed)
    seed_everything(seed)
    model = build_for_data(zoo, x)
    history, correct = fit_labels(model, x, y, cfg, resolve_device(device),
                                  desc=f"{zoo.model.architecture} {labels} labels")
    log.info("%s %s labels: eval-mode accuracy on its %d training labels %.4f after %d epochs",
             zoo.model.architecture, labels, len(y), float(correct.mean()), len(history))
    return cpu_state_dict(model), pd.DataFrame(history), {"correct": correct, "labels": labels, "epochs": len(history)}


def select_images(test: dict, slot: dict | None, protocol: dict) -> dict:
    """The images a sanity-checks slot explains (the first ``n_images`` of its source)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    return slot_images(slot, test, p.n_images, "sanity_checks slot")


def compute_original_maps(
    images: dict, state: dict, zoo_slot: dict, slot: dict | None, protocol: dict, seed: int, device: str
) -> dict:
    """Every method's maps of the slot's trained model (its own predicted class) and of the model
    with its output block re-initialised: steps 0 and 1 of both randomization modes (the same
    models in both), computed once."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    model = slot_model(slot, zoo_slot, state, images["x"], "sanity_checks slot")
    return original_maps(model, images["x"], p.methods, seed, resolve_device(device), first_step=True)


def compute_randomization_maps(
    images: dict, original: dict, state: dict, zoo_slot: dict, slot: dict | None, protocol: dict, seed: int,
    device: str, *, mode: str
) -> dict:
    """Every method's maps at every step of ``mode`` (cascading / independent) randomization;
    steps 0 and 1 come from ``original`` (:func:`compute_original_maps`)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    model = slot_model(slot, zoo_slot, state, images["x"], "sanity_checks slot")
    return randomization_maps(model, images["x"], p.methods, mode, seed, resolve_device(device), original=original)


#: names of the two data randomization models in the maps bundle and its figure
CONTROL, RANDOM = "true labels (control)", "random labels"


def compute_random_label_maps(
    images: dict, true_state: dict, random_state: dict, zoo_slot: dict, protocol: dict, seed: int, device: str
) -> dict:
    """Maps of the true-label control and of the random-label model (same architecture, subset and
    recipe), each explaining its own predicted class."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    if not p.random_labels.enabled:
        return {"maps": torch.zeros(0), "steps": [], "methods": [], "skipped": {}}
    zoo = classifier_params(zoo_slot, "zoo slot")
    control, shuffled = (build_for_data(zoo, images["x"], s) for s in (true_state, random_state))
    return data_randomization_maps({CONTROL: control, RANDOM: shuffled}, images["x"], p.methods, seed,
                                   resolve_device(device))


def score_randomization(
    bundle: dict, protocol: dict, slot: dict | None, seed: int, device: str, *, study: str, model_name: str,
    dataset: str, mode: str,
) -> pd.DataFrame:
    """Similarity of each randomization step's maps to the trained model's, per method and metric
    (the metrics run on the run's device)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    model_label, dataset_label = slot_labels(slot, model_name, dataset)
    rows = randomization_rows(bundle, p.metrics, seed=seed, n_boot=p.n_boot, device=resolve_device(device),
                              study=study, dataset=dataset_label, model=f"{model_label}_{mode}")
    return results_table(rows)


def score_random_labels(
    bundle: dict, random_fit: dict, true_fit: dict, protocol: dict, slot: dict | None, seed: int, device: str, *,
    study: str, model_name: str, dataset: str,
) -> pd.DataFrame:
    """Data randomization rows (model ``<label>_random_labels``): map similarity of the random-label
    model to the true-label control (``x_name`` ``data_randomization``), and each model's eval-mode
    accuracy on its own training labels over the training subset (metric ``train_acc``, method
    ``none``, ``x_name`` ``labels_permuted``: x = 1 the random-label model, 0 the control)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    if not p.random_labels.enabled:
        return results_table([])
    model_label, dataset_label = slot_labels(slot, model_name, dataset)
    keys = dict(study=study, dataset=dataset_label, model=f"{model_label}_random_labels")
    steps = list(bundle["steps"])
    ref, other = steps.index(CONTROL), steps.index(RANDOM)
    label_test = {"x_name": "data_randomization", "x": 1.0,
                  "x_label": "random-label model vs true-label control (same subset and recipe), "
                             "each explaining its own predicted class"}
    rows = similarity_rows(bundle["maps"][ref], [(bundle["maps"][other], label_test)], bundle["methods"], p.metrics,
                           seed=seed, n_boot=p.n_boot, device=resolve_device(device), **keys)
    for fit, x, who in ((random_fit, 1.0, "random-label model: eval-mode accuracy on its permuted training labels"),
                        (true_fit, 0.0, "true-label control: eval-mode accuracy on its true training labels")):
        rows.append(summarize(fit["correct"].numpy(), seed=seed, n_boot=p.n_boot, **keys, method="none",
                              metric="train_acc", x_name="labels_permuted", x=x,
                              x_label=f"{who} ({int(fit['epochs'])} epochs)"))
    return results_table(rows)


def plot_randomization_grid(images: dict, bundle: dict, protocol: dict, *, title: str) -> Figure:
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    return randomization_grid(images["x"], bundle["maps"], list(bundle["steps"]), list(bundle["methods"]),
                              p.figure_images, title=title)


def plot_similarity_curves(table: pd.DataFrame, protocol: dict, *, title: str) -> Figure:
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    return similarity_curves(table, p.metrics, title=title)


def write_sanity_report(
    results: pd.DataFrame, protocol: dict, report: dict | None, *slot_params_and_bundles: dict,
    slots: dict[str, tuple[str, str]],
) -> tuple[str, dict[str, dict]]:
    """The sanity_checks Markdown report and its findings' counts (for MLflow, see
    :func:`findings_to_metrics`). ``slot_params_and_bundles``: each slot's parameters, then each
    slot's cascading maps (for the methods that were not applicable); ``slots``: slot -> (zoo model,
    data set); ``report``: the ``sanity_checks.report`` thresholds."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    r = parse(SanityReportParams, report or {}, "sanity_checks.report")
    n = len(slots)
    params, bundles = slot_params_and_bundles[:n], slot_params_and_bundles[n:]
    models = {s: slot_labels(sp, *slots[s])[0] for s, sp in zip(slots, params)}  # slot -> results label
    skipped = {models[s]: dict(b.get("skipped", {})) for s, b in zip(slots, bundles)}
    findings = sanity_report_findings(results, list(models.values()), skipped, report=r,
                                      random_labels_enabled=p.random_labels.enabled)
    text = sanity_report(results, models, skipped, findings=findings)
    return text, findings_to_metrics(findings)
