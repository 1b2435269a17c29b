"""Model zoo: a registry of architectures by name.

Every zoo model carries two attributes used by the studies:

- ``block_names``: dotted submodule names in *execution order reversed* (output -> input), the
  unit of cascading / independent randomization (Adebayo et al. 2018).
- ``gradcam_layer_name``: the convolutional layer GradCAM reads, or ``None`` (e.g. the MLP).

A user's own model joins the zoo with :func:`register_model` and the same two attributes.
"""

from .registry import (
    ModelSpec,
    available_models,
    build_model,
    load_weights,
    model_blocks,
    gradcam_layer,
    register_model,
)
from . import small, torchvision_zoo  # noqa: F401  (registers the built-in models)

__all__ = [
    "ModelSpec",
    "available_models",
    "build_model",
    "load_weights",
    "model_blocks",
    "gradcam_layer",
    "register_model",
]
