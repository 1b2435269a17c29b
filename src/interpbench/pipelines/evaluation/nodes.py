"""Nodes of the evaluation stage."""

from __future__ import annotations

import logging

import pandas as pd

from interpbench.config import parse
from interpbench.metrics.results import results_table, summarize
from interpbench.models.training import accuracy_per_item
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.pipelines.inputs import slot_labels
from interpbench.pipelines.params import SanityParams, ig_dataset_name, ig_slot_models, input_gradients_params
from interpbench.protocols.input_gradients import diffroar_rows, model_label, null_share_rows, robustness_rows
from interpbench.protocols.sanity_checks import randomization_rows, similarity_rows
from interpbench.runtime import cpu_threads, resolve_device

log = logging.getLogger(__name__)


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
    bundle: dict, history: pd.DataFrame, protocol: dict, seed: int, *, study: str, model_name: str, dataset: str
) -> pd.DataFrame:
    """Data randomization rows: map similarity true- vs random-label model, and the random-label
    model's final train accuracy on its permuted labels (how well it fit them)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol")
    if not p.random_labels.enabled:
        return results_table([])
    keys = dict(study=study, dataset=dataset, model=f"{model_name}_random_labels")
    label_test = {"x_name": "data_randomization", "x": 1.0, "x_label": "true vs random labels"}
    rows = similarity_rows(bundle["maps"][0], [(bundle["maps"][1], label_test)], bundle["methods"], p.metrics,
                           seed=seed, n_boot=p.n_boot, **keys)
    last = history.iloc[-1]
    rows.append({**keys, "method": "none", "metric": "train_acc", "value": float(last["accuracy"]),
                 "n": p.random_labels.n_train, "seed": seed, "x_name": "epoch", "x": float(last["epoch"]),
                 "x_label": f"epoch {int(last['epoch'])}"})
    return results_table(rows)


# --- Study "input_gradients" (Shah, Jain, Netrapalli 2021) ------------------------------------


def _ig_keys(p, slot: str, variant: str, study: str) -> dict:
    pair = ig_slot_models(p, slot)
    name = model_label(pair.model.architecture, variant, pair.attack.norm)
    return dict(study=study, dataset=ig_dataset_name(p, slot), model=name)


def score_robustness(
    state: dict, test: dict, params: dict, seed: int, device: str, *, study: str, slot: str, variant: str
) -> pd.DataFrame:
    """``clean_acc`` and ``robust_acc`` (PGD at the robust model's training eps) of one model."""
    p = input_gradients_params(params)
    pair = ig_slot_models(p, slot)
    a = pair.attack
    model = build_for_data(pair, test["x"], state)
    with cpu_threads(p.cpu_threads):
        rows = robustness_rows(model, test["x"], test["y"], norm=a.norm, eps=a.eps, steps=a.eval_steps or a.steps,
                               step_size=a.step_size, seed=seed, n_boot=p.n_boot, device=resolve_device(device),
                               **_ig_keys(p, slot, variant, study))
    return results_table(rows)


def score_null_block_share(
    maps: dict, test: dict, params: dict, seed: int, *, study: str, slot: str, variant: str
) -> pd.DataFrame:
    """Share of each method's top-k pixels in the BlockMNIST null block, for every k (Shah et al. §4)."""
    p = input_gradients_params(params)
    rows = null_share_rows(maps, test["signal_mask"], p.null_block_share.k, seed=seed, n_boot=p.n_boot,
                           **_ig_keys(p, slot, variant, study))
    return results_table(rows)


def score_diffroar(rankings: dict, params: dict, seed: int, *retrained: dict, study: str) -> pd.DataFrame:
    """acc_top, acc_bottom and DiffROAR(k) = acc_top - acc_bottom of one ranking (Shah et al. eq. 1)."""
    p = input_gradients_params(params)
    levels: dict[float, dict] = {}
    for r in retrained:
        if r["k"] is not None:
            levels.setdefault(r["k"], {"k": r["k"]})[r["keep"]] = r["correct"].numpy()
    rows = diffroar_rows(list(levels.values()), seed=seed, n_boot=p.n_boot, study=study, dataset=rankings["dataset"],
                         model=rankings["model"], method=rankings["method"])
    return results_table(rows)
