"""Broden-layout probe sets (Bau et al. 2017, *Network Dissection*): a reader and a writer.

The layout (as in the released Broden and NetDissect-Lite's ``loader/data_loader.py``):

- ``index.csv``: ``image, split, ih, iw, sh, sw`` then one column per category; each category cell
  is a ``;``-list of segmentation PNGs (paths relative to ``images/``; pixel label = R + 256·G,
  0 = unlabelled) or of integer image-level labels (the whole ``sh × sw`` image has that label);
- ``category.csv``: ``name, first, last, count, frequency``;
- ``label.csv``: ``number, name, category, frequency, coverage, syns`` (``category`` like
  ``object(12);part(3)``; label 0 is the unlabelled ``-``);
- ``c_<category>.csv``: ``code, number, name, frequency, coverage`` (category-local code -> global
  label number).

Every label has one *primary* category: of the categories that list it, the one with the largest
coverage in ``c_<cat>.csv`` (NetDissect-Lite's ``primary_categories_per_index``; ties go to the
later category, as its ``max`` over ``(coverage, index)`` does).

:func:`read_broden` reads the metadata eagerly and the images lazily (:meth:`BrodenProbe.batch`),
so a large probe set streams; every mistake is a :class:`DataError` naming the file, the row (1 =
the first data row) and the column. :func:`write_broden` writes the layout from in-memory arrays;
:func:`scenes_to_broden` turns :func:`interpbench.data.scenes.generate_scenes` output into those
arrays (pixel categories ``object``, ``color``, ``texture``; the image-level ``scene`` category
is the background kind).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

INDEX_FIXED = ("image", "split", "ih", "iw", "sh", "sw")
#: The released Broden's categories, in its index.csv order.
BRODEN_CATEGORIES = ("color", "object", "part", "material", "scene", "texture")
_CATEGORY_CELL = re.compile(r"^([^(]+)\((\d+)\)$")


# --------------------------------------------------------------------------- reading


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"Broden probe set: {path} does not exist (expected a Broden-layout folder with "
                        f"index.csv, category.csv, label.csv and c_<category>.csv).")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; header is {header}.")
        return list(reader)


def _int(value: str, path: Path, row: int, column: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}, row {row}, column {column!r}: expected an integer, got {value!r}.") from None


def _float(value: str, path: Path, row: int, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}, row {row}, column {column!r}: expected a number, got {value!r}.") from None


@dataclass
class ProbeRow:
    image: str
    split: str
    ih: int
    iw: int
    sh: int
    sw: int
    segmentations: list[tuple[str, str]]  # (category, PNG path relative to images/), every category's
    scalars: list[int]  # image-level label numbers, every category's
    row: int  # 1-based data row in index.csv


@dataclass
class BrodenProbe:
    """A Broden-layout probe set: metadata in memory, images read per batch.

    ``labels[j]`` is label number j's name; ``categories`` the category names (index.csv order);
    ``label_category[j]`` label j's primary category index (-1 for label 0 and unused numbers).
    ``cache``: decoded batches are kept in memory (small probe sets; off for real Broden).
    """

    root: Path
    rows: list[ProbeRow]
    labels: list[str]
    categories: list[str]
    label_category: np.ndarray
    image_size: int | None = None
    cache: bool = True
    _store: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def seg_size(self) -> tuple[int, int]:
        return self.rows[0].sh, self.rows[0].sw

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def label_concepts(self) -> list[int]:
        """Label numbers that have a category (every label but 0 and unused numbers)."""
        return [int(j) for j in np.flatnonzero(self.label_category >= 0)]

    def _image(self, r: ProbeRow) -> np.ndarray:
        path = self.root / "images" / r.image
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                if self.image_size is not None and im.size != (self.image_size, self.image_size):
                    im = im.resize((self.image_size, self.image_size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
        except FileNotFoundError:
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}, column 'image': {path} does not exist.") from None
        except OSError as exc:
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}, column 'image': {path} is not a readable "
                            f"image ({exc}).") from None
        if self.image_size is None and arr.shape[:2] != (r.ih, r.iw):
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}: {path} is {arr.shape[1]}x{arr.shape[0]} px, "
                            f"index.csv says iw={r.iw}, ih={r.ih}.")
        return arr

    def _segmentation(self, r: ProbeRow, name: str, column: str) -> np.ndarray:
        path = self.root / "images" / name
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.int64)
        except FileNotFoundError:
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}, column {column!r}: segmentation {path} "
                            f"does not exist.") from None
        except OSError as exc:
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}, column {column!r}: segmentation {path} is "
                            f"not a readable PNG ({exc}).") from None
        if arr.shape[:2] != (r.sh, r.sw):
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}, column {column!r}: segmentation {path} is "
                            f"{arr.shape[1]}x{arr.shape[0]} px, index.csv says sw={r.sw}, sh={r.sh}.")
        label = arr[..., 0] + 256 * arr[..., 1]
        if label.max() >= self.n_labels:
            raise DataError(f"{self.root / 'index.csv'}, row {r.row}, column {column!r}: segmentation {path} holds "
                            f"label {int(label.max())}, but label.csv has labels 0..{self.n_labels - 1}.")
        return label

    def _load(self, i: int) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
        if i in self._store:
            return self._store[i]
        r = self.rows[i]
        segs = [self._segmentation(r, name, col) for col, name in r.segmentations]
        item = (self._image(r), segs, list(r.scalars))
        if self.cache:
            self._store[i] = item
        return item

    def image_labels(self) -> list[np.ndarray]:
        """Per image, the label numbers it holds (pixel-level or image-level, 0 excluded); computed
        once from the segmentations alone (images are not decoded) and kept."""
        if "labels" not in self._store:
            out = []
            for r in self.rows:
                segs = [self._segmentation(r, name, col) for col, name in r.segmentations]
                labels = np.unique(np.concatenate([np.unique(x) for x in segs] + [np.asarray(r.scalars, dtype=np.int64)]))
                out.append(labels[labels > 0].astype(np.int64))
            self._store["labels"] = out
        return self._store["labels"]

    def batch(self, indices) -> dict:
        """Images ``x`` float32 [B, 3, H, W] in [0, 1], ``pixels`` int64 [B, D, sh, sw] (every
        segmentation layer of every category, zero-padded to the batch's deepest image) and
        ``scalars`` int64 [B, S] (image-level labels, zero-padded)."""
        items = [self._load(int(i)) for i in indices]
        x = torch.from_numpy(np.stack([it[0] for it in items])).permute(0, 3, 1, 2).float() / 255.0
        sh, sw = self.seg_size
        depth = max([len(it[1]) for it in items] + [0])
        pixels = np.zeros((len(items), depth, sh, sw), dtype=np.int64)
        for b, it in enumerate(items):
            for d, seg in enumerate(it[1]):
                pixels[b, d] = seg
        width = max([len(it[2]) for it in items] + [0])
        scalars = np.zeros((len(items), width), dtype=np.int64)
        for b, it in enumerate(items):
            scalars[b, : len(it[2])] = it[2]
        return {"x": x, "pixels": torch.from_numpy(pixels), "scalars": torch.from_numpy(scalars),
                "index": torch.as_tensor(list(indices), dtype=torch.long)}

    def batches(self, batch_size: int):
        for start in range(0, len(self), batch_size):
            yield self.batch(range(start, min(start + batch_size, len(self))))


def _read_labels(root: Path, categories: list[str]) -> tuple[list[str], np.ndarray]:
    path = root / "label.csv"
    rows = _read_csv(path, ("number", "name"))
    numbers = [_int(r["number"], path, i + 1, "number") for i, r in enumerate(rows)]
    n = max(numbers + [0]) + 1
    names = ["-"] * n
    for r, j in zip(rows, numbers):
        names[j] = r["name"]
    coverage = np.zeros((len(categories), n))
    listed = np.zeros((len(categories), n), dtype=bool)
    for ci, cat in enumerate(categories):
        cpath = root / f"c_{cat}.csv"
        for i, r in enumerate(_read_csv(cpath, ("code", "number", "name", "coverage"))):
            j = _int(r["number"], cpath, i + 1, "number")
            if not 0 < j < n:
                raise DataError(f"{cpath}, row {i + 1}, column 'number': label {j} is not in label.csv "
                                f"(labels 1..{n - 1}).")
            coverage[ci, j] = _float(r["coverage"], cpath, i + 1, "coverage")
            listed[ci, j] = True
    primary = np.full(n, -1, dtype=np.int64)
    for j in range(1, n):
        if listed[:, j].any():
            # NetDissect-Lite: max over (coverage, category index) -> ties go to the later category
            cov = np.where(listed[:, j], coverage[:, j], -np.inf)
            primary[j] = int(np.flatnonzero(cov == cov.max())[-1])
    return names, primary


def read_broden(root: str | Path, *, categories: list[str] | None = None, max_images: int | None = None,
                split: str | None = None, image_size: int | None = None, cache: bool = True) -> BrodenProbe:
    """Read a Broden-layout folder (see the module docstring).

    ``categories``: those to use (default: every category of category.csv that index.csv has a
    column for); ``max_images``: the first that many images (index.csv order); ``split``: only rows
    of that split (e.g. ``train``); ``image_size``: resize images to that square side (segmentations
    keep their size). Every segmentation must have the same size (``sh``, ``sw``).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"Broden probe set: folder {root} does not exist.")
    cat_rows = _read_csv(root / "category.csv", ("name",))
    known = [r["name"] for r in cat_rows]
    index_path = root / "index.csv"
    index = _read_csv(index_path, INDEX_FIXED)
    with index_path.open(newline="") as f:
        header = next(csv.reader(f))
    if categories is None:
        categories = [c for c in known if c in header]
    for cat in categories:
        if cat not in known:
            raise ConfigError(f"Broden category {cat!r} is not in {root / 'category.csv'} (categories: {known}).")
        if cat not in header:
            raise DataError(f"{index_path}: no column for category {cat!r}; header is {header}.")
    if not categories:
        raise DataError(f"{index_path}: no category columns (header {header}; category.csv lists {known}).")
    labels, primary = _read_labels(root, categories)
    rows: list[ProbeRow] = []
    for i, r in enumerate(index):
        if split is not None and r["split"] != split:
            continue
        if max_images is not None and len(rows) >= max_images:
            break
        sizes = {k: _int(r[k], index_path, i + 1, k) for k in ("ih", "iw", "sh", "sw")}
        segs, scalars = [], []
        for cat in categories:
            cell = (r.get(cat) or "").strip()
            for item in filter(None, (s.strip() for s in cell.split(";"))):
                if item.isdigit():
                    j = int(item)
                    if not 0 < j < len(labels):
                        raise DataError(f"{index_path}, row {i + 1}, column {cat!r}: label {j} is not in label.csv "
                                        f"(labels 1..{len(labels) - 1}).")
                    scalars.append(j)
                elif item.lower().endswith(".png"):
                    segs.append((cat, item))
                else:
                    raise DataError(f"{index_path}, row {i + 1}, column {cat!r}: {item!r} is neither a segmentation "
                                    f"PNG nor an integer label.")
        rows.append(ProbeRow(r["image"], r["split"], segmentations=segs, scalars=scalars, row=i + 1, **sizes))
    if not rows:
        raise DataError(f"{index_path}: no images" + (f" in split {split!r}" if split else "") + ".")
    if len({(r.sh, r.sw) for r in rows}) > 1:
        raise DataError(f"{index_path}: segmentations of different sizes {sorted({(r.sh, r.sw) for r in rows})[:4]}; "
                        f"the dissection needs one size.")
    if image_size is None and len({(r.ih, r.iw) for r in rows}) > 1:
        raise DataError(f"{index_path}: images of different sizes; set an image_size to resize them to.")
    log.info("Broden probe set %s: %d images, categories %s, %d labels", root, len(rows), categories, len(labels) - 1)
    return BrodenProbe(root, rows, labels, list(categories), primary, image_size=image_size, cache=cache)


