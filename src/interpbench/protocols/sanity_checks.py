"""Sanity checks for saliency maps (Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim; NeurIPS 2018).

Model randomization test: recompute each method's maps after re-initialising the model's blocks
(cascading from the output down, or one block at a time) and compare them with the trained
model's maps. The maps both modes share are computed once (:func:`original_maps`): step 0, the
trained model, and step 1, where both re-initialise the output block alone with the same seed
(the same model in both modes). Every map of the model randomization test explains the logit of
the class the *original* model predicts, on the same images.

Data randomization test (§3.2): compare the maps of a model trained on permuted labels with those
of a true-label control trained on the same subset with the same recipe (architecture, seed,
initial weights, batch order, TrainConfig), so that only the labels differ. Each of these two
models explains its own predicted class (as the authors' code does for every model it explains).
The permuted labels must be fit (:func:`fit_labels` measures the fit in eval mode) for the test
to say anything. Maps that stay similar do not depend on what the model learned.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from interpbench.explain import method_maps
from interpbench.metrics.results import summarize
from interpbench.metrics.similarity import similarity_metric
from interpbench.models.randomize import ORIGINAL, randomization_steps
from interpbench.models.training import TrainConfig, accuracy_per_item, train_model

log = logging.getLogger(__name__)


def original_maps(
    model: nn.Module,
    x: torch.Tensor,
    methods: Mapping[str, dict[str, Any]],
    seed: int,
    device: torch.device | str = "cpu",
    first_step: bool = False,
) -> dict[str, Any]:
    """Maps of every method for the trained ``model``, explaining its own predicted class.

    Returns ``{"maps": [M, N, C, H, W], "methods": [...], "target": [N], "skipped": {method: reason}}``:
    step 0 of both randomization modes (pass it as ``original`` to :func:`randomization_maps`).
    The maps are those :func:`randomization_maps` computes at step 0 without it: same model, images,
    targets and seed (each method call seeds its own RNG from ``seed``). With ``first_step``, also
    ``"first_step_maps"`` [M, N, C, H, W] and ``"first_step"`` (the block's name): the maps of
    randomization step 1, the output block re-initialised, which is the same model in both modes.
    """
    model = copy.deepcopy(model).to(device).eval()  # as the randomization steps: never touch the caller's model
    x = x.to(device)
    with torch.no_grad():
        target = model(x).argmax(1)
    maps, skipped = method_maps(model, x, target, methods, seed)
    out = {"maps": maps, "methods": list(methods), "target": target.cpu(), "skipped": skipped}
    if first_step:
        # Step 1 of cascading randomization is step 1 of independent randomization (block 0 alone,
        # block_seed(seed, 0)); computed here once for both.
        step = next(randomization_steps(model, "independent", seed, include_original=False), None)
        if step is not None:
            log.info("randomization step 1 (both modes): %s", step.block_name)
            out["first_step_maps"], skipped_now = method_maps(step.model.to(device), x, target, methods, seed)
            out["first_step"] = step.block_name
            skipped.update(skipped_now)
    return out


def randomization_maps(
    model: nn.Module,
    x: torch.Tensor,
    methods: Mapping[str, dict[str, Any]],
    mode: str,
    seed: int,
    device: torch.device | str = "cpu",
    original: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Maps of every method at every randomization step (step 0 = the trained model).

    ``original``: the trained model's maps from :func:`original_maps` (same model, images, methods
    and seed), used as step 0 and for the targets instead of computing them again, and as step 1
    when they include it (``first_step=True``).
    Returns ``{"maps": [S, M, N, C, H, W], "steps": [...block names...], "methods": [...],
    "target": [N], "skipped": {method: reason}}``.
    """
    if original is None:
        original = original_maps(model, x, methods, seed, device)
    elif list(original["methods"]) != list(methods) or tuple(original["maps"].shape[1:2]) != (x.shape[0],):
        raise ValueError(
            f"randomization_maps: the original maps are for methods {list(original['methods'])} and "
            f"{original['maps'].shape[1]} images, expected {list(methods)} and {x.shape[0]}."
        )
    model = model.to(device).eval()
    x = x.to(device)
    target = original["target"].to(device)
    all_maps, steps, skipped = [original["maps"]], [ORIGINAL], dict(original.get("skipped", {}))
    stepper = randomization_steps(model, mode, seed, include_original=False)
    for step in tqdm(stepper, desc=f"{mode} randomization", leave=False, disable=None):
        if step.step == 1 and "first_step_maps" in original:
            if original.get("first_step") != step.block_name:
                raise ValueError(f"randomization_maps: the original maps' step 1 re-initialises "
                                 f"{original.get('first_step')!r}, this model's {step.block_name!r}.")
            all_maps.append(original["first_step_maps"])
            steps.append(step.block_name)
            continue
        log.info("%s randomization step %d: %s", mode, step.step, step.block_name)
        maps, skipped_now = method_maps(step.model.to(device), x, target, methods, seed)
        skipped.update(skipped_now)
        all_maps.append(maps)
        steps.append(step.block_name)
    return {"maps": torch.stack(all_maps), "steps": steps, "methods": list(methods), "target": target.cpu(), "skipped": skipped}


def label_subset(
    x: torch.Tensor, y: torch.Tensor, n_train: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The data randomization training subset: ``(x_sub, y_true, y_permuted)``.

    ``n_train`` items drawn by a permutation seeded with ``seed``, their true labels, and those
    labels permuted by the same generator. The random-label model trains on ``y_permuted``, its
    true-label control on ``y_true``: same images, same order of draws.
    """
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(y), generator=gen)[:n_train]
    y_true = y[idx]
    return x[idx], y_true, y_true[torch.randperm(len(idx), generator=gen)]


def fit_labels(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, device: torch.device | str = "cpu",
    desc: str = "train",
) -> tuple[list[dict], torch.Tensor]:
    """Train ``model`` in place on ``(x, y)`` with ``cfg`` and measure how well it fits them.

    Returns the training history (per epoch; ``accuracy`` there is the running train-mode accuracy
    over the epoch's batches, while the weights still change) and the 0/1 correctness ``[n]`` of the
    trained model on ``(x, y)`` in eval mode (dropout off, BatchNorm running statistics), the fit
    that the data randomization test needs.
    """
    history = train_model(model, x, y, cfg, device, desc=desc)
    return history, accuracy_per_item(model, x, y, device=device)


def data_randomization_maps(
    models: Mapping[str, nn.Module],
    x: torch.Tensor,
    methods: Mapping[str, dict[str, Any]],
    seed: int,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Maps of each model in ``models`` (name -> model; e.g. the true-label control, then the
    random-label model), each explaining its own predicted class, as in the authors' code (the
    class to explain is the argmax of the logits of the model being explained).

    Returns ``{"maps": [K, M, N, C, H, W], "steps": [names], "methods": [...], "target": [K, N],
    "skipped": {method: reason}}``.
    """
    bundles = [original_maps(m, x, methods, seed, device) for m in models.values()]
    skipped: dict[str, str] = {}
    for b in bundles:
        skipped.update(b["skipped"])
    return {"maps": torch.stack([b["maps"] for b in bundles]), "steps": list(models),
            "methods": list(methods), "target": torch.stack([b["target"] for b in bundles]), "skipped": skipped}


def similarity_rows(
    reference: torch.Tensor,
    others: list[tuple[torch.Tensor, dict[str, Any]]],
    methods: list[str],
    metrics: list[str],
    *,
    seed: int,
    n_boot: int = 1000,
    device: torch.device | str | None = None,
    **keys: Any,
) -> list[dict]:
    """Results rows: for each method and metric, the similarity of every map set in ``others``
    ([M, N, H, W] each, with its own row keys such as ``x``) to ``reference`` [M, N, H, W].

    The reference's features (ranks, HOG descriptors, ...) are computed once per method and
    metric (and not again for an entry of ``others`` that is ``reference`` itself). Methods whose
    reference maps are all NaN (not applicable) are left out. The metrics run on ``device`` (the
    run's; default: where the maps are), each method's maps moved there once.
    """
    rows = []
    for i, method in enumerate(methods):
        a = reference[i]
        if torch.isnan(a).all():
            continue
        a = a.to(device or a.device)
        compared = [(None if maps is reference else maps[i].to(a.device), extra) for maps, extra in others]
        for name in metrics:
            metric = similarity_metric(name)
            prepared = metric.prepare(a)
            for b, extra in compared:
                values = metric.against_itself(prepared) if b is None else metric.against(prepared, b)
                rows.append(summarize(values, seed=seed, n_boot=n_boot, method=method, metric=name, **keys, **extra))
    return rows


def randomization_rows(
    bundle: dict, metrics: list[str], *, seed: int, n_boot: int = 1000, device: torch.device | str | None = None,
    **keys: Any,
) -> list[dict]:
    """Rows along ``layer_step``: each step's maps against step 0's; x_label is the block name."""
    reference = bundle["maps"][0]
    steps = [(reference if s == 0 else bundle["maps"][s], {"x_name": "layer_step", "x": float(s), "x_label": block})
             for s, block in enumerate(bundle["steps"])]
    return similarity_rows(reference, steps, bundle["methods"], metrics, seed=seed, n_boot=n_boot, device=device,
                           **keys)


__all__ = [
    "data_randomization_maps",
    "fit_labels",
    "label_subset",
    "original_maps",
    "randomization_maps",
    "randomization_rows",
    "similarity_rows",
]
