"""Nodes of the explanation stage."""

from __future__ import annotations

import logging

import torch

from interpbench.errors import NotApplicableError
from interpbench.explain import attribute
from interpbench.explain.postprocess import aggregate_channels
from interpbench.models.training import predict
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.runtime import resolve_device

log = logging.getLogger(__name__)


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
    maps, status = [], []
    for method in p.explain.methods:
        kwargs = p.explain.method_params.get(method, {})
        try:
            m = attribute(method, model, x.to(dev), pred.to(dev), seed=seed, **kwargs)
            maps.append(aggregate_channels(m, "sum"))
            status.append("ok")
        except NotApplicableError as exc:
            log.warning("%s", exc)
            maps.append(torch.full(x.shape[:1] + x.shape[2:], float("nan")))
            status.append(f"not applicable: {exc}")
    return {"x": x, "y": test["y"][: len(x)], "pred": pred, "maps": torch.stack(maps), "methods": p.explain.methods, "status": status}