# --------------------------------------------------------------------------- writing


def encode_labels(label: np.ndarray) -> np.ndarray:
    """Label numbers [H, W] -> an RGB uint8 image with R + 256·G = label."""
    label = np.asarray(label, dtype=np.int64)
    if label.min() < 0 or label.max() >= 256 * 256:
        raise ConfigError(f"segmentation labels must be in 0..65535, got {label.min()}..{label.max()}.")
    rgb = np.zeros((*label.shape, 3), dtype=np.uint8)
    rgb[..., 0] = label % 256
    rgb[..., 1] = label // 256
    return rgb


def write_broden(root: str | Path, images: np.ndarray, categories: dict[str, list[str]],
                 pixel_labels: dict[str, np.ndarray], image_labels: dict[str, np.ndarray], *,
                 name: str = "probe", split: str = "train") -> Path:
    """Write a Broden-layout folder.

    ``images`` uint8 [N, H, W, 3]; ``categories`` name -> its concept names (label numbers are given
    in this order, from 1); ``pixel_labels[cat]`` int [N, sh, sw] (category-local codes, 0 = none,
    k = the category's k-th concept); ``image_labels[cat]`` int [N] (category-local code, 0 = none).
    """
    root = Path(root)
    img_dir = root / "images" / name
    img_dir.mkdir(parents=True, exist_ok=True)
    n = len(images)
    first, number = {}, 1
    for cat, names in categories.items():
        first[cat] = number
        number += len(names)
    shapes = {a.shape[1:] for a in pixel_labels.values()}
    if len(shapes) > 1:
        raise ConfigError(f"write_broden: pixel label maps of different sizes {shapes}.")
    sh, sw = next(iter(shapes)) if shapes else images.shape[1:3]
    freq = {cat: np.zeros(len(names) + 1) for cat, names in categories.items()}
    cover = {cat: np.zeros(len(names) + 1) for cat, names in categories.items()}
    rows = []
    for i in range(n):
        stem = f"{name}/{i:05d}"
        Image.fromarray(images[i]).save(root / "images" / f"{stem}.png")
        row = {"image": f"{stem}.png", "split": split, "ih": images.shape[1], "iw": images.shape[2], "sh": sh, "sw": sw}
        for cat in categories:
            if cat in pixel_labels:
                codes = np.asarray(pixel_labels[cat][i], dtype=np.int64)
                present = np.unique(codes[codes > 0])
                if len(present) == 0:
                    row[cat] = ""
                    continue
                label = np.where(codes > 0, codes + first[cat] - 1, 0)
                Image.fromarray(encode_labels(label)).save(root / "images" / f"{stem}_{cat}.png")
                row[cat] = f"{stem}_{cat}.png"
                for k in present:
                    freq[cat][k] += 1
                    cover[cat][k] += float((codes == k).mean())
            else:
                k = int(image_labels[cat][i])
                row[cat] = str(k + first[cat] - 1) if k > 0 else ""
                if k > 0:
                    freq[cat][k] += 1
                    cover[cat][k] += 1.0
        rows.append(row)
    cats = list(categories)
    _write_csv(root / "index.csv", [*INDEX_FIXED, *cats], rows)
    _write_csv(root / "category.csv", ["name", "first", "last", "count", "frequency"],
               [{"name": c, "first": first[c], "last": first[c] + len(categories[c]) - 1, "count": len(categories[c]),
                 "frequency": int(sum(1 for r in rows if r[c]))} for c in cats])
    label_rows = [{"number": 0, "name": "-", "category": "", "frequency": 0, "coverage": 0, "syns": ""}]
    for c in cats:
        crows = []
        for k, concept in enumerate(categories[c], start=1):
            j = first[c] + k - 1
            label_rows.append({"number": j, "name": concept, "category": f"{c}({int(freq[c][k])})",
                               "frequency": int(freq[c][k]), "coverage": round(cover[c][k], 6), "syns": ""})
            crows.append({"code": k, "number": j, "name": concept, "frequency": int(freq[c][k]),
                          "coverage": round(cover[c][k], 6)})
        _write_csv(root / f"c_{c}.csv", ["code", "number", "name", "frequency", "coverage"], crows)
    _write_csv(root / "label.csv", ["number", "name", "category", "frequency", "coverage", "syns"], label_rows)
    log.info("Wrote a Broden-layout probe set of %d images to %s (categories %s)", n, root, cats)
    return root


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def scenes_to_broden(scenes: dict) -> dict:
    """The arguments of :func:`write_broden` for a :func:`generate_scenes` output: pixel categories
    ``object`` (shape of the visible object), ``color`` and ``texture``, and the image-level
    ``scene`` category (the background kind, e.g. ``noise-background``)."""
    from .scenes import BACKGROUNDS

    x = scenes["x"].numpy() if torch.is_tensor(scenes["x"]) else np.asarray(scenes["x"])
    images = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8).transpose(0, 2, 3, 1)

    def arr(key):
        v = scenes[key]
        return v.numpy() if torch.is_tensor(v) else np.asarray(v)

    shapes = list(scenes["classes"])
    obj = arr("object_mask")
    cooccur = arr("cooccur_shape")
    n_shapes = max(len(shapes), int(obj.max()), int(cooccur.max()) + 1)
    if n_shapes > len(shapes):
        from .scenes import SHAPES

        shapes = SHAPES[:n_shapes]
    return {
        "images": images,
        "categories": {"object": shapes, "color": list(scenes["colors"]), "texture": list(scenes["textures"]),
                       "scene": [f"{b}-background" for b in BACKGROUNDS]},
        "pixel_labels": {"object": obj, "color": arr("color_mask") + 1, "texture": arr("texture_mask") + 1},
        "image_labels": {"scene": arr("background") + 1},
    }
