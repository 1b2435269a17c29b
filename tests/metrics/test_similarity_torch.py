"""The torch similarity metrics equal their NumPy / SciPy / scikit-image references
(``similarity_reference.py``, the metrics as they were before they became torch code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata

from interpbench.metrics.similarity import SIMILARITY_METRICS, hog_similarity, rank_rows, sqrt_rn

from tests.metrics.similarity_reference import reference_metric

TOL = {"spearman_abs": 1e-6, "spearman_signed": 1e-6, "ssim": 1e-6, "hog": 1e-5}


def _pairs(n, c, side, seed):
    """Smooth maps, a noisy copy, and maps with many exact ties (GradCAM-like: a 7 x 7 map
    upsampled bilinearly; a quantised copy)."""
    rng = np.random.default_rng(seed)
    a = gaussian_filter(rng.normal(size=(n, c, side, side)), (0, 0, 2, 2))
    b = a + 0.5 * gaussian_filter(rng.normal(size=a.shape), (0, 0, 1, 1))
    cam = F.interpolate(torch.from_numpy(rng.random((n, 1, 7, 7))), size=(side, side), mode="bilinear")
    cam = cam.expand(-1, c, -1, -1).numpy()
    return [(a, b), (cam, np.round(cam * 8) / 8), (a, np.round(a * 4) / 4)]


@pytest.mark.parametrize("name", sorted(SIMILARITY_METRICS))
@pytest.mark.parametrize(("c", "side"), [(1, 28), (3, 32), (3, 224)])
def test_torch_metric_equals_numpy_reference(name, c, side):
    n = 3 if side > 100 else 6
    for a, b in _pairs(n, c, side, seed=side + c):
        ours, ref = SIMILARITY_METRICS[name](a, b), reference_metric(name)(a, b)
        assert ours.dtype == np.float64 and ours.shape == (n,)
        np.testing.assert_allclose(ours, ref, atol=TOL[name], rtol=0)


def test_hog_pearson_equals_reference():
    for a, b in _pairs(4, 3, 48, seed=7):
        np.testing.assert_allclose(hog_similarity(a, b, correlation="pearson"), reference_metric("hog_pearson")(a, b),
                                   atol=1e-5, rtol=0)


def test_nan_and_constant_maps_as_reference():
    a, b = _pairs(4, 1, 28, seed=1)[0]
    b = b.copy()
    b[1] = 0.25
    b[2, 0, 3, 3] = np.nan
    for name in SIMILARITY_METRICS:
        ours, ref = SIMILARITY_METRICS[name](a, b), reference_metric(name)(a, b)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
        np.testing.assert_allclose(ours, ref, atol=TOL[name], rtol=0)


def test_rank_rows_is_rankdata_with_average_ties():
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=(5, 300)), 1)  # many ties
    np.testing.assert_array_equal(rank_rows(torch.from_numpy(x)).numpy(), rankdata(x, axis=1))


def test_sqrt_rn_is_ieee_sqrt():
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.random(50_000) * rng.random(50_000), rng.random(50_000) * 100, [0.0, 4.0, 1e-10]])
    np.testing.assert_array_equal(sqrt_rn(torch.from_numpy(a)).numpy(), np.sqrt(a))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_run_on_the_device_of_the_maps():
    a, b = _pairs(4, 3, 32, seed=4)[0]
    for name, metric in SIMILARITY_METRICS.items():
        ours = metric(torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda())
        np.testing.assert_allclose(ours, reference_metric(name)(a, b), atol=TOL[name], rtol=0)
