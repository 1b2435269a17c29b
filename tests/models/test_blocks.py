"""Every zoo model's ``block_names`` is its execution order reversed, and covers its parameters.

Cascading randomization (Adebayo et al. 2018) walks the blocks output -> input, so a wrong order
would silently randomize the wrong layers first.
"""

from __future__ import annotations

import pytest
import torch

from interpbench.models import build_model, model_blocks

# name -> (build kwargs, input shape, parameter-name prefixes deliberately outside every block)
ZOO = {
    "mlp": (dict(image_size=8, hidden=(6, 5)), (1, 1, 8, 8), ()),
    "mnist_cnn": (dict(image_size=12), (1, 1, 12, 12), ()),
    "resnet_small": (dict(in_channels=3, image_size=16, width=4, blocks_per_stage=2), (1, 3, 16, 16), ()),
    "resnet18": (dict(num_classes=10), (1, 3, 32, 32), ()),
    "vgg16": (dict(num_classes=10), (1, 3, 32, 32), ()),
    # AuxLogits: the auxiliary classifier runs only in training mode; it is not on the path of the
    # eval-mode logits that attribution maps explain, so it is not a randomization block.
    "inception_v3": (dict(num_classes=10), (1, 3, 80, 80), ("net.AuxLogits.",)),
}


@pytest.fixture(scope="module", params=sorted(ZOO))
def zoo_model(request):
    name = request.param
    kwargs, shape, excluded = ZOO[name]
    torch.manual_seed(0)
    model = build_model(name, **kwargs).eval()
    return name, model, shape, excluded


def _execution_order(model, blocks, shape):
    order = []
    handles = [m.register_forward_pre_hook(lambda _m, _a, n=n: order.append(n)) for n, m in blocks]
    try:
        with torch.no_grad():
            model(torch.rand(*shape))
    finally:
        for h in handles:
            h.remove()
    return order


def test_block_names_are_execution_order_reversed(zoo_model):
    name, model, shape, _ = zoo_model
    blocks = model_blocks(model)
    order = _execution_order(model, blocks, shape)
    assert len(order) == len(set(order)), f"{name}: a block runs more than once: {order}"
    assert set(order) == {n for n, _ in blocks}, f"{name}: blocks never run: {set(dict(blocks)) - set(order)}"
    assert list(model.block_names) == order[::-1]


def test_blocks_have_parameters_and_are_disjoint(zoo_model):
    name, model, _, _ = zoo_model
    seen: dict[int, str] = {}
    for block, module in model_blocks(model):
        params = list(module.parameters())
        assert params, f"{name}: block {block!r} has no parameters"
        for p in params:
            assert id(p) not in seen, f"{name}: blocks {seen[id(p)]!r} and {block!r} share parameters"
            seen[id(p)] = block


def test_every_parameter_belongs_to_a_block_or_is_excluded(zoo_model):
    name, model, _, excluded = zoo_model
    prefixes = tuple(b + "." for b in model.block_names)
    orphans = [
        p for p, _ in model.named_parameters()
        if not p.startswith(prefixes) and not p.startswith(excluded)
    ]
    assert not orphans, f"{name}: parameters outside every block: {orphans}"
    for prefix in excluded:  # the exclusion list names something real
        assert any(p.startswith(prefix) for p, _ in model.named_parameters())
