"""Nodes of the training stage."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import torch

from interpbench.config import parse
from interpbench.models.training import train_model
from interpbench.pipelines.helpers import build_for_data, classifier_params, cpu_state_dict
from interpbench.pipelines.params import SanityParams, ig_dataset_name, ig_slot_models, input_gradients_params
from interpbench.protocols.input_gradients import k_label, model_label, retrain_masked, train_variant
from interpbench.runtime import cpu_threads, resolve_device, seed_everything

log = logging.getLogger(__name__)


def train_classifier(train: dict, params: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """Train the configured zoo model on ``train``; returns its state_dict and per-epoch history."""
    p = classifier_params(params, "classifier")
    p.train.seed = seed
    seed_everything(seed)  # the initial weights depend on the seed too
    model = build_for_data(p, train["x"])
    history = train_model(model, train["x"], train["y"], p.train, resolve_device(device), desc=p.model.architecture)
    return cpu_state_dict(model), pd.DataFrame(history)


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


# --- Study "input_gradients" (Shah, Jain, Netrapalli 2021) ------------------------------------


def _ig_train(train: dict, init_state: dict | None, params: dict, seed: int, device: str, *, slot: str, variant: str):
    p = input_gradients_params(params)
    pair = ig_slot_models(p, slot)
    cfg = dataclasses.replace(pair.standard if variant == "standard" else pair.robust, seed=seed)
    attack = None if variant == "standard" else dataclasses.asdict(pair.attack)
    desc = f"{slot} {model_label(pair.model.architecture, variant, pair.attack.norm)}"
    with cpu_threads(p.cpu_threads):
        seed_everything(seed)
        model = build_for_data(pair, train["x"], init_state)
        history = train_variant(model, train["x"], train["y"], cfg, attack=attack, device=resolve_device(device), desc=desc)
    return cpu_state_dict(model), pd.DataFrame(history)


def train_standard_model(train: dict, params: dict, seed: int, device: str, *, slot: str) -> tuple[dict, pd.DataFrame]:
    """The slot's standard model (plain empirical risk minimisation)."""
    return _ig_train(train, None, params, seed, device, slot=slot, variant="standard")


def train_robust_model(
    train: dict, standard_state: dict, params: dict, seed: int, device: str, *, slot: str
) -> tuple[dict, pd.DataFrame]:
    """The slot's PGD adversarially trained model (Madry et al. 2018), from scratch or, with
    ``robust_init: standard``, fine-tuned from the standard model's weights."""
    pair = ig_slot_models(input_gradients_params(params), slot)
    init = standard_state if pair.robust_init == "standard" else None
    return _ig_train(train, init, params, seed, device, slot=slot, variant="robust")


def retrain_on_masked(source: dict, rankings: dict, params: dict, seed: int, device: str, *, level: int, keep: str) -> dict:
    """One DiffROAR retraining: a fresh model on the images keeping only their ``keep`` (top /
    bottom) k pixels, k = ``diffroar.k[level]``; returns its per-item test correctness.
    A level beyond the configured list is idle (returns ``{"k": None}``)."""
    p = input_gradients_params(params)
    if level >= len(p.diffroar.k):
        log.info("DiffROAR slot k%d is idle: diffroar.k lists %d levels", level + 1, len(p.diffroar.k))
        return {"k": None, "keep": keep}
    k = p.diffroar.k[level]
    pair = ig_slot_models(p, source["slot"])
    cfg = dataclasses.replace(p.diffroar.train, seed=seed)

    def build():
        seed_everything(seed)
        return build_for_data(pair, source["train"]["x"])

    with cpu_threads(p.cpu_threads):
        correct = retrain_masked(source["train"], source["test"], rankings["train"], rankings["test"], k=k, keep=keep,
                                 build=build, cfg=cfg, fill=p.diffroar.fill, device=resolve_device(device),
                                 desc=f"DiffROAR {rankings['model']} {rankings['method']} {keep}-{k_label(k)}")
    return {"k": k, "keep": keep, "correct": correct}


def select_diffroar_source(params: dict, *slot_inputs, slots: list[str]) -> dict:
    """The data slot DiffROAR runs on (``diffroar.data``): its train/test sets and both trained
    models. ``slot_inputs`` are (train, test, standard_state, robust_state) for each of ``slots``."""
    p = input_gradients_params(params)
    slot = p.diffroar.data
    train, test, standard, robust = slot_inputs[4 * slots.index(slot) : 4 * slots.index(slot) + 4]
    log.info("DiffROAR on the %s slot (%s)", slot, ig_dataset_name(p, slot))
    return {"slot": slot, "dataset": ig_dataset_name(p, slot), "train": train, "test": test,
            "states": {"standard": standard, "robust": robust}}
