"""Nodes of the study ``sanity_checks`` (Adebayo et al. 2018)."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import torch
from matplotlib.figure import Figure

from interpbench.config import parse
from interpbench.explain import method_maps
from interpbench.metrics.results import results_table
from interpbench.models.training import predict, train_model
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.helpers import (
    build_for_data,
    classifier_params,
    cpu_state_dict,
)
from interpbench.pipelines.inputs import slot_images, slot_labels, slot_model
from interpbench.pipelines.params import SanityParams, SanityReportParams
from interpbench.protocols.sanity_checks import (
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


def train_random_labels(train: dict, zoo_slot: dict, protocol: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """Data randomization (Adebayo et al. 2018, §3.2): the zoo slot's architecture trained on a
    seeded permutation of the training labels until it fits them (``stop_at_accuracy``)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol").random_labels
    if not p.enabled:
        return {}, pd.DataFrame({"epoch": [], "loss": [], "accuracy": []})
    zoo = classifier_params(zoo_slot, "zoo slot")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(train["y"]), generator=gen)[: p.n_train]
    x, y = train["x"][idx], train["y"][idx][torch.randperm(len(idx), generator=gen)]
    cfg = dataclasses.replace(p.train, seed=seed)
    seed_everything(seed)
    model = build_for_data(zoo, x)
    history = train_model(model, x, y, cfg, resolve_device(device), desc=f"{zoo.model.architecture} random labels")
    return cpu_state_dict(model), pd.DataFrame(history)


def select_images(test: dict, slot: dict | None, protocol: dict) -> dict:
    """The images a sanity-checks slot explains (the first ``n_images`` of its source)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    return slot_images(slot, test, p.n_images, "sanity_checks slot")


def compute_randomization_maps(
    images: dict, state: dict, zoo_slot: dict, slot: dict | None, protocol: dict, seed: int, device: str, *, mode: str
) -> dict:
    """Every method's maps at every step of ``mode`` (cascading / independent) randomization."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    model = slot_model(slot, zoo_slot, state, images["x"], "sanity_checks slot")
    return randomization_maps(model, images["x"], p.methods, mode, seed, resolve_device(device))


def compute_random_label_maps(
    images: dict, state: dict, random_state: dict, zoo_slot: dict, protocol: dict, seed: int, device: str
) -> dict:
    """Maps of the true-label and the random-label model, both for the true-label model's prediction."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    if not p.random_labels.enabled:
        return {"maps": torch.zeros(0), "steps": [], "methods": [], "skipped": {}}
    dev = resolve_device(device)
    zoo = classifier_params(zoo_slot, "zoo slot")
    trained, shuffled = (build_for_data(zoo, images["x"], s).to(dev) for s in (state, random_state))
    x = images["x"].to(dev)
    target = predict(trained, x, device=dev).to(dev)
    true_maps, skipped = method_maps(trained, x, target, p.methods, seed)
    random_maps, _ = method_maps(shuffled, x, target, p.methods, seed)
    return {"maps": torch.stack([true_maps, random_maps]), "steps": ["true labels", "random labels"],
            "methods": list(p.methods), "target": target.cpu(), "skipped": skipped}


def score_randomization(
    bundle: dict, protocol: dict, slot: dict | None, seed: int, *, study: str, model_name: str, dataset: str, mode: str
) -> pd.DataFrame:
    """Similarity of each randomization step's maps to the trained model's, per method and metric."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    model_label, dataset_label = slot_labels(slot, model_name, dataset)
    rows = randomization_rows(bundle, p.metrics, seed=seed, n_boot=p.n_boot,
                              study=study, dataset=dataset_label, model=f"{model_label}_{mode}")
    return results_table(rows)


def score_random_labels(
    bundle: dict, history: pd.DataFrame, protocol: dict, slot: dict | None, seed: int, *, study: str, model_name: str,
    dataset: str,
) -> pd.DataFrame:
    """Data randomization rows: map similarity true- vs random-label model, and the random-label
    model's final train accuracy on its permuted labels (how well it fit them)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    if not p.random_labels.enabled:
        return results_table([])
    model_label, dataset_label = slot_labels(slot, model_name, dataset)
    keys = dict(study=study, dataset=dataset_label, model=f"{model_label}_random_labels")
    label_test = {"x_name": "data_randomization", "x": 1.0, "x_label": "true vs random labels"}
    rows = similarity_rows(bundle["maps"][0], [(bundle["maps"][1], label_test)], bundle["methods"], p.metrics,
                           seed=seed, n_boot=p.n_boot, **keys)
    last = history.iloc[-1]
    rows.append({**keys, "method": "none", "metric": "train_acc", "value": float(last["accuracy"]),
                 "n": p.random_labels.n_train, "seed": seed, "x_name": "epoch", "x": float(last["epoch"]),
                 "x_label": f"epoch {int(last['epoch'])}"})
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
