"""Feature visualisation by maximising a penultimate unit (interpbench.attacks.maximize)."""

import math

import pytest
import torch

from interpbench.attacks.maximize import maximize_units, n_units, representation, scaled_l2
from interpbench.errors import ConfigError
from interpbench.models import build_model


def _model():
    torch.manual_seed(0)
    return build_model("resnet_small", num_classes=4, in_channels=3, image_size=16, width=4).eval()


def test_maximisation_raises_the_units_activation():
    model = _model()
    assert n_units(model) == 16  # resnet_small: width * 4 pooled stage-3 channels
    x0 = torch.rand(3, 3, 16, 16)
    units = [0, 5, 15]
    before = representation(model, x0)[torch.arange(3), units]
    x, reached = maximize_units(model, x0, units, eps=scaled_l2(40.0, (3, 16, 16)), steps=20, step_size=0.05)
    after = representation(model, x)[torch.arange(3), units].detach()
    assert (after > before + 1e-3).all()
    torch.testing.assert_close(reached, after)
    assert x.min() >= 0 and x.max() <= 1


def test_a_unit_index_out_of_range_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"unit index 16 is out of range.*16 units \(valid indices 0..15\)"):
        maximize_units(_model(), torch.rand(1, 3, 16, 16), [16], eps=1.0)
    with pytest.raises(ConfigError, match="out of range"):
        maximize_units(_model(), torch.rand(1, 3, 16, 16), [-1], eps=1.0)


def test_library_settings_scale_with_the_image_size():
    assert scaled_l2(1000.0, (3, 224, 224)) == pytest.approx(1000.0)
    assert scaled_l2(1000.0, (3, 32, 32)) == pytest.approx(1000.0 * 32 / 224)
    assert math.isclose(scaled_l2(1.0, (1, 28, 28)), math.sqrt(784 / (3 * 224 * 224)))
