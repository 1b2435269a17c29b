"""The smallest perturbation budget on a grid that flips a prediction (Santurkar & Tsipras,
*Adversaries & Interpretability* practicum, "how far must we go?").

For an image ``x`` with label ``y``, a grid ``eps_1 < eps_2 < ... < eps_K`` and an attack
``A(x, eps)`` (PGD, :func:`interpbench.attacks.pgd_attack`), the image's minimal eps is

    eps*(x) = min { eps_k : A(x, eps_k) succeeds },   +inf when no grid point succeeds,

where success is misclassification (untargeted: ``argmax f(A(x)) != y``) or reaching the target
(targeted: ``argmax f(A(x)) == t``). The grid is walked upward and each step attacks only the images
no smaller eps has flipped yet, so every image is attacked until its first success and never after:
``eps*`` is exactly the definition above, at a fraction of the cost of attacking every image at every
eps. The success-rate curve reported beside it is ``S(eps_k) = mean_x [eps*(x) <= eps_k]``: the share
of images flipped within budget ``eps_k`` by the attack at some grid budget ``<= eps_k`` (a larger
ball contains the smaller one's adversarial example, so this is the success rate of the attack that
also tries the smaller budgets; it is monotone in eps by construction).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .pgd import NORMS, pgd_attack


def check_eps_grid(grid: Sequence[float], where: str = "eps grid") -> list[float]:
    """A strictly increasing list of finite eps > 0, else a ConfigError naming ``where``."""
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or len(grid) == 0:
        raise ConfigError(f"{where}: expected a non-empty list of eps values > 0, got {grid!r}.")
    values = []
    for e in grid:
        if isinstance(e, bool) or not isinstance(e, numbers.Real) or not math.isfinite(e) or e <= 0:
            raise ConfigError(f"{where}: every eps must be a finite number > 0, got {e!r} in {list(grid)!r}.")
        values.append(float(e))
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(f"{where}: eps values must be strictly increasing, got {values!r}.")
    return values


def check_norm(norm: str, where: str = "norm") -> str:
    if not isinstance(norm, str) or norm.lower() not in NORMS:
        raise ConfigError(f"{where}: attack norm must be one of {list(NORMS)}, got {norm!r}.")
    return norm.lower()


def flipped(model: nn.Module, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    """Bool [N]: the model's prediction on ``x`` is not ``y`` (untargeted) or is ``target``."""
    with torch.no_grad():
        pred = model(x).argmax(1).cpu()
    return pred == target.cpu() if target is not None else pred != y.cpu()


def minimal_eps(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    grid: Sequence[float],
    *,
    norm: str,
    steps: int = 10,
    target: torch.Tensor | None = None,
    seed: int = 0,
    batch_size: int = 256,
    random_start: bool = True,
) -> np.ndarray:
    """Per image, the first eps of ``grid`` at which PGD (``norm``, ``steps``; targeted toward
    ``target`` when given) flips the prediction, ``inf`` when none does (see the module doc).

    ``model`` is put in eval mode for the search (restored by the attack). Returns float64 [N].
    """
    grid = check_eps_grid(grid)
    norm = check_norm(norm)
    n = len(x)
    if target is not None and len(target) != n:
        raise ConfigError(f"minimal_eps: {len(target)} targets for {n} images.")
    device = next(model.parameters()).device
    out = np.full(n, np.inf)
    todo = torch.arange(n)
    for k, eps in enumerate(grid):
        if len(todo) == 0:
            break
        hit = torch.zeros(len(todo), dtype=torch.bool)
        for start in range(0, len(todo), batch_size):
            idx = todo[start : start + batch_size]
            xb, yb = x[idx].to(device), y[idx].to(device)
            tb = target[idx].to(device) if target is not None else None
            adv = pgd_attack(model, xb, yb, eps=eps, norm=norm, steps=steps, targeted=tb is not None, target=tb,
                             seed=seed + 7919 * k + start, random_start=random_start)
            hit[start : start + len(idx)] = flipped(model, adv, yb, tb)
        out[todo[hit].numpy()] = eps
        todo = todo[~hit]
    return out


def success_curve(min_eps: np.ndarray, grid: Sequence[float]) -> np.ndarray:
    """``S(eps_k)``: the share of images whose minimal eps is ``<= eps_k``, per grid point."""
    m = np.asarray(min_eps, dtype=np.float64)
    return np.array([(m <= e).mean() if m.size else math.nan for e in grid])
