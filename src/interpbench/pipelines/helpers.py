"""Small glue shared by the nodes: building a zoo model from parameters and bundles."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from interpbench.config import parse
from interpbench.models import build_model
from interpbench.pipelines.params import ClassifierParams


def classifier_params(raw: dict, where: str) -> ClassifierParams:
    return parse(ClassifierParams, raw, where)


def build_for_data(p: ClassifierParams, x: torch.Tensor, state: dict | None = None) -> nn.Module:
    """Build ``p.model`` sized for images like ``x`` ([N, C, H, W]); load ``state`` when given."""
    m = p.model
    model = build_model(
        m.architecture,
        num_classes=m.num_classes,
        in_channels=int(x.shape[1]),
        image_size=image_size_of(x),
        weights_path=m.weights_path if state is None else None,
        **m.options,
    )
    if state is not None:
        model.load_state_dict(state)
    return model.eval()


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trained model's state_dict on the CPU (what the training nodes return)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def image_size_of(x: torch.Tensor) -> int | tuple[int, int]:
    """Side of square images ``[N, C, S, S]``, else ``(H, W)``."""
    h, w = int(x.shape[-2]), int(x.shape[-1])
    return h if h == w else (h, w)


def bind(func: Callable, **constants) -> Callable:
    """``functools.partial`` that keeps ``func``'s name and docstring (for Kedro and kedro-viz)."""
    return functools.update_wrapper(functools.partial(func, **constants), func)


def with_sub_params(func: Callable, n_data: int, keys: list[str], **constants) -> Callable:
    """``func(*data, params, *rest, **constants)`` as a node that receives only the parameter
    sub-keys it uses: its inputs are its ``n_data`` data inputs, then one ``params:<study>.<key>``
    per entry of ``keys`` (gathered into the ``params`` mapping), then the rest (seed, device, ...).
    kedro-viz then shows exactly which parameters each node reads."""
    n = len(keys)

    def node(*args):
        return func(*args[:n_data], dict(zip(keys, args[n_data : n_data + n])), *args[n_data + n :], **constants)

    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(node, attr, getattr(func, attr))
    return node
