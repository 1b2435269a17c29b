"""The similarity metrics on multi-channel maps against a transcription of Adebayo et al.'s
metrics cell (adebayoj/sanity_checks_saliency, notebooks/inceptionv3_cascading_randomization.ipynb):
``spr`` of the PAIR-normalised masks, ``ssim`` and ``feature.hog`` + ``spr`` of the min-max masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.stats import pearsonr, spearmanr
from skimage.feature import hog
from skimage.metrics import structural_similarity

from interpbench.metrics.similarity import (
    hog_cells,
    hog_similarity,
    spearman_abs,
    spearman_signed,
    ssim,
)


def grayscale(image_3d, percentile=99):  # PAIR VisualizeImageGrayscale
    image_2d = np.sum(np.abs(image_3d), axis=2)
    vmax, vmin = np.percentile(image_2d, percentile), np.min(image_2d)
    return np.clip((image_2d - vmin) / (vmax - vmin), 0, 1)


def diverging(image_3d, percentile=99):  # PAIR VisualizeImageDiverging
    image_2d = np.sum(image_3d, axis=2)
    span = abs(np.percentile(image_2d, percentile))
    return np.clip((image_2d + span) / (2 * span), -1, 1)


def normalize_image(x):  # the authors' min-max normalisation
    return (x - x.min()) / (x.max() - x.min())


def _rgb_pairs(n=3, side=32, seed=0):
    """Smooth RGB maps [N, 3, H, W] and a noisy copy, channels with different signs."""
    rng = np.random.default_rng(seed)
    a = gaussian_filter(rng.normal(size=(n, 3, side, side)), (0, 0, 2, 2)) * np.array([1.0, -0.7, 0.4])[:, None, None]
    b = a + 0.5 * gaussian_filter(rng.normal(size=a.shape), (0, 0, 2, 2))
    return a, b


def _hwc(m):
    return np.transpose(m, (1, 2, 0))


def test_spearman_on_rgb_maps_is_spr_of_the_pair_maps():
    a, b = _rgb_pairs()
    exp_abs = [spearmanr(grayscale(_hwc(x)).flatten(), grayscale(_hwc(y)).flatten())[0] for x, y in zip(a, b)]
    exp_signed = [spearmanr(diverging(_hwc(x)).flatten(), diverging(_hwc(y)).flatten())[0] for x, y in zip(a, b)]
    np.testing.assert_allclose(spearman_abs(a, b), exp_abs, atol=1e-12)
    np.testing.assert_allclose(spearman_signed(a, b), exp_signed, atol=1e-12)
    # the sum-then-abs maps of before give other values on these maps
    old = spearman_abs(a.sum(axis=1), b.sum(axis=1))
    assert np.abs(old - np.asarray(exp_abs)).max() > 0.01


def test_ssim_on_rgb_maps_is_the_channel_mean_of_skimage_ssim():
    a, b = _rgb_pairs(seed=1)
    expected = [structural_similarity(normalize_image(_hwc(x)), normalize_image(_hwc(y)), gaussian_weights=True,
                                      sigma=1.5, data_range=2.0, channel_axis=-1)
                for x, y in zip(a, b)]
    np.testing.assert_allclose(ssim(a, b), expected, atol=1e-10)


def _hog_transcribed(m_hwc, cells):
    """skimage HOG of the min-max mask, padded by one cell and cropped back to its blocks."""
    x = normalize_image(m_hwc)
    padded = np.pad(x, ((cells[0],) * 2, (cells[1],) * 2, (0, 0)), mode="symmetric")
    blocks = hog(padded, orientations=9, pixels_per_cell=cells, cells_per_block=(3, 3), block_norm="L2-Hys",
                 feature_vector=False, channel_axis=-1)
    keep = [side // c - 2 for side, c in zip(m_hwc.shape[:2], cells)]
    return blocks[1:1 + keep[0], 1:1 + keep[1]].ravel()


@pytest.mark.parametrize("side", [32, 128])
def test_hog_on_rgb_maps_is_spearman_of_skimage_hog(side):
    a, b = _rgb_pairs(n=2, side=side, seed=2)
    cells = hog_cells(side, side)
    assert cells == ((4, 4) if side == 32 else (16, 16))
    feats = [(_hog_transcribed(_hwc(x), cells), _hog_transcribed(_hwc(y), cells)) for x, y in zip(a, b)]
    np.testing.assert_allclose(hog_similarity(a, b), [spearmanr(f, g)[0] for f, g in feats], atol=1e-10)
    np.testing.assert_allclose(hog_similarity(a, b, correlation="pearson"), [pearsonr(f, g)[0] for f, g in feats],
                               atol=1e-10)
    assert not np.allclose(hog_similarity(a, b), hog_similarity(a, b, correlation="pearson"))


def test_hog_cells_are_the_authors_16_on_imagenet_sizes():
    assert hog_cells(299, 299) == (16, 16) and hog_cells(224, 224) == (16, 16)
    assert hog_cells(28, 28) == (4, 4) and hog_cells(64, 70) == (9, 10)


def test_one_channel_maps_equal_their_three_dim_form():
    a, b = _rgb_pairs(n=2, seed=3)
    a, b = a[:, :1], b[:, :1]
    for fn in (spearman_abs, spearman_signed, ssim, hog_similarity):
        np.testing.assert_allclose(fn(a, b), fn(a[:, 0], b[:, 0]), atol=1e-12)
