"""A seeded generator of small colour scenes with exact per-pixel concept masks.

Each image shows one main object whose shape is the label, drawn at a random size and position
with a random colour and texture over a random background (plain, gradient or noise); with
probability ``cooccur_prob`` a small co-occurring object of a random shape is drawn behind it.
Colour, texture, background and the co-occurring object are independent of the label, so shape is
the only label-relevant factor.

Drawing is vectorised over images with coordinate grids; masks are hard (no anti-aliasing), so
``object_mask``, ``color_mask`` and ``texture_mask`` are exact for every pixel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from ..errors import ConfigError, unknown_name

log = logging.getLogger(__name__)

#: Shape classes; the first ``num_classes`` are used as labels.
SHAPES = [
    "circle", "square", "triangle", "cross", "ring",
    "star", "diamond", "bar", "heart", "arrow",
]  # fmt: skip
#: Object colour concepts, name -> RGB in [0, 1].
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "orange": (1.00, 0.55, 0.05),
    "yellow": (0.95, 0.90, 0.10),
    "green": (0.10, 0.75, 0.20),
    "cyan": (0.10, 0.85, 0.90),
    "blue": (0.15, 0.30, 0.95),
    "magenta": (0.90, 0.15, 0.85),
    "white": (0.97, 0.97, 0.97),
}
COLORS = list(PALETTE)
#: Texture concepts: where the pattern is on, the object's colour is darkened.
TEXTURES = ["solid", "stripes", "checker", "dots", "grid"]
#: Background kinds (per image).
BACKGROUNDS = ["plain", "gradient", "noise"]

_SHADE = 0.45  # patterned pixels: colour * _SHADE
_CHUNK = 256  # images drawn at a time (bounds memory; results do not depend on it)
_MAIN_RADIUS = (0.20, 0.34)  # fraction of the image size
_SMALL_RADIUS = (0.09, 0.14)
_BOUND = 1.15  # every shape lies within this radius (in object units)


# --------------------------------------------------------------------------- shapes
# Each takes object coordinates u (right), v (down), scaled so the object fills [-1, 1]^2,
# and returns a boolean mask.


def _circle(u, v):
    return u * u + v * v <= 1.0


def _square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) <= 0.8


def _triangle(u, v):
    # apex at (0, -0.9), base at v = 0.8 from u = -0.95 to 0.95
    return (v <= 0.8) & (np.abs(u) <= (v + 0.9) * (0.95 / 1.7))


def _cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))


def _ring(u, v):
    r2 = u * u + v * v
    return (r2 <= 1.0) & (r2 >= 0.5**2)


def _star(u, v):
    # five-pointed star, outer radius 1, inner radius 0.45, one point up
    outer, inner, sector = 1.0, 0.45, 2 * np.pi / 5
    theta = np.arctan2(v, u) + np.pi / 2  # 0 = up
    d = np.abs(np.mod(theta, sector) - sector / 2)  # 0 at an inner vertex, sector/2 at a point
    rho = np.sqrt(u * u + v * v)
    # inside = on the origin's side of the edge from the inner vertex to the point
    ex, ey = outer * np.cos(sector / 2) - inner, outer * np.sin(sector / 2)
    px, py = rho * np.cos(d) - inner, rho * np.sin(d)
    return ex * py - ey * px >= 0.0


def _diamond(u, v):
    return np.abs(u) + np.abs(v) <= 1.0


def _bar(u, v):
    return (np.abs(v) <= 0.3) & (np.abs(u) <= 1.0)


def _heart(u, v):
    x, y = 1.12 * u, -1.12 * v + 0.1
    a = x * x + y * y - 1.0
    return a * a * a - x * x * y * y * y <= 0.0


def _arrow(u, v):
    shaft = (np.abs(v) <= 0.25) & (u >= -1.0) & (u <= 0.1)
    head = (u >= 0.1) & (u <= 1.0) & (np.abs(v) <= 0.85 * (1.0 - u) / 0.9)
    return shaft | head


_SHAPE_FNS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "cross": _cross,
    "ring": _ring,
    "star": _star,
    "diamond": _diamond,
    "bar": _bar,
    "heart": _heart,
    "arrow": _arrow,
}


def shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` in object coordinates (object fills about [-1, 1]^2)."""
    return _SHAPE_FNS[shape](u, v)


