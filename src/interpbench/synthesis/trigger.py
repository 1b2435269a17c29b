"""Trigger reverse-engineering: ``tabor`` (Guo et al. 2019, *TABOR: A Highly Accurate Approach to
Inspecting and Restoring Trojan Backdoors in AI Systems*; built on Neural Cleanse, Wang et al.
2019, *Neural Cleanse: Identifying and Mitigating Backdoor Attacks in Neural Networks*).

A mask ``m = sigmoid(mu)`` (N, 1, H, W) and a pattern ``p = sigmoid(rho)`` (N, 3, H, W) stamp a
trigger onto clean images, ``x' = (1 - m) x + m p``, and minimise

    CE(f(x'), t)                                         Neural Cleanse's attack term
    + l1 |m|_1 + l2 |m|_2^2 + outside |(1 - m) p|_1       TABOR R1: elastic-net sparsity of the mask
                                                          and of the pattern outside it (overly large
                                                          and scattered triggers)
    + smooth TV(m)                                       TABOR R2: smoothness of the mask
    + blocking CE(f((1 - m) x), y)                        TABOR R3: the images without the trigger region
                                                          keep their labels (blocking triggers; needs
                                                          context.clean_labels, skipped without them;
                                                          on one image per restart and step)
    + overlay CE(f(m p), t)                               TABOR R4: the trigger alone is classified as t
                                                          (overlaying triggers)

(norms as means over pixels, so the weights do not depend on the image size; fixed weights, no
Neural Cleanse lambda schedule). ``n_images`` restarts from random initialisations are optimised
as one batch, each on ``per_restart`` random clean images per step. Returns the triggers
``m * p`` and, in ``extras["masks"]``, the masks ``m``.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from .registry import SynthesisResult, positive, register_synthesis
from .transforms import total_variation

log = logging.getLogger(__name__)


@register_synthesis("tabor", output="trigger", needs=("clean_images",))
def tabor(model, target, n_images, context, *, steps: int = 64, lr: float = 0.2, per_restart: int = 4,
          l1: float = 2.0, l2: float = 0.0, outside: float = 0.05, smooth: float = 4.0, blocking: float = 0.1,
          overlay: float = 0.1, mask_init: float = -2.0) -> SynthesisResult:
    """TABOR / Neural Cleanse trigger reverse-engineering: a mask and a pattern that flip clean images to the target."""
    positive(steps=steps, lr=lr, per_restart=per_restart)
    x_all = context.clean_images
    y_all = context.clean_labels
    use_blocking = blocking > 0 and y_all is not None
    n, (h, w), dev = n_images, x_all.shape[-2:], x_all.device
    mu = (mask_init + torch.randn(n, 1, h, w, device=dev)).requires_grad_(True)
    rho = torch.randn(n, 3, h, w, device=dev).requires_grad_(True)
    opt = torch.optim.Adam([mu, rho], lr=lr)
    t = torch.full((n * per_restart,), target, device=dev)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            m, p = torch.sigmoid(mu), torch.sigmoid(rho)
            idx = torch.randint(len(x_all), (n * per_restart,), device=dev)
            x = x_all[idx]
            mm, pp = m.repeat_interleave(per_restart, 0), p.repeat_interleave(per_restart, 0)
            attack = F.cross_entropy(model((1 - mm) * x + mm * pp), t, reduction="none").view(n, per_restart).mean(1)
            loss = attack + l1 * m.flatten(1).mean(1) + outside * ((1 - m) * p).flatten(1).mean(1)
            if l2:
                loss = loss + l2 * (m * m).flatten(1).mean(1)
            if smooth:
                loss = loss + smooth * total_variation(m)
            if overlay:
                loss = loss + overlay * F.cross_entropy(model(m * p), t[:n], reduction="none")
            if use_blocking:  # on each restart's first image only: one pass per restart
                first = idx.view(n, per_restart)[:, 0]
                loss = loss + blocking * F.cross_entropy(model((1 - m) * x_all[first]), y_all[first], reduction="none")
            loss = loss.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        m, p = torch.sigmoid(mu), torch.sigmoid(rho)
    log.debug("tabor: loss %.3f -> %.3f in %d steps; mean mask %.3f", losses[0], losses[-1], steps, m.mean().item())
    return SynthesisResult(images=m * p, losses=losses, extras={"masks": m, "patterns": p})
