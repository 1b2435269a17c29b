"""Methods that replace the backward pass through some layers with their own rule (Captum).

- deeplift: ``(x - x') * m`` with multipliers from the Rescale rule, ``m = dy/dx`` replaced by
  ``(y - y') / (x - x')`` at each nonlinearity (Shrikumar et al. 2017); sum = f(x) - f(x').
- deeplift_shap: DeepLift averaged over a reference distribution (Lundberg & Lee 2017).
- guided_backprop: the gradient with negative gradients zeroed at every ReLU (Springenberg 2015).
- deconvolution: the ReLU applied to the gradient instead of the forward mask (Zeiler & Fergus 2014).
- lrp: epsilon-rule Layer-wise Relevance Propagation (Bach et al. 2015),
  ``R_j = sum_k a_j w_jk / (z_k + eps sign(z_k)) R_k``, started from the target logit.

The rules sit on ReLU (and, for DeepLift, pooling and other nonlinearity) *modules*. A module
called twice in one forward pass (torchvision's ResNet blocks reuse ``self.relu``) breaks DeepLift
and LRP: Captum detects it and :func:`interpbench.explain.attribute` reports NotApplicableError.
Guided backprop and deconvolution register their hooks per call and handle reuse. A functional
``F.relu`` is invisible to the hooks and would silently get the plain gradient, so a model whose
traced forward calls one (torchvision's Inception v3) is refused.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass

import torch
from captum.attr import LRP, Deconvolution, DeepLift, DeepLiftShap, GuidedBackprop
from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES, SUPPORTED_NON_LINEAR_LAYERS
from captum.attr._utils.lrp_rules import EpsilonRule
from torch import Tensor, nn

from ..errors import NotApplicableError
from ..models.torchvision_zoo import Normalized
from .references import reference_distribution
from .registry import register_method, require, shared

log = logging.getLogger(__name__)


@register_method("deeplift", kind="propagation")
def deeplift(model: nn.Module, x: Tensor, target: Tensor, *, baseline: float = 0.0) -> Tensor:
    """DeepLift (Rescale rule) from a constant reference image (default black)."""
    require_module_activations(model, DEEPLIFT_FUNCTIONS)
    return DeepLift(model).attribute(x, baselines=baseline, target=target)


@register_method("deeplift_shap", kind="propagation")
def deeplift_shap(
    model: nn.Module, x: Tensor, target: Tensor, *, baselines: tuple[str, ...] = ("zeros", "mean")
) -> Tensor:
    """DeepLiftShap: DeepLift averaged over >= 2 references (``zeros``, ``mean``, ``uniform``)."""
    require(len(baselines) >= 2, "deeplift_shap", f"baselines must name at least 2 references, got {list(baselines)}.")
    require_module_activations(model, DEEPLIFT_FUNCTIONS)
    refs = reference_distribution(x, baselines, "deeplift_shap")
    return DeepLiftShap(model).attribute(x, baselines=refs, target=target)


@register_method("guided_backprop", kind="propagation")
def guided_backprop(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Guided Backpropagation."""
    require_module_activations(model, RELU_FUNCTIONS)
    return guided_backprop_maps(model, x, target)  # attribute() copies a shared result


