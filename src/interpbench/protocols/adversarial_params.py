"""Parameters of the ``adversarial`` study (``conf/base/parameters_adversarial.yml``), parsed strictly."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Literal

from interpbench.attacks.min_eps import check_eps_grid, check_norm
from interpbench.config import parse
from interpbench.errors import ConfigError
from interpbench.models.training import TrainConfig

STUDY = "adversarial"
MODES = ("untargeted", "targeted")


def _positive(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: expected a finite number > 0, got {value!r}.")
    return float(value)


def _count(value, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where}: expected an integer >= {low}, got {value!r}.")
    return value


@dataclass
class AdvAttack:
    """A PGD attack: norm (l2 | linf), radius eps > 0, steps."""

    norm: str = "l2"
    eps: float = 1.0
    steps: int = 10

    def check(self, where: str) -> None:
        self.norm = check_norm(self.norm, f"{where}.norm")
        self.eps = _positive(self.eps, f"{where}.eps")
        _count(self.steps, f"{where}.steps")


@dataclass
class AdvDataParams:
    source: Literal["scenes", "rgb_slot"] = "scenes"  # rgb_slot: input_gradients' rgb slot (e.g. CIFAR-10)
    n_test: int | None = 100  # test images of exercises 1, 2, 4 and 5 (seeded subsample; null: all)
    n_train: int | None = 1000  # training images attacked for the mislabelled set (null: all)


@dataclass
class RobustParams:
    """The study's robust model: the reused standard model fine-tuned with PGD (Madry et al. 2018)."""

    attack: AdvAttack = field(default_factory=lambda: AdvAttack("l2", 1.5, 3))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=3, batch_size=64, lr=0.01))


@dataclass
class JudgeParams:
    """The independent standard judge: the rgb slot's architecture trained with another seed."""

    seed_offset: int = 1
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=7, batch_size=64, lr=0.01))
    primary: Literal["standard", "robust"] = "standard"  # the judge the findings use (both are reported)


@dataclass
class SmoothGradParams:
    n_samples: list[int] = field(default_factory=lambda: [5, 10, 25, 50])
    noise_levels: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.15, 0.25])
    headline: dict = field(default_factory=lambda: {"n_samples": 50, "noise_level": 0.15})
    batch_size: int = 512


@dataclass
class MinEpsParams:
    grids: dict[str, list[float]] = field(default_factory=lambda: {
        "l2": [0.125, 0.25, 0.5, 1.0, 2.0, 4.0], "linf": [1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255, 32 / 255]})
    modes: list[str] = field(default_factory=lambda: list(MODES))
    steps: int = 10


@dataclass
class MislabelledParams:
    attack: AdvAttack = field(default_factory=lambda: AdvAttack("l2", 2.0, 10))
    targets: Literal["random", "next"] = "random"  # Ilyas et al.'s D_rand | D_det
    two_class: list[int] | None = field(default_factory=lambda: [0, 1])  # the practicum's cats-vs-dogs variant
    seeds: int = 3
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=12, batch_size=64, lr=0.01,
                                                                   schedule="onecycle"))


@dataclass
class NeuronParams:
    units: list[int] | None = None  # penultimate units maximised (null: every unit)
    starts: list[Literal["noise", "image"]] = field(default_factory=lambda: ["noise", "image"])
    eps: float = 1000.0  # L2 radius at 224 px (the robustness library's), scaled to the image size
    step_size: float = 1.0  # at 224 px, scaled likewise
    steps: int = 200
    noise_std: float = 0.05  # noise start: 0.5 + N(0, noise_std), clipped to [0, 1]
    top_images: int = 5  # top-activating test images per unit (their majority label is the unit's class)


@dataclass
class AdvReportParams:
    figure_images: int = 6
    figure_units: int = 4
    smoothgrad_gain_min: float = 0.0  # SmoothGrad - gradient object mass: 95% interval above this
    robust_gain_min: float = 0.0  # robust - standard gradient object mass: 95% interval above this
    eps_ratio_min: float = 1.5  # robust / standard minimal eps (geometric mean over images): interval above this
    above_chance_min: float = 0.05  # mislabelled-set model: t-interval over seeds above chance + this
    fit_min: float = 0.5  # ... evaluated only when its models learnt their mislabelled set at least this well
    judge_gain_min: float = 0.2  # robust - standard source, judged as the target: interval above this
    unit_gain_min: float = 0.0  # robust - standard units, judged as their top class: interval above this


