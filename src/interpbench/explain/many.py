"""Several methods on one batch: the maps every study's explanation nodes need."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..errors import NotApplicableError
from .registry import attribute, shared_work

log = logging.getLogger(__name__)


def method_maps(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, methods: Mapping[str, dict[str, Any]], seed: int
) -> tuple[torch.Tensor, dict[str, str]]:
    """Maps ``[M, N, C, H, W]`` of every method, channels kept, and ``{method: reason}`` for the
    methods not applicable to ``model``, whose maps are NaN instead of failing the run.

    Channels are not aggregated here: the sanity checks' normalisations take ``|a|`` per channel
    before summing (PAIR ``VisualizeImageGrayscale``), SSIM and HOG use every channel
    (:mod:`interpbench.metrics.similarity`). A one-channel map of a C-channel input (GradCAM) is
    repeated over the C channels, as PAIR's ``GradCam.GetMask(three_dims=True)`` does; every
    normalisation gives the same map either way.

    The calls share their common work (:func:`interpbench.explain.registry.shared_work`): each map
    is the one ``attribute`` gives alone.
    """
    maps, skipped = [], {}
    with shared_work():  # e.g. SmoothGrad and VarGrad share their noisy gradients
        for name, params in methods.items():
            try:
                a = attribute(name, model, x, target, seed=seed, **params)
                maps.append(a.expand(-1, x.shape[1], -1, -1) if a.shape[1] == 1 else a)
            except NotApplicableError as exc:
                log.warning("%s", exc)
                skipped[name] = str(exc)
                maps.append(torch.full(x.shape, float("nan")))
    return torch.stack(maps), skipped
