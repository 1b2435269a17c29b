"""Class activation maps (Captum): GradCAM and Guided GradCAM on the model's GradCAM layer.

- gradcam: ``relu(sum_k alpha_k A^k)`` with ``alpha_k = mean_ij dy/dA^k_ij`` on the layer's output
  A (Selvaraju et al. 2017), upsampled to the input size and repeated over the input channels.
- guided_gradcam: guided backprop times the (nearest-upsampled) GradCAM map, elementwise.

The layer is the zoo model's ``gradcam_layer_name`` (see :func:`interpbench.models.gradcam_layer`)
unless ``layer`` names another submodule.
"""

from __future__ import annotations

from typing import Literal

from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam
from torch import Tensor, nn

from ..errors import ConfigError
from ..models import gradcam_layer
from .propagation import RELU_FUNCTIONS, require_module_activations
from .registry import register_method


@register_method("gradcam", kind="cam", needs_gradcam_layer=True)
def gradcam(
    model: nn.Module,
    x: Tensor,
    target: Tensor,
    *,
    layer: str | None = None,
    relu: bool = True,
    upsample: Literal["bilinear", "nearest"] = "bilinear",
) -> Tensor:
    """GradCAM, upsampled to the input (bilinear by default) and broadcast over its channels."""
    cam = LayerGradCam(model, _layer(model, layer, "gradcam")).attribute(
        x, target=target, relu_attributions=relu
    )
    cam = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode=upsample)
    return cam.expand(-1, x.shape[1], -1, -1).contiguous()


@register_method("guided_gradcam", kind="cam", needs_gradcam_layer=True)
def guided_gradcam(model: nn.Module, x: Tensor, target: Tensor, *, layer: str | None = None) -> Tensor:
    """Guided GradCAM: guided backprop x GradCAM."""
    require_module_activations(model, RELU_FUNCTIONS)
    return GuidedGradCam(model, _layer(model, layer, "guided_gradcam")).attribute(x, target=target)


def _layer(model: nn.Module, name: str | None, method: str) -> nn.Module:
    if name is None:
        return gradcam_layer(model)
    try:
        return model.get_submodule(name)
    except AttributeError:
        known = [n for n, _ in model.named_modules() if n][:20]
        raise ConfigError(
            f"attribution method {method!r}: layer {name!r} is not a submodule of "
            f"{type(model).__name__}; e.g. {', '.join(known)}."
        ) from None
