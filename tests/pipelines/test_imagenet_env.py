"""The ``imagenet`` environment: its parameters parse, and a pretrained slot runs on an image folder."""

from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from interpbench.config import parse
from interpbench.pipelines.sanity_checks.nodes import compute_original_maps, compute_randomization_maps, score_randomization, select_images
from interpbench.pipelines.params import SanityParams, StudySlotParams
from interpbench.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS

ROOT = Path(__file__).resolve().parents[2]


def _imagenet_params():
    loader = CONFIG_LOADER_CLASS(str(ROOT / "conf"), env="imagenet", **CONFIG_LOADER_ARGS)  # the project's merge
    return loader["parameters"]["sanity_checks"]


def test_imagenet_env_parameters_parse_and_merge_with_base():
    params = _imagenet_params()
    protocol = parse(SanityParams, params["protocol"], "sanity_checks.protocol")
    assert protocol.methods["smoothgrad"]["n_samples"] == 50 and not protocol.random_labels.enabled
    assert protocol.metrics == ["spearman_abs", "spearman_signed", "ssim", "hog"]  # kept from base
    slot = parse(StudySlotParams, params["primary"], "sanity_checks.primary")
    assert slot.pretrained.architecture == "inception_v3" and slot.images.source == "image_folder"


def test_pretrained_slot_on_an_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "val" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "val" / cls / f"{i}.png")
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    slot = {"images": {"source": "image_folder", "root": str(tmp_path / "val"), "image_size": 32, "name": "tiny"},
            "pretrained": {"architecture": "resnet18", "num_classes": 1000, "weights_path": str(weights)}}
    protocol = {"n_images": 3, "n_boot": 10, "methods": {"saliency": {}}, "metrics": ["spearman_abs"]}
    images = select_images({}, slot, protocol)
    assert images["x"].shape == (3, 3, 32, 32)
    zoo = {"model": {"architecture": "mnist_cnn"}}
    original = compute_original_maps(images, {}, zoo, slot, protocol, 0, "cpu")
    bundle = compute_randomization_maps(images, original, {}, zoo, slot, protocol, 0, "cpu", mode="cascading")
    assert bundle["steps"][:3] == ["original", "net.fc", "net.layer4.1"]
    table = score_randomization(bundle, protocol, slot, 0, "cpu", study="sanity_checks", model_name="mnist_cnn",
                                dataset="mnist", mode="cascading")
    assert set(table["model"]) == {"resnet18_cascading"} and set(table["dataset"]) == {"tiny"}
