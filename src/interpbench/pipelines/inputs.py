"""Resolve a study slot's model and images: the zoo's trained model on the shared test split by
default, or a pretrained model (local weights file) on an ImageNet-style folder."""

from __future__ import annotations

import logging

import torch
from torch import nn

from interpbench.config import parse
from interpbench.data import load_image_folder
from interpbench.errors import ConfigError
from interpbench.models import build_model
from interpbench.pipelines.helpers import (
    build_for_data,
    classifier_params,
    image_size_of,
)
from interpbench.pipelines.params import StudySlotParams

log = logging.getLogger(__name__)


def slot_images(slot: dict | None, test: dict, n: int, where: str) -> dict:
    """The first ``n`` images (and labels) the slot explains."""
    p = parse(StudySlotParams, slot or {}, where)
    if p.images.source == "test_split":
        data = test
    elif p.images.source == "image_folder":
        if not p.images.root:
            raise ConfigError(f"{where}.images.root: required when source is 'image_folder'.")
        data = load_image_folder(p.images.root, image_size=p.images.image_size, max_per_class=p.images.max_per_class)
    else:
        raise ConfigError(f"{where}.images.source: expected 'test_split' or 'image_folder', got {p.images.source!r}.")
    return {"x": data["x"][:n], "y": data["y"][:n]}


def slot_labels(slot: dict | None, model_name: str, dataset: str) -> tuple[str, str]:
    """``(model, dataset)`` labels of a slot's results: its ``label`` or the pretrained architecture,
    and the image folder's name when configured; else the zoo model's and data set's names."""
    p = parse(StudySlotParams, slot or {}, "slot")
    model = p.label or (p.pretrained.architecture if p.pretrained is not None else model_name)
    return model, (p.images.name if p.images.source == "image_folder" else dataset)


def slot_model(slot: dict | None, zoo_params: dict, state: dict, x: torch.Tensor, where: str) -> nn.Module:
    """The slot's pretrained model when configured, else the zoo model with its trained ``state``."""
    p = parse(StudySlotParams, slot or {}, where)
    if p.pretrained is not None:
        m = p.pretrained
        log.info("%s: using pretrained %s from %s", where, m.architecture, m.weights_path)
        return build_model(m.architecture, num_classes=m.num_classes, in_channels=int(x.shape[1]),
                           image_size=image_size_of(x), weights_path=m.weights_path, **m.options).eval()
    return build_for_data(classifier_params(zoo_params, "zoo slot"), x, state)
