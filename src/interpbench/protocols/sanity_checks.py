"""Sanity checks for saliency maps (Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim; NeurIPS 2018).

Model randomization test: recompute each method's maps after re-initialising the model's blocks
(cascading from the output down, or one block at a time) and compare them with the trained
model's maps. Data randomization test: compare the maps of a model trained on permuted labels
with the true-label model's. Maps that stay similar do not depend on what the model learned.

Every map explains the logit of the class the *original* model predicts, on the same images.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from interpbench.explain import method_maps
from interpbench.metrics.results import summarize
from interpbench.metrics.similarity import similarity_metric
from interpbench.models.randomize import randomization_steps

log = logging.getLogger(__name__)


def randomization_maps(
    model: nn.Module,
    x: torch.Tensor,
    methods: Mapping[str, dict[str, Any]],
    mode: str,
    seed: int,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Maps of every method at every randomization step (step 0 = the trained model).

    Returns ``{"maps": [S, M, N, H, W], "steps": [...block names...], "methods": [...],
    "target": [N], "skipped": {method: reason}}``.
    """
    model = model.to(device).eval()
    x = x.to(device)
    with torch.no_grad():
        target = model(x).argmax(1)
    all_maps, steps, skipped = [], [], {}
    stepper = randomization_steps(model, mode, seed)
    for step in tqdm(stepper, desc=f"{mode} randomization", leave=False, disable=None):
        log.info("%s randomization step %d: %s", mode, step.step, step.block_name)
        maps, skipped_now = method_maps(step.model.to(device), x, target, methods, seed)
        skipped.update(skipped_now)
        all_maps.append(maps)
        steps.append(step.block_name)
    return {"maps": torch.stack(all_maps), "steps": steps, "methods": list(methods), "target": target.cpu(), "skipped": skipped}


def similarity_rows(
    reference: torch.Tensor,
    others: list[tuple[torch.Tensor, dict[str, Any]]],
    methods: list[str],
    metrics: list[str],
    *,
    seed: int,
    n_boot: int = 1000,
    **keys: Any,
) -> list[dict]:
    """Results rows: for each method and metric, the similarity of every map set in ``others``
    ([M, N, H, W] each, with its own row keys such as ``x``) to ``reference`` [M, N, H, W].

    The reference's features (ranks, HOG descriptors, ...) are computed once per method and
    metric. Methods whose reference maps are all NaN (not applicable) are left out.
    """
    rows = []
    for i, method in enumerate(methods):
        a = reference[i].numpy()
        if np.isnan(a).all():
            continue
        for name in metrics:
            metric = similarity_metric(name)
            prepared = metric.prepare(a)
            for maps, extra in others:
                values = metric.against(prepared, maps[i].numpy())
                rows.append(summarize(values, seed=seed, n_boot=n_boot, method=method, metric=name, **keys, **extra))
    return rows


def randomization_rows(bundle: dict, metrics: list[str], *, seed: int, n_boot: int = 1000, **keys: Any) -> list[dict]:
    """Rows along ``layer_step``: each step's maps against step 0's; x_label is the block name."""
    steps = [(bundle["maps"][s], {"x_name": "layer_step", "x": float(s), "x_label": block})
             for s, block in enumerate(bundle["steps"])]
    return similarity_rows(bundle["maps"][0], steps, bundle["methods"], metrics, seed=seed, n_boot=n_boot, **keys)


__all__ = ["randomization_maps", "randomization_rows", "similarity_rows"]
