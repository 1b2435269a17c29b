"""Differentiable image transforms shared by the synthesis methods (torch ``affine_grid`` /
``grid_sample``; no lucent, no kornia).

- :func:`random_affine`: lucid's transformation robustness (Olah et al. 2017, *Feature
  Visualization*: pad, jitter, random scale, random rotation, jitter) folded into one random
  affine map per image; pixels brought in from outside the image take the pad value (lucid pads
  with 0.5 grey).
- :func:`paste`: a patch pasted onto an image at a random place, side and angle (Brown et al.
  2017, *Adversarial Patch*: the expectation over transformations): ``x' = (1 - a) x + a P(T)``
  with ``a`` the transformed patch's footprint.
- :func:`total_variation`: mean absolute difference of neighbouring pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _rotation(angle: Tensor) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (N, 2, 2)


def random_affine(
    x: Tensor,
    *,
    jitter: float = 2.0,
    scale: tuple[float, float] = (0.9, 1.1),
    degrees: float = 10.0,
    pad_value: float = 0.5,
) -> Tensor:
    """``x`` (N, C, H, W), each image jittered by up to ``jitter`` pixels, scaled by a factor in
    ``scale`` and rotated by up to ``degrees`` (uniform draws from torch's seeded RNG)."""
    n, _, h, w = x.shape
    dev = x.device
    u = torch.rand(n, 4, device=dev)
    factor = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    angle = math.radians(degrees) * (2 * u[:, 1] - 1)
    shift = torch.stack([(2 * u[:, 2] - 1) * 2 * jitter / w, (2 * u[:, 3] - 1) * 2 * jitter / h], -1)
    a = _rotation(angle) / factor[:, None, None]
    return affine_resample(x, torch.cat([a, shift[:, :, None]], -1), pad_value=pad_value)


def affine_resample(x: Tensor, theta: Tensor, *, size: tuple[int, int] | None = None, pad_value: float = 0.5) -> Tensor:
    """``x`` (N, C, H, W) resampled bilinearly through the affine maps ``theta`` (N, 2, 3) (output
    -> input coordinates, as ``affine_grid``) onto a ``size`` grid (default: x's); pixels from
    outside the image take ``pad_value``."""
    grid = F.affine_grid(theta, [len(x), x.shape[1], *(size or x.shape[-2:])], align_corners=False)
    return F.grid_sample(x - pad_value, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + pad_value


def paste(
    patches: Tensor,
    images: Tensor,
    *,
    size: tuple[float, float] = (0.3, 0.4),
    degrees: float = 0.0,
    centers: Tensor | None = None,
    sides: Tensor | None = None,
) -> Tensor:
    """Paste ``patches`` (N, 3, p, q) onto ``images`` (N, 3, H, W) pairwise, differentiably in both.

    Each patch becomes a square of side ``s x H`` (``s`` uniform in ``size``, or ``sides``) at a
    uniform place where it fits whole (or ``centers``, (N, 2) in [-1, 1] image coordinates),
    rotated by up to ``degrees``.
    """
    n, _, h, w = images.shape
    dev = images.device
    if sides is None:
        sides = size[0] + (size[1] - size[0]) * torch.rand(n, device=dev)
    if centers is None:
        centers = (2 * torch.rand(n, 2, device=dev) - 1) * (1 - sides[:, None])
    angle = math.radians(degrees) * (2 * torch.rand(n, device=dev) - 1) if degrees else torch.zeros(n, device=dev)
    a = _rotation(angle) / sides[:, None, None]
    b = -(a @ centers[:, :, None])
    grid = F.affine_grid(torch.cat([a, b], -1), [n, 4, h, w], align_corners=False)
    rgba = torch.cat([patches, torch.ones_like(patches[:, :1])], 1)
    out = F.grid_sample(rgba, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    alpha = out[:, 3:]
    return images * (1 - alpha) + out[:, :3]


def pair(patches: Tensor, images: Tensor, per_patch: int) -> tuple[Tensor, Tensor]:
    """Every patch repeated ``per_patch`` times, each copy with a random clean image (drawn with
    replacement): (P x per_patch, 3, p, q) patches and (P x per_patch, 3, H, W) images."""
    idx = torch.randint(len(images), (len(patches) * per_patch,), device=images.device)
    return patches.repeat_interleave(per_patch, 0), images[idx]


def total_variation(x: Tensor) -> Tensor:
    """Per-image mean absolute difference between vertical and horizontal neighbours, shape (N,)."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return dh + dw
