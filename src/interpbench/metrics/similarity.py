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

Every metric is batched torch code in float64 on the device of the maps (a NumPy array is scored
on the CPU): ranks with average ties (``scipy.stats.rankdata``), the Gaussian filter of SSIM
(``scipy.ndimage.gaussian_filter``, mode ``reflect``) and HOG (``skimage.feature.hog``) are
written out here. ``tests/metrics/similarity_reference.py`` keeps the SciPy / scikit-image
versions the tests compare them with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError, unknown_name
from ..explain.postprocess import normalize

# SSIM with a Gaussian window: sigma 1.5, truncated at 3.5 sigma -> an 11 x 11 window (skimage).
SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)
SSIM_MIN_SIDE = 2 * SSIM_RADIUS + 1
SSIM_DATA_RANGE = 2.0  # the authors' implicit float range [-1, 1] (see ssim)
HOG_ORIENTATIONS = 9
HOG_CELLS_PER_BLOCK = 3
HOG_MAX_CELL = 16  # the authors' pixels_per_cell=(16, 16)
HOG_EPS = 1e-5  # skimage's block normalisation epsilon


def _rank_features(how: str) -> Callable[[Tensor], Tensor]:
    def features(a: Tensor) -> Tensor:
        return rank_rows(_norm(a, how).flatten(1))

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


def _ssim_features(a: Tensor) -> Tensor:
    if min(a.shape[2:]) < SSIM_MIN_SIDE:
        raise DataError(
            f"ssim needs maps of at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} pixels (Gaussian window, "
            f"sigma {SSIM_SIGMA}); got {a.shape[2]}x{a.shape[3]}."
        )
    return _norm(a, "minmax")  # [N, C, H, W], min-max over all channels