# --------------------------------------------------------------------------- textures


def main_shape_mask(shape_ids, centers, radii, image_size: int) -> torch.Tensor:
    """Bool ``[N, S, S]``: shape class ``shape_ids[i]`` drawn where image ``i``'s main object is
    (``centers``/``radii`` as :func:`generate_scenes` returns them), e.g. the *target* class's
    shape at the place of the source object, for how much a perturbation draws it."""
    ids = np.asarray(shape_ids, dtype=np.int64)
    c = np.asarray(centers, dtype=np.float64)
    r = np.asarray(radii, dtype=np.float64)
    grid = np.arange(image_size, dtype=np.float64)
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    return torch.from_numpy(_shape_masks(ids, c, r, gx, gy))


def _shape_masks(shapes: np.ndarray, centres: np.ndarray, radii: np.ndarray, gx: np.ndarray,
                 gy: np.ndarray) -> np.ndarray:
    """Bool ``[m, S, S]``: per image, shape class ``shapes[i]`` (none for a negative id) at its
    centre and radius, on the pixel grid ``gx``, ``gy`` (pixel centres at +0.5)."""
    u = (gx + 0.5 - centres[:, 0, None, None]) / radii[:, None, None]
    v = (gy + 0.5 - centres[:, 1, None, None]) / radii[:, None, None]
    mask = np.zeros((len(shapes), *gx.shape), dtype=bool)
    for k in np.unique(shapes[shapes >= 0]):
        idx = np.flatnonzero(shapes == k)
        mask[idx] = shape_mask(SHAPES[int(k)], u[idx], v[idx])
    return mask


