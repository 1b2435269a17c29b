"""Nodes of the training stage."""

from __future__ import annotations

import pandas as pd

from interpbench.models.training import train_model
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.runtime import resolve_device, seed_everything


def train_classifier(train: dict, params: dict, seed: int, device: str) -> tuple[dict, pd.DataFrame]:
    """Train the configured zoo model on ``train``; returns its state_dict and per-epoch history."""
    p = classifier_params(params, "classifier")
    p.train.seed = seed
    seed_everything(seed)  # the initial weights depend on the seed too
    model = build_for_data(p, train["x"])
    history = train_model(model, train["x"], train["y"], p.train, resolve_device(device), desc=p.model.architecture)
    return {k: v.cpu() for k, v in model.state_dict().items()}, pd.DataFrame(history)
