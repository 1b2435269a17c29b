"""The minimal flipping eps on a grid (interpbench.attacks.min_eps)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from interpbench.attacks import pgd_attack
from interpbench.attacks.min_eps import minimal_eps, success_curve
from interpbench.errors import ConfigError


def first_flipping_eps(success: np.ndarray, grid) -> np.ndarray:
    """From a success matrix ``[K, N]`` (attack at ``grid[k]`` flips image ``n``), each image's first
    flipping eps (``inf`` if none): the reference the incremental search in ``minimal_eps`` equals."""
    s = np.asarray(success, dtype=bool)
    g = np.asarray(grid, dtype=np.float64)
    first = np.argmax(s, axis=0)
    return np.where(s.any(axis=0), g[first], np.inf)


def _linear_model() -> nn.Module:
    """Two classes on 1x2x2 images: logit_1 - logit_0 = w·x - b with w = (1, 1, 1, 1) / 2 (||w|| = 1)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]]))
        model[1].bias.copy_(torch.tensor([0.0, -1.0]))
    return model.eval()


def _images_at_distance(distances) -> torch.Tensor:
    """Class-0 images whose L2 distance to the decision boundary w·x = 1 is ``d`` (x = c·1, w·x = 2c)."""
    c = (1.0 - torch.tensor(distances, dtype=torch.float32)) / 2.0
    return c.view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def test_returns_the_grids_first_flipping_eps_on_a_linear_model():
    model = _linear_model()
    distances = [0.15, 0.3, 0.6, 1.5]
    x = _images_at_distance(distances)
    y = torch.zeros(len(x), dtype=torch.long)
    assert (model(x).argmax(1) == 0).all()
    grid = [0.1, 0.2, 0.4, 0.8]
    found = minimal_eps(model, x, y, grid, norm="l2", steps=20)
    # The boundary is d away along w: the first grid eps beyond d flips, none before; 1.5 > every eps.
    np.testing.assert_array_equal(found, [0.2, 0.4, 0.8, math.inf])
    targeted = minimal_eps(model, x, y, grid, norm="l2", steps=20, target=torch.ones(len(x), dtype=torch.long))
    np.testing.assert_array_equal(targeted, found)


def test_linf_distance_of_a_linear_model():
    """Linf: the boundary is d_inf = (1 - 2c) / ||w||_1 = d / 2 away (||w||_1 = 2)."""
    model = _linear_model()
    x = _images_at_distance([0.15, 0.5])  # d_inf = 0.075, 0.25
    found = minimal_eps(model, x, torch.zeros(2, dtype=torch.long), [0.05, 0.1, 0.2, 0.3], norm="linf", steps=20)
    np.testing.assert_array_equal(found, [0.1, 0.3])


def test_incremental_search_equals_attacking_every_image_at_every_eps():
    """Without random starts PGD is deterministic per image, so attacking only the not-yet-flipped
    images must give exactly the first row of the full success matrix that flips."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    x = torch.rand(16, 3, 8, 8)
    y = model(x).argmax(1)
    grid = [0.02, 0.05, 0.1, 0.2, 0.4]
    found = minimal_eps(model, x, y, grid, norm="l2", steps=5, batch_size=4, random_start=False)
    success = np.stack([(model(pgd_attack(model, x, y, eps=e, norm="l2", steps=5, random_start=False)).argmax(1) != y)
                        .numpy() for e in grid])
    assert 0 < np.isfinite(found).sum() and len(set(found)) > 2  # a non-trivial case
    np.testing.assert_array_equal(found, first_flipping_eps(success, grid))
    np.testing.assert_array_equal(first_flipping_eps(np.array([[0, 1, 0], [1, 1, 0]], bool), [1.0, 2.0]),
                                  [2.0, 1.0, math.inf])


def test_success_curve_is_the_share_flipped_within_eps():
    curve = success_curve(np.array([0.1, 0.2, math.inf, 0.2]), [0.1, 0.2, 0.4])
    np.testing.assert_allclose(curve, [0.25, 0.75, 0.75])


@pytest.mark.parametrize(("norm", "grid", "phrase"), [
    ("l1", [0.1], "norm must be one of"),
    ("l2", [-0.1, 0.2], "finite number > 0"),
    ("l2", [0.2, 0.1], "strictly increasing"),
    ("l2", [], "non-empty"),
])
def test_bad_norm_or_grid_is_a_clear_error(norm, grid, phrase):
    with pytest.raises(ConfigError, match=phrase):
        minimal_eps(_linear_model(), torch.zeros(1, 1, 2, 2), torch.zeros(1, dtype=torch.long), grid, norm=norm)
