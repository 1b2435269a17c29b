"""Similarity of two sets of attribution maps, per image (Adebayo et al. 2018, *Sanity Checks for
Saliency Maps*, §3 "Quantitative comparison").

Every metric takes the original maps ``A`` and the maps under randomization ``B``, both
``[N, H, W]`` (numpy arrays or torch tensors), and returns a float64 numpy array ``[N]``: one value
per image, 1 for identical maps. A pair with any non-finite pixel scores NaN.

- ``spearman_abs``: Spearman rank correlation of the absolute-value normalised maps.
- ``spearman_signed``: Spearman rank correlation of the signed (diverging) normalised maps.
- ``ssim``: structural similarity (Wang et al. 2004) of the min-max normalised maps.
- ``hog_similarity``: rank correlation of the HOG descriptors (Dalal & Triggs 2005) of the
  min-max normalised maps.

The normalisations are those of :func:`interpbench.explain.postprocess.normalize`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from skimage.feature import hog
from skimage.metrics import structural_similarity

from ..errors import DataError, unknown_name
from ..explain.postprocess import normalize

# SSIM with a Gaussian window: sigma 1.5, truncated at 3.5 sigma -> an 11 x 11 window (skimage).
SSIM_SIGMA = 1.5
SSIM_MIN_SIDE = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1
HOG_ORIENTATIONS = 9
HOG_CELLS_PER_BLOCK = 3


def spearman_abs(A, B) -> np.ndarray:
    """Spearman rank correlation of ``normalize(A, "abs")`` and ``normalize(B, "abs")``, per image.

    rho = Pearson(rank(a), rank(b)) = cov(R_a, R_b) / (sigma_{R_a} sigma_{R_b}) over the H*W pixels,
    ties given their average rank (as ``scipy.stats.spearmanr``). Insensitive to the sign of the
    attributions. A constant map has no ranking: NaN.
    """
    a, b, ok = _pair(A, B)
    return _per_row(ok, lambda i: _spearman_rows(_norm(a[i], "abs"), _norm(b[i], "abs")))


def spearman_signed(A, B) -> np.ndarray:
    """Spearman rank correlation of the signed (diverging) normalised maps, per image.

    Same formula as :func:`spearman_abs` on ``normalize(., "signed")``: a map and its negation
    score -1. A constant map: NaN.
    """
    a, b, ok = _pair(A, B)
    return _per_row(ok, lambda i: _spearman_rows(_norm(a[i], "signed"), _norm(b[i], "signed")))


def ssim(A, B) -> np.ndarray:
    """Mean structural similarity of the min-max normalised maps, per image (Wang et al. 2004).

    SSIM(x, y) = mean over windows of
    ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 1 (``data_range``), with an 11x11 Gaussian window of
    sigma 1.5 and population covariances (``use_sample_covariance=False``): Wang et al.'s settings,
    as used by Adebayo et al. Maps must be at least 11 x 11.
    """
    a, b, ok = _pair(A, B)
    if min(a.shape[1:]) < SSIM_MIN_SIDE:
        raise DataError(
            f"ssim needs maps of at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} pixels (Gaussian window, "
            f"sigma {SSIM_SIGMA}); got {a.shape[1]}x{a.shape[2]}."
        )

    def rows(i):
        na, nb = _norm(a[i], "minmax"), _norm(b[i], "minmax")
        return np.array([
            structural_similarity(x, y, gaussian_weights=True, sigma=SSIM_SIGMA,
                                  use_sample_covariance=False, data_range=1.0)
            for x, y in zip(na, nb)
        ])

    return _per_row(ok, rows)


def hog_similarity(A, B, correlation: str = "spearman") -> np.ndarray:
    """Rank correlation of the HOG descriptors of the min-max normalised maps, per image.

    HOG (Dalal & Triggs 2005, ``skimage.feature.hog``): 9 unsigned orientation bins,
    ``pixels_per_cell = max(4, side // 7)`` per axis (about a 7 x 7 grid of cells whatever the map
    size), 3 x 3 cells per block, L2-Hys block normalisation. Adebayo et al. correlate the two HOG
    vectors; ``correlation="spearman"`` (default, rank correlation) or ``"pearson"``.

    Border fix: skimage sets the gradient *across* the image border to zero, so every border
    pixel votes for the 0 or 90 degree bin and two independent noise maps correlate at about
    +0.06 (28 x 28). The map is therefore padded by one cell (symmetric reflection) before HOG and
    only the blocks lying on the original map are kept: same descriptor length, border pixels get
    a real gradient, and unrelated maps score about 0. Maps need at least 3 cells per side
    (12 pixels); a constant map has a zero descriptor: NaN.
    """
    if correlation not in ("spearman", "pearson"):
        raise unknown_name("HOG correlation", correlation, ("spearman", "pearson"))
    a, b, ok = _pair(A, B)
    cells = tuple(max(4, side // 7) for side in a.shape[1:])
    if any(side // c < HOG_CELLS_PER_BLOCK for side, c in zip(a.shape[1:], cells)):
        raise DataError(
            f"hog_similarity needs maps of at least {HOG_CELLS_PER_BLOCK * 4} pixels per side; "
            f"got {a.shape[1]}x{a.shape[2]}."
        )

    def rows(i):
        ha = np.stack([_hog(m, cells) for m in _norm(a[i], "minmax")])
        hb = np.stack([_hog(m, cells) for m in _norm(b[i], "minmax")])
        return _spearman_rows(ha, hb) if correlation == "spearman" else _pearson_rows(ha, hb)

    return _per_row(ok, rows)


@dataclass(frozen=True)
class SimilarityMetric:
    """A registered similarity metric and its metadata (Quantus style)."""

    name: str
    fn: Callable[..., np.ndarray]
    higher_is_better: bool
    range: tuple[float, float]
    description: str

    def __call__(self, A, B) -> np.ndarray:
        return self.fn(A, B)


SIMILARITY_METRICS: dict[str, SimilarityMetric] = {
    m.name: m
    for m in (
        SimilarityMetric("spearman_abs", spearman_abs, True, (-1.0, 1.0),
                         "Spearman rank correlation of absolute-value normalised maps"),
        SimilarityMetric("spearman_signed", spearman_signed, True, (-1.0, 1.0),
                         "Spearman rank correlation of signed (diverging) normalised maps"),
        SimilarityMetric("ssim", ssim, True, (-1.0, 1.0),
                         "Structural similarity (Gaussian window, sigma 1.5) of min-max normalised maps"),
        SimilarityMetric("hog", hog_similarity, True, (-1.0, 1.0),
                         "Spearman rank correlation of HOG descriptors of min-max normalised maps"),
    )
}


def similarity_metric(name: str) -> SimilarityMetric:
    """The registered metric ``name``; a ConfigError listing the known names otherwise."""
    if name not in SIMILARITY_METRICS:
        raise unknown_name("similarity metric", name, SIMILARITY_METRICS)
    return SIMILARITY_METRICS[name]


# --- helpers -------------------------------------------------------------------------------------

def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _pair(A, B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both map sets as float64 ``[N, H, W]`` plus a mask of the images whose two maps are finite."""
    a, b = _to_numpy(A), _to_numpy(B)
    if a.ndim != 3 or a.shape != b.shape:
        raise DataError(
            f"Similarity metrics compare two map sets of the same shape [N, H, W]; "
            f"got {a.shape} and {b.shape}."
        )
    ok = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    return a, b, ok


