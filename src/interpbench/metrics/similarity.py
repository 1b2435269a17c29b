"""Similarity of two sets of attribution maps, per image (Adebayo et al. 2018, *Sanity Checks for
Saliency Maps*, §3 "Quantitative comparison").

Every metric takes the original maps ``A`` and the maps under randomization ``B``, both
``[N, C, H, W]`` with the method's raw channels, or ``[N, H, W]`` (one channel) (numpy arrays or
torch tensors), and returns a float64 numpy array ``[N]``: one value per image, 1 for identical
maps. A pair with any non-finite pixel scores NaN.

As in the authors' code (``notebooks/inceptionv3_cascading_randomization.ipynb``, the metrics
cell: ``spr`` on ``abs_grayscale_norm`` / ``diverging_norm`` masks, ``ssim`` and ``feature.hog`` on
``normalize_image`` masks, all of them [H, W, 3]):

- ``spearman_abs``: Spearman rank correlation of the PAIR grayscale maps (sum of |a| over channels).
- ``spearman_signed``: Spearman rank correlation of the PAIR diverging maps (signed channel sum).
- ``ssim``: structural similarity (Wang et al. 2004) of the min-max normalised multi-channel maps,
  averaged over channels (``multichannel=True``).
- ``hog_similarity``: Spearman rank correlation of the HOG descriptors (Dalal & Triggs 2005) of
  the min-max normalised multi-channel maps.

The normalisations are those of :func:`interpbench.explain.postprocess.normalize`; channels must
reach them unaggregated (``|a|`` is taken per channel before the sum).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.stats import rankdata
from skimage.feature import hog

from ..errors import DataError, unknown_name
from ..explain.postprocess import normalize

# SSIM with a Gaussian window: sigma 1.5, truncated at 3.5 sigma -> an 11 x 11 window (skimage).
SSIM_SIGMA = 1.5
SSIM_MIN_SIDE = 2 * int(3.5 * SSIM_SIGMA + 0.5) + 1
SSIM_DATA_RANGE = 2.0  # the authors' implicit float range [-1, 1] (see ssim)
HOG_ORIENTATIONS = 9
HOG_CELLS_PER_BLOCK = 3
HOG_MAX_CELL = 16  # the authors' pixels_per_cell=(16, 16)


def _rank_features(how: str) -> Callable[[np.ndarray], np.ndarray]:
    def features(a: np.ndarray) -> np.ndarray:
        n = a.shape[0]
        return rankdata(_norm(a, how).reshape(n, -1), axis=1)

    return features


def spearman_abs(A, B) -> np.ndarray:
    """Spearman rank correlation of ``normalize(A, "abs")`` and ``normalize(B, "abs")``, per image.

    ``normalize(., "abs")`` is PAIR's ``VisualizeImageGrayscale``: ``g = sum_c |a_c|``, then
    ``clip((g - min g) / (p99(g) - min g), 0, 1)``; the authors' ``spr(abs_norm_a.flatten(),
    abs_norm_b.flatten())``. rho = Pearson(rank(a), rank(b)) = cov(R_a, R_b) / (sigma_{R_a} sigma_{R_b}) over the H*W pixels,
    ties given their average rank (as ``scipy.stats.spearmanr``). Insensitive to the sign of the
    attributions. A constant map has no ranking: NaN.
    """
    return SIMILARITY_METRICS["spearman_abs"](A, B)


def spearman_signed(A, B) -> np.ndarray:
    """Spearman rank correlation of the signed (diverging) normalised maps, per image.

    Same formula as :func:`spearman_abs` on ``normalize(., "signed")``, PAIR's
    ``VisualizeImageDiverging``: ``s = sum_c a_c``, ``span = |p99(s)|``,
    ``clip((s + span) / (2 span), -1, 1)``. Monotone in ``s`` up to the clipping, so a map and its
    negation score about -1. A constant map: NaN.
    """
    return SIMILARITY_METRICS["spearman_signed"](A, B)


def ssim(A, B) -> np.ndarray:
    """Mean structural similarity of the min-max normalised maps, per image (Wang et al. 2004).

    SSIM(x, y) = mean over windows of
    ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (0.01 L)^2, C2 = (0.03 L)^2, with an 11x11 Gaussian window of sigma 1.5. Constants as in
    the authors' call ``compare_ssim(x, y, gaussian_weights=True, multichannel=True)`` (skimage
    0.14, adebayoj/sanity_checks_saliency): ``data_range`` left unset, which for float images is
    skimage's float range [-1, 1], so L = 2; and sample covariances (skimage's default
    ``use_sample_covariance=True``: variances times NP / (NP - 1), NP = 11 x 11). Wang et al.'s
    own constants (L = 1, population covariances) give slightly lower values on maps with little
    contrast. Multi-channel maps (min-max normalised jointly over channels and pixels) score the
    mean of the per-channel SSIMs, as skimage's ``multichannel=True``. Maps must be at least 11 x 11.
    """
    return SIMILARITY_METRICS["ssim"](A, B)


def _ssim_features(a: np.ndarray) -> np.ndarray:
    if min(a.shape[2:]) < SSIM_MIN_SIDE:
        raise DataError(
            f"ssim needs maps of at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} pixels (Gaussian window, "
            f"sigma {SSIM_SIGMA}); got {a.shape[2]}x{a.shape[3]}."
        )
    return _norm(a, "minmax")  # [N, C, H, W], min-max over all channels


def _ssim_compare(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5, data_range=2)`` (sample
    covariances, the authors' settings) for a whole stack at once. skimage takes one image pair per call; this is the
    same formula (same filter: Gaussian, truncate 3.5, reflect; mean over the map less a 5-pixel
    border), vectorised over images because it runs for every method x randomization step.
    ``[N, C, H, W]`` maps give the mean over channels (skimage's ``channel_axis``). Tested equal
    to skimage."""
    n, c = x.shape[:2]
    x, y = x.reshape(n * c, *x.shape[2:]), y.reshape(n * c, *y.shape[2:])

    def blur(z):
        return gaussian_filter(z, sigma=(0, SSIM_SIGMA, SSIM_SIGMA), truncate=3.5, mode="reflect")

    c1, c2 = (0.01 * SSIM_DATA_RANGE) ** 2, (0.03 * SSIM_DATA_RANGE) ** 2
    cov_norm = SSIM_MIN_SIDE**2 / (SSIM_MIN_SIDE**2 - 1)  # sample covariance over the 11 x 11 window
    ux, uy = blur(x), blur(y)
    vx, vy, vxy = (cov_norm * (blur(a * b) - ua * ub) for a, b, ua, ub in ((x, x, ux, ux), (y, y, uy, uy), (x, y, ux, uy)))
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (SSIM_MIN_SIDE - 1) // 2
    return s[:, pad:-pad, pad:-pad].mean(axis=(1, 2)).reshape(n, c).mean(axis=1)


