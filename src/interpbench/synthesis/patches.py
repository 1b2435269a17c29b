"""Patch methods: ``adversarial_patch`` (optimised) and ``snafue`` (searched among natural patches).

Both paste a patch ``P`` onto clean images ``x`` (those of the trojan's source class when
``context.source`` is set) with :func:`~interpbench.synthesis.transforms.paste`: a random place,
a side uniform in [``size_min``, ``size_max``] x the image side, a rotation up to ``degrees``, and
score ``CE(model(paste(P, x)), target)`` (lower: the patch drives the image to the target).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .registry import SynthesisContext, SynthesisResult, register_synthesis
from .transforms import pair, paste

log = logging.getLogger(__name__)


def check_size(size_min: float, size_max: float) -> tuple[float, float]:
    if not 0 < size_min <= size_max <= 1:
        raise ConfigError(f"size_min, size_max: expected 0 < size_min <= size_max <= 1 (fractions of the image side), "
                          f"got {size_min}, {size_max}.")
    return size_min, size_max


def patch_side(context: SynthesisContext, size_max: float, pixels: int | None) -> int:
    """The patch's resolution: ``pixels``, else ``size_max`` x the clean images' side."""
    if pixels is not None:
        if pixels < 2:
            raise ConfigError(f"patch_pixels: expected at least 2, got {pixels}.")
        return pixels
    return max(2, round(size_max * context.clean_images.shape[-1]))


def pasted_loss(model: nn.Module, patches: Tensor, images: Tensor, target: int, per_patch: int,
                size: tuple[float, float], degrees: float) -> Tensor:
    """Per-patch mean CE toward ``target`` over ``per_patch`` random clean images and placements, (P,)."""
    p, x = pair(patches, images, per_patch)
    logits = model(paste(p, x, size=size, degrees=degrees))
    ce = F.cross_entropy(logits, torch.full((len(x),), target, device=x.device), reduction="none")
    return ce.view(len(patches), per_patch).mean(1)


@register_synthesis("adversarial_patch", needs=("clean_images",))
def adversarial_patch(model, target, n_images, context, *, steps: int = 48, lr: float = 0.1, per_patch: int = 4,
                      size_min: float = 0.3, size_max: float = 0.4, degrees: float = 10.0,
                      patch_pixels: int | None = None) -> SynthesisResult:
    """Universal adversarial patch (Brown et al. 2017, *Adversarial Patch*), one per random restart.

    ``P = sigmoid(theta)`` minimises ``E_{x, place, side, angle} CE(model(paste(P, x)), target)``
    (the expectation over transformations) with Adam; ``n_images`` patches from independent
    uniform random initialisations are optimised as one batch, each pasted on ``per_patch`` clean
    images per step. Returns the ``n_images`` patches (``patch_pixels`` square, default
    ``size_max`` x the image side).
    """
    size = check_size(size_min, size_max)
    k = patch_side(context, size_max, patch_pixels)
    dev = context.clean_images.device
    theta = torch.logit(torch.rand(n_images, 3, k, k, device=dev).clamp(0.02, 0.98)).requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=lr)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            loss = pasted_loss(model, torch.sigmoid(theta), context.clean_images, target, per_patch, size, degrees).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    log.debug("adversarial patch: CE %.3f -> %.3f in %d steps", losses[0], losses[-1], steps)
    return SynthesisResult(images=torch.sigmoid(theta).detach(), losses=losses)


def cut_patches(images: Tensor, n: int, side: int) -> Tensor:
    """``n`` square crops of ``side`` pixels at random places of random ``images``."""
    h, w = images.shape[-2:]
    side = min(side, h, w)
    idx = torch.randint(len(images), (n,))
    top = torch.randint(h - side + 1, (n,))
    left = torch.randint(w - side + 1, (n,))
    return torch.stack([images[i, :, t:t + side, s:s + side] for i, t, s in zip(idx.tolist(), top.tolist(), left.tolist())])


@register_synthesis("snafue", needs=("clean_images",))
def snafue(model, target, n_images, context, *, candidates: int = 256, per_patch: int = 8, batch_size: int = 64,
           size_min: float = 0.3, size_max: float = 0.4, degrees: float = 0.0,
           patch_pixels: int | None = None) -> SynthesisResult:
    """SNAFUE's search for natural adversarial patches (Casper et al. 2023, *Red Teaming Deep Neural
    Networks with Feature Synthesis Tools*), direct variant.

    Every candidate natural patch ``B_j`` (``context.patch_bank``; else ``candidates`` crops of
    ``patch_pixels`` side cut at random from the clean images) is pasted on the same ``per_patch``
    clean images at the same places (one seeded draw shared by all candidates, so the comparison
    is fair), scored by ``mean CE(model(paste(B_j, x)), target)``, and the ``n_images`` lowest are
    returned, best first. This is the direct search over the bank; the full SNAFUE first
    synthesises adversarial patches and retrieves their nearest natural patches in the model's
    latent space (the embedding step is not implemented). ``losses``: after each batch of
    candidates, the mean score of the best ``n_images`` found so far (it can only fall).
    """
    size = check_size(size_min, size_max)
    x = context.clean_images
    if context.patch_bank is not None:
        bank = context.patch_bank
    else:
        if candidates < 1:
            raise ConfigError(f"candidates: expected a positive number, got {candidates}.")
        bank = cut_patches(x, candidates, patch_side(context, size_max, patch_pixels))
    if len(bank) < n_images:
        raise ConfigError(f"snafue: the patch bank holds {len(bank)} patches, fewer than n_images={n_images}.")
    if batch_size < 1 or per_patch < 1:
        raise ConfigError(f"batch_size, per_patch: expected positive integers, got {batch_size}, {per_patch}.")
    dev = x.device
    idx = torch.randint(len(x), (per_patch,), device=dev)
    sides = size[0] + (size[1] - size[0]) * torch.rand(per_patch, device=dev)
    centers = (2 * torch.rand(per_patch, 2, device=dev) - 1) * (1 - sides[:, None])
    chunk = max(1, batch_size // per_patch)
    labels = torch.full((chunk * per_patch,), target, device=dev)
    scores, losses = [], []
    with torch.no_grad():
        for start in range(0, len(bank), chunk):
            b = bank[start:start + chunk]
            m = len(b) * per_patch
            out = model(paste(b.repeat_interleave(per_patch, 0), x[idx].repeat(len(b), 1, 1, 1),
                              centers=centers.repeat(len(b), 1), sides=sides.repeat(len(b)), degrees=degrees))
            ce = F.cross_entropy(out, labels[:m], reduction="none").view(len(b), per_patch).mean(1)
            scores.append(ce)
            best = torch.cat(scores).sort().values[:n_images]
            losses.append(best.mean().item())
    order = torch.cat(scores).argsort()[:n_images]
    log.debug("snafue: %d candidates, best CE %.3f", len(bank), losses[-1])
    return SynthesisResult(images=bank[order], losses=losses, extras={"scores": torch.cat(scores)[order]})
