"""``normalize`` against a direct transcription of the PAIR saliency library's visualisations
(``saliency/visualization.py``), which Adebayo et al. 2018's notebooks apply to [H, W, 3] masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.explain import normalize


def visualize_image_grayscale(image_3d, percentile=99):  # PAIR, verbatim
    image_2d = np.sum(np.abs(image_3d), axis=2)
    vmax = np.percentile(image_2d, percentile)
    vmin = np.min(image_2d)
    return np.clip((image_2d - vmin) / (vmax - vmin), 0, 1)


def visualize_image_diverging(image_3d, percentile=99):  # PAIR, verbatim
    image_2d = np.sum(image_3d, axis=2)
    span = abs(np.percentile(image_2d, percentile))
    vmin = -span
    vmax = span
    return np.clip((image_2d - vmin) / (vmax - vmin), -1, 1)


def _pair(maps_nchw, fn):
    return np.stack([fn(np.transpose(m, (1, 2, 0))) for m in maps_nchw])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shift", [0.0, -0.4, 0.4])  # shifts make p99 of the signed sum negative / large
def test_rgb_maps_match_the_pair_transcription(seed, shift):
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(4, 3, 17, 23)) + shift
    np.testing.assert_allclose(normalize(maps, "abs"), _pair(maps, visualize_image_grayscale), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(normalize(maps, "signed"), _pair(maps, visualize_image_diverging), rtol=1e-12, atol=1e-12)
    # torch float32 in, torch out, same values up to float32 precision
    out = normalize(torch.from_numpy(maps).float(), "abs")
    assert isinstance(out, torch.Tensor) and out.shape == (4, 17, 23)
    np.testing.assert_allclose(out.numpy(), _pair(maps, visualize_image_grayscale), atol=1e-5)


def test_abs_takes_the_absolute_value_of_each_channel_before_summing():
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(2, 3, 12, 12))
    maps[:, 1] = -maps[:, 0]  # channels 0 and 1 cancel in the signed sum
    expected = _pair(maps, visualize_image_grayscale)
    got = normalize(maps, "abs")
    np.testing.assert_allclose(got, expected, atol=1e-12)
    sum_then_abs = normalize(maps.sum(axis=1), "abs")  # the old behaviour: |sum_c m_c|
    assert np.abs(sum_then_abs - expected).max() > 0.1


def test_single_channel_maps_are_one_channel_images():
    rng = np.random.default_rng(4)
    maps = rng.normal(size=(3, 9, 11))
    np.testing.assert_allclose(normalize(maps, "abs"), _pair(maps[:, None], visualize_image_grayscale), atol=1e-12)
    np.testing.assert_allclose(normalize(maps, "signed"), _pair(maps[:, None], visualize_image_diverging), atol=1e-12)
    np.testing.assert_allclose(normalize(maps, "abs"), normalize(maps[:, None], "abs"), atol=0)


def test_minmax_is_over_all_channels_and_keeps_the_shape():
    rng = np.random.default_rng(5)
    maps = rng.normal(size=(2, 3, 8, 8))
    out = normalize(maps, "minmax")
    assert out.shape == maps.shape
    for m, o in zip(maps, out):  # the authors' normalize_image on the whole [H, W, 3] mask
        np.testing.assert_allclose(o, (m - m.min()) / (m.max() - m.min()), atol=1e-12)


def test_zero_denominators_take_the_limit_and_never_divide_by_zero():
    with np.errstate(all="raise"):
        const = np.full((1, 3, 4, 4), 2.5)
        assert np.array_equal(normalize(const, "abs"), np.zeros((1, 4, 4)))
        assert np.array_equal(normalize(np.zeros((1, 3, 4, 4)), "signed"), np.full((1, 4, 4), 0.5))
        assert np.array_equal(normalize(const, "signed"), np.ones((1, 4, 4)))  # span = |7.5| > 0: (s+span)/2span = 1
        assert np.array_equal(normalize(-const, "signed"), np.zeros((1, 4, 4)))
        assert np.array_equal(normalize(const, "minmax"), np.zeros_like(const))
        # a sparse map: p99 = min = 0 but one pixel above it -> saturates at 1 (limit of the formula)
        sparse = np.zeros((1, 1, 20, 20))
        sparse[0, 0, 3, 4], sparse[0, 0, 5, 6] = 2.0, -1.0
        g = normalize(sparse, "abs")[0]
        assert g[3, 4] == 1.0 and g[5, 6] == 1.0 and g.sum() == 2.0
        s = normalize(sparse, "signed")[0]
        assert s[3, 4] == 1.0 and s[5, 6] == -1.0 and (np.delete(s.ravel(), [3 * 20 + 4, 5 * 20 + 6]) == 0.5).all()
