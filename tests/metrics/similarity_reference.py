"""The NumPy / SciPy / scikit-image similarity metrics that ``interpbench.metrics.similarity`` had
before it became batched torch code: the test reference of the torch metrics.

``reference_metric(name)(A, B)`` takes maps ``[N, C, H, W]`` or ``[N, H, W]`` and returns float64
``[N]`` (NaN where either map has a non-finite pixel). Spearman ranks come from
``scipy.stats.rankdata``, SSIM from ``scipy.ndimage.gaussian_filter`` (the vectorised form of
skimage's ``structural_similarity``, itself tested equal to skimage), HOG from
``skimage.feature.hog`` on each map (padded by one cell, cropped back to the blocks on the map).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata
from skimage.feature import hog

from interpbench.explain.postprocess import normalize
from interpbench.metrics.similarity import (
    HOG_CELLS_PER_BLOCK,
    HOG_ORIENTATIONS,
    SSIM_DATA_RANGE,
    SSIM_MIN_SIDE,
    SSIM_SIGMA,
    hog_cells,
)


def _maps(A) -> np.ndarray:
    if hasattr(A, "detach"):
        A = A.detach().cpu().numpy()
    a = np.asarray(A, dtype=np.float64)
    return a[:, None] if a.ndim == 3 else a


def _norm(maps: np.ndarray, how: str) -> np.ndarray:
    return np.asarray(normalize(maps, how=how), dtype=np.float64)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    x = x.reshape(n, -1) - x.reshape(n, -1).mean(axis=1, keepdims=True)
    y = y.reshape(n, -1) - y.reshape(n, -1).mean(axis=1, keepdims=True)
    denom = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(axis=1) / denom
    r[denom == 0] = np.nan
    return np.clip(r, -1.0, 1.0)


def _rank_features(how: str) -> Callable[[np.ndarray], np.ndarray]:
    def features(a: np.ndarray) -> np.ndarray:
        return rankdata(_norm(a, how).reshape(a.shape[0], -1), axis=1)

    return features


def _ssim_compare(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n, c = x.shape[:2]
    x, y = x.reshape(n * c, *x.shape[2:]), y.reshape(n * c, *y.shape[2:])

    def blur(z):
        return gaussian_filter(z, sigma=(0, SSIM_SIGMA, SSIM_SIGMA), truncate=3.5, mode="reflect")

    c1, c2 = (0.01 * SSIM_DATA_RANGE) ** 2, (0.03 * SSIM_DATA_RANGE) ** 2
    cov_norm = SSIM_MIN_SIDE**2 / (SSIM_MIN_SIDE**2 - 1)
    ux, uy = blur(x), blur(y)
    vx, vy, vxy = (cov_norm * (blur(a * b) - ua * ub) for a, b, ua, ub in ((x, x, ux, ux), (y, y, uy, uy), (x, y, ux, uy)))
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (SSIM_MIN_SIDE - 1) // 2
    return s[:, pad:-pad, pad:-pad].mean(axis=(1, 2)).reshape(n, c).mean(axis=1)


def _hog(m: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    padded = np.pad(m, ((0, 0), (cells[0],) * 2, (cells[1],) * 2), mode="symmetric")
    multichannel = padded.shape[0] > 1
    blocks = hog(
        np.moveaxis(padded, 0, -1) if multichannel else padded[0], orientations=HOG_ORIENTATIONS,
        pixels_per_cell=cells, cells_per_block=(HOG_CELLS_PER_BLOCK,) * 2, block_norm="L2-Hys",
        feature_vector=False, channel_axis=-1 if multichannel else None,
    )
    keep = [side // c - HOG_CELLS_PER_BLOCK + 1 for side, c in zip(m.shape[1:], cells)]
    return blocks[1:1 + keep[0], 1:1 + keep[1]].ravel()


def hog_features(a: np.ndarray) -> np.ndarray:
    """skimage HOG descriptors ``[N, D]`` of the min-max normalised maps ``[N, C, H, W]``."""
    cells = hog_cells(*a.shape[2:])
    return np.stack([_hog(m, cells) for m in _norm(a, "minmax")])


_FEATURES = {
    "spearman_abs": _rank_features("abs"),
    "spearman_signed": _rank_features("signed"),
    "ssim": lambda a: _norm(a, "minmax"),
    "hog": lambda a: rankdata(hog_features(a), axis=1),
    "hog_pearson": hog_features,
}


def reference_metric(name: str) -> Callable[[object, object], np.ndarray]:
    """The NumPy metric ``name`` (``hog_pearson``: HOG with the Pearson correlation)."""
    features = _FEATURES[name]
    compare = _ssim_compare if name == "ssim" else _pearson_rows

    def metric(A, B) -> np.ndarray:
        a, b = _maps(A), _maps(B)
        ok = np.isfinite(a).all(axis=(1, 2, 3)) & np.isfinite(b).all(axis=(1, 2, 3))
        out = np.full(a.shape[0], np.nan)
        if ok.any():
            out[ok] = compare(features(a[ok]), features(b[ok]))
        return out

    return metric
