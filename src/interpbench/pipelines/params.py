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
