"""Attacks on the probe images of a unit explanation (Srivastava, Oikarinen, Weng 2023,
*Corrupting Neuron Explanations of Deep Visual Features*).

Random corruption (:func:`corrupt_images`): Gaussian noise of standard deviation ``std`` on [0, 1]
images (or uniform noise of the same std, or salt-and-pepper with a fraction ``std`` of pixels
set to 0 or 1), clipped to [0, 1] and quantised back to 8 bits (the paper re-saves the images).
The noise of image ``i`` is drawn from a generator seeded with ``(seed, i)``, so it does not depend
on batching.

Crafted attack (:func:`unit_concept_attack`): make unit u's activation map ``a`` (upsampled to the
segmentation size) cover the target concept instead of the source concept, by PGD descent
(:func:`interpbench.attacks.pgd.pgd_minimize`, L∞ ``eps``, no random start, last iterate) of

    overlap(a, M_src) − overlap(a, M_tgt),   overlap(a, M) = Σ(a · M) / ΣM  (0 where ΣM = 0),

on the probe images that contain the source or the target concept only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .pgd import pgd_minimize

NOISE_KINDS = ("gaussian", "uniform", "salt_pepper")


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round [0, 1] images to the 8-bit grid (as saving them as PNG would)."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def corrupt_images(x: torch.Tensor, index, *, kind: str, std: float, seed: int, quantized: bool = True) -> torch.Tensor:
    """``x`` [B, C, H, W] in [0, 1] with seeded noise per image (``index``: the images' probe-set positions)."""
    if kind not in NOISE_KINDS:
        raise ConfigError(f"noise kind must be one of {list(NOISE_KINDS)}, got {kind!r}.")
    out = torch.empty_like(x)
    for b, i in enumerate(torch.as_tensor(index).tolist()):
        rng = np.random.default_rng([int(seed), int(i)])
        shape = tuple(x[b].shape)
        if kind == "gaussian":
            noisy = x[b] + std * torch.from_numpy(rng.standard_normal(shape)).to(x.dtype)
        elif kind == "uniform":
            noisy = x[b] + std * np.sqrt(3.0) * torch.from_numpy(rng.uniform(-1, 1, shape)).to(x.dtype)
        else:
            u = torch.from_numpy(rng.random(shape[1:]))
            noisy = x[b].clone()
            noisy[:, u < std / 2] = 0.0
            noisy[:, (u >= std / 2) & (u < std)] = 1.0
        out[b] = noisy.clamp(0, 1)
    return quantize(out) if quantized else out


def overlap(a: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``Σ(a · M) / ΣM`` per image (``a``, ``mask`` [B, H, W]); 0 for an empty mask."""
    area = mask.sum(dim=(1, 2))
    return (a * mask).sum(dim=(1, 2)) / area.clamp_min(1.0)


def unit_concept_attack(model: nn.Module, layer: str, unit: int, x: torch.Tensor, source_mask: torch.Tensor,
                        target_mask: torch.Tensor, *, eps: float = 4 / 255, steps: int = 10,
                        step_size: float | None = None, batch_size: int = 64) -> torch.Tensor:
    """Srivastava et al.'s PGD on images ``x`` [B, C, H, W] (in [0, 1]) with concept masks [B, sh, sw]
    for unit ``unit`` of ``layer``; step ``2 · eps / steps`` by default. Returns ``x_adv``."""
    module = model.get_submodule(layer)
    step = 2 * eps / steps if step_size is None else step_size
    seg = tuple(source_mask.shape[1:])
    outs = []
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        src, tgt = source_mask[sl].to(x.dtype), target_mask[sl].to(x.dtype)
        captured = {}

        def loss_fn(xa, src=src, tgt=tgt):
            a = captured_forward(xa)[:, unit : unit + 1]
            up = F.interpolate(a, size=seg, mode="bilinear", align_corners=False)[:, 0]
            return overlap(up, src) - overlap(up, tgt)

        def captured_forward(xa):
            hook = module.register_forward_hook(lambda m, i, o: captured.__setitem__("a", o))
            try:
                model(xa)
            finally:
                hook.remove()
            return captured["a"]

        outs.append(pgd_minimize(model, loss_fn, x[sl], eps=eps, norm="linf", steps=steps, step_size=step,
                                 random_start=False))
    return torch.cat(outs) if outs else x.clone()
