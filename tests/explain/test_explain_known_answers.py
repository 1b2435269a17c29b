"""Attribution methods on cases with a known answer."""

from __future__ import annotations

import pytest
import torch
from captum.attr import NoiseTunnel, Saliency
from torch import nn

from interpbench.explain import attribute
from interpbench.explain.perturbation import grid_mask
from interpbench.models import build_model


def linear_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 3))


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(2, 2, 8, 8, generator=torch.Generator().manual_seed(1))


def weight_row(model: nn.Module, k: int) -> torch.Tensor:
    return model[1].weight[k].detach().view(2, 8, 8)


def patch_sums(values: torch.Tensor, patch: int) -> torch.Tensor:
    """Each pixel gets the sum of ``values`` over its grid cell (summed over channels)."""
    ids = grid_mask(*values.shape[-2:], patch)[0, 0]
    per_cell = torch.zeros(int(ids.max()) + 1).index_add_(0, ids.flatten(), values.sum(0).flatten())
    return per_cell[ids].expand_as(values)


def test_saliency_of_linear_model_is_its_weight_row(x):
    model = linear_model()
    maps = attribute("saliency", model, x, 2)
    assert torch.allclose(maps, weight_row(model, 2).expand_as(x))
    assert torch.allclose(attribute("saliency", model, x, 2, absolute=True), maps.abs())


def test_input_x_gradient_of_linear_model(x):
    model = linear_model()
    assert torch.allclose(attribute("input_x_gradient", model, x, 1), x * weight_row(model, 1))


def test_ig_and_deeplift_of_linear_model_are_input_x_weight(x):
    model = linear_model()
    expected = x * weight_row(model, 0)
    assert torch.allclose(attribute("integrated_gradients", model, x, 0, n_steps=5), expected, atol=1e-6)
    assert torch.allclose(attribute("deeplift", model, x, 0), expected, atol=1e-6)


def test_integrated_gradients_completeness_on_mnist_cnn():
    torch.manual_seed(0)
    model = build_model("mnist_cnn").eval()
    x = torch.rand(2, 1, 28, 28)
    y = torch.tensor([3, 7])
    maps = attribute("integrated_gradients", model, x, y, n_steps=128)
    with torch.no_grad():
        delta = (model(x) - model(torch.zeros_like(x))).gather(1, y[:, None]).squeeze(1)
    assert torch.all((maps.sum((1, 2, 3)) - delta).abs() <= 0.01 * delta.abs())


def test_deeplift_completeness_on_mlp():
    torch.manual_seed(0)
    model = build_model("mlp").eval()
    x = torch.rand(2, 1, 28, 28)
    maps = attribute("deeplift", model, x, 4)
    with torch.no_grad():
        delta = (model(x) - model(torch.zeros_like(x)))[:, 4]
    assert torch.allclose(maps.sum((1, 2, 3)), delta, rtol=1e-4, atol=1e-6)


def test_lrp_epsilon_without_biases_equals_input_x_gradient():
    # For a bias-free ReLU network LRP-epsilon (eps -> 0) reduces to gradient x input.
    torch.manual_seed(0)
    model = build_model("mlp", hidden=(32, 16)).eval()
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    x = torch.rand(2, 1, 28, 28)
    lrp = attribute("lrp", model, x, 3)
    assert torch.allclose(lrp, attribute("input_x_gradient", model, x, 3), atol=1e-6)
    assert not any(hasattr(m, "rule") for m in model.modules())


def test_feature_ablation_and_shapley_of_linear_model_are_patch_sums(x):
    model = linear_model()
    expected = torch.stack([patch_sums(xi * weight_row(model, 1), 4) for xi in x])
    assert torch.allclose(attribute("feature_ablation", model, x, 1), expected, atol=1e-5)
    shapley = attribute("shapley_value_sampling", model, x, 1, n_samples=2)
    assert torch.allclose(shapley, expected, atol=1e-5)


def test_kernel_shap_of_linear_model_recovers_patch_sums(x):
    model = linear_model()
    expected = torch.stack([patch_sums(xi * weight_row(model, 1), 4) for xi in x])
    maps = attribute("kernel_shap", model, x, 1, n_samples=60)
    assert torch.allclose(maps, expected, atol=1e-3)


