"""The "mislabelled" training set of Ilyas et al. 2019, *Adversarial Examples Are Not Bugs, They Are
Features* (§3.2), as shown in the Santurkar & Tsipras practicum.

Every training pair ``(x, y)`` is replaced by ``(x_adv, t)``: ``t = T(y)`` another class and

    x_adv = argmin_{||x' - x|| <= eps} L(f(x'), t)      (targeted PGD on the *standard* model f)

so that ``f`` classifies ``x_adv`` as ``t`` while the image still looks like ``y``. Target rules:
``random`` (Ilyas's D_rand: ``t`` uniform over the other classes, so a robust feature of ``x`` says
nothing about ``t``) and ``next`` (D_det: ``t = (y + 1) mod C``, so robust features point to the
wrong class). A fresh model trained on ``{(x_adv, t)}`` alone and tested on the *clean*, correctly
labelled test set can beat chance only through the non-robust features the perturbation planted;
Ilyas et al. report 63% (D_rand) and 44% (D_det) on CIFAR-10, the practicum 78% on cats vs dogs.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .min_eps import check_norm
from .pgd import pgd_attack

TARGET_RULES = ("random", "next")


def attack_targets(y: torch.Tensor, num_classes: int, rule: str, seed: int) -> torch.Tensor:
    """``T(y)``: a class other than ``y`` per item, by ``rule`` (``random`` seeded, or ``next``)."""
    if rule not in TARGET_RULES:
        raise ConfigError(f"target rule must be one of {list(TARGET_RULES)}, got {rule!r}.")
    if num_classes < 2:
        raise ConfigError(f"a target class needs at least 2 classes, got num_classes={num_classes}.")
    y = torch.as_tensor(y, dtype=torch.long)
    if rule == "next":
        return (y + 1) % num_classes
    g = torch.Generator().manual_seed(int(seed))
    return (y + torch.randint(1, num_classes, y.shape, generator=g)) % num_classes


def mislabelled_set(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    targets: torch.Tensor,
    *,
    eps: float,
    norm: str = "l2",
    steps: int = 10,
    seed: int = 0,
    batch_size: int = 256,
) -> dict:
    """``{"x": x_adv, "y": targets, "source_y": y, "hit": f(x_adv) == t}``: each image attacked toward
    its target with targeted PGD within ``eps`` (``norm``) and relabelled as the target (module doc).
    Images stay in [0, 1] and within ``eps`` of the originals."""
    norm = check_norm(norm)
    if len(targets) != len(x) or len(y) != len(x):
        raise ConfigError(f"mislabelled_set: {len(x)} images, {len(y)} labels and {len(targets)} targets.")
    if bool((targets == y).any()):
        raise ConfigError("mislabelled_set: a target equals the image's own label; targets must be other classes.")
    device = next(model.parameters()).device
    parts, hits = [], []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        tb = targets[start : start + batch_size].to(device)
        adv = pgd_attack(model, xb, tb, eps=eps, norm=norm, steps=steps, targeted=True, target=tb, seed=seed + start)
        with torch.no_grad():
            hits.append((model(adv).argmax(1) == tb).cpu())
        parts.append(adv.cpu())
    x_adv = torch.cat(parts) if parts else x.clone()
    hit = torch.cat(hits) if hits else torch.zeros(0, dtype=torch.bool)
    return {"x": x_adv, "y": targets.clone(), "source_y": torch.as_tensor(y).clone(), "hit": hit}
