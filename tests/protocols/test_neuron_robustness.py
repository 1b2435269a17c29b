"""The study's corruptions and parameter checks (fast, no Kedro)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from interpbench.attacks.probe import corrupt_images, overlap, unit_concept_attack
from interpbench.errors import ConfigError
from interpbench.protocols.neuron_robustness import neuron_params


def test_noise_is_seeded_per_image_and_quantised():
    x = torch.rand(6, 3, 8, 8)
    whole = corrupt_images(x, torch.arange(6), kind="gaussian", std=0.02, seed=3)
    part = corrupt_images(x[2:4], torch.tensor([2, 3]), kind="gaussian", std=0.02, seed=3)
    assert torch.equal(whole[2:4], part)  # independent of batching
    assert torch.equal(whole, torch.round(whole * 255) / 255) and whole.min() >= 0 and whole.max() <= 1
    assert not torch.equal(whole, corrupt_images(x, torch.arange(6), kind="gaussian", std=0.02, seed=4))
    assert 0.01 < (whole - x).std() < 0.03
    sp = corrupt_images(x, torch.arange(6), kind="salt_pepper", std=0.1, seed=0, quantized=False)
    changed = (sp != x).any(dim=1).float().mean()
    assert 0.05 < changed < 0.15
    with pytest.raises(ConfigError, match="noise kind"):
        corrupt_images(x, torch.arange(6), kind="pink", std=0.1, seed=0)


class _Conv(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x)).mean((2, 3))


def test_crafted_attack_moves_activation_from_source_to_target_within_eps():
    model = _Conv().eval()
    x = torch.rand(5, 3, 12, 12)
    src = torch.zeros(5, 12, 12)
    src[:, :6] = 1
    tgt = 1 - src
    eps = 4 / 255

    def score(images):
        with torch.no_grad():
            a = model.relu(model.conv(images))[:, 1]
        return (overlap(a, src) - overlap(a, tgt)).sum()

    x_adv = unit_concept_attack(model, "relu", 1, x, src, tgt, eps=eps, steps=10, batch_size=2)
    assert (x_adv - x).abs().max() <= eps + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert score(x_adv) < score(x)
    assert all(p.requires_grad for p in model.parameters())  # restored


def test_parameter_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"neuron_robustness\.report\.noise_std: 0\.03 is not one of"):
        neuron_params({"report": {"noise_std": 0.03}})
    with pytest.raises(ConfigError, match=r"neuron_robustness\.attack\.layer: 'stage9' is not one of"):
        neuron_params({"attack": {"layer": "stage9"}})
    with pytest.raises(ConfigError, match=r"neuron_robustness\.noise: unknown parameter 'sedes'"):
        neuron_params({"noise": {"sedes": 2}})
