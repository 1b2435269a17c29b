"""ImageNet-style image folders: ``root/<class_name>/<image>.jpg`` -> float tensors and labels."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
LAYOUT = "root/<class_name>/<image>.jpg (one sub-folder per class, images inside)"


def _class_folders(root: Path, class_names: Sequence[str] | None) -> list[tuple[str, Path]]:
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_names is None:
        if not found:
            raise DataError(f"image folder {str(root)!r} has no class sub-folders; expected {LAYOUT}.")
        return [(name, root / name) for name in found]
    missing = [name for name in class_names if name not in found]
    if missing:
        raise DataError(
            f"image folder {str(root)!r}: class folders {missing} not found "
            f"(present: {found[:10]}{' ...' if len(found) > 10 else ''}); expected {LAYOUT}."
        )
    return [(name, root / name) for name in class_names]


def _load_image(path: Path, image_size: int, resize_size: int) -> np.ndarray:
    """Open as RGB, resize the shorter side to ``resize_size``, center-crop ``image_size``; HWC uint8."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"cannot read image {str(path)!r}: {exc}") from None
    w, h = img.size
    scale = resize_size / min(w, h)
    new_w, new_h = max(resize_size, round(w * scale)), max(resize_size, round(h * scale))
    img = img.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = (new_w - image_size) // 2, (new_h - image_size) // 2
    img = img.crop((left, top, left + image_size, top + image_size))
    return np.array(img, dtype=np.uint8)


def list_image_folder(
    root: str | Path,
    *,
    max_per_class: int | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    class_names: Sequence[str] | None = None,
) -> tuple[list[tuple[Path, int]], list[str]]:
    """Sorted ``(file, label)`` pairs and the class names of an image folder, without reading images."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist or is not a directory; expected {LAYOUT}.")
    if max_per_class is not None and max_per_class < 1:
        raise ConfigError(f"max_per_class: expected a positive integer or null, got {max_per_class!r}.")
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    classes = _class_folders(root, class_names)
    items: list[tuple[Path, int]] = []
    for label, (_, folder) in enumerate(classes):
        files = sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
        )  # fmt: skip
        items.extend((p, label) for p in files[:max_per_class])
    if not items:
        raise DataError(
            f"image folder {str(root)!r} has class folders but no images with extensions "
            f"{sorted(exts)}; expected {LAYOUT}."
        )
    return items, [name for name, _ in classes]


def load_image_folder(
    root: str | Path,
    *,
    image_size: int = 224,
    resize_size: int | None = None,
    max_per_class: int | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
    class_names: Sequence[str] | None = None,
) -> dict:
    """Read ``root/<class>/<image>`` into ``{"x": float32 [N, 3, S, S] in [0, 1], "y": int64, "classes"}``.

    Images are converted to RGB, resized so the shorter side is ``resize_size`` (default
    ``image_size``; 256 with 224 gives the usual ImageNet evaluation crop) and center-cropped to
    ``image_size``. Classes are the sorted sub-folder names, or ``class_names`` in the given order
    (label = position); files are sorted by name and the first ``max_per_class`` of each class kept.
    """
    resize_size = image_size if resize_size is None else resize_size
    if image_size < 1 or resize_size < image_size:
        raise ConfigError(
            f"image_size/resize_size: expected 1 <= image_size <= resize_size, got {image_size}/{resize_size}."
        )
    items, classes = list_image_folder(
        root, max_per_class=max_per_class, extensions=extensions, class_names=class_names
    )
    x = load_image_files([path for path, _ in items], image_size=image_size, resize_size=resize_size)
    y = torch.tensor([label for _, label in items], dtype=torch.int64)
    log.info("Loaded %d images of %d classes from image folder %s", len(items), len(classes), root)
    return {"x": x, "y": y, "classes": classes}


def load_image_files(paths: Sequence[str | Path], *, image_size: int = 224, resize_size: int | None = None) -> torch.Tensor:
    """Image files as float32 [N, 3, S, S] in [0, 1]: RGB, shorter side resized to ``resize_size``
    (default ``image_size``), center-cropped to ``image_size`` (as :func:`load_image_folder`)."""
    resize_size = image_size if resize_size is None else resize_size
    x = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.float32)
    for i, path in enumerate(paths):
        arr = _load_image(Path(path), image_size, resize_size)
        x[i] = torch.from_numpy(arr).permute(2, 0, 1).to(torch.float32) / 255.0
    return x


def class_indices(classes: Sequence[str], labels: str, num_classes: int, *, where: str = "labels") -> list[int]:
    """The model's class index of each class folder name in ``classes``.

    ``labels`` is ``"sorted"`` (the k-th of the sorted folder names is class k: a complete folder,
    e.g. ImageNet's 1000 wnid folders in torchvision's order; it must hold ``num_classes`` folders),
    ``"index"`` (each folder's name is its class index, e.g. ``893/``), or the path of a text file
    listing the class folder names in class order, one per line, the first word counts (e.g.
    ImageNet's ``LOC_synset_mapping.txt``: ``n01440764 tench, Tinca tinca``).
    """
    if labels == "sorted":
        if len(classes) != num_classes:
            raise ConfigError(
                f"{where}: 'sorted' makes the k-th class folder class k and needs all {num_classes} class folders; "
                f"found {len(classes)}. Name the folders by class index (labels: index) or give a file of the "
                f"folder names in class order (labels: path/to/LOC_synset_mapping.txt)."
            )
        return [sorted(classes).index(c) for c in classes]
    if labels == "index":
        out = []
        for c in classes:
            if not c.isdigit() or not 0 <= int(c) < num_classes:
                raise ConfigError(f"{where}: 'index' needs class folders named by a class index in 0..{num_classes - 1}; "
                                  f"found the folder {c!r}.")
            out.append(int(c))
        return out
    path = Path(labels)
    if not path.is_file():
        raise ConfigError(f"{where}: expected 'sorted', 'index' or an existing file of class folder names in class "
                          f"order; {labels!r} is none of these.")
    order = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if len(order) != num_classes:
        raise ConfigError(f"{where}: {labels!r} lists {len(order)} classes; the model has {num_classes}.")
    position = {name: k for k, name in enumerate(order)}
    unknown = [c for c in classes if c not in position]
    if unknown:
        raise ConfigError(f"{where}: class folders {unknown[:5]} are not listed in {labels!r}.")
    return [position[c] for c in classes]
