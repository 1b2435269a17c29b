"""Reference ("baseline") inputs for path and Shapley methods.

Integrated Gradients, DeepLift, occlusion and feature ablation compare the input with one constant
reference image (zeros by default: black in [0, 1] pixel space). GradientShap and DeepLiftShap
average over a *distribution* of references (Lundberg & Lee 2017); it is built here from named
members: ``zeros``, ``mean`` (the batch's mean image) and ``uniform`` (one U(0, 1) noise image,
drawn from the seeded torch RNG).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError

DISTRIBUTION_MEMBERS = ("zeros", "mean", "uniform")


def reference_distribution(x: Tensor, members: tuple[str, ...], method: str) -> Tensor:
    """Reference images ``[len(members), C, H, W]`` for inputs ``x`` ``[N, C, H, W]``."""
    if len(members) < 1:
        raise ConfigError(f"attribution method {method!r}: baselines must name at least one reference.")
    refs = []
    for name in members:
        if name == "zeros":
            refs.append(torch.zeros_like(x[0]))
        elif name == "mean":
            refs.append(x.mean(dim=0))
        elif name == "uniform":
            refs.append(torch.rand(x.shape[1:], device=x.device, dtype=x.dtype))
        else:
            raise ConfigError(
                f"attribution method {method!r}: unknown baseline {name!r}; "
                f"choose from {', '.join(DISTRIBUTION_MEMBERS)}."
            )
    return torch.stack(refs)
