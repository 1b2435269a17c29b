"""Cascading / independent model-parameter randomization (Adebayo et al. 2018, §3.1)."""

from __future__ import annotations

import pytest
import torch

from interpbench.models import build_model, model_blocks
from interpbench.errors import ConfigError
from interpbench.models.randomize import (
    ORIGINAL,
    block_seed,
    cascading_randomization,
    independent_randomization,
    randomization_steps,
    reinitialize,
)


def _trained(name: str, **kw) -> torch.nn.Module:
    """A zoo model whose every parameter and float buffer is moved off its initial value,
    so that a BatchNorm reset (weight 1, bias 0, running stats 0/1) is visible as a change."""
    torch.manual_seed(0)
    model = build_model(name, **kw)
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.is_floating_point():
                t.add_(0.1 * torch.randn_like(t) + 0.05)
            else:
                t.add_(7)  # num_batches_tracked
    return model


SMALL = {
    "mnist_cnn": dict(image_size=12),
    "resnet_small": dict(image_size=8, width=4),
}


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _changed_blocks(model, reference_state) -> set[str]:
    """Names of the blocks whose parameters/buffers all differ from ``reference_state``; a block
    with only some of them changed fails the test (re-initialisation is all or nothing)."""
    changed = set()
    state = model.state_dict()
    for block, _ in model_blocks(model):
        keys = [k for k in state if k.startswith(block + ".")]
        differs = [not torch.equal(state[k], reference_state[k]) for k in keys]
        assert all(differs) or not any(differs), f"{block}: partly re-initialised"
        if all(differs):
            changed.add(block)
    return changed


def _outside_blocks_equal(model, reference_state) -> bool:
    blocks = [b + "." for b, _ in model_blocks(model)]
    return all(
        torch.equal(v, reference_state[k])
        for k, v in model.state_dict().items()
        if not any(k.startswith(b) for b in blocks)
    )


@pytest.mark.parametrize("name", sorted(SMALL))
def test_cascading_changes_exactly_blocks_one_to_k_and_leaves_original(name):
    model = _trained(name, **SMALL[name])
    model.train()
    before = _state(model)
    blocks = [b for b, _ in model_blocks(model)]
    steps = list(cascading_randomization(model, seed=3))
    assert [s.step for s in steps] == list(range(len(blocks) + 1))
    assert [s.block_name for s in steps] == [ORIGINAL, *blocks]
    for step, block, copy_ in steps:
        assert copy_ is not model
        assert not copy_.training
        assert _changed_blocks(copy_, before) == set(blocks[:step])
        assert _outside_blocks_equal(copy_, before)
    # the trained model is untouched: weights, buffers and mode
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert model.training


@pytest.mark.parametrize("name", sorted(SMALL))
def test_independent_changes_only_block_k(name):
    model = _trained(name, **SMALL[name])
    before = _state(model)
    blocks = [b for b, _ in model_blocks(model)]
    steps = list(independent_randomization(model, seed=3))
    assert [s.block_name for s in steps] == [ORIGINAL, *blocks]
    for step, block, copy_ in steps:
        assert _changed_blocks(copy_, before) == (set() if step == 0 else {block})
        assert _outside_blocks_equal(copy_, before)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_block_k_gets_same_weights_in_cascading_and_independent():
    model = _trained("mnist_cnn", **SMALL["mnist_cnn"])
    cascade = {b: m for _, b, m in cascading_randomization(model, seed=11, include_original=False)}
    for _, block, indep in independent_randomization(model, seed=11, include_original=False):
        a = cascade[block].get_submodule(block).state_dict()
        b = indep.get_submodule(block).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_deterministic_under_seed_and_seed_matters():
    model = _trained("mnist_cnn", **SMALL["mnist_cnn"])

    def weights(seed):
        return [_state(m) for _, _, m in cascading_randomization(model, seed, include_original=False)]

    first, again, other = weights(5), weights(5), weights(6)
    for a, b, c in zip(first, again, other):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(first[-1]["conv1.weight"], other[-1]["conv1.weight"])
    assert block_seed(5, 0) != block_seed(5, 1) != block_seed(6, 1)


def test_global_rng_state_unchanged():
    model = _trained("mnist_cnn", **SMALL["mnist_cnn"])
    layer = torch.nn.Linear(3, 3)  # building a layer draws from the global RNG: do it first
    torch.manual_seed(123)
    state = torch.get_rng_state()
    for _ in cascading_randomization(model, seed=1):
        pass
    for _ in independent_randomization(model, seed=1):
        pass
    reinitialize(layer, 9)
    assert torch.equal(torch.get_rng_state(), state)


def test_reinitialize_uses_default_initialisers_and_resets_batchnorm():
    torch.manual_seed(0)
    layers = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Linear(4, 5))
    with torch.no_grad():
        for p in layers.parameters():
            p.fill_(9.0)
    layers[1].running_mean.fill_(4.0)
    layers[1].num_batches_tracked.fill_(5)
    reinitialize(layers, 0)
    conv, bn, fc = layers
    bound = 1 / (2 * 3 * 3) ** 0.5  # kaiming_uniform(a=sqrt(5)) on fan_in = 18 -> U(-1/sqrt(18), 1/sqrt(18))
    assert conv.weight.abs().max() <= bound and conv.weight.std() > 0
    assert torch.equal(bn.weight, torch.ones(3)) and torch.equal(bn.bias, torch.zeros(3))
    assert torch.equal(bn.running_mean, torch.zeros(3)) and torch.equal(bn.running_var, torch.ones(3))
    assert bn.num_batches_tracked.item() == 0
    assert fc.weight.abs().max() <= 1 / 2  # fan_in = 4
    # same seed, same weights
    other = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Linear(4, 5))
    reinitialize(other, 0)
    assert all(torch.equal(a, b) for a, b in zip(layers.state_dict().values(), other.state_dict().values()))


def test_uncovered_parameters_are_reported(caplog):
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.full((2,), 3.0))

    module = torch.nn.Sequential(Scale(), torch.nn.Linear(2, 2))
    with caplog.at_level("WARNING"):
        reinitialize(module, 0)
    assert "no reset_parameters" in caplog.text and "left unchanged: 0" in caplog.text
    assert torch.equal(module[0].gain, torch.full((2,), 3.0))


def test_generators_are_lazy():
    model = _trained("mnist_cnn", **SMALL["mnist_cnn"])
    gen = cascading_randomization(model, seed=0)
    step, block, first = next(gen)
    assert (step, block) == (0, ORIGINAL)
    # what the caller does to a yielded model does not leak into the next step
    with torch.no_grad():
        first.fc1.weight.fill_(0.0)
    _, block, second = next(gen)
    assert block == "fc2"
    assert not torch.equal(second.fc1.weight, torch.zeros_like(second.fc1.weight))


def test_randomization_steps_by_name():
    model = _trained("mlp", image_size=4, hidden=(3,))
    names = [b for _, b, _ in randomization_steps(model, "cascading", seed=0)]
    assert names == [ORIGINAL, "fc_out", "body.0"]
    assert [b for _, b, _ in randomization_steps(model, "independent", 0, include_original=False)] == names[1:]
    with pytest.raises(ConfigError, match="cascading"):
        randomization_steps(model, "cascade", 0)
