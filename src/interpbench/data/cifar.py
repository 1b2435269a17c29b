"""CIFAR-10 "python version" batches (``cifar-10-python.tar.gz`` extracted) from a local folder.

Layout read here (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html)::

    <root>/data_batch_1 ... data_batch_5   training batches
    <root>/test_batch                      test batch
    <root>/batches.meta                    optional: b"label_names"

Each batch is a pickled dict with ``b"data"``: uint8 ``[N, 3072]`` (1024 red, then green, then
blue values of a 32 x 32 image, row-major) and ``b"labels"``: N ints in 0..9. The files are
unpickled with an allow-list that admits only the NumPy array constructors (a pickle can run code,
and these files come from a configured path), so a file holding anything else is refused.
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError

log = logging.getLogger(__name__)

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_SIDE = 32
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only NumPy arrays are allowed)")


def _unpickle(path: Path) -> Any:
    try:
        return _ArraysOnly(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"CIFAR-10 file {str(path)!r} is not a readable python-pickle batch: {exc}") from None


def _key(d: dict, name: str) -> Any:
    for k in (name.encode(), name):
        if k in d:
            return d[k]
    return None


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as ``(images uint8 [N, 3, 32, 32], labels int64 [N])``; DataError if malformed."""
    path = Path(path)
    batch = _unpickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"CIFAR-10 file {str(path)!r} holds a {type(batch).__name__}, expected a dict batch.")
    data, labels = _key(batch, "data"), _key(batch, "labels")
    if data is None or labels is None:
        raise DataError(f"CIFAR-10 file {str(path)!r} has no 'data' / 'labels' entries (keys: {list(batch)[:6]}).")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * _SIDE * _SIDE:
        raise DataError(
            f"CIFAR-10 file {str(path)!r}: 'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}."
        )
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"CIFAR-10 file {str(path)!r}: 'labels' must be {len(data)} integers, got {labels.dtype} {list(labels.shape)}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DataError(f"CIFAR-10 file {str(path)!r}: labels outside 0..9 (min {labels.min()}, max {labels.max()}).")
    return data.reshape(-1, 3, _SIDE, _SIDE), labels.astype(np.int64)


def _class_names(root: Path) -> list[str]:
    meta = root / META
    if not meta.is_file():
        return list(CIFAR10_CLASSES)
    meta_dict = _unpickle(meta)
    names = _key(meta_dict, "label_names") if isinstance(meta_dict, dict) else None
    if not isinstance(names, (list, tuple)) or len(names) != len(CIFAR10_CLASSES):
        raise DataError(f"CIFAR-10 file {str(meta)!r}: expected 10 'label_names'.")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _bundle(parts: list[tuple[np.ndarray, np.ndarray]], classes: list[str]) -> dict[str, Any]:
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return {"x": torch.from_numpy(images).float().div_(255.0), "y": torch.from_numpy(labels), "classes": classes}


def load_cifar10(root: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """CIFAR-10 train (data_batch_1..5) and test (test_batch) bundles from ``root``.

    Each bundle is ``{"x": float32 [N, 3, 32, 32] in [0, 1], "y": int64 [N], "classes": [10 names]}``.
    A missing folder or file, or a batch that is not a CIFAR-10 python-pickle batch, raises
    DataError naming the path and the expected layout.
    """
    root = Path(root)
    layout = f"expected {', '.join(TRAIN_BATCHES)} and {TEST_BATCH} (the extracted cifar-10-python.tar.gz)"
    if not root.is_dir():
        raise DataError(f"CIFAR-10 folder {str(root)!r} does not exist; {layout}.")
    missing = [n for n in (*TRAIN_BATCHES, TEST_BATCH) if not (root / n).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 folder {str(root)!r} lacks {', '.join(missing)}; {layout}.")
    classes = _class_names(root)
    train = _bundle([read_cifar_batch(root / n) for n in TRAIN_BATCHES], classes)
    test = _bundle([read_cifar_batch(root / TEST_BATCH)], classes)
    log.info("CIFAR-10 from %s: %d train / %d test images", root, len(train["y"]), len(test["y"]))
    return train, test