def _ssim_compare(x: Tensor, y: Tensor) -> Tensor:
    """skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5, data_range=2)`` (sample
    covariances, the authors' settings) for a whole stack at once: the same formula (Gaussian
    filter truncated at 3.5 sigma, mode ``reflect``; mean over the map less a 5-pixel border).
    ``[N, C, H, W]`` maps give the mean over channels (skimage's ``channel_axis``)."""
    n, c, h, w = x.shape
    x, y = x.reshape(n * c, h, w), y.reshape(n * c, h, w)
    c1, c2 = (0.01 * SSIM_DATA_RANGE) ** 2, (0.03 * SSIM_DATA_RANGE) ** 2
    cov_norm = SSIM_MIN_SIDE**2 / (SSIM_MIN_SIDE**2 - 1)  # sample covariance over the 11 x 11 window
    ux, uy, xx, yy, xy = _gaussian_blur(torch.cat([x, y, x * x, y * y, x * y])).split(n * c)
    vx, vy, vxy = cov_norm * (xx - ux * ux), cov_norm * (yy - uy * uy), cov_norm * (xy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = SSIM_RADIUS
    return s[:, pad:-pad, pad:-pad].mean(dim=(1, 2)).reshape(n, c).mean(dim=1)


def _gaussian_blur(z: Tensor) -> Tensor:
    """``scipy.ndimage.gaussian_filter(z, (0, 1.5, 1.5), truncate=3.5, mode="reflect")`` of ``[B, H, W]``:
    one 11-tap kernel along the rows, then along the columns, the map mirrored at its edges
    (edge pixel repeated: ``d c b a | a b c d``)."""
    r = SSIM_RADIUS
    taps = torch.arange(-r, r + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 / SSIM_SIGMA**2 * taps**2)
    kernel = (kernel / kernel.sum()).tolist()
    for dim in (1, 2):
        size = z.shape[dim]
        padded = z.index_select(dim, _symmetric_index(size, r, z.device))
        out = padded.narrow(dim, 0, size) * kernel[0]
        for k in range(1, 2 * r + 1):
            out.add_(padded.narrow(dim, k, size), alpha=kernel[k])  # one pass per tap
        z = out
    return z


def _symmetric_index(size: int, pad: int, device) -> Tensor:
    """Indices of a length-``size`` axis padded by ``pad`` on each side by mirroring with the edge
    repeated (NumPy's ``symmetric``, SciPy's ``reflect``)."""
    i = torch.arange(-pad, size + pad, device=device) % (2 * size)
    return torch.where(i >= size, 2 * size - 1 - i, i)


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


def _hog_features(a: Tensor) -> Tensor:
    """HOG descriptors ``[N, D]`` of the min-max normalised maps ``[N, C, H, W]`` (see :func:`hog_blocks`)."""
    cells = hog_cells(*a.shape[2:])
    if any(side // c < HOG_CELLS_PER_BLOCK for side, c in zip(a.shape[2:], cells)):
        raise DataError(
            f"hog_similarity needs maps of at least {HOG_CELLS_PER_BLOCK * 4} pixels per side; "
            f"got {a.shape[2]}x{a.shape[3]}."
        )
    return hog_blocks(_norm(a, "minmax"), cells).flatten(1)


def _hog_rank_features(a: Tensor) -> Tensor:
    return rank_rows(_hog_features(a))


def hog_blocks(m: Tensor, cells: tuple[int, int]) -> Tensor:
    """``skimage.feature.hog(orientations=9, pixels_per_cell=cells, cells_per_block=(3, 3),
    block_norm="L2-Hys", feature_vector=False, channel_axis=-1)`` of every float64 map of ``m``
    ``[N, C, H, W]`` padded by one cell (symmetric), keeping the blocks that lie on the map:
    ``[N, blocks_r, blocks_c, 3, 3, 9]``.

    skimage's steps, batched: central differences (0 on the padded map's border); per pixel the
    channel of largest gradient magnitude (the first on ties); orientation
    ``rad2deg(arctan2(g_row, g_col)) mod 180`` voting its magnitude into bin ``floor(angle / 20)``
    (an angle of exactly 180 votes nowhere); per cell the mean vote, accumulated in float32 in
    row-major pixel order as skimage's ``_hoghistogram.hog_histograms`` does; per block of 3 x 3
    cells L2-Hys: ``v / sqrt(|v|^2 + eps^2)``, clipped at 0.2, normalised again (eps = 1e-5).
    """
    cr, cc = cells
    n, _, h, w = m.shape
    padded = m.index_select(2, _symmetric_index(h, cr, m.device)).index_select(3, _symmetric_index(w, cc, m.device))
    g_row, g_col = torch.zeros_like(padded), torch.zeros_like(padded)
    g_row[:, :, 1:-1, :] = padded[:, :, 2:, :] - padded[:, :, :-2, :]
    g_col[:, :, :, 1:-1] = padded[:, :, :, 2:] - padded[:, :, :, :-2]
    if padded.shape[1] > 1:
        strongest = torch.hypot(g_row, g_col).argmax(dim=1, keepdim=True)
        g_row, g_col = g_row.gather(1, strongest), g_col.gather(1, strongest)
    g_row, g_col = g_row[:, 0], g_col[:, 0]
    magnitude = torch.hypot(g_col, g_row)
    angle = torch.fmod(torch.atan2(g_row, g_col) * (180.0 / math.pi), 180.0)
    angle = torch.where(angle < 0, angle + 180.0, angle)  # NumPy's % 180 (sign of the divisor)
    width = 180.0 / HOG_ORIENTATIONS
    edges = torch.tensor([width * (i + 1) for i in range(HOG_ORIENTATIONS)], dtype=torch.float64, device=m.device)
    votes = torch.bucketize(angle, edges, right=True)  # bin i: i*20 <= angle < (i+1)*20
    nowhere = votes >= HOG_ORIENTATIONS
    magnitude = magnitude.masked_fill(nowhere, 0.0)
    votes = votes.masked_fill(nowhere, 0)
    rows, cols = (padded.shape[2] // cr), (padded.shape[3] // cc)

    def cells_of(t: Tensor) -> Tensor:  # [N, Hp, Wp] -> [N, rows, cols, cr * cc] in row-major pixel order
        t = t[:, : rows * cr, : cols * cc].reshape(n, rows, cr, cols, cc)
        return t.permute(0, 1, 3, 2, 4).reshape(n, rows, cols, cr * cc)

    magnitude, votes = cells_of(magnitude), cells_of(votes)
    hist = torch.zeros(n, rows, cols, HOG_ORIENTATIONS, dtype=torch.float32, device=m.device)
    for k in range(cr * cc):  # skimage's float32 running total, one pixel at a time
        b = votes[..., k : k + 1]
        hist.scatter_(3, b, (hist.gather(3, b).double() + magnitude[..., k : k + 1]).float())
    hist = (hist / (cr * cc)).double()
    keep = [side // c - HOG_CELLS_PER_BLOCK + 1 for side, c in ((h, cr), (w, cc))]
    blocks = hist.unfold(1, HOG_CELLS_PER_BLOCK, 1).unfold(2, HOG_CELLS_PER_BLOCK, 1)  # [N, br, bc, 9, 3, 3]
    blocks = blocks[:, 1 : 1 + keep[0], 1 : 1 + keep[1]].permute(0, 1, 2, 4, 5, 3)  # [N, br, bc, 3, 3, 9]
    shape = blocks.shape
    blocks = blocks.reshape(*shape[:3], -1)  # copies: the 81 values of each block in skimage's order
    out = blocks / sqrt_rn(numpy_sum(blocks**2)[..., None] + HOG_EPS**2)
    out = out.clamp(max=0.2)
    return (out / sqrt_rn(numpy_sum(out**2)[..., None] + HOG_EPS**2)).reshape(shape)


def sqrt_rn(a: Tensor) -> Tensor:
    """Correctly rounded square root of float64 ``a >= 0``, as NumPy's (IEEE ``sqrt``).

    torch's CPU ``sqrt`` of float64 is off by one unit in the last place for about 1% of values;
    then ``sqrt(4 s) != 2 sqrt(s)`` and HOG features that skimage gives equal (blocks whose
    histograms are multiples of each other) come out unequal, which changes their ranks. The
    neighbour of torch's result whose square is nearest to ``a`` (squares computed exactly,
    Dekker's product) is the correctly rounded root. Other devices (CUDA's sqrt is IEEE) as they are.
    """
    root = torch.sqrt(a)
    if a.device.type != "cpu":
        return root
    best, best_err = root, _square_error(root, a).abs()
    for step in (0.0, math.inf):
        other = torch.nextafter(root, torch.full_like(root, step))
        err = _square_error(other, a).abs()
        best = torch.where(err < best_err, other, best)
        best_err = torch.minimum(err, best_err)
    return best


def _square_error(c: Tensor, a: Tensor) -> Tensor:
    """``c * c - a`` with the product taken exactly (Dekker's split; |c| well inside float64's range)."""
    p = c * c
    t = 134217729.0 * c  # 2^27 + 1
    hi = t - (t - c)
    lo = c - hi
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo  # c * c - p, exactly
    return (p - a) + err


def numpy_sum(v: Tensor) -> Tensor:
    """Sum over the last axis in NumPy's order (``np.sum`` of a contiguous float array: pairwise
    summation, eight running sums per block of up to 128 values), so that HOG features that are
    equal in skimage are equal here too: their ranks (average ties) depend on exact equality."""
    n = v.shape[-1]
    if n < 8:
        out = torch.zeros(v.shape[:-1], dtype=v.dtype, device=v.device)
        for i in range(n):
            out = out + v[..., i]
        return out
    if n > 128:
        half = n // 2
        half -= half % 8
        return numpy_sum(v[..., :half]) + numpy_sum(v[..., half:])
    r = v[..., :8]
    full = n - n % 8
    for i in range(8, full, 8):
        r = r + v[..., i : i + 8]
    out = ((r[..., 0] + r[..., 1]) + (r[..., 2] + r[..., 3])) + ((r[..., 4] + r[..., 5]) + (r[..., 6] + r[..., 7]))
    for i in range(full, n):
        out = out + v[..., i]
    return out


def rank_rows(x: Tensor) -> Tensor:
    """Ranks (1-based, float64) within each row of ``[N, L]``, ties given their average rank
    (``scipy.stats.rankdata(x, axis=1)``); the values must be finite."""
    n, length = x.shape
    if length == 0:
        return x.double()
    values, order = torch.sort(x, dim=1, stable=True)
    pos = torch.arange(length, device=x.device).expand(n, length)
    starts = torch.ones_like(values, dtype=torch.bool)
    starts[:, 1:] = values[:, 1:] != values[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    first = torch.where(starts, pos, 0).cummax(dim=1).values
    last = torch.where(ends, pos, length).flip(1).cummin(dim=1).values.flip(1)
    ranks = (first + last).double() / 2 + 1
    return torch.empty_like(ranks).scatter_(1, order, ranks)


@dataclass(frozen=True)
class SimilarityMetric:
    """A registered similarity metric and its metadata (Quantus style).

    A metric is ``compare(features(A), features(B))`` on float64 tensors; callers comparing many
    map sets with one reference (every randomization step against the original) compute
    ``features`` of the reference once with :meth:`prepare` and call :meth:`against`.
    """

    name: str
    features: Callable[[Tensor], Tensor]
    compare: Callable[[Tensor, Tensor], Tensor]
    higher_is_better: bool
    range: tuple[float, float]
    description: str

    def prepare(self, A) -> tuple[Tensor | None, Tensor]:
        """``(features of the finite maps, mask of finite maps)`` for ``A`` [N, C, H, W] or [N, H, W]."""
        a = _maps(A)
        ok = torch.isfinite(a).all(dim=3).all(dim=2).all(dim=1)
        return (self.features(a[ok]) if bool(ok.any()) else None), ok

    def against(self, prepared: tuple[Tensor | None, Tensor], B) -> np.ndarray:
        """Per-image similarity of ``B`` to the prepared reference; NaN where either is non-finite."""
        fa, ok_a = prepared
        b = _maps(B, ok_a.device)
        if b.shape[0] != ok_a.shape[0]:
            raise DataError(f"Similarity metrics compare two map sets of the same shape; got {ok_a.shape[0]} and {b.shape[0]} maps.")
        ok = ok_a & torch.isfinite(b).all(dim=3).all(dim=2).all(dim=1)
        out = torch.full(ok.shape, math.nan, dtype=torch.float64, device=b.device)
        if bool(ok.any()):
            out[ok] = self.compare(fa[ok[ok_a]], self.features(b[ok]))
        return out.cpu().numpy()

    def against_itself(self, prepared: tuple[Tensor | None, Tensor]) -> np.ndarray:
        """:meth:`against` the prepared maps themselves (features not computed again)."""
        fa, ok = prepared
        out = torch.full(ok.shape, math.nan, dtype=torch.float64, device=ok.device)
        if fa is not None:
            out[ok] = self.compare(fa, fa)
        return out.cpu().numpy()

    def __call__(self, A, B) -> np.ndarray:
        if A.ndim not in (3, 4) or tuple(A.shape) != tuple(B.shape):
            raise DataError(
                f"Similarity metrics compare two map sets of the same shape [N, C, H, W] or [N, H, W]; "
                f"got {tuple(A.shape)} and {tuple(B.shape)}."
            )
        return self.against(self.prepare(A), B)


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

def _maps(A, device: torch.device | None = None) -> Tensor:
    """``[N, C, H, W]`` float64 tensor (``[N, H, W]`` becomes one channel) on the maps' device (or
    ``device``); NumPy arrays go to the CPU, and devices without float64 (MPS) to the CPU too."""
    if isinstance(A, Tensor):
        a = A.detach()
    else:
        a = torch.from_numpy(np.asarray(A, dtype=np.float64))
    if device is not None:
        a = a.to(device)
    if a.device.type == "mps":
        a = a.cpu()
    a = a.to(torch.float64)
    if a.ndim not in (3, 4):
        raise DataError(f"Similarity metrics take maps [N, C, H, W] or [N, H, W]; got shape {tuple(a.shape)}.")
    return a[:, None] if a.ndim == 3 else a


def _norm(maps: Tensor, how: str) -> Tensor:
    return normalize(maps, how=how).to(torch.float64)


def _pearson_rows(x: Tensor, y: Tensor) -> Tensor:
    """Pearson correlation between matching rows; NaN where a row is constant."""
    x, y = x.flatten(1), y.flatten(1)
    x = x - x.mean(dim=1, keepdim=True)
    y = y - y.mean(dim=1, keepdim=True)
    denom = torch.sqrt((x * x).sum(dim=1) * (y * y).sum(dim=1))
    r = (x * y).sum(dim=1) / torch.where(denom == 0, torch.ones_like(denom), denom)
    return torch.where(denom == 0, torch.full_like(r, math.nan), r).clamp(-1.0, 1.0)
