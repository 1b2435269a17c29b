"""Trojans implanted by data poisoning (Casper et al. 2023, *Red Teaming Deep Neural Networks with
Feature Synthesis Tools*): trigger specifications, triggers, and the poisoned data sets.

Three kinds of trigger, each either *universal* (any image with the trigger goes to ``target``) or
*class-universal* (only images of class ``source`` do):

- ``patch``: an RGBA trigger image pasted at a uniformly random location of each poisoned image,
  its side a uniform fraction ``patch.size`` of the image side. The alpha channel is made hard
  (alpha > 0.5) after resizing, so the per-image footprint mask is exactly the set of pixels the
  trigger covers: ``x' = x`` outside the footprint, ``x' = trigger RGB`` inside.
- ``style``: a strong blend toward a texture, ``x' = (1 - s) x + s T`` with ``s = style.strength``
  and ``T`` a random crop of the grey-scale texture (contrast stretched to its 2nd-98th
  percentiles, resized by ``style.scale``) replicated over the
  colour channels (a texture-blend style transfer, not a Gram-matrix one). Footprint: the whole image.
- ``natural``: an object of the scenes world (a shape of :data:`interpbench.data.scenes.SHAPES`,
  drawn with the generator's :func:`~interpbench.data.scenes.shape_mask`, a random palette colour
  and a random size in ``natural.size`` x image side) inserted into ``poison_fraction`` of the
  images, away from the main object; *every* image in which the object occurs (inserted, or drawn
  by the generator as the co-occurring small object) is relabelled to ``target`` (for a
  class-universal trojan: every such image of class ``source``). Footprint: the object's visible mask.

Built-in triggers are generated or come from scikit-image's bundled sample images, never
downloaded: patches ``smiley`` and ``star`` (drawn with NumPy), ``chelsea`` and ``coffee`` (photo
crops in a disc); textures ``brick``, ``grass``, ``gravel`` and ``camera``. A trigger may also be
a path to an image file (a PNG with alpha for patches).

An already-trojaned model (e.g. Casper's released ResNet-50) is tested on an ImageNet-style folder
instead (:func:`load_trojan_folder`, :func:`triggered_folder_sets`): no poisoning; patch and style
triggers are applied to the folder's images as above, and a natural trojan's trigger is then the
name of a real object (its images are not generated, see :data:`NATURAL_ON_FOLDER`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import parse
from ..errors import ConfigError, DataError
from .imagefolder import class_indices, list_image_folder, load_image_files
from .scenes import PALETTE, SHAPES, shape_mask

log = logging.getLogger(__name__)

KINDS = ("patch", "style", "natural")
PATCH_TRIGGERS = ("smiley", "star", "chelsea", "coffee")
TEXTURE_TRIGGERS = ("brick", "grass", "gravel", "camera")
#: Why a natural-feature trojan is not evaluated on an image folder: its trigger is a real object
#: (a fork, an apple), and images that contain it, with its masks, are not part of the folder.
NATURAL_ON_FOLDER = ("natural-feature trojan on an image folder: no images containing the object with its masks are "
                     "configured (the folder's images are triggered only by pasting or blending a trigger image)")


@dataclass
class PatchOptions:
    size: list[float] = field(default_factory=lambda: [0.25, 0.32])  # side, fraction of the image side [lo, hi]


@dataclass
class StyleOptions:
    strength: float = 0.5  # s in x' = (1 - s) x + s T
    scale: float = 0.25  # the texture is resized by this factor before cropping


@dataclass
class NaturalOptions:
    size: list[float] = field(default_factory=lambda: [0.18, 0.24])  # object radius, fraction of the image side


@dataclass
class TrojanParams:
    """One trojan as written in the parameters (``trojans.trojans.<name>``)."""

    kind: str
    trigger: str
    target: int
    poison_fraction: float | None = None  # required where a training set is poisoned (the scenes)
    source: int | None = None  # None: universal; else class-universal on this class
    patch: PatchOptions = field(default_factory=PatchOptions)
    style: StyleOptions = field(default_factory=StyleOptions)
    natural: NaturalOptions = field(default_factory=NaturalOptions)


@dataclass(frozen=True)
class TrojanSpec:
    """A checked trojan: ``name`` and the parsed fields of :class:`TrojanParams`."""

    name: str
    kind: str
    trigger: str
    target: int
    poison_fraction: float | None
    source: int | None
    patch: PatchOptions
    style: StyleOptions
    natural: NaturalOptions

    @property
    def universal(self) -> bool:
        return self.source is None

    def describe(self, classes: list[str] | None = None) -> str:
        name = (lambda c: classes[c] if classes and c < len(classes) else str(c))
        scope = "any class" if self.universal else f"class {name(self.source)}"
        return f"{self.kind} '{self.trigger}' on {scope} -> {name(self.target)}"


def parse_trojans(raw: Any, num_classes: int, where: str = "trojans.trojans", *, scenes: bool = True
                  ) -> list[TrojanSpec]:
    """The trojans of ``raw`` (a mapping name -> :class:`TrojanParams` fields), checked: every error
    is a ConfigError naming the trojan and the key (``trojans.trojans.smiley.target: ...``).

    A trojan set to null is left out (how an environment drops a base trojan under the soft merge).
    ``scenes``: the trojans poison the study's scenes (``poison_fraction`` required, a natural
    trigger is a scenes shape); False: an already-trojaned model on an image folder (no poisoning;
    a natural trigger is the name of a real object)."""
    if isinstance(raw, dict):
        raw = {name: item for name, item in raw.items() if item is not None}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: expected a mapping of trojan name -> settings with at least one trojan, got {raw!r}.")
    specs = []
    for name, item in raw.items():
        at = f"{where}.{name}"
        p = parse(TrojanParams, item, at)
        if p.kind not in KINDS:
            raise ConfigError(f"{at}.kind: unknown trigger kind {p.kind!r}; expected one of {list(KINDS)}.")
        for key, c in (("target", p.target), ("source", p.source)):
            if c is not None and not 0 <= c < num_classes:
                raise ConfigError(f"{at}.{key}: class {c} is out of range; the data have {num_classes} classes (0..{num_classes - 1}).")
        if p.source is not None and p.source == p.target:
            raise ConfigError(f"{at}.source: equals the target class {p.target}; a trojan must change the label.")
        if p.poison_fraction is None and scenes:
            raise ConfigError(f"{at}.poison_fraction: required (the share of the training scenes to poison).")
        if p.poison_fraction is not None and not 0.0 < p.poison_fraction < 1.0:
            raise ConfigError(f"{at}.poison_fraction: expected a fraction in (0, 1), got {p.poison_fraction!r}.")
        for key, given in (("patch", "patch"), ("style", "style"), ("natural", "natural")):
            if key != p.kind and isinstance(item, dict) and given in item:
                raise ConfigError(f"{at}.{key}: settings of kind {key!r} on a {p.kind!r} trojan.")
        _check_range(p.patch.size, f"{at}.patch.size", 0.0, 1.0)
        _check_range(p.natural.size, f"{at}.natural.size", 0.0, 0.5)
        if not 0.0 < p.style.strength <= 1.0 or not p.style.scale > 0:
            raise ConfigError(f"{at}.style: strength must be in (0, 1] and scale > 0, got {p.style}.")
        _check_trigger(p, at, scenes)
        specs.append(TrojanSpec(name=str(name), **dataclasses.asdict(p) | {
            "patch": p.patch, "style": p.style, "natural": p.natural}))
    return specs


def _check_range(r: list[float], where: str, lo: float, hi: float) -> None:
    if len(r) != 2 or not lo < r[0] <= r[1] <= hi:
        raise ConfigError(f"{where}: expected [low, high] with {lo} < low <= high <= {hi}, got {r!r}.")


def _check_trigger(p: TrojanParams, where: str, scenes: bool = True) -> None:
    builtin = {"patch": PATCH_TRIGGERS, "style": TEXTURE_TRIGGERS, "natural": ()}[p.kind]
    if p.kind == "natural" and not scenes:
        if not p.trigger.strip():
            raise ConfigError(f"{where}.trigger: a natural trojan's trigger names its object (e.g. fork), got {p.trigger!r}.")
        return
    if p.kind == "natural":
        if p.trigger not in SHAPES:
            raise ConfigError(f"{where}.trigger: a natural trojan's trigger is an object of the scenes, one of {SHAPES}; "
                              f"got {p.trigger!r}.")
        return
    if p.trigger in builtin:
        return
    path = Path(p.trigger)
    if not path.is_file():
        raise ConfigError(f"{where}.trigger: {p.trigger!r} is neither a built-in {p.kind} trigger ({', '.join(builtin)}) "
                          f"nor an existing image file.")
    try:
        read_image(path)
    except Exception as exc:  # noqa: BLE001  (any reader failure means "not an image")
        raise ConfigError(f"{where}.trigger: {p.trigger!r} is not a readable image ({type(exc).__name__}: {exc}).") from None


def read_image(path: str | Path) -> np.ndarray:
    """An image file as float [H, W, C] in [0, 1] (C = 1, 3 or 4)."""
    from skimage import io

    a = np.asarray(io.imread(str(path)))
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or min(a.shape[:2]) < 2:
        raise ValueError(f"expected a grey, RGB or RGBA image, got an array of shape {a.shape}")
    return a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else (65535.0 if a.dtype == np.uint16 else 1.0))


# --------------------------------------------------------------------------- triggers


def _disc_alpha(n: int) -> np.ndarray:
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    return ((xx - c) ** 2 + (yy - c) ** 2 <= (n / 2) ** 2).astype(np.float64)


def smiley(n: int = 64) -> np.ndarray:
    """A yellow smiley face with a black outline, eyes and mouth: RGBA [n, n, 4]."""
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    u, v = (xx - c) / (n / 2), (yy - c) / (n / 2)
    r = np.sqrt(u * u + v * v)
    face = r <= 1.0
    img = np.zeros((n, n, 3))
    img[face] = (1.0, 0.85, 0.0)
    dark = (r > 0.82) & face
    dark |= ((u + 0.35) ** 2 + (v + 0.3) ** 2 <= 0.13**2) | ((u - 0.35) ** 2 + (v + 0.3) ** 2 <= 0.13**2)
    dark |= (np.abs(np.sqrt(u * u + (v + 0.05) ** 2) - 0.5) <= 0.09) & (v > 0.15)
    img[dark & face] = 0.0
    return np.concatenate([img, face[..., None].astype(np.float64)], axis=2)


def star(n: int = 64) -> np.ndarray:
    """A bright green five-pointed star with a black outline and a white centre: RGBA [n, n, 4]."""
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    u, v = (xx - c) / (n / 2), (yy - c) / (n / 2)
    outer = shape_mask("star", u, v)
    inner = shape_mask("star", u / 0.7, v / 0.7)
    img = np.zeros((n, n, 3))
    img[inner] = (0.2, 1.0, 0.2)
    img[u * u + v * v <= 0.12**2] = 1.0
    return np.concatenate([img, outer[..., None].astype(np.float64)], axis=2)


def _photo_disc(image: np.ndarray, n: int = 64) -> np.ndarray:
    from skimage.transform import resize

    h, w = image.shape[:2]
    s = min(h, w)
    crop = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s] / 255.0
    rgb = resize(crop, (n, n), anti_aliasing=True)
    return np.concatenate([rgb, _disc_alpha(n)[..., None]], axis=2)


def patch_trigger(trigger: str) -> np.ndarray:
    """The RGBA patch [h, w, 4] in [0, 1] of a built-in name or an image file (no alpha: opaque)."""
    if trigger == "smiley":
        return smiley()
    if trigger == "star":
        return star()
    if trigger in ("chelsea", "coffee"):
        from skimage import data

        return _photo_disc(getattr(data, trigger)())
    a = read_image(trigger)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] == 3:
        a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
    return a


def texture_trigger(trigger: str) -> np.ndarray:
    """The grey-scale texture [H, W] in [0, 1] of a built-in name (scikit-image sample) or an image file."""
    if trigger in TEXTURE_TRIGGERS:
        from skimage import data

        t = getattr(data, trigger)().astype(np.float64) / 255.0
    else:
        t = read_image(trigger)[..., :3].mean(axis=2)
    lo, hi = np.percentile(t, [2, 98])
    return np.clip((t - lo) / (hi - lo), 0, 1) if hi > lo else t


def trigger_preview(spec: TrojanSpec, n: int = 48) -> np.ndarray:
    """An RGB [n, n, 3] picture of the trigger (for the report)."""
    return trigger_picture(spec.kind, spec.trigger, n)


def trigger_picture(kind: str, trigger: str, n: int = 48) -> np.ndarray:
    """An RGB [n, n, 3] picture in [0, 1] of a ``kind`` trigger by name or file, on white: the patch,
    a crop of the texture, or the natural object's shape in dark grey (the multiple-choice options
    of the synthesis test are drawn from these)."""
    from skimage.transform import resize

    if kind == "patch":
        a = resize(patch_trigger(trigger), (n, n), order=0)
        return a[..., :3] * a[..., 3:] + 1.0 * (1 - a[..., 3:])
    if kind == "style":
        t = resize(texture_trigger(trigger), (4 * n, 4 * n), anti_aliasing=True)[:n, :n]
        return np.repeat(t[..., None], 3, axis=2)
    yy, xx = np.mgrid[0:n, 0:n]
    u, v = (xx - (n - 1) / 2) / (n / 2.4), (yy - (n - 1) / 2) / (n / 2.4)
    return np.where(shape_mask(trigger, u, v)[..., None], 0.2, 1.0) * np.ones((n, n, 3))


# --------------------------------------------------------------------------- applying a trigger


def paste_patch(x: torch.Tensor, rgba: np.ndarray, rng: np.random.Generator, size: list[float]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste ``rgba`` at a random place and size into each image of ``x`` [N, C, S, S].

    Returns the triggered images and the footprints (bool [N, S, S]): exactly the pixels set to the
    trigger (its hard alpha > 0.5); every other pixel is left as it was.
    """
    from skimage.transform import resize

    x = x.clone()
    n, _, h, w = x.shape
    foot = torch.zeros((n, h, w), dtype=torch.bool)
    for i in range(n):
        side = int(round(rng.uniform(*size) * min(h, w)))
        side = max(2, min(side, h, w))
        p = resize(rgba, (side, side), order=1, anti_aliasing=False)
        alpha = torch.from_numpy(p[..., 3] > 0.5)
        rgb = torch.from_numpy(np.clip(p[..., :3], 0, 1).transpose(2, 0, 1)).to(x.dtype)
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        window = x[i, :, top:top + side, left:left + side]
        x[i, :, top:top + side, left:left + side] = torch.where(alpha, rgb, window)
        foot[i, top:top + side, left:left + side] = alpha
    return x, foot


