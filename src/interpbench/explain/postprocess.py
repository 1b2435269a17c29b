"""Turning attribution maps into comparable images: channel aggregation and per-image normalisation.

Both accept torch tensors or NumPy arrays and return the same kind.

``aggregate_channels(maps [N, C, H, W], how) -> [N, H, W]``:
  sum: ``sum_c m_c``; abs_sum: ``sum_c |m_c|``; max_abs: ``max_c |m_c|``.

``normalize(maps, how)``, per image, on ``[N, C, H, W]`` maps (``[N, H, W]`` is one channel).
``abs`` and ``signed`` are the PAIR saliency library's visualisations (``saliency.visualization``,
used by Adebayo et al. 2018's code, ``notebooks/*_randomization.ipynb``: ``abs_grayscale_norm`` and
``diverging_norm``), with ``p99`` the 99th percentile over the H*W pixels:

  abs (``VisualizeImageGrayscale``) -> ``[N, H, W]``:
      ``g = sum_c |m_c|``;  ``clip((g - min g) / (p99(g) - min g), 0, 1)``.
  signed (``VisualizeImageDiverging``) -> ``[N, H, W]``:
      ``s = sum_c m_c``;  ``span = |p99(s)|``;  ``clip((s + span) / (2 span), -1, 1)``
      (so 0 -> 0.5, +span -> 1, -span -> 0; values below -span go negative, down to -1).
  minmax (the authors' ``normalize_image``, input of SSIM and HOG) -> same shape as the input:
      ``(m - min m) / (max m - min m)`` with min and max over all channels and pixels.

The absolute value is taken per channel *before* the channels are summed: ``abs`` of a 3-channel
map is not ``abs`` of its channel sum, so callers must pass the raw multi-channel maps.

Zero denominators (no division by zero, no NaN): ``abs`` and ``signed`` take their limit as the
denominator goes to 0+, i.e. ``abs`` gives 0 at the minimum and 1 above it (a constant map is all
0); ``signed`` (``span = 0``) gives 1 where ``s > 0``, -1 where ``s < 0`` and 0.5 where ``s = 0`` (an
all-zero map is all 0.5). ``minmax`` maps a constant map to zeros.
Percentiles use linear interpolation (``numpy.percentile``'s default; ``torch.quantile`` is the same).
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
    """Normalise each map of ``[N, C, H, W]`` or ``[N, H, W]`` (formulas in the module docstring).

    ``abs`` and ``signed`` return ``[N, H, W]``; ``minmax`` returns the input's shape.
    """
    if how not in NORMALIZATIONS:
        raise ConfigError(f"normalize: how must be one of {list(NORMALIZATIONS)}, got {how!r}.")
    if maps.ndim not in (3, 4):
        raise ConfigError(f"normalize: expected maps [N, C, H, W] or [N, H, W], got shape {tuple(maps.shape)}.")
    t = _as_tensor(maps)
    t = t.double() if t.dtype == torch.float64 else t.float()
    if how == "minmax":
        flat = t.flatten(1)
        low = flat.amin(dim=1, keepdim=True)
        den = flat.amax(dim=1, keepdim=True) - low
        out = torch.where(den > 0, (flat - low) / torch.where(den > 0, den, torch.ones_like(den)), 0.0)
        return _like(out.view_as(t), maps)
    channels = t if t.ndim == 4 else t.unsqueeze(1)
    if how == "abs":  # VisualizeImageGrayscale
        flat = channels.abs().sum(dim=1).flatten(1)
        vmin = flat.amin(dim=1, keepdim=True)
        out = _clipped_ratio(flat - vmin, _p99(flat) - vmin, 0.0, 1.0, at_zero=0.0)
    else:  # VisualizeImageDiverging
        flat = channels.sum(dim=1).flatten(1)
        span = _p99(flat).abs()
        out = _clipped_ratio(flat + span, 2 * span, -1.0, 1.0, at_zero=0.5)
    return _like(out.view(channels.shape[0], *channels.shape[2:]), maps)


def _clipped_ratio(num: torch.Tensor, den: torch.Tensor, low: float, high: float, *, at_zero: float) -> torch.Tensor:
    """``clip(num / den, low, high)`` per row; where ``den == 0`` its limit as ``den -> 0+``: ``high``
    for ``num > 0``, ``low`` for ``num < 0`` and ``at_zero`` for ``num == 0`` (the 0/0 pixels, which
    sit at ``den / 2`` for the diverging map and at 0 for the grayscale one)."""
    ok = den > 0
    ratio = (num / torch.where(ok, den, torch.ones_like(den))).clamp(low, high)
    limit = torch.where(num > 0, high, torch.where(num < 0, low, at_zero)).to(ratio.dtype)
    return torch.where(ok, ratio, limit)


def _p99(flat: torch.Tensor) -> torch.Tensor:
    """``np.percentile(row, 99)`` (linear interpolation) of each row of ``[N, P]``, as ``[N, 1]``."""
    if flat.shape[1] == 0:
        return flat.new_zeros(flat.shape[0], 1)
    return torch.quantile(flat, PERCENTILE / 100.0, dim=1, keepdim=True)


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
