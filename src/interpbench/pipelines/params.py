"""Parameter dataclasses shared by several stages' nodes (parsed strictly with config.parse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interpbench.models.training import TrainConfig


@dataclass
class ModelParams:
    """Which zoo architecture to build, and how."""

    architecture: str
    num_classes: int = 10
    weights_path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExplainParams:
    """Attribution maps for a few test images (the gallery figure)."""

    methods: list[str] = field(default_factory=lambda: ["saliency", "integrated_gradients", "smoothgrad", "gradcam"])
    n_images: int = 6
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ClassifierParams:
    model: ModelParams
    train: TrainConfig = field(default_factory=TrainConfig)
    explain: ExplainParams = field(default_factory=ExplainParams)


@dataclass
class RandomLabelParams:
    """Data randomization: the same architecture trained on permuted labels until it fits them."""

    n_train: int = 1000
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40, stop_at_accuracy=0.95))


@dataclass
class ImageSource:
    """Where the explained images come from: the shared test split, or an ImageNet-style folder."""

    source: str = "test_split"  # test_split | image_folder
    root: str | None = None
    image_size: int = 224
    max_per_class: int | None = None


@dataclass
class SanityParams:
    """Adebayo et al. 2018 settings (see conf/base/parameters_sanity_checks.yml)."""

    n_images: int = 100
    methods: dict[str, dict[str, Any]] = field(default_factory=lambda: {"saliency": {}})
    metrics: list[str] = field(default_factory=lambda: ["spearman_abs", "spearman_signed", "ssim", "hog"])
    n_boot: int = 1000
    figure_images: int = 2
    random_labels: RandomLabelParams = field(default_factory=RandomLabelParams)


@dataclass
class StudySlotParams:
    """Per model slot of a study: which images, and optionally a pretrained model instead of the zoo's."""

    images: ImageSource = field(default_factory=ImageSource)
    pretrained: ModelParams | None = None
