"""Channel aggregation and per-image normalisation on inputs with exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.errors import ConfigError
from interpbench.explain import aggregate_channels, normalize

MAPS = torch.tensor([[[[1.0, -2.0]], [[-3.0, 4.0]]]])  # [1, 2, 1, 2]


@pytest.mark.parametrize(
    ("how", "expected"),
    [("sum", [[[-2.0, 2.0]]]), ("abs_sum", [[[4.0, 6.0]]]), ("max_abs", [[[3.0, 4.0]]])],
)
def test_aggregate_channels(how, expected):
    out = aggregate_channels(MAPS, how)
    assert isinstance(out, torch.Tensor) and torch.equal(out, torch.tensor(expected))
    out_np = aggregate_channels(MAPS.numpy(), how)
    assert isinstance(out_np, np.ndarray) and np.array_equal(out_np, np.array(expected, dtype=np.float32))


def test_normalize_abs_caps_at_the_99th_percentile():
    # |m| = 0..100: min 0, p99 = 99 (linear interpolation), so m / 99 clipped to [0, 1].
    m = -torch.arange(101.0).view(1, 1, 101)
    out = normalize(m, "abs")
    assert torch.allclose(out[0, 0, :100], torch.arange(100.0) / 99)
    assert out[0, 0, 100] == 1.0


def test_normalize_abs_subtracts_the_minimum():
    m = torch.tensor([[[2.0, 3.0, 4.0, 5.0, 6.0]]])  # |m| min 2, p99 = 5.96
    expected = torch.clamp((m - 2.0) / 3.96, 0, 1)
    assert torch.allclose(normalize(m, "abs"), expected)


def test_normalize_signed_is_pair_diverging():
    # span = |p99(m)|; (m + span) / (2 span) clipped to [-1, 1]: 0 -> 0.5, span -> 1, -span -> 0.
    m = torch.cat([torch.arange(101.0), -torch.tensor([50.0, 400.0])]).view(1, 1, 103)
    span = abs(float(np.percentile(m.numpy(), 99)))
    out = normalize(m, "signed")
    assert torch.allclose(out, torch.clamp((m + span) / (2 * span), -1, 1))
    assert out[0, 0, 0] == 0.5 and out[0, 0, -1] == -1.0 and 0 < out[0, 0, -2] < 0.5


def test_normalize_minmax_and_constant_maps():
    m = torch.tensor([[[2.0, 4.0, 6.0]], [[7.0, 7.0, 7.0]]])
    out = normalize(m, "minmax")
    assert torch.equal(out, torch.tensor([[[0.0, 0.5, 1.0]], [[0.0, 0.0, 0.0]]]))
    assert torch.equal(normalize(m[1:], "abs"), torch.zeros(1, 1, 3))
    assert torch.equal(normalize(torch.zeros(1, 2, 2), "signed"), torch.full((1, 2, 2), 0.5))


def test_normalize_is_per_image_and_keeps_numpy():
    m = np.stack([np.linspace(0, 1, 9).reshape(3, 3), 10 * np.linspace(0, 1, 9).reshape(3, 3)])
    out = normalize(m, "minmax")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert np.allclose(out[0], out[1]) and np.allclose(out[0], m[0])


def test_bad_arguments():
    with pytest.raises(ConfigError, match="how must be one of"):
        aggregate_channels(MAPS, "mean")
    with pytest.raises(ConfigError, match=r"\[N, C, H, W\] or \[N, H, W\], got shape \(1, 2\)"):
        normalize(MAPS[0, 0], "abs")
    with pytest.raises(ConfigError, match="how must be one of"):
        normalize(MAPS[:, 0], "zscore")
