"""Class activation maps (Captum): GradCAM and Guided GradCAM on the model's GradCAM layer.

- gradcam: ``relu(sum_k alpha_k A^k)`` with ``alpha_k = mean_ij dy/dA^k_ij`` on the layer's output
  A (Selvaraju et al. 2017), upsampled to the input size and repeated over the input channels.
- guided_gradcam: guided backprop times the (nearest-upsampled) GradCAM map, elementwise
  (Captum's ``GuidedGradCam``, written out so that inside
  :func:`interpbench.explain.registry.shared_work` it reuses the ``gradcam`` and
  ``guided_backprop`` maps of the same call instead of computing them again).

The layer is the zoo model's ``gradcam_layer_name`` (see :func:`interpbench.models.gradcam_layer`)
unless ``layer`` names another submodule.
"""

from __future__ import annotations

from typing import Literal

from captum.attr import LayerAttribution, LayerGradCam
from torch import Tensor, nn

from ..errors import ConfigError, NotApplicableError
from ..models import gradcam_layer
from .propagation import RELU_FUNCTIONS, guided_backprop_maps, require_module_activations
from .registry import register_method, shared


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
    cam = _layer_gradcam(model, x, target, _layer(model, layer, "gradcam"), relu)
    cam = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode=upsample)
    return cam.expand(-1, x.shape[1], -1, -1).contiguous()


@register_method("guided_gradcam", kind="cam", needs_gradcam_layer=True)
def guided_gradcam(model: nn.Module, x: Tensor, target: Tensor, *, layer: str | None = None) -> Tensor:
    """Guided GradCAM: guided backprop x GradCAM (nearest upsampling), as Captum's GuidedGradCam."""
    require_module_activations(model, RELU_FUNCTIONS)
    cam = _layer_gradcam(model, x, target, _layer(model, layer, "guided_gradcam"), True)
    if isinstance(cam, tuple):
        if len(cam) != 1:
            raise NotApplicableError("its GradCAM layer has several inputs or outputs.")
        cam = cam[0]
    guided = guided_backprop_maps(model, x, target)
    return guided * LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="nearest")


def _layer_gradcam(model: nn.Module, x: Tensor, target: Tensor, layer: nn.Module, relu: bool) -> Tensor:
    """Captum's LayerGradCam of ``layer`` (before upsampling), shared within a call identity."""
    return shared(("layer_gradcam", id(layer), relu),
                  lambda: LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=relu))


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
