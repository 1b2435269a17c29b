"""Similarity metrics of the sanity checks (Adebayo et al. 2018), on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr

from interpbench.errors import ConfigError, DataError
from interpbench.explain.postprocess import normalize
from interpbench.metrics.similarity import (
    SIMILARITY_METRICS,
    hog_similarity,
    similarity_metric,
    spearman_abs,
    spearman_signed,
    ssim,
)

METRICS = sorted(SIMILARITY_METRICS)


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(0)
    return rng.random((200, 28, 28)), rng.random((200, 28, 28))


def _smooth_maps(n=4, side=28, seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([gaussian_filter(rng.normal(size=(side, side)), 2.0) for _ in range(n)])


@pytest.mark.parametrize("name", METRICS)
def test_identical_maps_score_one(name):
    maps = _smooth_maps()
    out = SIMILARITY_METRICS[name](maps, maps.copy())
    assert out.shape == (4,) and out.dtype == np.float64
    np.testing.assert_allclose(out, 1.0, atol=1e-12)


@pytest.mark.parametrize("name", METRICS)
def test_independent_noise_maps_are_dissimilar(name, noise):
    a, b = noise
    mean = SIMILARITY_METRICS[name](a, b).mean()
    if name == "ssim":
        assert 0.0 <= mean < 0.2
    else:
        assert abs(mean) < 0.05


def test_spearman_known_value():
    # positive maps: the abs normalisation keeps the order (only the maximum is clipped to 1)
    a = np.arange(1.0, 7.0).reshape(1, 2, 3)
    b = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 5.0]).reshape(1, 2, 3)
    expected = 1 - 6 * 6 / (6 * (6**2 - 1))  # 1 - 6 sum d^2 / (n (n^2 - 1)), d = +-1 for every pixel
    np.testing.assert_allclose(spearman_abs(a, b), [expected])
    np.testing.assert_allclose(spearman_signed(a, b), [expected])


def test_spearman_matches_scipy_on_normalised_maps():
    a, b = _smooth_maps(3, seed=2), _smooth_maps(3, seed=3)
    for how, fn in (("abs", spearman_abs), ("signed", spearman_signed)):
        na, nb = np.asarray(normalize(a, how=how)), np.asarray(normalize(b, how=how))
        expected = [spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(na, nb)]
        np.testing.assert_allclose(fn(a, b), expected, atol=1e-12)


def test_negation_flips_signed_but_not_abs():
    maps = _smooth_maps()
    # PAIR's diverging map clips s > span = |p99(s)| to 1: the top 1% of each map tie, so rho is
    # -1 up to those ties (about 8 of 784 pixels).
    np.testing.assert_allclose(spearman_signed(maps, -maps), -1.0, atol=1e-4)
    np.testing.assert_allclose(spearman_abs(maps, -maps), 1.0, atol=1e-12)


def test_monotone_transform_keeps_spearman_abs():
    maps = np.abs(_smooth_maps()) + 0.01
    np.testing.assert_allclose(spearman_abs(maps, maps**3), 1.0, atol=1e-12)
    assert (ssim(maps, maps**3) < 1.0).all()  # SSIM, unlike ranks, sees the change of scale


def test_ssim_matches_wang_formula():
    """SSIM = mean of (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
    Gaussian window sigma 1.5 (truncated at 3.5 sigma), sample moments (x 121/120), L = 2 (the
    authors' compare_ssim on float maps), borders cropped."""
    a, b = _smooth_maps(2, seed=4), _smooth_maps(2, seed=5)
    x, y = np.asarray(normalize(a, how="minmax")), np.asarray(normalize(b, how="minmax"))

    def g(z):
        return gaussian_filter(z, 1.5, truncate=3.5, mode="reflect")

    expected = []
    for xi, yi in zip(x, y):
        mx, my = g(xi), g(yi)
        k = 121 / 120
        vx, vy, cxy = k * (g(xi * xi) - mx**2), k * (g(yi * yi) - my**2), k * (g(xi * yi) - mx * my)
        c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
        s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        expected.append(s[5:-5, 5:-5].mean())  # skimage crops (win_size - 1) / 2 = 5 pixels
    np.testing.assert_allclose(ssim(a, b), expected, rtol=1e-10)


def test_ssim_and_hog_ignore_affine_rescaling():
    maps = _smooth_maps()
    np.testing.assert_allclose(ssim(maps, 3 * maps + 2), 1.0, atol=1e-12)
    np.testing.assert_allclose(hog_similarity(maps, 3 * maps + 2), 1.0, atol=1e-12)


def test_hog_tells_orientation_apart():
    yy, xx = np.mgrid[0:28, 0:28]
    vertical = np.sin(xx / 2.0)[None]
    horizontal = np.sin(yy / 2.0)[None]
    shifted = np.sin(xx / 2.0 + 1.0)[None]
    assert hog_similarity(vertical, shifted)[0] > 0.8
    assert hog_similarity(vertical, horizontal)[0] < 0.0
    assert hog_similarity(vertical, horizontal, correlation="pearson")[0] < 0.0


def test_constant_map_and_nan_rows_give_nan_only_there():
    maps = _smooth_maps(3)
    other = maps.copy()
    other[1] = 0.5  # constant: no ranking, no gradients
    other[2, 3, 4] = np.nan
    for fn in (spearman_abs, spearman_signed, hog_similarity):
        out = fn(maps, other)
        assert out[0] == pytest.approx(1.0)
        assert np.isnan(out[1]) and np.isnan(out[2])
    out = ssim(maps, other)
    assert np.isfinite(out[:2]).all() and np.isnan(out[2])


def test_accepts_torch_tensors():
    maps = _smooth_maps(2)
    out = spearman_abs(torch.from_numpy(maps).float(), torch.from_numpy(maps).float())
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    np.testing.assert_allclose(out, 1.0, atol=1e-6)


def test_shape_errors():
    maps = _smooth_maps(2)
    with pytest.raises(DataError, match=r"\[N, H, W\]"):
        spearman_abs(maps, maps[:1])
    with pytest.raises(DataError, match=r"\[N, H, W\]"):
        spearman_abs(maps[0], maps[0])
    with pytest.raises(DataError, match="11x11"):
        ssim(maps[:, :8, :8], maps[:, :8, :8])
    with pytest.raises(DataError, match="12 pixels"):
        hog_similarity(maps[:, :10, :10], maps[:, :10, :10])
    with pytest.raises(ConfigError, match="spearman"):
        hog_similarity(maps, maps, correlation="kendall")


def test_registry_metadata():
    assert set(SIMILARITY_METRICS) == {"spearman_abs", "spearman_signed", "ssim", "hog"}
    for metric in SIMILARITY_METRICS.values():
        assert metric.higher_is_better and metric.range == (-1.0, 1.0) and metric.description
    rng = np.random.default_rng(3)
    a, b = rng.random((4, 16, 16)), rng.random((4, 16, 16))
    np.testing.assert_allclose(similarity_metric("ssim")(a, b), ssim(a, b))


def test_vectorised_ssim_equals_skimage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(4)
    a = rng.random((5, 28, 28))
    b = 0.5 * a + 0.5 * rng.random((5, 28, 28))
    na, nb = normalize(a, "minmax"), normalize(b, "minmax")
    # the authors' call: data_range unset on float images (= 2) and sample covariances (the default)
    expected = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, data_range=2.0) for x, y in zip(na, nb)]
    np.testing.assert_allclose(ssim(a, b), expected, atol=1e-10)


def test_prepared_reference_gives_the_same_values():
    rng = np.random.default_rng(5)
    a, b = rng.random((6, 28, 28)), rng.random((6, 28, 28))
    a[2] = np.nan
    for metric in SIMILARITY_METRICS.values():
        np.testing.assert_array_equal(metric.against(metric.prepare(a), b), metric(a, b))
    with pytest.raises(ConfigError, match="Did you mean 'ssim'"):
        similarity_metric("sssim")
