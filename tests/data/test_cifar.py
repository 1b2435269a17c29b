"""CIFAR-10 python-pickle batches: layout, values, and clear DataErrors on bad folders."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from interpbench.data import CIFAR10_CLASSES, load_cifar10, read_cifar_batch
from interpbench.data.cifar import TEST_BATCH, TRAIN_BATCHES
from interpbench.errors import DataError


def _batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"tiny", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}


def _write(path, obj) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


@pytest.fixture
def cifar_dir(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i, name in enumerate(TRAIN_BATCHES):
        _write(root / name, _batch(4, i))
    _write(root / TEST_BATCH, _batch(3, 99))
    _write(root / "batches.meta", {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072})
    return root


def test_reads_train_and_test_with_channel_planes(cifar_dir):
    train, test = load_cifar10(cifar_dir)
    assert train["x"].shape == (20, 3, 32, 32) and train["x"].dtype == torch.float32
    assert test["x"].shape == (3, 3, 32, 32) and test["y"].dtype == torch.int64
    assert train["classes"] == list(CIFAR10_CLASSES)
    first = _batch(4, 0)
    # 1024 red values, then green, then blue, each a row-major 32 x 32 plane
    expected = first[b"data"][1].reshape(3, 32, 32).astype(np.float32) / 255.0
    np.testing.assert_allclose(train["x"][1].numpy(), expected)
    np.testing.assert_array_equal(train["y"][:4].numpy(), first[b"labels"])
    np.testing.assert_array_equal(test["y"].numpy(), _batch(3, 99)[b"labels"])
    assert 0.0 <= float(train["x"].min()) and float(train["x"].max()) <= 1.0


def test_meta_file_is_optional(cifar_dir):
    (cifar_dir / "batches.meta").unlink()
    assert load_cifar10(cifar_dir)[0]["classes"] == list(CIFAR10_CLASSES)


def test_missing_folder_and_missing_batch(tmp_path, cifar_dir):
    with pytest.raises(DataError, match="does not exist.*data_batch_1"):
        load_cifar10(tmp_path / "nowhere")
    (cifar_dir / "data_batch_3").unlink()
    with pytest.raises(DataError, match="lacks data_batch_3"):
        load_cifar10(cifar_dir)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a pickle at all", "not a readable python-pickle batch"),
        (pickle.dumps([1, 2, 3]), "holds a list"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "no 'data' / 'labels'"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), r"uint8 \[N, 3072\]"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "'labels' must be 2 integers"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}), "outside 0..9"),
    ],
)
def test_corrupt_batch_is_a_data_error_naming_the_file(cifar_dir, content, message):
    (cifar_dir / "data_batch_2").write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_cifar10(cifar_dir)
    assert "data_batch_2" in str(info.value)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickles_that_would_run_code_are_refused(tmp_path):
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": _Evil(), b"labels": [0]}))
    with pytest.raises(DataError, match="refusing to load"):
        read_cifar_batch(path)
