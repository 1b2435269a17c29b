"""null_block_share: the fraction of the top-k |attribution| pixels that lie in the null block."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.errors import ConfigError
from interpbench.metrics.localisation import null_block_share


def _mask(n=4, h=8, w=4, top=True):
    m = torch.zeros(n, h, w, dtype=torch.bool)
    if top:
        m[:, : h // 2] = True
    else:
        m[:, h // 2 :] = True
    return m


@pytest.mark.parametrize("k", [0.05, 0.1, 0.2, 0.5])
def test_map_large_only_in_null_block_gives_one(k):
    mask = _mask()
    maps = torch.where(mask, 0.0, -3.0)  # large |a| (negative sign) only outside the signal block
    np.testing.assert_array_equal(null_block_share(maps, mask, k), np.ones(4))


@pytest.mark.parametrize("k", [0.05, 0.1, 0.2, 0.5])
def test_map_large_only_in_signal_block_gives_zero(k):
    mask = _mask(top=False)
    maps = torch.where(mask, 2.0, 0.01)
    np.testing.assert_array_equal(null_block_share(maps, mask, k), np.zeros(4))


def test_known_fraction_and_rounding():
    mask = _mask(n=1, h=10, w=2)  # 20 pixels, top 10 are signal
    maps = torch.arange(20, dtype=torch.float32).view(1, 10, 2)  # largest are the last (null) pixels
    # k = 0.75 -> 15 pixels: the 10 null ones and 5 signal ones
    np.testing.assert_allclose(null_block_share(maps, mask, 0.75), [10 / 15])
    # k = 0.01 -> round(0.2) = 0 -> at least one pixel, the largest (null)
    np.testing.assert_allclose(null_block_share(maps, mask, 0.01), [1.0])
    # k = 0.025 -> 0.5 rounds half up to 1
    np.testing.assert_allclose(null_block_share(maps, mask, 0.025), [1.0])


def test_tied_pixels_count_fractionally():
    mask = _mask(n=1, h=4, w=2)  # signal = first 4 flat indices
    maps = torch.ones(1, 4, 2)
    np.testing.assert_array_equal(null_block_share(maps, mask, 0.5), [0.5])
    np.testing.assert_array_equal(null_block_share(-maps, ~mask, 0.5), [0.5])
    # 8 pixels, k = 0.5 -> m = 4: one null pixel above the tie, then 5 tied pixels (2 of them null)
    # for 3 places: (1 + 3/5 * 2) / 4
    maps = torch.tensor([[[1.0, 1.0], [1.0, 0.0], [5.0, 1.0], [1.0, 0.0]]])
    np.testing.assert_allclose(null_block_share(maps, mask, 0.5), [(1 + 3 / 5 * 2) / 4])


@pytest.mark.parametrize("k", [0.01, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("signal_on_top", [True, False])
def test_all_zero_map_gives_exactly_one_half(k, signal_on_top):
    # the tie-break by flat index of before gave 0 (signal on top) or 1 (null on top)
    mask = _mask(n=3, h=28, w=28, top=signal_on_top)
    np.testing.assert_allclose(null_block_share(torch.zeros(3, 28, 28), mask, k), 0.5, rtol=0, atol=1e-15)


def test_fractional_count_is_the_mean_over_random_tie_orders():
    # GradCAM-like plateau map: exact value = average of the share over many random tie orders
    from interpbench.metrics.roar import keep_mask

    g = torch.Generator().manual_seed(1)
    base = torch.randint(0, 4, (1, 8, 8), generator=g).float()
    mask = _mask(n=1, h=8, w=8)
    exact = null_block_share(base, mask, 0.3)[0]
    draws = [(keep_mask(base, 0.3, seed=s) & ~mask).sum().item() / keep_mask(base, 0.3, seed=s).sum().item()
             for s in range(400)]
    # per-draw share has sd <= 0.5, so the mean of 400 draws is within 4 sd = 0.1 of the exact value
    assert abs(np.mean(draws) - exact) < 0.1 and 0.0 < exact < 1.0


def test_uniform_random_maps_average_one_half():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(400, 56, 28, generator=g)
    top = torch.rand(400, generator=g) < 0.5
    mask = torch.zeros(400, 56, 28, dtype=torch.bool)
    mask[top, :28] = True
    mask[~top, 28:] = True
    for k in (0.05, 0.1, 0.2):
        assert abs(null_block_share(maps, mask, k).mean() - 0.5) < 0.02


def test_channels_are_abs_summed_and_numpy_inputs_work():
    mask = _mask(n=2).numpy()
    maps = np.zeros((2, 3, 8, 4), np.float32)
    maps[:, 1][~mask] = -1.0
    out = null_block_share(maps, mask, 0.1)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (2,)
    np.testing.assert_array_equal(out, [1.0, 1.0])


@pytest.mark.parametrize("k", [0.0, 1.5, -0.1, True])
def test_bad_k(k):
    with pytest.raises(ConfigError, match="k="):
        null_block_share(torch.rand(1, 4, 4), _mask(1, 4, 4), k)


def test_bad_mask():
    with pytest.raises(ConfigError, match="boolean"):
        null_block_share(torch.rand(1, 4, 4), torch.ones(1, 4, 4), 0.1)
    with pytest.raises(ConfigError, match="does not match"):
        null_block_share(torch.rand(2, 4, 4), _mask(1, 4, 4), 0.1)