def guided_backprop_maps(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Captum's GuidedBackprop maps, shared within a call identity (Guided GradCAM reuses them)."""
    return shared(("guided_backprop",), lambda: GuidedBackprop(model).attribute(x, target=target))


@register_method("deconvolution", kind="propagation")
def deconvolution(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Deconvolution (DeconvNet)."""
    require_module_activations(model, RELU_FUNCTIONS)
    return Deconvolution(model).attribute(x, target=target)


@register_method("lrp", kind="propagation")
def lrp(model: nn.Module, x: Tensor, target: Tensor, *, epsilon: float = 1e-9) -> Tensor:
    """LRP-epsilon on a plain chain of Linear/Conv2d/ReLU/pooling/BatchNorm/Flatten/Dropout modules.

    For a zoo ``Normalized`` model the relevance is propagated through the inner network down to
    the normalised input, whose pixels are the input pixels (the normalisation is per channel).
    """
    require(epsilon > 0, "lrp", f"epsilon must be > 0, got {epsilon}.")
    if isinstance(model, Normalized):
        x = (x - model.mean) / model.std
        model = model.net
    check_plain_chain(model)
    ruled = [m for m in _leaves(model) if type(m) in (*SUPPORTED_LAYERS_WITH_RULES, nn.Flatten, nn.Identity)]
    try:
        for module in ruled:
            # Captum's default rule with our epsilon; Flatten and Identity only reshape, so the
            # epsilon rule passes their relevance through unchanged.
            module.rule = EpsilonRule(epsilon)
        return LRP(model).attribute(x, target=target)
    finally:
        for module in ruled:  # Captum deletes them itself unless it failed before its own cleanup
            if hasattr(module, "rule"):
                del module.rule


RELU_FUNCTIONS = frozenset({"relu", "relu_"})
DEEPLIFT_FUNCTIONS = RELU_FUNCTIONS | {
    "max_pool1d", "max_pool2d", "max_pool3d", "elu", "leaky_relu", "softplus", "softmax", "sigmoid", "tanh",
}
@dataclass(frozen=True)
class TracedCalls:
    """What the fx checks need from one torch.fx trace: the graph's call nodes as ``(op, target,
    name)`` (``call_module`` targets are submodule paths; functions are kept as objects), or
    ``nodes=None`` and the ``error`` when the forward could not be traced."""

    nodes: tuple[tuple[str, object, str], ...] | None
    error: str = ""


#: architecture_key(model) -> TracedCalls; one trace per architecture (see :func:`traced_calls`).
_TRACES: dict[tuple, TracedCalls] = {}
_TRACES_MAX = 64


def architecture_key(model: nn.Module) -> tuple:
    """What a torch.fx trace of ``model`` depends on apart from its weights: each submodule's path,
    class, mode and configuration (``extra_repr`` and plain attributes such as flags and sizes).

    Re-initialising or retraining weights leaves the key unchanged, so the randomization steps of
    one model (fresh deep copies) share it; a different class or layer configuration changes it.
    """
    plain = (bool, int, float, str, tuple, list, type(None))
    parts = []
    for name, module in model.named_modules():
        attrs = tuple(sorted((k, repr(v)) for k, v in vars(module).items()
                             if not k.startswith("_") and k != "training" and isinstance(v, plain)))
        parts.append((name, type(module), module.training, module.extra_repr(), attrs))
    return tuple(parts)


def traced_calls(model: nn.Module) -> TracedCalls:
    """The call nodes of ``torch.fx.symbolic_trace(model)``, traced once per :func:`architecture_key`.

    Captum's methods are checked on every randomization step of the sanity checks, each a new copy
    of the same architecture: tracing it again for each copy would give the same graph.
    """
    key = architecture_key(model)
    hit = _TRACES.get(key)
    if hit is None:
        try:
            graph = torch.fx.symbolic_trace(model).graph
        except Exception as exc:  # data-dependent control flow etc.
            log.debug("Could not trace %s with torch.fx: %s", type(model).__name__, exc)
            hit = TracedCalls(None, f"{type(exc).__name__}: {exc}")
        else:
            hit = TracedCalls(tuple((n.op, n.target, n.name) for n in graph.nodes
                                    if n.op in ("call_module", "call_function", "call_method")))
        if len(_TRACES) >= _TRACES_MAX:
            _TRACES.clear()
        _TRACES[key] = hit
    return hit


def require_module_activations(model: nn.Module, functions: frozenset[str]) -> None:
    """NotApplicableError if the traced forward applies one of ``functions`` (by name) outside a module.

    A model that torch.fx cannot trace is let through: nothing can be said about it. The trace is
    cached by architecture (:func:`traced_calls`).
    """
    calls = traced_calls(model)
    if calls.nodes is None:
        return
    applied = {_name(target) for op, target, _ in calls.nodes if op in ("call_function", "call_method")}
    found = sorted(applied & functions)
    if found:
        raise NotApplicableError(
            f"its forward applies {', '.join(map(repr, found))} as a function; the method's rules are "
            "hooked on activation modules (nn.ReLU, ...), so these would get the plain gradient."
        )


def _name(target: object) -> str:
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


_LRP_MODULES = (*SUPPORTED_LAYERS_WITH_RULES, *SUPPORTED_NON_LINEAR_LAYERS, nn.Flatten, nn.Identity)
_RESHAPES = {
    torch.flatten, torch.reshape, operator.getitem, getattr, "flatten", "view", "reshape", "size", "contiguous",
}
_MERGES = {operator.add, operator.iadd, torch.add, torch.cat, "add", "add_", "__add__"}


def check_plain_chain(model: nn.Module) -> None:
    """Raise NotApplicableError unless ``model`` is a chain of modules Captum's LRP has rules for.

    Captum's LRP attaches rules to modules only: an addition of two branches (ResNet shortcuts),
    a concatenation or a functional activation would get the plain gradient and silently break
    relevance conservation, so they are refused here (found by tracing the forward with torch.fx).
    """
    calls = traced_calls(model)  # cached by architecture
    if calls.nodes is None:  # data-dependent control flow etc.: the graph cannot be checked
        raise NotApplicableError(
            f"its forward could not be traced to check that it is a plain chain of layers ({calls.error})."
        )
    called: set[str] = set()
    for op, target, node_name in calls.nodes:
        if op == "call_module":
            if target in called:
                raise NotApplicableError(f"module {target!r} is used more than once in the forward pass.")
            called.add(target)
        elif target not in _RESHAPES:
            name = _name(target)
            what = "merges two branches (a residual addition or concatenation)" if target in _MERGES else (
                "applies an operation outside a module"
            )
            raise NotApplicableError(
                f"its forward {what}: {name!r} (graph node {node_name!r}); LRP needs a plain chain of modules."
            )
    unsupported = sorted({type(m).__name__ for m in _leaves(model) if type(m) not in _LRP_MODULES})
    if unsupported:
        raise NotApplicableError(
            f"LRP has no rule for {', '.join(unsupported)} modules (supported: Linear, Conv2d, ReLU, "
            "MaxPool, AvgPool, BatchNorm2d, Flatten, Dropout)."
        )


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not any(True for _ in m.children())]
