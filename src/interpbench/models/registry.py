"""The registry behind :func:`build_model`, and weights loading with clear errors."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, NotApplicableError, unknown_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., nn.Module]
    description: str


_MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, description: str = "") -> Callable:
    """Decorator: ``@register_model("my_net")`` on a builder ``(num_classes, in_channels, image_size, **kw)``."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ConfigError(f"A model named {name!r} is already registered.")
        _MODELS[name] = ModelSpec(name, builder, description or (builder.__doc__ or "").strip())
        return builder

    return wrap


def available_models() -> list[str]:
    return sorted(_MODELS)


def build_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_channels: int | None = None,
    image_size: int | None = None,
    weights_path: str | Path | None = None,
    **kwargs,
) -> nn.Module:
    """Build zoo model ``name``; load ``weights_path`` (a local state_dict file) when given.

    ``num_classes``/``in_channels``/``image_size`` left as ``None`` take the builder's defaults
    (e.g. 10 classes of 1x28x28 for ``mnist_cnn``, 1000 ImageNet classes for ``resnet50``).
    """
    if name not in _MODELS:
        raise unknown_name("model", name, _MODELS)
    builder = _MODELS[name].builder
    accepted = set(inspect.signature(builder).parameters)
    bad = sorted(set(kwargs) - accepted)
    if bad:
        extra = sorted(accepted - {"num_classes", "in_channels", "image_size"})
        raise ConfigError(
            f"Model {name!r} has no option {', '.join(map(repr, bad))}. "
            f"Its options: {', '.join(extra) or 'none'}."
        )
    sizes = dict(num_classes=num_classes, in_channels=in_channels, image_size=image_size)
    model = builder(**{k: v for k, v in sizes.items() if v is not None}, **kwargs)
    for attr in ("block_names", "gradcam_layer_name"):
        if not hasattr(model, attr):
            raise ConfigError(f"Model {name!r} does not declare {attr!r}; see interpbench.models.")
    model.name = name  # named in error messages (e.g. "lrp is not applicable to resnet_small")
    if weights_path is not None:
        load_weights(model, weights_path)
    return model


def load_weights(model: nn.Module, weights_path: str | Path) -> nn.Module:
    """Load a state_dict file (``weights_only=True``) into ``model``, explaining any mismatch."""
    path = Path(weights_path)
    if not path.is_file():
        raise ConfigError(f"Weights file {path} does not exist (expected a torch state_dict file).")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors: the file is not a state_dict
        raise ConfigError(f"Weights file {path} could not be read as a torch state_dict: {exc}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"Weights file {path} holds a {type(state).__name__}, not a state_dict.")
    target = getattr(model, "weights_target", model)
    own = target.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches {_few(shapes)}")
        raise ConfigError(
            f"Weights file {path} does not match the architecture {type(target).__name__}: "
            + "; ".join(parts)
            + "."
        )
    target.load_state_dict(state)
    log.info("Loaded weights from %s", path)
    return model


def _few(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return f"[{shown}{', ...' if len(items) > n else ''}] ({len(items)} in all)"


def model_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's randomization blocks, output -> input, as ``(name, module)`` pairs."""
    names = getattr(model, "block_names", None)
    if not names:
        raise ConfigError(f"{type(model).__name__} declares no 'block_names'.")
    return [(n, model.get_submodule(n)) for n in names]


def gradcam_layer(model: nn.Module) -> nn.Module:
    """The layer GradCAM reads; NotApplicableError for models without a spatial layer."""
    name = getattr(model, "gradcam_layer_name", None)
    if name is None:
        raise NotApplicableError(f"{type(model).__name__} has no convolutional layer for GradCAM.")
    return model.get_submodule(name)