def hog_similarity(A, B, correlation: str = "spearman") -> np.ndarray:
    """Rank correlation of the HOG descriptors of the min-max normalised maps, per image.

    HOG (Dalal & Triggs 2005, ``skimage.feature.hog``): 9 unsigned orientation bins,
    ``pixels_per_cell = min(16, max(4, side // 7))`` per axis (the authors' 16 x 16 cells on
    ImageNet-sized maps, from 112 pixels up; about a 7 x 7 grid of cells on smaller maps, where 16
    would leave fewer than 3 cells), 3 x 3 cells per block, L2-Hys block normalisation. A
    multi-channel map gives, per pixel, the gradient of the channel where it is largest
    (skimage's ``channel_axis``, the authors' ``multichannel`` HOG of [H, W, 3] masks).

    Correlation: Adebayo et al.'s code takes the *Spearman* rank correlation of the two HOG vectors
    (``rank_corr_hog = spr(normal_hog, rand_hog)[0]`` with ``spr = scipy.stats.spearmanr``,
    ``notebooks/inceptionv3_cascading_randomization.ipynb`` of adebayoj/sanity_checks_saliency),
    although the paper's text (§3) says "Pearson correlation of the histogram of gradients (HOGs)".
    The default follows the code: ``correlation="spearman"``; ``"pearson"`` gives the text's.

    Border fix: skimage sets the gradient *across* the image border to zero, so every border
    pixel votes for the 0 or 90 degree bin and two independent noise maps correlate at about
    +0.06 (28 x 28). The map is therefore padded by one cell (symmetric reflection) before HOG and
    only the blocks lying on the original map are kept: same descriptor length, border pixels get
    a real gradient, and unrelated maps score about 0. Maps need at least 3 cells per side
    (12 pixels); a constant map has a zero descriptor: NaN.
    """
    if correlation not in ("spearman", "pearson"):
        raise unknown_name("HOG correlation", correlation, ("spearman", "pearson"))
    metric = SIMILARITY_METRICS["hog"]
    if correlation == "pearson":
        metric = dataclasses.replace(metric, features=_hog_features)
    return metric(A, B)


