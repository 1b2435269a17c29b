"""NotApplicableError only for known incompatibilities (the allow-list of causes); any other
failure inside a method propagates as AttributionError naming the method and the model."""

from __future__ import annotations

import pytest
import torch
from captum.attr import NoiseTunnel, Saliency
from torch import nn

from interpbench.errors import AttributionError, NotApplicableError
from interpbench.explain import attribute, register_method
from interpbench.explain.registry import (
    _METHODS,
    NOT_APPLICABLE_CAUSES,
    model_name,
    not_applicable_cause,
)
from interpbench.models import build_model
from tests.explain.toy_models import FunctionalReLU, ReusedReLU, WithSoftplus

X4 = torch.rand(2, 1, 4, 4)


@pytest.fixture
def method():
    """A registered test method; its body is set by each test."""
    calls = {}

    @register_method("test_failing", kind="gradient")
    def failing(model, inputs, target):
        """Fails as the test says."""
        return calls["body"](model, inputs, target)

    try:
        yield calls
    finally:
        _METHODS.pop("test_failing")


def _cnn():
    model = build_model("mnist_cnn")
    model.name = "mnist_cnn"
    return model


def test_unexpected_runtime_error_propagates_naming_method_and_model(method):
    def body(model, x, y):
        raise RuntimeError("boom in the method")

    method["body"] = body
    with pytest.raises(AttributionError, match=r"^test_failing on mnist_cnn failed: RuntimeError: boom in the method$") as err:
        attribute("test_failing", _cnn(), torch.rand(2, 1, 28, 28), 0)
    assert not isinstance(err.value, NotApplicableError)
    assert isinstance(err.value.__cause__, RuntimeError)


def test_unexpected_captum_error_is_no_longer_not_applicable(method):
    def body(model, x, y):  # a Captum assertion that says nothing about the architecture
        return NoiseTunnel(Saliency(model)).attribute(x, target=y, nt_type="bogus")

    method["body"] = body
    with pytest.raises(AttributionError, match="test_failing on mnist_cnn failed: AssertionError: Noise types"):
        attribute("test_failing", build_model("mnist_cnn"), torch.rand(2, 1, 28, 28), 0)


def test_model_errors_name_method_and_model():
    with pytest.raises(AttributionError, match="saliency on mnist_cnn failed: RuntimeError: .*channels") as err:
        attribute("saliency", _cnn(), torch.rand(2, 3, 28, 28), 0)
    assert isinstance(err.value, RuntimeError)  # still a RuntimeError for callers that catch that




class ReusedMaxPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.pool, self.fc = nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.pool(self.pool(self.conv(x))).flatten(1))






@pytest.mark.parametrize(
    "method, model, x, expected",
    [
        ("gradcam", lambda: build_model("mlp", hidden=(32,)), torch.rand(2, 1, 28, 28), "no convolutional layer"),
        ("guided_gradcam", lambda: build_model("mlp", hidden=(32,)), torch.rand(2, 1, 28, 28), "no convolutional layer"),
        ("lrp", lambda: build_model("resnet_small", in_channels=3, image_size=32, width=4), torch.rand(1, 3, 32, 32),
         "residual addition"),
        ("lrp", WithSoftplus, X4, "LRP has no rule for Softplus"),
        ("lrp", FunctionalReLU, X4, "operation outside a module: 'relu'"),
        ("guided_backprop", FunctionalReLU, X4, "'relu' as a function"),
        ("deeplift", FunctionalReLU, X4, "'relu' as a function"),
        ("deeplift", ReusedReLU, X4, "more than once"),
        ("deeplift_shap", ReusedMaxPool, torch.rand(2, 1, 6, 6), "used more than once"),
        ("lrp", ReusedReLU, X4, "more than once"),
    ],
)
def test_each_known_cause_is_not_applicable(method, model, x, expected):
    m = model()
    with pytest.raises(NotApplicableError, match=f"^{method} is not applicable to {model_name(m)}: .*{expected}"):
        attribute(method, m, x, 0)


def test_causes_are_named_and_matched():
    names = [c.name for c in NOT_APPLICABLE_CAUSES]
    assert len(names) == len(set(names)) and all(c.message for c in NOT_APPLICABLE_CAUSES)
    assert not_applicable_cause(RuntimeError("boom"), ReusedReLU()) is None  # not raised in Captum
    assert not_applicable_cause(NotApplicableError("x"), ReusedReLU()).name == "refused_by_method"
