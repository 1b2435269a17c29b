"""The mislabelled training set of Ilyas et al. 2019 (interpbench.attacks.mislabelled)."""

import pytest
import torch
from torch import nn

from interpbench.attacks.mislabelled import attack_targets, mislabelled_set
from interpbench.errors import ConfigError


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 4)).eval()


@pytest.mark.parametrize(("norm", "eps"), [("l2", 0.5), ("linf", 8 / 255)])
def test_labels_are_the_targets_and_images_stay_within_eps(norm, eps):
    x = torch.rand(12, 3, 8, 8)
    y = torch.arange(12) % 4
    t = attack_targets(y, 4, "random", seed=1)
    out = mislabelled_set(_model(), x, y, t, eps=eps, norm=norm, steps=5, batch_size=5)
    assert torch.equal(out["y"], t) and torch.equal(out["source_y"], y)
    delta = (out["x"] - x).flatten(1)
    size = delta.norm(dim=1) if norm == "l2" else delta.abs().max(dim=1).values
    assert (size <= eps + 1e-5).all()
    assert out["x"].min() >= 0 and out["x"].max() <= 1
    assert out["hit"].dtype == torch.bool and len(out["hit"]) == 12


def test_target_rules():
    y = torch.arange(40) % 5
    t = attack_targets(y, 5, "random", seed=0)
    assert (t != y).all() and set(t.tolist()) == set(range(5))
    assert torch.equal(attack_targets(y, 5, "random", seed=0), t)  # seeded
    assert torch.equal(attack_targets(y, 5, "next", seed=0), (y + 1) % 5)
    with pytest.raises(ConfigError, match="random"):
        attack_targets(y, 5, "nearest", seed=0)


def test_a_target_equal_to_the_label_or_a_bad_norm_is_refused():
    x, y = torch.rand(2, 3, 8, 8), torch.tensor([0, 1])
    with pytest.raises(ConfigError, match="other classes"):
        mislabelled_set(_model(), x, y, torch.tensor([0, 2]), eps=0.5)
    with pytest.raises(ConfigError, match="norm must be one of"):
        mislabelled_set(_model(), x, y, torch.tensor([1, 2]), eps=0.5, norm="l1")
    with pytest.raises(ConfigError, match="eps"):
        mislabelled_set(_model(), x, y, torch.tensor([1, 2]), eps=-1.0)
