"""The torch.fx checks (functional activations, LRP's plain chain) trace once per architecture,
not once per randomization step: re-initialising weights does not change the graph."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from interpbench.errors import NotApplicableError
from interpbench.explain import propagation
from interpbench.explain.propagation import architecture_key, check_plain_chain, require_module_activations
from interpbench.models import build_model
from interpbench.models.randomize import reinitialize
from interpbench.protocols.sanity_checks import randomization_maps

from .toy_models import FunctionalReLU


@pytest.fixture
def trace_counter(monkeypatch):
    """Counts calls of torch.fx.symbolic_trace, starting from an empty trace cache."""
    calls = []
    real = torch.fx.symbolic_trace

    def counting(root, *args, **kwargs):
        calls.append(type(root).__name__)
        return real(root, *args, **kwargs)

    monkeypatch.setattr(torch.fx, "symbolic_trace", counting)
    monkeypatch.setattr(propagation, "_TRACES", {})
    return calls


def test_one_trace_across_every_randomization_step(trace_counter):
    model = build_model("mnist_cnn")
    x = torch.rand(2, 1, 28, 28)
    methods = {"guided_backprop": {}, "guided_gradcam": {}}  # both check for functional ReLUs
    bundle = randomization_maps(model, x, methods, "cascading", seed=0)
    assert len(bundle["steps"]) == 5 and not bundle["skipped"]
    assert len(trace_counter) == 1
    randomization_maps(model, x, methods, "independent", seed=0)
    assert len(trace_counter) == 1  # the independent steps reuse it too


def test_cached_refusal_holds_for_every_copy_and_architectures_are_traced_apart(trace_counter):
    model = FunctionalReLU()
    for seed in range(3):  # three "randomization steps" of a model with a functional ReLU
        step = reinitialize(copy.deepcopy(model), seed)
        with pytest.raises(NotApplicableError, match="'relu'"):
            require_module_activations(step, propagation.RELU_FUNCTIONS)
    assert len(trace_counter) == 1
    require_module_activations(build_model("mlp"), propagation.RELU_FUNCTIONS)  # another architecture
    assert len(trace_counter) == 2
    check_plain_chain(build_model("mlp").body)  # LRP's check shares the cache (a new architecture here)
    check_plain_chain(reinitialize(build_model("mlp"), 7).body)
    assert len(trace_counter) == 3


def test_architecture_key_ignores_weights_and_sees_structure():
    model = build_model("mnist_cnn")
    assert architecture_key(reinitialize(copy.deepcopy(model), 3)) == architecture_key(model)
    assert architecture_key(build_model("mlp", hidden=[32])) != architecture_key(build_model("mlp", hidden=[64]))
    assert architecture_key(nn.Sequential(nn.ReLU())) != architecture_key(nn.Sequential(nn.Tanh()))
    assert architecture_key(model.train()) != architecture_key(copy.deepcopy(model).eval())


def test_untraceable_model_is_cached_as_untraceable(trace_counter):
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
                return self.fc(x.flatten(1))
            return -self.fc(x.flatten(1))

    for _ in range(2):
        require_module_activations(Branchy(), propagation.RELU_FUNCTIONS)  # let through
        with pytest.raises(NotApplicableError, match="could not be traced"):
            check_plain_chain(Branchy())
    assert len(trace_counter) == 1
