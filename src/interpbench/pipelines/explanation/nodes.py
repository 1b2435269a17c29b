"""Nodes of the explanation stage."""

from __future__ import annotations

import torch

from interpbench.config import parse
from interpbench.explain import method_maps
from interpbench.models.training import predict
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.pipelines.inputs import slot_images, slot_model
from interpbench.pipelines.params import SanityParams, ig_slot_models, input_gradients_params
from interpbench.protocols.input_gradients import RANDOM, attribution_bundle, attribution_scores, model_label
from interpbench.protocols.sanity_checks import randomization_maps
from interpbench.runtime import cpu_threads, resolve_device


def explain_examples(state: dict, test: dict, params: dict, seed: int, device: str) -> dict:
    """Attribution maps of the first ``n_images`` test images for each configured method.

    The explained output is the logit of the predicted class. A method that cannot run on the
    model is recorded as not applicable (its maps are NaN) instead of failing the run.
    """
    p = classifier_params(params, "classifier")
    dev = resolve_device(device)
    model = build_for_data(p, test["x"], state).to(dev)
    x = test["x"][: p.explain.n_images]
    pred = predict(model, x, device=dev)
    methods = {m: p.explain.method_params.get(m, {}) for m in p.explain.methods}
    maps, skipped = method_maps(model, x.to(dev), pred.to(dev), methods, seed)
    status = [f"not applicable: {skipped[m]}" if m in skipped else "ok" for m in p.explain.methods]
    return {"x": x, "y": test["y"][: len(x)], "pred": pred, "maps": maps, "methods": p.explain.methods, "status": status}


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


# --- Study "input_gradients" (Shah, Jain, Netrapalli 2021) ------------------------------------


def compute_test_attributions(state: dict, test: dict, params: dict, seed: int, device: str, *, slot: str) -> dict:
    """Pixel importance ``sum_c |a_c|`` of every configured method on the slot's test images,
    explaining the true label (or the prediction, ``explanation.target``)."""
    p = input_gradients_params(params)
    e = p.explanation
    dev = resolve_device(device)
    model = build_for_data(ig_slot_models(p, slot), test["x"], state).to(dev)
    n = len(test["y"]) if e.n_images is None else e.n_images
    with cpu_threads(p.cpu_threads):
        return attribution_bundle(model, test["x"][:n], test["y"][:n], e.methods, target=e.target, seed=seed,
                                  batch_size=e.batch_size, device=dev)


def compute_diffroar_rankings(source: dict, params: dict, seed: int, device: str, *, ranking: str) -> dict:
    """Per-pixel scores ranking every train and test image of the DiffROAR data: the configured
    method's attributions of the ``standard`` or ``robust`` model (of the true label), or the
    model-free ``random`` ranking (seeded)."""
    p = input_gradients_params(params)
    dev = resolve_device(device)
    pair = ig_slot_models(p, source["slot"])
    if ranking == RANDOM:
        model, method, label, kwargs = None, RANDOM, "none", {}
    else:
        model = build_for_data(pair, source["train"]["x"], source["states"][ranking]).to(dev)
        method, kwargs = p.diffroar.method, p.diffroar.method_params
        label = model_label(pair.model.architecture, ranking, pair.attack.norm)
    with cpu_threads(p.cpu_threads):
        scores = {
            split: attribution_scores(model, source[split]["x"], source[split]["y"], method, kwargs, seed=seed + i,
                                      batch_size=p.explanation.batch_size, device=dev, desc=f"{label} {method} {split}")
            for i, split in enumerate(("train", "test"))
        }
    return {**scores, "method": method, "model": label, "dataset": source["dataset"]}
