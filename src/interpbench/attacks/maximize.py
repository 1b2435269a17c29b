"""Feature visualisation by maximising one unit of a model's representation (Engstrom et al. 2019,
*Adversarial Robustness as a Prior for Learned Representations*, §4; the MadryLab ``robustness``
library's ``custom_loss`` recipe, shown in the Santurkar & Tsipras practicum).

The representation ``R(x)`` is the input of the model's last ``nn.Linear`` (the penultimate layer:
for ``resnet_small`` the pooled stage-3 features). For unit ``u`` and a start ``x0`` (noise or a test
image), PGD *ascends* ``R(x)_u``:

    x^{t+1} = Proj_{B_2(x0, eps) ∩ [0,1]^d} ( x^t + alpha · ∇R(x^t)_u / ||∇R(x^t)_u||_2 )

(``interpbench.attacks.pgd.pgd_minimize`` on ``-R(x)_u``). The library uses ``eps = 1000`` (L2, no
effective constraint), ``alpha = 1`` and 200 iterations at 224 px; :func:`scaled_l2` scales an L2
length by ``sqrt(d / d_ref)`` to another image size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from .pgd import pgd_minimize

#: The robustness library's feature-visualisation input size (ImageNet, 3 x 224 x 224).
REFERENCE_DIM = 3 * 224 * 224


def scaled_l2(length: float, shape: tuple[int, ...]) -> float:
    """An L2 length at 224 px scaled to images of ``shape`` (C, H, W): ``length · sqrt(d / d_ref)``."""
    return float(length) * math.sqrt(math.prod(shape) / REFERENCE_DIM)


def representation_layer(model: nn.Module) -> nn.Linear:
    """The model's last ``nn.Linear`` module, whose input is the penultimate representation."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear layer: no penultimate representation to maximise.")
    return linears[-1]


def representation(model: nn.Module, x: torch.Tensor, layer: nn.Linear | None = None) -> torch.Tensor:
    """``R(x)``: the input of the last ``nn.Linear`` (``layer``, found when not given), ``[N, units]``
    (gradients flow through it)."""
    seen: list[torch.Tensor] = []
    layer = representation_layer(model) if layer is None else layer
    handle = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        model(x)
    finally:
        handle.remove()
    return seen[-1].flatten(1)


def n_units(model: nn.Module) -> int:
    return int(representation_layer(model).in_features)


def check_units(model: nn.Module, units, where: str = "units") -> list[int]:
    """Unit indices as ints in ``[0, n_units)``, else a ConfigError naming ``where`` and the range."""
    width = n_units(model)
    out = []
    for u in units:
        if isinstance(u, bool) or not isinstance(u, int) or not 0 <= u < width:
            raise ConfigError(f"{where}: unit index {u!r} is out of range: the representation has {width} units "
                              f"(valid indices 0..{width - 1}).")
        out.append(u)
    return out


def maximize_units(
    model: nn.Module,
    x0: torch.Tensor,
    units,
    *,
    eps: float,
    steps: int = 200,
    step_size: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row ``i``, ``x0[i]`` moved by L2 PGD to maximise unit ``units[i]`` of ``R``; returns the
    maximising inputs ``[N, C, H, W]`` and the activations they reach ``[N]``."""
    units = check_units(model, list(units))
    if len(units) != len(x0):
        raise ConfigError(f"maximize_units: {len(units)} units for {len(x0)} starting images.")
    index = torch.tensor(units, device=x0.device).view(-1, 1)
    layer = representation_layer(model)  # once, not at every step

    def loss(x: torch.Tensor) -> torch.Tensor:
        return -representation(model, x, layer).gather(1, index).squeeze(1)

    x = pgd_minimize(model, loss, x0, eps=eps, norm="l2", steps=steps, step_size=step_size)
    with torch.no_grad():
        was = model.training
        model.eval()
        reached = -loss(x)
        model.train(was)
    return x, reached.detach()
