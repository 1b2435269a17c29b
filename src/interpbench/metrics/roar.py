"""DiffROAR: retrain on top-k vs bottom-k unmasked coordinates (Shah, Jain, Netrapalli 2021, §3).

After ROAR (Hooker et al. 2019, *A Benchmark for Interpretability Methods in Deep Neural
Networks*): for an attribution scheme A and a fraction k, every image of the train and test sets
keeps only the k·H·W pixels that A ranks highest (``keep="top"``) or lowest (``keep="bottom"``) by
|attribution|; all other pixels are replaced by ``fill`` (the dataset mean). A fresh model is trained
and tested on each masked dataset, and Shah et al. (eq. 1) define

    DiffROAR(k) = acc(top-k unmasked, retrained) - acc(bottom-k unmasked, retrained).

DiffROAR > 0 means the attributions rank discriminative coordinates above non-discriminative
ones (assumption (A) holds); ≈ 0 is what a random attribution gives; < 0 means the ranking is
inverted. Higher is better.

A "coordinate" here is a pixel: for multi-channel attributions the score of a pixel is the sum of
|attribution| over channels, and a kept pixel keeps all its channels. Ranking is by descending
score with ties in a seeded random order (``seed``, default 0: deterministic): a stable sort of the
scores taken in a random permutation of the pixels. Breaking ties by flat index instead would send
every tie (zero gradients, GradCAM plateaus) to the top rows of the image, which on BlockMNIST is
one of the two blocks. Maps without ties rank the same whatever the seed; top-k and bottom-(HW-k)
are exact complements for one seed. The number kept is ``round(k * H * W)``, rounded half up.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError

KEEP = ("top", "bottom")


def num_kept(k: float, n_pixels: int) -> int:
    """``round(k * n_pixels)`` rounded half up (not Python's banker's rounding)."""
    return int(math.floor(k * n_pixels + 0.5))


def _check_fraction(k, name: str = "k") -> float:
    if isinstance(k, bool) or not isinstance(k, (int, float, np.floating, np.integer)) or not 0.0 <= float(k) <= 1.0:
        raise ConfigError(f"{name} must be a fraction in [0, 1], got {name}={k!r}.")
    return float(k)


def pixel_scores(attributions) -> torch.Tensor:
    """Per-pixel importance ``|a|`` as ``[N, H, W]`` float; ``[N, C, H, W]`` is summed over channels."""
    a = torch.as_tensor(attributions).detach()
    if a.dim() == 4:
        a = a.abs().sum(dim=1)
    elif a.dim() == 3:
        a = a.abs()
    else:
        raise ConfigError(f"attributions must be [N, H, W] or [N, C, H, W], got shape {tuple(a.shape)}.")
    a = a.to(torch.float64 if a.dtype == torch.float64 else torch.float32)
    if torch.isnan(a).any():
        raise ConfigError("attributions contain NaN; cannot rank pixels.")
    return a


def pixel_ranking(attributions, *, seed: int = 0) -> torch.Tensor:
    """Flat pixel indices ``[N, H*W]`` from most to least important; equal scores in a random order
    drawn from ``seed`` (a ``torch.Generator`` on the CPU; the order of image i depends on ``seed``
    and ``i``)."""
    scores = pixel_scores(attributions).flatten(1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got seed={seed!r}.")
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.rand(scores.shape, generator=gen).argsort(dim=1).to(scores.device)  # a random permutation per row
    order = torch.sort(scores.gather(1, perm), dim=1, descending=True, stable=True).indices
    return perm.gather(1, order)


def keep_mask(attributions, k: float, keep: str = "top", *, seed: int = 0) -> torch.Tensor:
    """Boolean ``[N, H, W]``: True on exactly ``round(k*H*W)`` pixels per image (its top- or bottom-k;
    ties in the seeded random order of :func:`pixel_ranking`)."""
    k = _check_fraction(k)
    if keep not in KEEP:
        raise ConfigError(f"keep must be one of {list(KEEP)}, got keep={keep!r}.")
    scores = pixel_scores(attributions)
    n, h, w = scores.shape
    order = pixel_ranking(scores, seed=seed)
    m = num_kept(k, h * w)
    chosen = order[:, :m] if keep == "top" else order[:, h * w - m :]
    mask = torch.zeros(n, h * w, dtype=torch.bool, device=order.device)
    mask.scatter_(1, chosen, True)
    return mask.view(n, h, w)


def _fill_tensor(fill, x: torch.Tensor) -> torch.Tensor:
    c, h, w = x.shape[1:]
    if fill is None:
        if len(x) == 0:
            raise ConfigError("fill=None takes the per-channel mean of x, but x is empty.")
        return x.mean(dim=(0, 2, 3)).view(1, c, 1, 1)
    f = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
    if f.dim() == 0:
        return f.view(1, 1, 1, 1)
    if f.shape == (c,):
        return f.view(1, c, 1, 1)
    if f.shape == (c, h, w):
        return f.unsqueeze(0)
    raise ConfigError(
        f"fill must be a number, a per-channel tensor [{c}] or a mean image [{c}, {h}, {w}], "
        f"got shape {tuple(f.shape)}."
    )


def mask_by_attribution(
    x: torch.Tensor,
    attributions,
    k: float,
    keep: str = "top",
    fill: float | torch.Tensor | None = None,
    *,
    seed: int = 0,
) -> torch.Tensor:
    """Keep the top-k (or bottom-k) pixels of each image by |attribution|; replace the rest with ``fill``.

    ``x``: ``[N, C, H, W]``; ``attributions``: ``[N, H, W]`` or ``[N, C, H, W]`` (abs-summed over C).
    ``fill``: a number, a per-channel ``[C]`` or a mean image ``[C, H, W]``; ``None`` uses the
    per-channel mean of ``x`` itself (pass the training-set mean when masking batch by batch).
    Exactly ``round(k*H*W)`` pixels (all channels) of each image are left unchanged; ties are
    broken in the seeded random order of :func:`pixel_ranking` (``seed``).
    """
    x = torch.as_tensor(x)
    if x.dim() != 4:
        raise ConfigError(f"x must be [N, C, H, W], got shape {tuple(x.shape)}.")
    scores = pixel_scores(attributions)
    if scores.shape != (x.shape[0], *x.shape[2:]):
        raise ConfigError(
            f"attributions {tuple(torch.as_tensor(attributions).shape)} do not match images {tuple(x.shape)}."
        )
    mask = keep_mask(scores, k, keep, seed=seed).to(x.device).unsqueeze(1)
    return torch.where(mask, x, _fill_tensor(fill, x).expand_as(x))


def diffroar(acc_top, acc_bottom):
    """DiffROAR(k) = acc(top-k unmasked, retrained) - acc(bottom-k unmasked, retrained) (Shah et al. eq. 1).

    Scalars or arrays (one value per k) broadcast; higher is better, ≈ 0 for random attributions.
    """
    diff = np.asarray(acc_top, dtype=np.float64) - np.asarray(acc_bottom, dtype=np.float64)
    return float(diff) if diff.ndim == 0 else diff


def random_attribution(shape, seed: int = 0) -> torch.Tensor:
    """Uniform random attributions (float32 in [0, 1)): the random-ranking baseline of ROAR / DiffROAR."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.rand(tuple(shape), generator=gen)
