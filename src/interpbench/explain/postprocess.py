"""Turning attribution maps into comparable images: channel aggregation and per-image normalisation.

Both accept torch tensors or NumPy arrays and return the same kind.

``aggregate_channels(maps [N, C, H, W], how) -> [N, H, W]``:
  sum: ``sum_c m_c``; abs_sum: ``sum_c |m_c|``; max_abs: ``max_c |m_c|``.

``normalize(maps [N, H, W], how)``, per image:
  abs: ``clip((|m| - min|m|) / (p99(|m|) - min|m|), 0, 1)`` (Adebayo et al. 2018's visualisation:
  absolute value, capped at the 99th percentile);
  signed: ``clip(m / p99(|m|), -1, 1)`` (a diverging map; sign kept);
  minmax: ``(m - min m) / (max m - min m)``.
  A map with a zero denominator (constant, or p99 = min) becomes zeros.
Percentiles use linear interpolation (``numpy.percentile`` / ``torch.quantile`` defaults).
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch

from ..errors import ConfigError

Array = TypeVar("Array", torch.Tensor, np.ndarray)

AGGREGATIONS = ("sum", "abs_sum", "max_abs")
NORMALIZATIONS = ("abs", "signed", "minmax")
PERCENTILE = 99.0


def aggregate_channels(maps: Array, how: Literal["sum", "abs_sum", "max_abs"] = "sum") -> Array:
    """Collapse the channel axis of ``[N, C, H, W]`` maps to ``[N, H, W]``."""
    if how not in AGGREGATIONS:
        raise ConfigError(f"aggregate_channels: how must be one of {list(AGGREGATIONS)}, got {how!r}.")
    if maps.ndim != 4:
        raise ConfigError(f"aggregate_channels: expected maps [N, C, H, W], got shape {tuple(maps.shape)}.")
    t = _as_tensor(maps)
    if how == "sum":
        out = t.sum(dim=1)
    elif how == "abs_sum":
        out = t.abs().sum(dim=1)
    else:
        out = t.abs().amax(dim=1)
    return _like(out, maps)


def normalize(maps: Array, how: Literal["abs", "signed", "minmax"] = "abs") -> Array:
    """Normalise each ``[H, W]`` map of ``[N, H, W]`` (see the module docstring for the formulas)."""
    if how not in NORMALIZATIONS:
        raise ConfigError(f"normalize: how must be one of {list(NORMALIZATIONS)}, got {how!r}.")
    if maps.ndim != 3:
        raise ConfigError(f"normalize: expected maps [N, H, W], got shape {tuple(maps.shape)}.")
    t = _as_tensor(maps)
    t = t.double() if t.dtype == torch.float64 else t.float()
    flat = t.flatten(1)
    if how == "abs":
        a = flat.abs()
        low = a.amin(dim=1, keepdim=True)
        out = _safe_div(a - low, _p99(a) - low).clamp(0, 1)
    elif how == "signed":
        out = _safe_div(flat, _p99(flat.abs())).clamp(-1, 1)
    else:
        low = flat.amin(dim=1, keepdim=True)
        out = _safe_div(flat - low, flat.amax(dim=1, keepdim=True) - low)
    return _like(out.view_as(t), maps)


def _p99(flat: torch.Tensor) -> torch.Tensor:
    if flat.shape[1] == 0:
        return flat.new_zeros(flat.shape[0], 1)
    return torch.quantile(flat, PERCENTILE / 100.0, dim=1, keepdim=True)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def _as_tensor(maps: Array) -> torch.Tensor:
    if isinstance(maps, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(maps))
    if isinstance(maps, torch.Tensor):
        return maps.detach()
    raise ConfigError(f"expected a torch tensor or a NumPy array, got {type(maps).__name__}.")


def _like(out: torch.Tensor, original: Array) -> Array:
    if isinstance(original, np.ndarray):
        return out.cpu().numpy()
    return out
