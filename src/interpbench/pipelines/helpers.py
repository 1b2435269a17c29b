"""Small glue shared by the nodes: building a zoo model from parameters and bundles."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd
import torch
from kedro.pipeline import Node
from torch import nn

from interpbench.config import parse
from interpbench.models import build_model
from interpbench.pipelines.params import ClassifierParams
from interpbench.protocols.input_gradients import train_variant
from interpbench.runtime import cpu_threads, resolve_device, seed_everything


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


def train_for_data(p: ClassifierParams, train: dict, init_state: dict | None, cfg, *, attack: dict | None, seed: int,
                   device: str, threads: int | None, desc: str) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """A training node's body: ``p.model`` built for ``train["x"]`` (from ``init_state`` when given)
    after seeding with ``seed``, trained on ``train`` by :func:`protocols.input_gradients.train_variant`
    (PGD adversarial training with ``attack``, plain training without) on ``threads`` CPU threads;
    returns its CPU state_dict and its history."""
    with cpu_threads(threads):
        seed_everything(seed)
        model = build_for_data(p, train["x"], init_state)
        history = train_variant(model, train["x"], train["y"], cfg, attack=attack, device=resolve_device(device),
                                desc=desc)
    return cpu_state_dict(model), pd.DataFrame(history)


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


def sub_params_node(study: str, func: Callable, data: list[str], keys, outputs, /, *, name: str, stage: str,
                    rest=(), **constants) -> Node:
    """A node of ``study`` fed ``data``, then the study's parameter sub-keys ``keys`` (see
    :func:`with_sub_params`), then ``rest`` (e.g. ``params:seed``); tagged with its ``stage``."""
    fn = with_sub_params(func, len(data), list(keys), **constants)
    return Node(fn, [*data, *(f"params:{study}.{k}" for k in keys), *rest], outputs, name=name, tags=[stage])


def parameter_names(nodes) -> set[str]:
    """The parameters the ``nodes`` read (their ``params:`` inputs, without the prefix): what a
    namespaced Pipeline must be told to leave outside its namespace."""
    return {i[len("params:"):] for node in nodes for i in node.inputs if i.startswith("params:")}