def test_lime_of_linear_model_follows_patch_sums(x):
    model = linear_model()
    expected = torch.stack([patch_sums(xi * weight_row(model, 1), 4) for xi in x])
    maps = attribute("lime", model, x, 1, n_samples=50)
    for got, want in zip(maps, expected):
        assert torch.corrcoef(torch.stack([got.flatten(), want.flatten()]))[0, 1] > 0.95


def test_occlusion_of_linear_model_with_disjoint_windows(x):
    model = linear_model()
    maps = attribute("occlusion", model, x, 0, patch=4, stride=4)
    expected = torch.stack([patch_sums(xi * weight_row(model, 0), 4) for xi in x])
    assert torch.allclose(maps, expected, atol=1e-5)


def test_smoothgrad_noise_is_scaled_per_image_range():
    torch.manual_seed(0)
    model = build_model("mnist_cnn").eval()
    x = torch.rand(2, 1, 28, 28) * torch.tensor([0.5, 1.0]).view(-1, 1, 1, 1)
    maps = attribute("smoothgrad", model, x, 1, seed=3, n_samples=4)
    for i in range(2):  # Captum's NoiseTunnel on each image alone, std = 0.15 * its range
        xi = x[i : i + 1]
        torch.manual_seed(3)
        if i == 1:  # the second image's noise follows the first image's draws in the batched call
            torch.randn(4, 1, 28, 28)
        ref = NoiseTunnel(Saliency(model)).attribute(
            xi, nt_type="smoothgrad", nt_samples=4, stdevs=0.15 * float(xi.max() - xi.min()), target=1, abs=False
        )
        assert torch.allclose(maps[i : i + 1], ref, rtol=1e-4, atol=1e-6)


def test_noise_free_smoothgrad_is_saliency_and_ig_smoothgrad_is_ig():
    torch.manual_seed(0)
    model = build_model("mnist_cnn").eval()
    x = torch.rand(2, 1, 28, 28)
    sal = attribute("saliency", model, x, 1)
    assert torch.allclose(attribute("smoothgrad", model, x, 1, noise_level=0.0, n_samples=2), sal, atol=1e-7)
    assert torch.allclose(attribute("vargrad", model, x, 1, noise_level=0.0, n_samples=2), torch.zeros_like(sal))
    ig = attribute("integrated_gradients", model, x, 1, n_steps=8)
    both = attribute("ig_smoothgrad", model, x, 1, noise_level=0.0, n_samples=2, n_steps=8)
    assert torch.allclose(both, ig, atol=1e-7)


def test_gradcam_is_upsampled_and_broadcast_over_channels():
    torch.manual_seed(0)
    model = build_model("resnet_small", in_channels=3, image_size=32)
    x = torch.rand(2, 3, 32, 32)
    maps = attribute("gradcam", model, x, 0)
    assert maps.shape == x.shape and maps.min() >= 0
    assert torch.equal(maps[:, 0], maps[:, 2])
    signed = attribute("gradcam", model, x, 0, relu=False, layer="stage2")
    assert signed.shape == x.shape


def test_blank_is_zeros_and_random_is_seeded_uniform(x):
    model = linear_model()
    assert torch.equal(attribute("blank", model, x, 0), torch.zeros_like(x))
    a = attribute("random", model, x, 0, seed=11)
    assert torch.equal(a, attribute("random", model, x, 0, seed=11))
    assert not torch.equal(a, attribute("random", model, x, 0, seed=12))
    assert a.min() >= 0 and a.max() < 1


def test_sobel_of_a_step_image_peaks_at_the_edge():
    x = torch.zeros(1, 2, 16, 16)
    x[..., 8:] = 1.0
    maps = attribute("sobel_edges", linear_model_for(x), x, 0)
    assert set(maps[0, 0].argmax(dim=1).tolist()) <= {7, 8}
    assert torch.all(maps[..., :6] == 0) and torch.all(maps[..., 10:] == 0)
    assert torch.equal(maps[0, 0], maps[0, 1])


def linear_model_for(x: torch.Tensor) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), 2))
