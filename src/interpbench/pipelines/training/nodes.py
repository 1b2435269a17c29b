"""Nodes of the training stage."""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from interpbench.config import parse
from interpbench.models.training import train_model
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.pipelines.params import SanityParams
from interpbench.runtime import resolve_device, seed_everything


def train_classifier(train: dict, params: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """Train the configured zoo model on ``train``; returns its state_dict and per-epoch history."""
    p = classifier_params(params, "classifier")
    p.train.seed = seed
    seed_everything(seed)  # the initial weights depend on the seed too
    model = build_for_data(p, train["x"])
    history = train_model(model, train["x"], train["y"], p.train, resolve_device(device), desc=p.model.architecture)
    return {k: v.cpu() for k, v in model.state_dict().items()}, pd.DataFrame(history)


def train_random_labels(train: dict, zoo_slot: dict, protocol: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """Data randomization (Adebayo et al. 2018, §3.2): the zoo slot's architecture trained on a
    seeded permutation of the training labels until it fits them (``stop_at_accuracy``)."""
    p = parse(SanityParams, protocol, "sanity_checks.protocol").random_labels
    zoo = classifier_params(zoo_slot, "zoo slot")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(train["y"]), generator=gen)[: p.n_train]
    x, y = train["x"][idx], train["y"][idx][torch.randperm(len(idx), generator=gen)]
    cfg = dataclasses.replace(p.train, seed=seed)
    seed_everything(seed)
    model = build_for_data(zoo, x)
    history = train_model(model, x, y, cfg, resolve_device(device), desc=f"{zoo.model.architecture} random labels")
    return {k: v.cpu() for k, v in model.state_dict().items()}, pd.DataFrame(history)
