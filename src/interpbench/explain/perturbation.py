"""Perturbation methods (Captum): forward passes only, on square superpixels.

Features are the cells of a ``patch`` x ``patch`` pixel grid, shared by all channels (28 px with
the default 4 px patch: 49 features), so each method runs in seconds on small images.

- feature_ablation: ``f(x) - f(x with the cell set to baseline)`` per cell.
- feature_permutation: ``f(x) - f(x with the cell's pixels permuted across the batch)``
  (Breiman 2001 / Fisher et al. 2019); needs a batch of >= 2 images.
- occlusion: ``f(x) - f(x with a sliding (C, patch, patch) window set to baseline)``, averaged
  over the windows covering each pixel (Zeiler & Fergus 2014).
- lime: weights of a Lasso (alpha 0.01) fitted to ``f`` on random cell subsets, weighted by an
  exponential cosine kernel (Ribeiro et al. 2016; Captum's defaults).
- kernel_shap: the Shapley kernel weighted linear regression (Lundberg & Lee 2017).
- shapley_value_sampling: marginal contributions averaged over ``n_samples`` random feature
  orderings (Castro et al. 2009).
"""

from __future__ import annotations

import math
import warnings

import torch
from captum.attr import (
    FeatureAblation,
    FeaturePermutation,
    KernelShap,
    Lime,
    Occlusion,
    ShapleyValueSampling,
)
from torch import Tensor, nn

from .batching import copies_per_call, samples_per_call
from .registry import register_method, require


def grid_mask(height: int, width: int, patch: int, device: torch.device | str = "cpu") -> Tensor:
    """Feature ids ``[1, 1, H, W]`` (int64) of a ``patch`` x ``patch`` grid, row-major from 0."""
    cols = math.ceil(width / patch)
    rows = torch.arange(height, device=device) // patch
    cells = torch.arange(width, device=device) // patch
    return (rows[:, None] * cols + cells[None, :]).view(1, 1, height, width)


@register_method("feature_ablation", kind="perturbation")
def feature_ablation(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    patch: int = 4,
    baseline: float = 0.0,
    perturbations_per_eval: int | None = None,
) -> Tensor:
    """Feature ablation: the output drop when each grid cell is set to ``baseline``."""
    mask = _mask(x, patch, "feature_ablation")
    return FeatureAblation(model).attribute(
        x, baselines=baseline, target=target, feature_mask=mask,
        perturbations_per_eval=_per_eval(x, mask, perturbations_per_eval, "feature_ablation"),
    )


@register_method("feature_permutation", kind="perturbation", stochastic=True)
def feature_permutation(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    patch: int = 4,
    perturbations_per_eval: int | None = None,
) -> Tensor:
    """Feature permutation: the output drop when each cell is shuffled across the batch."""
    require(x.shape[0] >= 2, "feature_permutation", f"needs a batch of at least 2 images, got {x.shape[0]}.")
    mask = _mask(x, patch, "feature_permutation")
    return FeaturePermutation(model).attribute(
        x, target=target, feature_mask=mask,
        perturbations_per_eval=_per_eval(x, mask, perturbations_per_eval, "feature_permutation"),
    )


@register_method("occlusion", kind="perturbation")
def occlusion(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    patch: int = 4,
    stride: int = 2,
    baseline: float = 0.0,
    perturbations_per_eval: int | None = None,
) -> Tensor:
    """Occlusion with a sliding (C, patch, patch) window moved by ``stride`` pixels."""
    _, c, h, w = x.shape
    require(1 <= patch <= min(h, w), "occlusion", f"patch must be in [1, {min(h, w)}], got {patch}.")
    require(stride >= 1, "occlusion", f"stride must be >= 1, got {stride}.")
    windows = ((h - patch) // stride + 1) * ((w - patch) // stride + 1)
    per_eval = _checked(perturbations_per_eval, "occlusion") or copies_per_call(x, windows)
    return Occlusion(model).attribute(
        x, sliding_window_shapes=(c, patch, patch), strides=(c, stride, stride), baselines=baseline,
        target=target, perturbations_per_eval=per_eval,
    )


@register_method("lime", kind="perturbation", stochastic=True)
def lime(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    patch: int = 4,
    n_samples: int = 200,
    baseline: float = 0.0,
    perturbations_per_eval: int | None = None,
) -> Tensor:
    """LIME on grid cells (Captum defaults: Lasso alpha 0.01, exponential cosine kernel)."""
    return _surrogate(Lime(model), x, target, patch, n_samples, baseline, perturbations_per_eval, "lime")


@register_method("kernel_shap", kind="perturbation", stochastic=True)
def kernel_shap(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    patch: int = 4,
    n_samples: int = 200,
    baseline: float = 0.0,
    perturbations_per_eval: int | None = None,
) -> Tensor:
    """Kernel SHAP on grid cells, cells removed by setting them to ``baseline``."""
    return _surrogate(KernelShap(model), x, target, patch, n_samples, baseline, perturbations_per_eval, "kernel_shap")


@register_method("shapley_value_sampling", kind="perturbation", stochastic=True)
def shapley_value_sampling(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    patch: int = 4,
    n_samples: int = 25,
    baseline: float = 0.0,
    perturbations_per_eval: int | None = None,
) -> Tensor:
    """Shapley value sampling over ``n_samples`` random orderings of the grid cells."""
    require(n_samples >= 1, "shapley_value_sampling", f"n_samples must be >= 1, got {n_samples}.")
    mask = _mask(x, patch, "shapley_value_sampling")
    return ShapleyValueSampling(model).attribute(
        x, baselines=baseline, target=target, feature_mask=mask, n_samples=n_samples,
        perturbations_per_eval=_per_eval(x, mask, perturbations_per_eval, "shapley_value_sampling"),
    )


def _surrogate(
    explainer: Lime,
    x: Tensor,
    target: Tensor,
    patch: int,
    n_samples: int,
    baseline: float,
    perturbations_per_eval: int | None,
    method: str,
) -> Tensor:
    """Lime and KernelShap fit one surrogate per image; Captum loops over the batch itself."""
    require(n_samples >= 1, method, f"n_samples must be >= 1, got {n_samples}.")
    mask = _mask(x, patch, method)
    per_eval = _checked(perturbations_per_eval, method) or min(n_samples, samples_per_call(x))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are providing multiple inputs for Lime")
        return explainer.attribute(
            x, baselines=baseline, target=target, feature_mask=mask, n_samples=n_samples,
            perturbations_per_eval=per_eval,
        )


def _mask(x: Tensor, patch: int, method: str) -> Tensor:
    h, w = x.shape[2:]
    require(1 <= patch <= max(h, w), method, f"patch must be in [1, {max(h, w)}] pixels, got {patch}.")
    return grid_mask(h, w, patch, x.device)


def _per_eval(x: Tensor, mask: Tensor, requested: int | None, method: str) -> int:
    return _checked(requested, method) or copies_per_call(x, int(mask.max()) + 1)


def _checked(requested: int | None, method: str) -> int | None:
    if requested is not None:
        require(requested >= 1, method, f"perturbations_per_eval must be >= 1, got {requested}.")
    return requested
