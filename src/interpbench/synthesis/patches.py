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
from .registry import SynthesisContext, SynthesisResult, positive, register_synthesis
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


@register_synthesis("adversarial_patch", output="patch", needs=("clean_images",))
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
    positive(steps=steps, lr=lr, per_patch=per_patch)
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


def _embedding_layer(model: nn.Module) -> nn.Module | None:
    """The model's last ``nn.Linear`` (its input is the embedding SNAFUE compares patches in)."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linear[-1] if linear else None


@register_synthesis("snafue", output="patch", needs=("clean_images",))
def snafue(model, target, n_images, context, *, candidates: int = 256, per_patch: int = 8, batch_size: int = 64,
           size_min: float = 0.3, size_max: float = 0.4, degrees: float = 0.0, patch_pixels: int | None = None,
           adversarial: int = 0, neighbours: int = 8, adversarial_steps: int = 48) -> SynthesisResult:
    """SNAFUE: natural patches that flip clean images to the target (Casper et al. 2023, *Red Teaming
    Deep Neural Networks with Feature Synthesis Tools*).

    Every candidate natural patch ``B_j`` (``context.patch_bank``; else ``candidates`` crops of
    ``patch_pixels`` side cut at random from the clean images, of the source class when
    ``context.source`` is set) is pasted on the same ``per_patch`` clean images at the same places
    (one seeded draw shared by all candidates, so the comparison is fair) and scored by
    ``mean CE(model(paste(B_j, x)), target)``; the ``n_images`` lowest are returned, best first
    (``extras["scores"]``).

    - ``adversarial = 0`` (default): the direct search over the whole bank. ``losses``: after
      each batch of candidates, the mean score of the best ``n_images`` found so far (it can
      only fall).
    - ``adversarial = k > 0``: SNAFUE's embedding step. ``k`` adversarial patches are synthesised
      first (:func:`adversarial_patch`, ``adversarial_steps`` steps); every patch, adversarial or
      natural, is embedded as the model's latent representation (the input of its last linear
      layer) averaged over the same pasted images; the ``neighbours`` natural patches nearest to
      each adversarial one (cosine similarity) are the candidates, ranked by the score above.
      ``losses``: the adversarial patches' optimisation.
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
    if batch_size < 1 or per_patch < 1 or adversarial < 0 or neighbours < 1:
        raise ConfigError(f"batch_size, per_patch, neighbours: expected positive integers, adversarial >= 0; got "
                          f"{batch_size}, {per_patch}, {neighbours}, {adversarial}.")
    if adversarial and adversarial * neighbours < n_images:
        raise ConfigError(f"snafue: adversarial x neighbours = {adversarial * neighbours} candidates, fewer than "
                          f"n_images={n_images}.")
    dev = x.device
    idx = torch.randint(len(x), (per_patch,), device=dev)
    sides = size[0] + (size[1] - size[0]) * torch.rand(per_patch, device=dev)
    centers = (2 * torch.rand(per_patch, 2, device=dev) - 1) * (1 - sides[:, None])
    chunk = max(1, batch_size // per_patch)
    layer = _embedding_layer(model) if adversarial else None
    store: list[Tensor] = []
    handle = layer.register_forward_hook(lambda m, i, o: store.__setitem__(slice(None), [i[0]])) if layer else None

    def score(patches: Tensor) -> tuple[Tensor, list[float], Tensor | None]:
        """Mean CE per patch, the running best-n_images mean, embeddings (with ``adversarial``)."""
        ces, running, embeds = [], [], []
        for start in range(0, len(patches), chunk):
            b = patches[start:start + chunk]
            out = model(paste(b.repeat_interleave(per_patch, 0), x[idx].repeat(len(b), 1, 1, 1),
                              centers=centers.repeat(len(b), 1), sides=sides.repeat(len(b)), degrees=degrees))
            labels = torch.full((len(out),), target, device=dev)
            ces.append(F.cross_entropy(out, labels, reduction="none").view(len(b), per_patch).mean(1))
            running.append(torch.cat(ces).sort().values[:n_images].mean().item())
            if adversarial:
                feats = store[0] if layer is not None else out
                embeds.append(feats.flatten(1).view(len(b), per_patch, -1).mean(1))
        return torch.cat(ces), running, torch.cat(embeds) if embeds else None

    try:
        if not adversarial:
            with torch.no_grad():
                scores, losses, _ = score(bank)
            order = scores.argsort()[:n_images]
        else:
            adv = adversarial_patch(model, target, adversarial, context, steps=adversarial_steps, size_min=size_min,
                                    size_max=size_max, patch_pixels=bank.shape[-1])
            losses = adv.losses
            with torch.no_grad():
                scores, _, e_bank = score(bank)
                _, _, e_adv = score(adv.images)
                sim = F.normalize(e_adv, dim=1) @ F.normalize(e_bank, dim=1).T
                near = sim.topk(min(neighbours, len(bank)), dim=1).indices.flatten().unique()
            if len(near) < n_images:  # the adversarial patches share neighbours: fill with the next nearest
                extra = [j for j in sim.max(0).values.argsort(descending=True).tolist() if j not in set(near.tolist())]
                near = torch.cat([near, torch.tensor(extra[: n_images - len(near)], device=near.device)])
            order = near[scores[near].argsort()[:n_images]]
    finally:
        if handle is not None:
            handle.remove()
    log.debug("snafue: %d candidates, best CE %.3f", len(bank), float(scores[order[0]]))
    return SynthesisResult(images=bank[order], losses=losses, extras={"scores": scores[order]})