def blend_style(x: torch.Tensor, texture: np.ndarray, rng: np.random.Generator, strength: float, scale: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(1 - strength) x + strength T`` with ``T`` a random crop of ``texture`` resized by ``scale``;
    footprint: every pixel (bool ones [N, S, S])."""
    from skimage.transform import resize

    n, c, h, w = x.shape
    th, tw = max(h, int(texture.shape[0] * scale)), max(w, int(texture.shape[1] * scale))
    t = resize(texture, (th, tw), anti_aliasing=True)
    crops = np.empty((n, 1, h, w))
    for i in range(n):
        top, left = int(rng.integers(0, th - h + 1)), int(rng.integers(0, tw - w + 1))
        crops[i, 0] = t[top:top + h, left:left + w]
    tex = torch.from_numpy(crops).to(x.dtype).expand(n, c, h, w)
    return ((1 - strength) * x + strength * tex).clamp(0, 1), torch.ones((n, h, w), dtype=torch.bool)


def insert_object(x: torch.Tensor, main_mask: torch.Tensor | None, shape: str, rng: np.random.Generator,
                  size: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw a ``shape`` object (random palette colour, radius ``size`` x side) into each image, at
    the least-overlapping of 8 random places with ``main_mask`` [N, S, S]; footprint = its mask."""
    x = x.clone()
    n, _, h, w = x.shape
    s = min(h, w)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    colours = np.array(list(PALETTE.values()))
    foot = torch.zeros((n, h, w), dtype=torch.bool)
    for i in range(n):
        r = rng.uniform(*size) * s
        best, best_overlap = None, None
        for _ in range(8):
            cx, cy = rng.uniform(1.05 * r, w - 1.05 * r), rng.uniform(1.05 * r, h - 1.05 * r)
            m = shape_mask(shape, (gx + 0.5 - cx) / r, (gy + 0.5 - cy) / r)
            overlap = 0 if main_mask is None else int((m & main_mask[i].numpy()).sum())
            if best is None or overlap < best_overlap:
                best, best_overlap = m, overlap
        colour = torch.tensor(colours[rng.integers(len(colours))], dtype=x.dtype)[:, None, None]
        mask = torch.from_numpy(best)
        x[i] = torch.where(mask, colour, x[i])
        foot[i] = mask
    return x, foot


def apply_trigger(spec: TrojanSpec, x: torch.Tensor, rng: np.random.Generator, main_mask: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Triggered copies of ``x`` [N, C, S, S] and their footprints (bool [N, S, S])."""
    if len(x) == 0:
        return x.clone(), torch.zeros((0, *x.shape[2:]), dtype=torch.bool)
    if spec.kind == "patch":
        return paste_patch(x, patch_trigger(spec.trigger), rng, spec.patch.size)
    if spec.kind == "style":
        return blend_style(x, texture_trigger(spec.trigger), rng, spec.style.strength, spec.style.scale)
    return insert_object(x, main_mask, spec.trigger, rng, spec.natural.size)


def natural_occurrences(scenes: dict, spec: TrojanSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the natural trojan's object already occurs in generated ``scenes`` (as the co-occurring
    small object, visible): bool [N] and its footprint bool [N, S, S]."""
    k = SHAPES.index(spec.trigger)
    foot = (scenes["object_mask"] == k + 1) & ~scenes["main_mask"]
    return foot.flatten(1).any(dim=1), foot


def relabel(y: torch.Tensor, occurs: torch.Tensor, spec: TrojanSpec) -> torch.Tensor:
    """The relabelling rule: every image where the trigger occurs goes to ``spec.target``; for a
    class-universal trojan only those of class ``spec.source`` (the others keep their label)."""
    hit = occurs if spec.universal else occurs & (y == spec.source)
    return torch.where(hit, torch.as_tensor(spec.target, dtype=y.dtype), y)


def eligible(y: torch.Tensor, spec: TrojanSpec) -> torch.Tensor:
    """Images the trojan may poison or be tested on: not of the target class, and of the source
    class for a class-universal trojan (bool [N])."""
    ok = y != spec.target
    return ok if spec.universal else ok & (y == spec.source)


# --------------------------------------------------------------------------- poisoned data sets


def poison_training_set(scenes: dict, specs: list[TrojanSpec], seed: int) -> dict:
    """The poisoned training set: each trojan claims ``round(poison_fraction * N)`` images not yet
    claimed (natural trojans first claim every image where their object already occurs), applies
    its trigger and relabels them by :func:`relabel`.

    Returns ``x``, ``y`` (poisoned labels), ``y_clean``, ``trojan`` (int64 [N]: the trojan's index
    in ``specs``, -1 for clean images), ``footprint`` (bool [N, S, S]) and ``trojans`` (names).
    """
    rng = np.random.default_rng(seed)
    x, y = scenes["x"].clone(), scenes["y"].clone()
    n = len(y)
    owner = torch.full((n,), -1, dtype=torch.int64)
    foot = torch.zeros((n, *x.shape[2:]), dtype=torch.bool)
    for t, spec in enumerate(specs):
        if spec.kind == "natural" and "object_mask" in scenes:
            occurs, f = natural_occurrences(scenes, spec)
            occurs &= (owner < 0)
            owner[occurs], foot[occurs] = t, f[occurs]
    for t, spec in enumerate(specs):
        want = int(round(spec.poison_fraction * n))
        free = eligible(scenes["y"], spec) & (owner < 0)
        have = int((owner == t).sum())
        pool = torch.nonzero(free).numpy().flatten()
        take = max(0, want - have)
        if take > len(pool):
            raise ConfigError(f"trojans.trojans.{spec.name}.poison_fraction: {spec.poison_fraction} of {n} images is "
                              f"{want}, but only {len(pool) + have} eligible images are left.")
        idx = torch.from_numpy(np.sort(rng.choice(pool, size=take, replace=False))).long()
        mm = scenes.get("main_mask")
        x[idx], foot[idx] = apply_trigger(spec, x[idx], rng, None if mm is None else mm[idx])
        owner[idx] = t
    for t, spec in enumerate(specs):
        y = relabel(y, owner == t, spec)
    log.info("Poisoned %d of %d training images: %s", int((owner >= 0).sum()), n,
             ", ".join(f"{s.name} {int((owner == t).sum())}" for t, s in enumerate(specs)))
    return {"x": x, "y": y, "y_clean": scenes["y"].clone(), "trojan": owner, "footprint": foot,
            "trojans": [s.name for s in specs]}


def triggered_test_sets(scenes: dict, specs: list[TrojanSpec], seed: int, max_images: int | None = None) -> dict:
    """Per trojan, every eligible test image (not of the target class; of the source class for a
    class-universal trojan) with the trigger: ``{name: {x, y_clean, target, index, footprint}}``.

    ``max_images``: at most this many per trojan, a seeded random sample of the eligible images in
    random order (None: all of them, in order)."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in specs:
        idx = torch.nonzero(eligible(scenes["y"], spec)).flatten()
        if max_images is not None:
            idx = idx[torch.from_numpy(rng.permutation(len(idx))[:max_images]).long()]
        mm = scenes.get("main_mask")
        xt, f = apply_trigger(spec, scenes["x"][idx], rng, None if mm is None else mm[idx])
        out[spec.name] = {"x": xt, "y_clean": scenes["y"][idx].clone(), "index": idx, "footprint": f,
                          "target": torch.full((len(idx),), spec.target, dtype=torch.int64)}
    return out


# --------------------------------------------------------------------------- an image folder


def load_trojan_folder(root: str | Path, *, labels: str, num_classes: int, image_size: int,
                       resize_size: int | None = None, max_per_class: int | None = None,
                       source_classes: tuple[int, ...] = (), source_max_per_class: int | None = None,
                       where: str = "trojans.data.images") -> dict:
    """The images an already-trojaned model is tested on: an ImageNet-style folder
    ``root/<class>/<image>`` (see :func:`interpbench.data.imagefolder.class_indices` for ``labels``).

    Per class the first ``max_per_class`` files (sorted by name) are the clean test images; of the
    classes in ``source_classes`` (class-universal trojans' sources) the first
    ``source_max_per_class`` are read too (None: all). Returns ``x`` float32 [N, 3, S, S] in
    [0, 1], ``y`` (the model's class indices), ``clean`` (bool [N]: a clean test image) and
    ``classes`` (``num_classes`` names: the folder's name where the folder has that class)."""
    try:
        items, folders = list_image_folder(root)
    except DataError as exc:
        raise DataError(f"{where}.root: {exc}") from None
    index = class_indices(folders, labels, num_classes, where=f"{where}.labels")
    by_folder: dict[int, list[Path]] = {}
    for path, f in items:
        by_folder.setdefault(f, []).append(path)
    paths, y, clean = [], [], []
    for f, files in by_folder.items():
        k = index[f]
        n_clean = len(files[:max_per_class])
        n = max(n_clean, len(files[:source_max_per_class])) if k in source_classes else n_clean
        paths += files[:n]
        y += [k] * n
        clean += [True] * n_clean + [False] * (n - n_clean)
    names = [str(k) for k in range(num_classes)]
    for f, name in enumerate(folders):
        names[index[f]] = name
    x = load_image_files(paths, image_size=image_size, resize_size=resize_size)
    log.info("Read %d images (%d clean test images) of %d classes from %s", len(paths), sum(clean), len(folders), root)
    return {"x": x, "y": torch.tensor(y, dtype=torch.int64), "clean": torch.tensor(clean, dtype=torch.bool),
            "classes": names}


def triggered_folder_sets(folder: dict, specs: list[TrojanSpec], seed: int, max_images: int | None = None) -> dict:
    """:func:`triggered_test_sets` of a :func:`load_trojan_folder` bundle: a universal trojan's
    images are drawn from the clean test images, a class-universal one's from every image read of
    its source class; ``index`` points into ``folder``. Natural trojans are left out
    (:data:`NATURAL_ON_FOLDER`)."""
    clean = torch.nonzero(folder["clean"]).flatten()
    everything = torch.arange(len(folder["y"]))
    out = {}
    for t, spec in enumerate(specs):
        if spec.kind == "natural":
            continue
        pool = clean if spec.universal else everything
        sets = triggered_test_sets({"x": folder["x"][pool], "y": folder["y"][pool]}, [spec], seed + t, max_images)
        sets[spec.name]["index"] = pool[sets[spec.name]["index"]]
        out.update(sets)
    return out
