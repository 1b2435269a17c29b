"""The contract of interpbench.explain.attribute: names, params, side effects, seeding, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from interpbench.errors import ConfigError, NotApplicableError
from interpbench.explain import (
    attribute,
    available_methods,
    method_info,
    register_method,
)
from interpbench.explain.registry import _METHODS
from interpbench.models import build_model
from tests.explain.toy_models import ReusedReLU

CASPER_16 = {
    "integrated_gradients", "deeplift", "guided_gradcam", "saliency", "gradient_shap", "deeplift_shap",
    "guided_backprop", "deconvolution", "lrp", "input_x_gradient", "feature_ablation",
    "feature_permutation", "lime", "occlusion", "kernel_shap", "shapley_value_sampling",
}
EXTRA = {"smoothgrad", "smoothgrad_sq", "vargrad", "ig_smoothgrad", "gradcam", "blank", "random", "sobel_edges"}


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return build_model("mnist_cnn")


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_registry_lists_all_methods_with_metadata():
    assert set(available_methods()) == CASPER_16 | EXTRA
    assert set(available_methods("baseline")) == {"blank", "random", "sobel_edges"}
    info = method_info("integrated_gradients")
    assert info.kind == "gradient" and not info.stochastic
    assert info.params["n_steps"] == 50 and info.params["baseline"] == 0.0
    assert method_info("smoothgrad").stochastic
    assert method_info("gradcam").needs_gradcam_layer
    assert method_info("saliency").params == {"absolute": False}


def test_unknown_method_lists_known_names(cnn, x):
    with pytest.raises(ConfigError) as err:
        attribute("saliancy", cnn, x, 0)
    assert "'saliancy'" in str(err.value) and "Did you mean 'saliency'" in str(err.value)
    assert "integrated_gradients" in str(err.value) and "sobel_edges" in str(err.value)


def test_misspelled_param_names_key_and_valid_params(cnn, x):
    with pytest.raises(ConfigError) as err:
        attribute("integrated_gradients", cnn, x, 0, nsteps=10)
    msg = str(err.value)
    assert "'nsteps'" in msg and "did you mean 'n_steps'" in msg and "integrated_gradients" in msg
    assert "integration" in msg and "internal_batch_size" in msg
    with pytest.raises(ConfigError, match="'guided_backprop' takes no parameters, got 'n_steps'"):
        attribute("guided_backprop", cnn, x, 0, n_steps=3)


def test_wrong_param_type_and_range(cnn, x):
    with pytest.raises(ConfigError, match="n_steps"):
        attribute("integrated_gradients", cnn, x, 0, n_steps="many")
    with pytest.raises(ConfigError, match="n_steps must be >= 1"):
        attribute("integrated_gradients", cnn, x, 0, n_steps=0)
    with pytest.raises(ConfigError, match="expected one of"):
        attribute("gradcam", cnn, x, 0, upsample="cubic")
    with pytest.raises(ConfigError, match="unknown baseline 'ones'"):
        attribute("gradient_shap", cnn, x, 0, baselines=["zeros", "ones"])


def test_bad_inputs_and_targets(cnn, x):
    with pytest.raises(ConfigError, match=r"\[N, C, H, W\]"):
        attribute("saliency", cnn, x[0], 0)
    with pytest.raises(ConfigError, match="out of range"):
        attribute("saliency", cnn, x, 10)
    with pytest.raises(ConfigError, match="shape \\[2\\]"):
        attribute("saliency", cnn, x, torch.tensor([1, 2, 3]))
    with pytest.raises(ConfigError, match="integer class indices"):
        attribute("saliency", cnn, x, torch.tensor([1.0, 2.0]))


def test_call_has_no_side_effects(cnn, x):
    cnn.train()
    cnn.conv1.weight.requires_grad_(False)
    flags = [p.requires_grad for p in cnn.parameters()]
    before = x.clone()
    rng = torch.get_rng_state()
    maps = attribute("smoothgrad", cnn, x, torch.tensor([1, 2]), n_samples=3)
    assert not cnn.training
    assert [p.requires_grad for p in cnn.parameters()] == flags
    assert all(p.grad is None for p in cnn.parameters())
    assert torch.equal(x, before) and not x.requires_grad
    assert torch.equal(torch.get_rng_state(), rng)
    assert maps.dtype == torch.float32 and maps.device.type == "cpu" and not maps.requires_grad
    assert maps.shape == x.shape
    cnn.conv1.weight.requires_grad_(True)


def test_int_target_equals_tensor_target(cnn, x):
    a = attribute("saliency", cnn, x, 4)
    b = attribute("saliency", cnn, x, torch.tensor([4, 4]))
    assert torch.equal(a, b)


def test_target_range_is_checked_again_when_the_head_changes():
    torch.manual_seed(0)
    model = build_model("mnist_cnn")
    x = torch.rand(2, 1, 28, 28)
    attribute("saliency", model, x, 9)  # the first call learns the width (10) from its forward pass
    with pytest.raises(ConfigError, match="target class 10 is out of range for a model with 10 outputs"):
        attribute("saliency", model, x, 10)  # from the known width, before any pass
    model.fc2 = nn.Linear(model.fc2.in_features, 12)  # a new head: its width is learnt again
    assert attribute("saliency", model, x, 11).shape == x.shape
    with pytest.raises(ConfigError, match="target class 12 is out of range for a model with 12 outputs"):
        attribute("saliency", model, x, 12)
    with pytest.raises(ConfigError, match="negative class index -1"):
        attribute("saliency", model, x, -1)


def test_user_methods_get_a_copy_and_no_method_hands_back_the_inputs(cnn, x):
    @register_method("test_writes_inputs", kind="baseline")
    def writes(model, inputs, target):
        """Writes into its inputs and returns them."""
        return inputs.mul_(2)

    @register_method("test_identity", kind="baseline")
    def identity(model, inputs, target):
        """The inputs themselves."""
        return inputs

    try:
        before = x.clone()
        assert torch.equal(attribute("test_writes_inputs", cnn, x, 0), 2 * before)
        assert torch.equal(x, before)
        maps = attribute("test_identity", cnn, x, 0)
        assert torch.equal(maps, x) and maps.data_ptr() != x.data_ptr()
    finally:
        _METHODS.pop("test_writes_inputs")
        _METHODS.pop("test_identity")


def test_requires_grad_restored_after_a_failure():
    model = build_model("resnet_small", in_channels=3, image_size=32)
    flags = [p.requires_grad for p in model.parameters()]
    with pytest.raises(NotApplicableError):
        attribute("lrp", model, torch.rand(1, 3, 32, 32), 0)
    assert [p.requires_grad for p in model.parameters()] == flags




def test_captum_failure_becomes_not_applicable_naming_method_and_model():
    model = ReusedReLU()
    with pytest.raises(NotApplicableError, match="deeplift is not applicable to ReusedReLU: .*more than once"):
        attribute("deeplift", model, torch.rand(2, 1, 4, 4), 0)
    model.name = "reused_relu"
    with pytest.raises(NotApplicableError, match="lrp is not applicable to reused_relu: .*more than once"):
        attribute("lrp", model, torch.rand(2, 1, 4, 4), 0)


def test_model_errors_are_not_disguised(cnn):
    with pytest.raises(RuntimeError) as err:
        attribute("saliency", cnn, torch.rand(2, 3, 28, 28), 0)  # wrong channel count
    assert not isinstance(err.value, NotApplicableError)


@pytest.mark.parametrize("method", sorted(n for n in _METHODS if _METHODS[n].stochastic))
def test_stochastic_methods_repeat_under_a_seed(cnn, x, method):
    small = {
        "gradient_shap": {"n_samples": 3}, "smoothgrad": {"n_samples": 3}, "smoothgrad_sq": {"n_samples": 3},
        "vargrad": {"n_samples": 3}, "ig_smoothgrad": {"n_samples": 2, "n_steps": 4},
        "lime": {"n_samples": 20, "patch": 7}, "kernel_shap": {"n_samples": 20, "patch": 7},
        "shapley_value_sampling": {"n_samples": 2, "patch": 7}, "feature_permutation": {"patch": 7},
    }.get(method, {})
    y = torch.tensor([1, 2])
    a = attribute(method, cnn, x, y, seed=5, **small)
    b = attribute(method, cnn, x, y, seed=5, **small)
    assert torch.equal(a, b)
    if method not in ("lime", "feature_permutation"):  # lime's Lasso may zero a random model's map
        assert not torch.equal(a, attribute(method, cnn, x, y, seed=6, **small))


def test_user_method_joins_the_registry(cnn, x):
    @register_method("test_twice_input", kind="baseline")
    def twice(model, inputs, target, *, factor: float = 2.0):
        """Input times a factor."""
        return inputs * factor

    try:
        assert torch.allclose(attribute("test_twice_input", cnn, x, 0, factor=3), 3 * x)
        assert method_info("test_twice_input").description == "Input times a factor."
        with pytest.raises(ConfigError, match="already registered"):
            register_method("test_twice_input")(twice)
    finally:
        _METHODS.pop("test_twice_input")


def test_reserved_param_names_are_refused():
    with pytest.raises(ConfigError, match="reserved"):
        @register_method("test_bad_params")
        def bad(model, inputs, target, *, seed: int = 0):
            return inputs


def test_only_rng_free_methods_skip_seeding_and_every_other_method_is_seeded():
    """Methods drawing random numbers anywhere (deeplift_shap's uniform reference, SmoothGrad's
    noise) are seeded by attribute(); only interpbench's methods marked rng_free skip the fork."""
    from interpbench.explain.registry import method_info

    free = {m for m in available_methods() if method_info(m).rng_free}
    assert free == {"saliency", "input_x_gradient", "integrated_gradients", "blank", "sobel_edges"}
    assert not any(method_info(m).stochastic for m in free)


def test_an_unhashable_model_is_checked_on_every_call():
    class Unhashable(nn.Module):
        __hash__ = None  # e.g. a dataclass module with eq=True

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(x.flatten(1))

    model, x = Unhashable(), torch.rand(2, 1, 2, 2)
    assert attribute("saliency", model, x, 2).shape == x.shape
    with pytest.raises(ConfigError, match="target class 3 is out of range for a model with 3 outputs"):
        attribute("saliency", model, x, 3)