def _per_row(ok: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``compute(rows)`` on the finite pairs only; NaN for the others."""
    out = np.full(ok.shape, np.nan)
    if ok.any():
        out[ok] = compute(np.flatnonzero(ok))
    return out


def _norm(maps: np.ndarray, how: str) -> np.ndarray:
    return np.asarray(normalize(maps, how=how), dtype=np.float64)


def _hog(m: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    padded = np.pad(m, ((cells[0],) * 2, (cells[1],) * 2), mode="symmetric")
    blocks = hog(
        padded, orientations=HOG_ORIENTATIONS, pixels_per_cell=cells,
        cells_per_block=(HOG_CELLS_PER_BLOCK,) * 2, block_norm="L2-Hys", feature_vector=False,
    )  # [blocks_r, blocks_c, 3, 3, 9] over the padded map; keep the blocks on the original map
    keep = [side // c - HOG_CELLS_PER_BLOCK + 1 for side, c in zip(m.shape, cells)]
    return blocks[1:1 + keep[0], 1:1 + keep[1]].ravel()


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho between matching rows of ``x`` and ``y`` ([N, ...] each).

    Ranks every row at once with ``rankdata(axis=1)`` (average ties) and takes the Pearson
    correlation of the ranks: the same value as ``scipy.stats.spearmanr`` per pair, but one
    vectorised call instead of N (spearmanr on two 1-D vectors has a large per-call overhead and
    on 2-D input computes the full cross-correlation matrix).
    """
    n = x.shape[0]
    return _pearson_rows(rankdata(x.reshape(n, -1), axis=1), rankdata(y.reshape(n, -1), axis=1))


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation between matching rows; NaN where a row is constant."""
    n = x.shape[0]
    x = x.reshape(n, -1) - x.reshape(n, -1).mean(axis=1, keepdims=True)
    y = y.reshape(n, -1) - y.reshape(n, -1).mean(axis=1, keepdims=True)
    denom = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(axis=1) / denom
    r[denom == 0] = np.nan
    return np.clip(r, -1.0, 1.0)
