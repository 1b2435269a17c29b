"""Several methods on one batch: the maps every study's explanation nodes need."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..errors import NotApplicableError
from .postprocess import aggregate_channels
from .registry import attribute

log = logging.getLogger(__name__)


def method_maps(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, methods: Mapping[str, dict[str, Any]], seed: int
) -> tuple[torch.Tensor, dict[str, str]]:
    """Maps ``[M, N, H, W]`` (channels summed) of every method, and ``{method: reason}`` for the
    methods not applicable to ``model``, whose maps are NaN instead of failing the run."""
    maps, skipped = [], {}
    for name, params in methods.items():
        try:
            maps.append(aggregate_channels(attribute(name, model, x, target, seed=seed, **params), "sum"))
        except NotApplicableError as exc:
            log.warning("%s", exc)
            skipped[name] = str(exc)
            maps.append(torch.full((x.shape[0], *x.shape[2:]), float("nan")))
    return torch.stack(maps), skipped
