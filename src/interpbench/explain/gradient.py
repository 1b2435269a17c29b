"""Input-gradient methods: Saliency, Input x Gradient, Integrated Gradients, GradientShap and the
NoiseTunnel family (SmoothGrad, SmoothGrad-squared, VarGrad, SmoothGrad over IG), all Captum.

Formulas (f = the target logit):

- saliency: ``df/dx`` (Simonyan et al. 2014). Captum's ``Saliency`` defaults to ``|df/dx|``; we
  keep the raw signed gradient by default (``absolute=False``) because Adebayo et al. 2018 call
  the signed gradient "Gradient" and compare absolute and signed maps separately.
- input_x_gradient: ``x * df/dx`` (Shrikumar et al. 2016).
- integrated_gradients: ``(x - x') * integral_0^1 df/dx(x' + a (x - x')) da`` (Sundararajan et al.
  2017), with ``x'`` a constant reference (0 = black); completeness: sum = f(x) - f(x').
- gradient_shap: expected gradients ``E[(x - x') * df/dx(x' + a (x - x') + noise)]`` over
  references x' and a ~ U(0, 1) (Lundberg & Lee 2017).
- smoothgrad / smoothgrad_sq / vargrad: mean / mean of squares / variance of the gradient at
  ``x + N(0, s^2)`` with ``s = noise_level * (max(x) - min(x))`` per image (a constant image counts
  as range 1) (Smilkov et al. 2017; Adebayo et al. 2018 for VarGrad); ig_smoothgrad is the mean of
  IG over the same noise.

Captum's formulas and draws, with less work per call: the input gradients are taken with one
``autograd.grad`` of the summed target logits (Captum's ``compute_gradients`` takes it of the
``N`` unbound logits and inspects the forward's signature on every pass: the same gradient, at a
cost that matters for a model whose pass takes a millisecond), and the NoiseTunnel loop is written
out here (the same noise, drawn in the same order, and the same sums) so that SmoothGrad,
SmoothGrad-squared and VarGrad with the same settings share one set of noisy gradients inside
:func:`interpbench.explain.registry.shared_work`; Saliency and Input x Gradient share the gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from captum.attr import GradientShap, IntegratedGradients, NoiseTunnel
from torch import Tensor, nn

from captum._utils.common import _format_additional_forward_args, _select_targets

from .batching import copies_per_call, samples_per_call
from .references import reference_distribution
from .registry import register_method, require, shared, sharing

IGRule = Literal["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"]


@register_method("saliency", kind="gradient", uses_captum=False, rng_free=True)
def saliency(model: nn.Module, x: Tensor, target: Tensor, *, absolute: bool = False) -> Tensor:
    """Vanilla gradient df/dx, signed by default (``absolute=True`` gives Captum's |df/dx|)."""
    grad = _shared_input_gradient(model, x, target)
    return grad.abs() if absolute else grad  # a shared gradient is copied by attribute()


@register_method("input_x_gradient", kind="gradient", uses_captum=False, rng_free=True)
def input_x_gradient(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Input times gradient, x * df/dx."""
    return x * _shared_input_gradient(model, x, target)


def _shared_input_gradient(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    return shared(("input_gradient",), lambda: input_gradient(model, x, target))


def input_gradient(forward: Callable[..., Tensor], x: Tensor, target: Tensor, *args: object) -> Tensor:
    """``d forward(x, *args)[i, target_i] / dx`` for every ``i``: Captum's ``compute_gradients``
    (the same values) in one ``autograd.grad`` of the summed target logits."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_()
        out = forward(xg, *args)
        return torch.autograd.grad(out.gather(1, target.reshape(-1, 1)).sum(), xg)[0]


def _captum_gradients(forward_fn, inputs, target_ind=None, additional_forward_args=None):
    """A drop-in ``gradient_func`` for Captum's gradient methods: ``compute_gradients`` with one
    ``autograd.grad`` of the summed selected outputs, and no signature inspection per pass."""
    args = _format_additional_forward_args(additional_forward_args)
    with torch.enable_grad():
        outputs = _select_targets(forward_fn(*inputs, *(args or ())), target_ind)
        return torch.autograd.grad(outputs.sum(), inputs)


def _fast(method):
    """A Captum gradient method object that takes its gradients with :func:`_captum_gradients`."""
    method.gradient_func = _captum_gradients
    return method


@register_method("integrated_gradients", kind="gradient", rng_free=True)
def integrated_gradients(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    n_steps: int = 50,
    integration: IGRule = "gausslegendre",
    baseline: float = 0.0,
    internal_batch_size: int | None = None,
) -> Tensor:
    """Integrated Gradients from a constant reference image (``baseline``, default black).

    ``integration`` is Captum's ``method``: the quadrature rule over ``n_steps`` points.
    """
    require(n_steps >= 1, "integrated_gradients", f"n_steps must be >= 1, got {n_steps}.")
    batch = _ig_batch(x.shape[0], x, n_steps, internal_batch_size, "integrated_gradients")
    return _fast(IntegratedGradients(model)).attribute(
        x, baselines=baseline, target=target, n_steps=n_steps, method=integration, internal_batch_size=batch
    )


@register_method("gradient_shap", kind="gradient", stochastic=True)
def gradient_shap(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    n_samples: int = 20,
    stdevs: float = 0.0,
    baselines: tuple[str, ...] = ("zeros", "mean"),
) -> Tensor:
    """GradientShap: expected gradients over a reference distribution (``zeros``, ``mean``, ``uniform``).

    ``stdevs`` is the absolute std of Gaussian noise added to each sample (inputs are in [0, 1]).
    """
    require(n_samples >= 1, "gradient_shap", f"n_samples must be >= 1, got {n_samples}.")
    require(stdevs >= 0, "gradient_shap", f"stdevs must be >= 0, got {stdevs}.")
    refs = reference_distribution(x, baselines, "gradient_shap")
    return GradientShap(model).attribute(x, baselines=refs, n_samples=n_samples, stdevs=stdevs, target=target)


@register_method("smoothgrad", kind="gradient", stochastic=True, uses_captum=False)
def smoothgrad(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    n_samples: int = 50,
    noise_level: float = 0.15,
    absolute: bool = False,
    nt_samples_batch_size: int | None = None,
) -> Tensor:
    """SmoothGrad: mean gradient over noisy copies, noise std = noise_level x the image's range."""
    return _noisy_saliency(model, x, target, "smoothgrad", n_samples, noise_level, absolute, nt_samples_batch_size)


@register_method("smoothgrad_sq", kind="gradient", stochastic=True, uses_captum=False)
def smoothgrad_sq(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    n_samples: int = 50,
    noise_level: float = 0.15,
    absolute: bool = False,
    nt_samples_batch_size: int | None = None,
) -> Tensor:
    """SmoothGrad-squared: mean of the squared gradient over noisy copies."""
    return _noisy_saliency(
        model, x, target, "smoothgrad_sq", n_samples, noise_level, absolute, nt_samples_batch_size
    )


@register_method("vargrad", kind="gradient", stochastic=True, uses_captum=False)
def vargrad(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    n_samples: int = 50,
    noise_level: float = 0.15,
    absolute: bool = False,
    nt_samples_batch_size: int | None = None,
) -> Tensor:
    """VarGrad: variance of the gradient over noisy copies."""
    return _noisy_saliency(model, x, target, "vargrad", n_samples, noise_level, absolute, nt_samples_batch_size)


@register_method("ig_smoothgrad", kind="gradient", stochastic=True)
def ig_smoothgrad(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    n_samples: int = 20,
    noise_level: float = 0.15,
    n_steps: int = 20,
    integration: IGRule = "gausslegendre",
    baseline: float = 0.0,
    nt_samples_batch_size: int | None = None,
    internal_batch_size: int | None = None,
) -> Tensor:
    """SmoothGrad over Integrated Gradients (defaults 20 x 20 = 400 passes per image, not 50 x 50)."""
    require(n_steps >= 1, "ig_smoothgrad", f"n_steps must be >= 1, got {n_steps}.")
    u, scale = _unit_range(x, n_samples, noise_level, "ig_smoothgrad")
    draws = _nt_batch(x, n_samples, nt_samples_batch_size, "ig_smoothgrad")
    steps = _ig_batch(draws * x.shape[0], x, n_steps, internal_batch_size, "ig_smoothgrad")
    # IG is invariant to the rescaling: (u - u') * dF/du = (x - x') * df/dx.
    return NoiseTunnel(_fast(IntegratedGradients(_rescaled(model)))).attribute(
        u, nt_type="smoothgrad", nt_samples=n_samples, nt_samples_batch_size=draws, stdevs=noise_level,
        target=target, baselines=(baseline / scale).expand_as(u), additional_forward_args=(scale,),
        n_steps=n_steps, method=integration, internal_batch_size=steps,
    )


def _noisy_saliency(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    nt_type: str,
    n_samples: int,
    noise_level: float,
    absolute: bool,
    nt_samples_batch_size: int | None,
) -> Tensor:
    u, scale = _unit_range(x, n_samples, noise_level, nt_type)
    draws = _nt_batch(x, n_samples, nt_samples_batch_size, nt_type)
    # SmoothGrad alone needs no squares; inside shared_work both moments are kept for the others.
    squares = nt_type != "smoothgrad" or sharing()
    mean, mean_sq = shared(("noisy_gradients", n_samples, noise_level, absolute, draws),
                           lambda: noisy_gradient_moments(_rescaled(model), u, target, n_samples, noise_level,
                                                          absolute, draws, scale, squares=squares))
    # dF/du = s df/dx: the mean gradient carries one factor s, squares and variances two.
    if nt_type == "smoothgrad":
        return mean / scale
    maps = mean_sq if nt_type == "smoothgrad_sq" else mean_sq - mean * mean
    return maps / scale**2


def noisy_gradient_moments(
    forward: Callable[..., Tensor], u: Tensor, target: Tensor, n_samples: int, stdev: float, absolute: bool,
    draws: int, *args: Tensor, squares: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """Mean and mean square of the (absolute, with ``absolute``) input gradient of ``forward`` at
    ``n_samples`` noisy copies ``u + N(0, stdev^2)`` of every input, ``draws`` copies per pass.

    Captum's ``NoiseTunnel(Saliency)`` loop: the same noise drawn in the same order (Captum's
    ``torch.normal(0, std)`` per pass is ``stdev * randn``; the copies of an input adjacent, as
    ``repeat_interleave``), the same per-pass sums and the same final ``sum * 1 / n_samples`` (tested
    equal to Captum's), so smoothgrad is ``mean``,
    smoothgrad_sq ``mean_sq`` and vargrad ``mean_sq - mean * mean`` exactly as Captum gives them.
    ``args`` (one row per input) go to ``forward`` after the noisy inputs, expanded alike.
    ``squares=False`` skips the mean square (returned as None), which SmoothGrad alone does not need.
    """
    total = total_sq = None
    done = 0
    n = u.shape[0]
    while done < n_samples:
        k = min(draws, n_samples - done)
        # Captum's u.repeat_interleave(k) + torch.normal(0, std): the same standard normals (std * randn),
        # added in place to the broadcast inputs.
        noisy = torch.randn((n, k, *u.shape[1:]), device=u.device).mul_(stdev).add_(u.unsqueeze(1)).flatten(0, 1)
        grad = input_gradient(forward, noisy, target.repeat_interleave(k), *(a.repeat_interleave(k, dim=0) for a in args))
        if absolute:
            grad = grad.abs()
        grad = grad.view(u.shape[0], k, *u.shape[1:])
        part = grad.sum(dim=1)
        total = part if total is None else total + part
        if squares:
            part_sq = torch.pow(grad, 2).sum(dim=1)
            total_sq = part_sq if total_sq is None else total_sq + part_sq
        done += k
    return total * 1 / n_samples, (total_sq * 1 / n_samples if squares else None)


def _unit_range(x: Tensor, n_samples: int, noise_level: float, method: str) -> tuple[Tensor, Tensor]:
    """Per-image noise scale for Captum's NoiseTunnel, which takes one std for the whole batch.

    Each image is written ``x = s u`` with ``s = max(x) - min(x)`` (1 for a constant image), the
    model as ``F(u) = f(s u)``, and NoiseTunnel adds ``N(0, noise_level^2)`` to ``u``: that is
    ``N(0, (noise_level s)^2)`` on ``x``, as SmoothGrad prescribes, in one batched call.
    Returns ``(u, s)`` with ``s`` shaped ``[N, 1, 1, 1]``.
    """
    require(n_samples >= 1, method, f"n_samples must be >= 1, got {n_samples}.")
    require(noise_level >= 0, method, f"noise_level must be >= 0, got {noise_level}.")
    flat = x.flatten(1)
    scale = flat.amax(dim=1) - flat.amin(dim=1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale)).view(-1, 1, 1, 1)
    return x / scale, scale


def _rescaled(model: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    def forward(u: Tensor, scale: Tensor) -> Tensor:
        return model(u * scale)

    return forward


def _nt_batch(x: Tensor, n_samples: int, requested: int | None, method: str) -> int:
    if requested is not None:
        require(requested >= 1, method, f"nt_samples_batch_size must be >= 1, got {requested}.")
        return min(requested, n_samples)
    return copies_per_call(x, n_samples)


def _ig_batch(n: int, x: Tensor, n_steps: int, requested: int | None, method: str) -> int:
    """Captum's internal_batch_size counts expanded samples (n inputs x steps); it must be >= n."""
    if requested is not None:
        require(requested >= 1, method, f"internal_batch_size must be >= 1, got {requested}.")
        return max(requested, n)
    return max(n, min(n * n_steps, samples_per_call(x)))

