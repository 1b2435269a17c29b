"""Shared work between attribution calls (``shared_work``), the lean gradient paths against
Captum's, and what ``attribute`` does to the global RNGs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from captum.attr import GuidedGradCam, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from interpbench.explain import attribute, method_maps, register_method
from interpbench.explain.gradient import _rescaled, _unit_range, noisy_gradient_moments
from interpbench.explain.registry import _METHODS, shared_work
from interpbench.models import build_model


@pytest.fixture
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return build_model("mnist_cnn").eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))


Y = torch.tensor([1, 2, 3])
NOISY = ("smoothgrad", "smoothgrad_sq", "vargrad")


def _count_passes(model: nn.Module) -> list[int]:
    count = [0]
    model.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    return count


def test_noise_tunnel_family_shares_one_set_of_noisy_gradients(cnn, x):
    alone = {m: attribute(m, cnn, x, Y, seed=4, n_samples=5, nt_samples_batch_size=2) for m in NOISY}
    passes = _count_passes(cnn)
    with shared_work():
        together = {m: attribute(m, cnn, x, Y, seed=4, n_samples=5, nt_samples_batch_size=2) for m in NOISY}
    assert passes[0] == 3  # ceil(5 / 2) noisy batches, once for the three methods
    for m in NOISY:
        assert torch.equal(alone[m], together[m]), m


def test_different_settings_seed_or_weights_are_not_shared(cnn, x):
    expected_b = attribute("vargrad", cnn, x, Y, seed=4, n_samples=3)
    expected_c = attribute("vargrad", cnn, x, Y, seed=5, n_samples=2)
    passes = _count_passes(cnn)
    with shared_work():
        a = attribute("smoothgrad", cnn, x, Y, seed=4, n_samples=2)
        b = attribute("vargrad", cnn, x, Y, seed=4, n_samples=3)  # other settings
        c = attribute("vargrad", cnn, x, Y, seed=5, n_samples=2)  # other seed
        with torch.no_grad():
            cnn.fc2.weight.mul_(2.0)  # the weights change in place
        d = attribute("smoothgrad", cnn, x, Y, seed=4, n_samples=2)
    assert passes[0] == 4
    assert torch.equal(b, expected_b) and torch.equal(c, expected_c)
    assert torch.equal(d, attribute("smoothgrad", cnn, x, Y, seed=4, n_samples=2))
    assert not torch.equal(a, d)


def test_gradient_and_guided_maps_are_shared_and_never_handed_out(cnn, x):
    passes = _count_passes(cnn)
    with shared_work():
        sal = attribute("saliency", cnn, x, Y)
        sal.mul_(0)  # the caller's copy: must not reach input_x_gradient
        ixg = attribute("input_x_gradient", cnn, x, Y)
        gbp = attribute("guided_backprop", cnn, x, Y)
        gbp.mul_(0)
        cam = attribute("gradcam", cnn, x, Y)
        ggc = attribute("guided_gradcam", cnn, x, Y)
    assert passes[0] == 3  # gradient, guided backprop, GradCAM: one pass each
    assert torch.equal(ixg, attribute("input_x_gradient", cnn, x, Y))
    assert torch.equal(ggc, attribute("guided_gradcam", cnn, x, Y))
    assert torch.equal(cam, attribute("gradcam", cnn, x, Y))


def test_method_maps_equal_separate_calls(cnn, x):
    methods = {"saliency": {}, "smoothgrad": {"n_samples": 3}, "vargrad": {"n_samples": 3}, "gradcam": {},
               "guided_gradcam": {}, "input_x_gradient": {}, "guided_backprop": {}}
    maps, _ = method_maps(cnn, x, Y, methods, seed=2)
    for i, (m, p) in enumerate(methods.items()):
        assert torch.equal(maps[i], attribute(m, cnn, x, Y, seed=2, **p).expand_as(maps[i])), m


@pytest.mark.filterwarnings("ignore::UserWarning")  # Captum's notices (hooks, requires_grad)
def test_lean_gradients_equal_captum(cnn, x):
    for p in cnn.parameters():
        p.requires_grad_(False)
    assert torch.equal(attribute("saliency", cnn, x, Y), Saliency(cnn).attribute(x, target=Y, abs=False))
    assert torch.equal(attribute("saliency", cnn, x, Y, absolute=True), Saliency(cnn).attribute(x, target=Y))
    assert torch.equal(attribute("input_x_gradient", cnn, x, Y), InputXGradient(cnn).attribute(x, target=Y))
    ig = IntegratedGradients(cnn).attribute(x, target=Y, n_steps=7, internal_batch_size=6)
    assert torch.equal(attribute("integrated_gradients", cnn, x, Y, n_steps=7, internal_batch_size=6), ig)
    assert torch.equal(attribute("guided_gradcam", cnn, x, Y), GuidedGradCam(cnn, cnn.conv2).attribute(x, target=Y))


@pytest.mark.parametrize("nt_type", NOISY)
@pytest.mark.parametrize("absolute", [False, True])
def test_noisy_gradient_moments_equal_captum_noise_tunnel(cnn, x, nt_type, absolute):
    for p in cnn.parameters():
        p.requires_grad_(False)
    u, scale = _unit_range(x, 5, 0.2, nt_type)
    torch.manual_seed(3)
    expected = NoiseTunnel(Saliency(_rescaled(cnn))).attribute(
        u, nt_type=nt_type, nt_samples=5, nt_samples_batch_size=2, stdevs=0.2, target=Y, abs=absolute,
        additional_forward_args=(scale,))
    torch.manual_seed(3)
    mean, mean_sq = noisy_gradient_moments(_rescaled(cnn), u, Y, 5, 0.2, absolute, 2, scale)
    ours = {"smoothgrad": mean, "smoothgrad_sq": mean_sq, "vargrad": mean_sq - mean * mean}[nt_type]
    assert torch.equal(ours, expected)
    torch.manual_seed(3)
    mean_only, none = noisy_gradient_moments(_rescaled(cnn), u, Y, 5, 0.2, absolute, 2, scale, squares=False)
    assert none is None and torch.equal(mean_only, mean)


def test_rng_states_are_restored_and_numpy_seeded_for_user_methods(cnn, x):
    @register_method("test_numpy_noise", kind="baseline")
    def numpy_noise(model, inputs, target):
        """NumPy noise (a user's method registered as deterministic)."""
        return torch.from_numpy(np.random.rand(*inputs.shape).astype(np.float32))

    try:
        torch.manual_seed(11)
        np.random.seed(11)
        random.seed(11)
        states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
        a = attribute("test_numpy_noise", cnn, x, Y, seed=3)
        attribute("smoothgrad", cnn, x, Y, seed=3, n_samples=2)
        attribute("saliency", cnn, x, Y, seed=3)
        assert torch.equal(torch.get_rng_state(), states[0])
        assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]
        assert torch.equal(a, attribute("test_numpy_noise", cnn, x, Y, seed=3))
    finally:
        _METHODS.pop("test_numpy_noise")