def hog_cells(height: int, width: int) -> tuple[int, int]:
    """HOG ``pixels_per_cell``: ``min(16, max(4, side // 7))`` per axis."""
    return tuple(min(HOG_MAX_CELL, max(4, side // 7)) for side in (height, width))


def _hog_features(a: np.ndarray) -> np.ndarray:
    cells = hog_cells(*a.shape[2:])
    if any(side // c < HOG_CELLS_PER_BLOCK for side, c in zip(a.shape[2:], cells)):
        raise DataError(
            f"hog_similarity needs maps of at least {HOG_CELLS_PER_BLOCK * 4} pixels per side; "
            f"got {a.shape[2]}x{a.shape[3]}."
        )
    return np.stack([_hog(m, cells) for m in _norm(a, "minmax")])


def _hog_rank_features(a: np.ndarray) -> np.ndarray:
    return rankdata(_hog_features(a), axis=1)


@dataclass(frozen=True)
class SimilarityMetric:
    """A registered similarity metric and its metadata (Quantus style).

    A metric is ``compare(features(A), features(B))``; callers comparing many map sets with one
    reference (every randomization step against the original) compute ``features`` of the
    reference once with :meth:`prepare` and call :meth:`against`.
    """

    name: str
    features: Callable[[np.ndarray], np.ndarray]
    compare: Callable[[np.ndarray, np.ndarray], np.ndarray]
    higher_is_better: bool
    range: tuple[float, float]
    description: str

    def prepare(self, A) -> tuple[np.ndarray, np.ndarray]:
        """``(features of the finite maps, mask of finite maps)`` for ``A`` [N, C, H, W] or [N, H, W]."""
        a = _maps(A)
        ok = np.isfinite(a).all(axis=(1, 2, 3))
        return (self.features(a[ok]) if ok.any() else None), ok

    def against(self, prepared: tuple[np.ndarray, np.ndarray], B) -> np.ndarray:
        """Per-image similarity of ``B`` to the prepared reference; NaN where either is non-finite."""
        fa, ok_a = prepared
        b = _maps(B)
        if b.shape[0] != ok_a.shape[0]:
            raise DataError(f"Similarity metrics compare two map sets of the same shape; got {ok_a.shape[0]} and {b.shape[0]} maps.")
        ok = ok_a & np.isfinite(b).all(axis=(1, 2, 3))
        out = np.full(ok.shape, np.nan)
        if ok.any():
            out[ok] = self.compare(fa[ok[ok_a]], self.features(b[ok]))
        return out

    def __call__(self, A, B) -> np.ndarray:
        a, b = _to_numpy(A), _to_numpy(B)
        if a.ndim not in (3, 4) or a.shape != b.shape:
            raise DataError(
                f"Similarity metrics compare two map sets of the same shape [N, C, H, W] or [N, H, W]; "
                f"got {a.shape} and {b.shape}."
            )
        return self.against(self.prepare(a), b)


SIMILARITY_METRICS: dict[str, SimilarityMetric] = {
    m.name: m
    for m in (
        SimilarityMetric("spearman_abs", _rank_features("abs"), lambda x, y: _pearson_rows(x, y), True, (-1.0, 1.0),
                         "Spearman rank correlation of absolute-value normalised maps"),
        SimilarityMetric("spearman_signed", _rank_features("signed"), lambda x, y: _pearson_rows(x, y), True,
                         (-1.0, 1.0), "Spearman rank correlation of signed (diverging) normalised maps"),
        SimilarityMetric("ssim", _ssim_features, _ssim_compare, True, (-1.0, 1.0),
                         "Structural similarity (Gaussian window, sigma 1.5) of min-max normalised maps"),
        SimilarityMetric("hog", _hog_rank_features, lambda x, y: _pearson_rows(x, y), True, (-1.0, 1.0),
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


def _maps(A) -> np.ndarray:
    """``[N, C, H, W]`` float64 (``[N, H, W]`` becomes one channel)."""
    a = _to_numpy(A)
    if a.ndim not in (3, 4):
        raise DataError(f"Similarity metrics take maps [N, C, H, W] or [N, H, W]; got shape {a.shape}.")
    return a[:, None] if a.ndim == 3 else a


def _norm(maps: np.ndarray, how: str) -> np.ndarray:
    return np.asarray(normalize(maps, how=how), dtype=np.float64)


def _hog(m: np.ndarray, cells: tuple[int, int]) -> np.ndarray:
    """HOG of one ``[C, H, W]`` map, padded by one cell (see :func:`hog_similarity`)."""
    padded = np.pad(m, ((0, 0), (cells[0],) * 2, (cells[1],) * 2), mode="symmetric")
    multichannel = padded.shape[0] > 1
    blocks = hog(
        np.moveaxis(padded, 0, -1) if multichannel else padded[0], orientations=HOG_ORIENTATIONS,
        pixels_per_cell=cells, cells_per_block=(HOG_CELLS_PER_BLOCK,) * 2, block_norm="L2-Hys",
        feature_vector=False, channel_axis=-1 if multichannel else None,
    )  # [blocks_r, blocks_c, 3, 3, 9] over the padded map; keep the blocks on the original map
    keep = [side // c - HOG_CELLS_PER_BLOCK + 1 for side, c in zip(m.shape[1:], cells)]
    return blocks[1:1 + keep[0], 1:1 + keep[1]].ravel()


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
