"""Localisation of attributions against a known signal region.

``null_block_share`` (Shah, Jain, Netrapalli 2021, §4, BlockMNIST): BlockMNIST images stack a
class-determining *signal* block and a fixed, non-discriminative *null* block. For an attribution
map ``a`` and a fraction ``k``, let ``T_k`` be the ``m = max(1, round(k*H*W))`` pixels with the
largest ``|a|``; the score is the fraction of them that fall in the null block,

    null_block_share_k(a) = |T_k ∩ null block| / m.

A map that highlights the discriminative features gives ≈ 0; Shah et al. find ≈ 40-50% for input
gradients of standard models ("feature leakage") and far less for adversarially robust ones. Lower
is better; a uniformly random map gives the null block's area fraction (0.5 on BlockMNIST).

Ties at the k-th score (zero gradients, GradCAM plateaus) are counted fractionally: when ``g``
pixels score above the m-th largest score ``t`` and ``c`` pixels equal it, each tied pixel counts
``(m - g) / c``, so the score is

    (|{a > t} ∩ null| + (m - g) / c · |{a = t} ∩ null|) / m,

the exact mean over all orders of the tied pixels (what a uniformly random tie-break gives on
average), without the noise of one draw and without favouring any position: an all-zero map gives
exactly the null block's share of the pixels. (Taking ties by flat index, as a stable sort does,
would give 0 or 1 on BlockMNIST depending on which block is on top.)
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .roar import num_kept, pixel_scores


def null_block_share(maps, signal_mask, k: float) -> np.ndarray:
    """Per item, the fraction of the top-k pixels by |attribution| outside ``signal_mask``.

    ``maps``: ``[N, H, W]`` (or ``[N, C, H, W]``, abs-summed over C); ``signal_mask``: bool
    ``[N, H, W]``, True over the signal block; ``k`` in (0, 1]: fraction of the H*W pixels taken,
    rounded half up, at least one. Returns float64 ``[N]``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, float, np.floating, np.integer)) or not 0.0 < float(k) <= 1.0:
        raise ConfigError(f"k must be a fraction in (0, 1], got k={k!r}.")
    scores = pixel_scores(maps)
    signal = torch.as_tensor(signal_mask)
    if signal.dtype != torch.bool:
        raise ConfigError(f"signal_mask must be boolean, got dtype {signal.dtype}.")
    if signal.shape != scores.shape:
        raise ConfigError(f"signal_mask {tuple(signal.shape)} does not match maps {tuple(scores.shape)}.")
    n, h, w = scores.shape
    m = max(1, num_kept(float(k), h * w))
    flat = scores.reshape(n, h * w)
    null = ~signal.reshape(n, h * w).to(flat.device)
    t = flat.topk(m, dim=1).values[:, -1:]  # the m-th largest score
    above, tied = flat > t, flat == t
    share_of_ties = (m - above.sum(dim=1)).double() / tied.sum(dim=1).double()
    counted = (above & null).sum(dim=1).double() + share_of_ties * (tied & null).sum(dim=1).double()
    return counted.div(m).cpu().numpy()