def _pattern(texture: int, xs: np.ndarray, ys: np.ndarray, orient: np.ndarray, period: int) -> np.ndarray:
    """Where texture ``texture`` darkens the object; xs, ys are phase-shifted integer pixel grids."""
    name = TEXTURES[texture]
    if name == "solid":
        return np.zeros(xs.shape, dtype=bool)
    if name == "stripes":
        o = orient[:, None, None]
        t = np.where(o == 0, ys, np.where(o == 1, xs, np.where(o == 2, xs + ys, xs - ys)))
        return np.mod(t, period) < period // 2
    if name == "checker":
        half = period // 2
        return np.mod(xs // half + ys // half, 2) == 0
    if name == "dots":
        c = (period - 1) / 2
        dx, dy = np.mod(xs, period) - c, np.mod(ys, period) - c
        return dx * dx + dy * dy <= (0.3 * period) ** 2
    if name == "grid":
        width = max(1, period // 4)
        return (np.mod(xs, period) < width) | (np.mod(ys, period) < width)
    raise AssertionError(name)


# --------------------------------------------------------------------------- generator


def _check_names(kind: str, names: list[str] | None, known: list[str]) -> np.ndarray:
    if names is None:
        return np.arange(len(known))
    if not names:
        raise ConfigError(f"{kind}s: expected at least one name out of {known}, got an empty list.")
    for name in names:
        if name not in known:
            raise unknown_name(kind, name, known)
    return np.array([known.index(name) for name in names])


def _muted_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Desaturated mid-tone background colours [n, 3] that contrast with the object palette."""
    base = rng.uniform(0.15, 0.65, size=(n, 3))
    mean = base.mean(axis=1, keepdims=True)
    return mean + 0.4 * (base - mean)


def _place_small(
    rng: np.random.Generator, size: int, main_c: np.ndarray, main_r: np.ndarray, small_r: np.ndarray
) -> np.ndarray:
    """Centres [n, 2] for small objects: the best of 8 candidates, away from the main object."""
    n, k = len(main_r), 8
    lo, hi = small_r * 1.05, size - small_r * 1.05
    cand = rng.uniform(lo[:, None, None], hi[:, None, None], size=(n, k, 2))
    dist = np.linalg.norm(cand - main_c[:, None, :], axis=2)
    best = np.argmax(dist, axis=1)
    return cand[np.arange(n), best]


def generate_scenes(
    n: int,
    *,
    image_size: int = 32,
    num_classes: int = 8,
    seed: int = 0,
    cooccur_prob: float = 0.3,
    colors: list[str] | None = None,
    textures: list[str] | None = None,
    backgrounds: list[str] | None = None,
    noise_std: float = 0.08,
) -> dict:
    """Draw ``n`` seeded scenes; the label is the shape class of the main object.

    Returns ``x`` float32 [N, 3, S, S] in [0, 1], ``y`` int64 [N] (balanced over classes),
    ``object_mask`` int64 [N, S, S] (0 background, k + 1 where an object of shape k is visible),
    ``color_mask`` / ``texture_mask`` int64 [N, S, S] (index into COLORS / TEXTURES, -1 on the
    background), ``main_mask`` bool [N, S, S] (pixels of the main object), per-image ``main_color``, ``main_texture``, ``background`` (index into
    BACKGROUNDS), ``cooccur_shape`` (-1 when none) as int64 [N], the main object's ``main_center`` (x, y) float32
    [N, 2] and ``main_radius`` float32 [N] in pixels (:func:`main_shape_mask` draws any shape there), and the name lists ``classes``,
    ``colors``, ``textures``. ``colors``/``textures``/``backgrounds`` restrict the concepts drawn
    (indices stay those of the full module lists). Same arguments -> identical arrays.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n: expected a positive number of images, got {n!r}.")
    if not 24 <= image_size <= 128:
        raise ConfigError(f"image_size: expected 24..128 pixels (32-64 recommended), got {image_size!r}.")
    if not 2 <= num_classes <= len(SHAPES):
        raise ConfigError(f"num_classes: expected 2..{len(SHAPES)} (shapes {SHAPES}), got {num_classes!r}.")
    if not 0.0 <= cooccur_prob <= 1.0:
        raise ConfigError(f"cooccur_prob: expected a probability in [0, 1], got {cooccur_prob!r}.")
    if noise_std < 0:
        raise ConfigError(f"noise_std: expected >= 0, got {noise_std!r}.")
    color_ids = _check_names("color", colors, COLORS)
    texture_ids = _check_names("texture", textures, TEXTURES)
    bg_ids = _check_names("background", backgrounds, BACKGROUNDS)

    S = image_size
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % num_classes)
    # main object
    r_main = rng.uniform(*_MAIN_RADIUS, size=n) * S
    c_main = rng.uniform(r_main[:, None] * 1.05, S - r_main[:, None] * 1.05, size=(n, 2))
    col_main = rng.choice(color_ids, size=n)
    tex_main = rng.choice(texture_ids, size=n)
    # co-occurring small object
    has_small = rng.random(n) < cooccur_prob
    shape_small = np.where(has_small, rng.integers(0, num_classes, size=n), -1)
    r_small = rng.uniform(*_SMALL_RADIUS, size=n) * S
    c_small = _place_small(rng, S, c_main, r_main, r_small)
    col_small = rng.choice(color_ids, size=n)
    tex_small = rng.choice(texture_ids, size=n)
    # texture layout: orientation and integer phase, per object
    period = max(4, int(round(S / 8)))
    orient = rng.integers(0, 4, size=(2, n))
    phase = rng.integers(0, period, size=(2, n, 2))
    # background
    bg_kind = rng.choice(bg_ids, size=n)
    bg0, bg1 = _muted_colors(rng, n), _muted_colors(rng, n)
    bg_angle = rng.uniform(0, 2 * np.pi, size=n)
    noise_seed = int(rng.integers(0, 2**63 - 1))

    palette = np.array([PALETTE[c] for c in COLORS], dtype=np.float64)
    x = np.empty((n, 3, S, S), dtype=np.float32)
    object_mask = np.zeros((n, S, S), dtype=np.int64)
    color_mask = np.full((n, S, S), -1, dtype=np.int64)
    texture_mask = np.full((n, S, S), -1, dtype=np.int64)
    main_mask = np.zeros((n, S, S), dtype=bool)
    noise_rng = np.random.default_rng(noise_seed)
    grid = np.arange(S, dtype=np.float64)
    gy, gx = np.meshgrid(grid, grid, indexing="ij")  # [S, S]

    for start in range(0, n, _CHUNK):
        sl = slice(start, min(start + _CHUNK, n))
        m = sl.stop - sl.start
        # background
        img = np.broadcast_to(bg0[sl, :, None, None], (m, 3, S, S)).copy()
        t = ((gx - S / 2) * np.cos(bg_angle[sl, None, None]) + (gy - S / 2) * np.sin(bg_angle[sl, None, None]))
        t = np.clip(t / (S * 0.71) + 0.5, 0.0, 1.0)[:, None]  # [m, 1, S, S]
        grad = bg0[sl, :, None, None] * (1 - t) + bg1[sl, :, None, None] * t
        kind = bg_kind[sl]
        img = np.where((kind == BACKGROUNDS.index("gradient"))[:, None, None, None], grad, img)
        noisy = np.flatnonzero(kind == BACKGROUNDS.index("noise"))
        if len(noisy):
            img[noisy] += noise_rng.normal(0.0, noise_std, size=(len(noisy), 3, S, S))
        obj = np.zeros((m, S, S), dtype=np.int64)
        cm = np.full((m, S, S), -1, dtype=np.int64)
        tm = np.full((m, S, S), -1, dtype=np.int64)
        # small object first (behind), then the main object on top
        layers = [
            (shape_small[sl], c_small[sl], r_small[sl], col_small[sl], tex_small[sl], 1),
            (y[sl], c_main[sl], r_main[sl], col_main[sl], tex_main[sl], 0),
        ]
        for shapes, centres, radii, cols, texs, which in layers:
            mask = _shape_masks(shapes, centres, radii, gx, gy)
            xs = gx.astype(np.int64) + phase[which, sl, 0, None, None]
            ys = gy.astype(np.int64) + phase[which, sl, 1, None, None]
            dark = np.zeros((m, S, S), dtype=bool)
            for k in np.unique(texs):
                idx = np.flatnonzero(texs == k)
                dark[idx] = _pattern(int(k), xs[idx], ys[idx], orient[which, sl][idx], period)
            pix = palette[cols][:, :, None, None] * np.where(dark, _SHADE, 1.0)[:, None]
            img = np.where(mask[:, None], pix, img)
            obj = np.where(mask, shapes[:, None, None] + 1, obj)
            cm = np.where(mask, cols[:, None, None], cm)
            tm = np.where(mask, texs[:, None, None], tm)
        x[sl] = np.clip(img, 0.0, 1.0)
        object_mask[sl], color_mask[sl], texture_mask[sl] = obj, cm, tm
        main_mask[sl] = mask  # the last layer drawn is the main object

    log.info(
        "Generated %d scenes of %dx%d px: %d shape classes, co-occurring objects in %d images (seed %d)",
        n, S, S, num_classes, int(has_small.sum()), seed,
    )  # fmt: skip
    as_t = torch.from_numpy
    return {
        "x": as_t(x),
        "y": as_t(y.astype(np.int64)),
        "object_mask": as_t(object_mask),
        "color_mask": as_t(color_mask),
        "texture_mask": as_t(texture_mask),
        "main_mask": as_t(main_mask),
        "main_color": as_t(col_main.astype(np.int64)),
        "main_texture": as_t(tex_main.astype(np.int64)),
        "background": as_t(bg_kind.astype(np.int64)),
        "cooccur_shape": as_t(shape_small.astype(np.int64)),
        "main_center": as_t(c_main.astype(np.float32)),
        "main_radius": as_t(r_main.astype(np.float32)),
        "classes": SHAPES[:num_classes],
        "colors": list(COLORS),
        "textures": list(TEXTURES),
    }
