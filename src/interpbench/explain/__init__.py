"""Attribution methods behind one call: ``attribute(method, model, inputs, target, seed=, **params)``.

Methods live in a registry (``@register_method``); :func:`available_methods` lists them and
:func:`method_info` gives each one's kind, parameters and defaults. A user's own method joins with
the decorator and a function ``fn(model, x, target, *, param=default, ...) -> Tensor[N, C, H, W]``.
:mod:`.postprocess` turns maps into images (channel aggregation, per-image normalisation).
"""

from . import baselines, cam, gradient, perturbation, propagation  # noqa: F401  (register the methods)
from .many import method_maps
from .postprocess import aggregate_channels, normalize
from .registry import (
    MethodSpec,
    attribute,
    available_methods,
    method_info,
    model_name,
    register_method,
)

__all__ = [
    "MethodSpec",
    "aggregate_channels",
    "attribute",
    "available_methods",
    "method_info",
    "method_maps",
    "model_name",
    "normalize",
    "register_method",
]
