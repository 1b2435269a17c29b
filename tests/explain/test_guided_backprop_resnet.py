"""Known answer: Guided Backprop on torchvision's resnet18, whose BasicBlocks call one ``self.relu``
module at two sites, equals plain Captum Guided Backprop on a copy with one nn.ReLU per call site
(the rule must be applied at every call of a reused module, with that call's own forward mask)."""

from __future__ import annotations

import copy
import types

import torch
from captum.attr import GuidedBackprop
from torch import nn
from torchvision.models.resnet import BasicBlock

from interpbench.explain import attribute
from interpbench.models import build_model


def _two_relu_forward(self, x):  # torchvision BasicBlock.forward with relu_a / relu_b at the two sites
    identity = x
    out = self.relu_a(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_b(out + identity)


def _one_relu_per_call_site(model: nn.Module) -> nn.Module:
    twin = copy.deepcopy(model)
    blocks = [m for m in twin.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    for block in blocks:
        block.relu_a, block.relu_b = nn.ReLU(), nn.ReLU()
        del block.relu
        block.forward = types.MethodType(_two_relu_forward, block)
    return twin


def _relu_calls(model: nn.Module, x: torch.Tensor) -> dict[nn.Module, int]:
    calls: dict[nn.Module, int] = {}
    handles = [m.register_forward_hook(lambda m, i, o: calls.__setitem__(m, calls.get(m, 0) + 1))
               for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return calls


def test_guided_backprop_on_resnet18_equals_one_relu_per_call_site():
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=10).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=g)
    with torch.no_grad():
        target = model(x).argmax(1)
    twin = _one_relu_per_call_site(model).eval()
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x))  # same function
    assert sorted(_relu_calls(model, x).values()) == [1] + [2] * 8  # stem once, each block twice
    assert set(_relu_calls(twin, x).values()) == {1} and len(_relu_calls(twin, x)) == 17

    ours = attribute("guided_backprop", model, x, target, seed=0)
    reference = GuidedBackprop(twin).attribute(x.clone(), target=target).detach()
    plain = attribute("saliency", model, x, target, seed=0)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(ours.abs(), plain.abs(), rtol=1e-2, atol=1e-6)  # GB differs from the gradient
    # the test can tell a rule applied at only one of the two call sites: hide the second from Captum
    half = _one_relu_per_call_site(model).eval()
    for block in (m for m in half.modules() if isinstance(m, BasicBlock)):
        block.relu_b = _HiddenReLU()
    half_gb = GuidedBackprop(half).attribute(x.clone(), target=target).detach()
    assert not torch.allclose(half_gb, reference, rtol=1e-2, atol=1e-5)


class _HiddenReLU(nn.Module):  # not an nn.ReLU: Captum's Guided Backprop leaves its gradient plain
    def forward(self, x):
        return torch.relu(x)
