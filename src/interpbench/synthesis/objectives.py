"""What the synthesis methods maximise: a class logit, or one channel of an inner layer.

The inner channel "most tied to the target" is the channel ``c`` of the inner layer's output
``A`` with the largest mean gradient-times-activation contribution to the target logit,

    score(c) = mean over images of  sum_{i,j} A_c[i,j] * d logit_target / d A_c[i,j]

(a first-order estimate of how much of the logit flows through the channel), averaged over the
clean images when they are given, else computed at a neutral image (uniform 0.5 grey).

The default inner layer is the model's last convolutional block: the GradCAM layer of the zoo
(:func:`interpbench.models.registry.gradcam_layer`), followed through the element-wise modules
that come right after it in the forward pass (BatchNorm, ReLU, ...): for ``cnn_small`` that is
``relu3``, the ReLU output of ``conv3``; for ``resnet_small`` ``stage3`` itself.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..models.registry import gradcam_layer

log = logging.getLogger(__name__)

_ELEMENTWISE = (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Tanh,
                nn.Sigmoid, nn.Identity, nn.Dropout, nn.Hardtanh, nn.ReLU6)


def inner_layer(model: nn.Module, name: str | None, example: Tensor) -> tuple[str, nn.Module]:
    """The module whose output the inner objective reads: ``name`` (a submodule path), or by default
    the GradCAM layer followed through the element-wise modules after it (see the module doc)."""
    names = {m: n for n, m in model.named_modules()}
    if name is not None:
        try:
            return name, model.get_submodule(name)
        except AttributeError:
            convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
            raise ConfigError(f"layer {name!r} is not a submodule of {type(model).__name__}; "
                              f"its conv layers: {', '.join(convs)}.") from None
    try:
        base = gradcam_layer(model)
    except Exception:
        base = None
    if base is None:
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ConfigError(f"{type(model).__name__} has no convolutional layer; give the inner layer as `layer`.")
        base = convs[-1]
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod)) for m in model.modules()]
    try:
        with torch.no_grad():
            model(example[:1])
    finally:
        for h in hooks:
            h.remove()
    chosen = base
    if base in order:
        for m in order[order.index(base) + 1:]:
            if not isinstance(m, _ELEMENTWISE):
                break
            chosen = m
    return names[chosen], chosen


def capture(module: nn.Module, pre_relu: bool = False) -> tuple[list[Tensor], torch.utils.hooks.RemovableHandle]:
    """A forward hook that keeps the module's latest output (with ``pre_relu``: its input) in ``store[0]``."""
    store: list[Tensor] = []

    def hook(mod, inputs, output):
        store[:] = [inputs[0] if pre_relu else output]

    return store, module.register_forward_hook(hook)


def top_channel(model: nn.Module, module: nn.Module, target: int, images: Tensor) -> int:
    """The channel of ``module``'s output with the largest mean gradient x activation toward
    ``target``'s logit over ``images``."""
    store, handle = capture(module)
    try:
        with torch.enable_grad():
            x = images.detach().clone().requires_grad_(True)
            logits = model(x)
            act = store[0]
            grad = torch.autograd.grad(logits[:, target].sum(), act)[0]
    finally:
        handle.remove()
    score = (act * grad).detach()
    score = score.flatten(2).sum(2) if score.dim() > 2 else score
    return int(score.mean(0).argmax())
