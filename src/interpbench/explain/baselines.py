"""Model-free reference maps that an attribution method should beat (Casper et al. 2023; Adebayo et
al. 2018 show that some saliency maps are no better than an edge detector).

- blank: all zeros.
- random: U(0, 1) noise from a generator seeded by ``attribute``'s ``seed``.
- sobel_edges: the Sobel edge magnitude of each channel of the input,
  ``sqrt((S_x * I)^2 + (S_y * I)^2) / sqrt(2)`` (``skimage.filters.sobel``, reflected borders).
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.filters import sobel
from torch import Tensor, nn

from .registry import register_method


@register_method("blank", kind="baseline", uses_captum=False, rng_free=True)
def blank(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """All-zero map."""
    return torch.zeros_like(x)


@register_method("random", kind="baseline", stochastic=True, uses_captum=False)
def random(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Uniform noise in [0, 1), seeded."""
    return torch.rand(x.shape, dtype=x.dtype, device="cpu").to(x.device)


@register_method("sobel_edges", kind="baseline", uses_captum=False, rng_free=True)
def sobel_edges(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Sobel edge magnitude of each input channel."""
    images = x.detach().cpu().numpy()
    edges = np.stack([np.stack([sobel(channel) for channel in image]) for image in images])
    return torch.from_numpy(edges.astype(np.float32)).to(x.device)
