"""Every registered method on the small zoo models: it runs (right shape, finite) or it says why not.

Applicability (random weights):

| model        | not applicable                                   |
|--------------|--------------------------------------------------|
| mnist_cnn    | none                                             |
| mlp          | gradcam, guided_gradcam (no convolutional layer) |
| resnet_small | lrp (residual additions)                         |
| resnet18     | lrp (residual additions); deeplift, deeplift_shap (torchvision reuses one ReLU module per block) |
| inception_v3 | lrp, deeplift, deeplift_shap, guided_backprop, deconvolution, guided_gradcam (functional F.relu) |

Guided backprop and deconvolution run on resnet18 and equal their values on a copy with one ReLU
per call site (Captum hooks every call of a module).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from interpbench.errors import NotApplicableError
from interpbench.explain import attribute, available_methods
from interpbench.models import build_model
from tests.explain.toy_models import FunctionalReLU, WithSoftplus

# Small settings so that the whole matrix runs in seconds.
SMALL = {
    "integrated_gradients": {"n_steps": 8},
    "gradient_shap": {"n_samples": 4},
    "smoothgrad": {"n_samples": 4},
    "smoothgrad_sq": {"n_samples": 4},
    "vargrad": {"n_samples": 4},
    "ig_smoothgrad": {"n_samples": 2, "n_steps": 4},
    "feature_ablation": {"patch": 7},
    "feature_permutation": {"patch": 7},
    "occlusion": {"patch": 7, "stride": 7},
    "lime": {"patch": 7, "n_samples": 20},
    "kernel_shap": {"patch": 7, "n_samples": 20},
    "shapley_value_sampling": {"patch": 7, "n_samples": 2},
}

NOT_APPLICABLE = {
    "mnist_cnn": set(),
    "mlp": {"gradcam", "guided_gradcam"},
    "resnet_small": {"lrp"},
}

MODELS = {
    "mnist_cnn": (dict(), (1, 28, 28)),
    "mlp": (dict(hidden=(32,)), (1, 28, 28)),
    "resnet_small": (dict(in_channels=3, image_size=32, width=4), (3, 32, 32)),
}


@pytest.fixture(scope="module")
def zoo() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    models = {}
    for name, (kwargs, _) in MODELS.items():
        models[name] = build_model(name, **kwargs)
        models[name].name = name
    return models


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("method", available_methods())
def test_method_runs_or_is_not_applicable(zoo, model_name, method):
    model = zoo[model_name]
    x = torch.rand(2, *MODELS[model_name][1], generator=torch.Generator().manual_seed(0))
    y = torch.tensor([1, 2])
    if method in NOT_APPLICABLE[model_name]:
        with pytest.raises(NotApplicableError, match=f"^{method} is not applicable to {model_name}: "):
            attribute(method, model, x, y, **SMALL.get(method, {}))
        return
    before, version = x.clone(), x._version
    maps = attribute(method, model, x, y, **SMALL.get(method, {}))
    assert maps.shape == x.shape and maps.dtype == torch.float32
    assert torch.isfinite(maps).all()
    # attribute() hands interpbench's own methods the caller's tensor (no copy): none may write into it
    assert x._version == version and torch.equal(x, before)
    assert maps.data_ptr() != x.data_ptr()


def test_lrp_on_resnet_small_names_the_residual_addition(zoo):
    with pytest.raises(NotApplicableError, match="lrp is not applicable to resnet_small: .*residual addition"):
        attribute("lrp", zoo["resnet_small"], torch.rand(1, 3, 32, 32), 0)






@pytest.mark.parametrize("method", ["guided_backprop", "deconvolution", "deeplift", "deeplift_shap"])
def test_hooked_methods_refuse_functional_activations(method):
    expected = f"{method} is not applicable to FunctionalReLU: .*'relu' as a function"
    with pytest.raises(NotApplicableError, match=expected):
        attribute(method, FunctionalReLU(), torch.rand(2, 1, 4, 4), 0)


def test_lrp_refuses_functional_activations_and_unknown_layers():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(NotApplicableError, match="lrp is not applicable to FunctionalReLU: .*'relu'"):
        attribute("lrp", FunctionalReLU(), x, 0)
    with pytest.raises(NotApplicableError, match="lrp is not applicable to WithSoftplus: LRP has no rule for Softplus"):
        attribute("lrp", WithSoftplus(), x, 0)


def test_feature_permutation_needs_two_images(zoo):
    from interpbench.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 2 images"):
        attribute("feature_permutation", zoo["mnist_cnn"], torch.rand(1, 1, 28, 28), 0)


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=10)
    model.name = "resnet18"
    return model


@pytest.mark.parametrize("method", ["guided_backprop", "deeplift", "lrp"])
def test_torchvision_resnet18_random_weights(resnet18, method):
    model = resnet18
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    if method in ("deeplift", "lrp"):
        expected = f"{method} is not applicable to resnet18: .*(more than once|residual)"
        with pytest.raises(NotApplicableError, match=expected):
            attribute(method, model, x, 3)
        return
    maps = attribute(method, model, x, 3)
    assert maps.shape == x.shape and torch.isfinite(maps).all() and maps.abs().sum() > 0