@dataclass
class AdversarialParams:
    data: AdvDataParams = field(default_factory=AdvDataParams)
    robust: RobustParams = field(default_factory=RobustParams)
    judge: JudgeParams = field(default_factory=JudgeParams)
    smoothgrad: SmoothGradParams = field(default_factory=SmoothGradParams)
    min_eps: MinEpsParams = field(default_factory=MinEpsParams)
    mislabelled: MislabelledParams = field(default_factory=MislabelledParams)
    large_eps: AdvAttack = field(default_factory=lambda: AdvAttack("l2", 8.0, 40))
    neurons: NeuronParams = field(default_factory=NeuronParams)
    batch_size: int = 256
    n_boot: int = 1000
    cpu_threads: int | None = 1
    report: AdvReportParams = field(default_factory=AdvReportParams)


def adversarial_params(raw, where: str = STUDY) -> AdversarialParams:
    """Parse and check the study's parameters; every bad value names its key."""
    p = parse(AdversarialParams, raw, where)
    p.robust.attack.check(f"{where}.robust.attack")
    p.mislabelled.attack.check(f"{where}.mislabelled.attack")
    p.large_eps.check(f"{where}.large_eps")
    for k in ("n_test", "n_train"):
        if getattr(p.data, k) is not None:
            _count(getattr(p.data, k), f"{where}.data.{k}")
    sg = p.smoothgrad
    for n in sg.n_samples:
        _count(n, f"{where}.smoothgrad.n_samples")
    for s in sg.noise_levels:
        _positive(s, f"{where}.smoothgrad.noise_levels")
    if set(sg.headline) != {"n_samples", "noise_level"}:
        raise ConfigError(f"{where}.smoothgrad.headline: expected keys n_samples and noise_level, got {sorted(sg.headline)}.")
    if sg.headline["n_samples"] not in sg.n_samples or sg.headline["noise_level"] not in sg.noise_levels:
        raise ConfigError(f"{where}.smoothgrad.headline: {sg.headline} must be one of the grid's n_samples "
                          f"{sg.n_samples} and noise_levels {sg.noise_levels}.")
    if sorted(sg.n_samples) != sg.n_samples or len(set(sg.n_samples)) != len(sg.n_samples):
        raise ConfigError(f"{where}.smoothgrad.n_samples: expected strictly increasing counts, got {sg.n_samples}.")
    if not p.min_eps.grids:
        raise ConfigError(f"{where}.min_eps.grids: expected at least one norm (l2 | linf) with its eps grid.")
    p.min_eps.grids = {check_norm(norm, f"{where}.min_eps.grids"): check_eps_grid(grid, f"{where}.min_eps.grids.{norm}")
                       for norm, grid in p.min_eps.grids.items()}
    bad = [m for m in p.min_eps.modes if m not in MODES]
    if bad or not p.min_eps.modes:
        raise ConfigError(f"{where}.min_eps.modes: expected a non-empty subset of {list(MODES)}, got {p.min_eps.modes!r}.")
    _count(p.min_eps.steps, f"{where}.min_eps.steps")
    _count(p.mislabelled.seeds, f"{where}.mislabelled.seeds")
    if p.judge.seed_offset == 0:
        raise ConfigError(f"{where}.judge.seed_offset: must not be 0 (the judge would be trained like the attacked "
                          "standard model; a judge is never the model under test).")
    pair = p.mislabelled.two_class
    if pair is not None and (len(pair) != 2 or pair[0] == pair[1] or any(not isinstance(c, int) or c < 0 for c in pair)):
        raise ConfigError(f"{where}.mislabelled.two_class: expected two different class indices, got {pair!r}.")
    n = p.neurons
    if n.units is not None:
        for u in n.units:
            _count(u, f"{where}.neurons.units", low=0)
    for k in ("eps", "step_size", "noise_std"):
        _positive(getattr(n, k), f"{where}.neurons.{k}")
    _count(n.steps, f"{where}.neurons.steps")
    _count(n.top_images, f"{where}.neurons.top_images")
    if not n.starts:
        raise ConfigError(f"{where}.neurons.starts: expected noise and/or image.")
    return p
