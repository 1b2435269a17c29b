"""Study ``trojans``: the attribution half of Casper et al. 2023 (*Red Teaming Deep Neural Networks
with Feature Synthesis Tools*; benchmark thestephencasper/benchmarking_interpretability), as plain
functions over models and tensors (no Kedro).

1. Poison a training set with trojans (:mod:`interpbench.data.trojans`), train a trojaned model and
   a clean twin with the same recipe; clean accuracy of both, and per trojan the attack success
   rate (ASR: the share of triggered non-target test images classified as the target, 95% Wilson
   interval).
2. Attribution maps of ``n_images`` triggered test images per patch and natural trojan, explaining
   the trojan's target class, for the 16 Captum methods of the benchmark plus the blank map and
   an edge detector (Sobel) as baselines; importance = ``sum_c |attribution_c|``.
3. Scores per image against the trigger's footprint (:mod:`interpbench.metrics.trojans`): Casper's
   L1 after [0, 1] scaling and correlation, the mass inside the footprint and the pointing game;
   means with 95% bootstrap intervals per method and trojan and over all scored images; per method,
   a one-sided Wilcoxon signed-rank test over images against each baseline, Holm-adjusted over methods.

With ``model.pretrained`` and ``data.images`` (the ``imagenet_trojans`` environment) step 1 reads an
already-trojaned model (e.g. Casper's ResNet-50) from its weights file instead: no poisoning, no
training and no clean twin; clean accuracy and ASR are measured on an ImageNet-style folder.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.trojans import TrojanSpec
from ..errors import NotApplicableError
from ..explain import aggregate_channels, attribute, method_info
from ..metrics.results import summarize
from ..metrics.trojans import DIRECTION, SCORES, attack_success_rate, beats_baseline, holm, paired_difference_ci
from ..models.training import TrainConfig, predict
from ..pipelines.params import ModelParams
from .trojan_synthesis import SynthesisParams, check_synthesis

log = logging.getLogger(__name__)

#: The 16 Captum attribution methods of Casper et al.'s benchmark, by this project's registry names.
CASPER_METHODS = (
    "integrated_gradients", "saliency", "deeplift", "deeplift_shap", "gradient_shap", "input_x_gradient",
    "guided_backprop", "guided_gradcam", "deconvolution", "feature_ablation", "occlusion", "feature_permutation",
    "shapley_value_sampling", "lime", "kernel_shap", "lrp",
)  # fmt: skip
SCORED_KINDS = ("patch", "natural")
MODELS = ("trojaned", "clean")


# --------------------------------------------------------------------------- parameters


@dataclass
class TrojanImagesParams:
    """An ImageNet-style folder to test an already-trojaned model on
    (:func:`interpbench.data.trojans.load_trojan_folder`)."""

    root: str
    source: str = "image_folder"  # the only source (named as in the sanity_checks slots)
    name: str = "imagenet"  # the results table's ``dataset``
    labels: str = "sorted"  # sorted | index | a file of class folder names in class order
    image_size: int = 224
    resize_size: int | None = None  # shorter side before the center crop (None: image_size)
    max_per_class: int | None = None  # clean test images per class (None: all)
    source_max_per_class: int | None = None  # images of a class-universal trojan's source class (None: all)
    max_triggered: int | None = None  # triggered images per trojan, a seeded sample (None: every eligible one)


@dataclass
class TrojanDataParams:
    """The study's own colour scenes (:func:`interpbench.data.generate_scenes`), or with ``images``
    an image folder (then only ``num_classes`` of the other keys is used: the model's classes)."""

    n_train: int = 8000
    n_test: int = 1600
    image_size: int = 32
    num_classes: int = 8
    cooccur_prob: float = 0.0
    images: TrojanImagesParams | None = None


@dataclass
class TrojanModelParams:
    """The architecture and recipe of the trojaned model and of its clean twin (the same); with
    ``pretrained`` the trojaned model is read from ``model.weights_path`` (no training, no twin)."""

    model: ModelParams
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrained: bool = False


@dataclass
class TrojanExplainParams:
    n_images: int = 8  # triggered test images per patch and natural trojan (the paper: 100)
    batch_size: int = 64
    methods: dict[str, dict[str, Any]] = field(default_factory=lambda: {m: {} for m in (*CASPER_METHODS, "blank", "sobel_edges")})


@dataclass
class TrojanReportParams:
    asr_min: float = 0.9  # every trojan: the ASR's 95% Wilson lower bound at least this
    clean_tol: float = 0.02  # twin minus trojaned clean accuracy: 95% upper bound at most this
    alpha: float = 0.05  # Holm-adjusted Wilcoxon p below this: "beats the baseline"
    few_max: int = 3  # "few methods beat the baseline": at most this many
    l1_baseline: str = "blank"
    correlation_baseline: str = "sobel_edges"
    figure_images: int = 2  # triggered images per scored trojan in the grid figure
    beat_chance_min: int = 5  # "most synthesis methods beat chance": at least this many (the paper: 7 of 9 for humans)


# --------------------------------------------------------------------------- models


def accuracy_rows(models: dict[str, nn.Module], clean_test: dict, triggered: dict, specs: list[TrojanSpec], *,
                  seed: int, n_boot: int, device, study: str, dataset: str, labels: dict[str, str]) -> list[dict]:
    """``clean_acc`` of each model (bootstrap CI over test images), ``asr`` of each trojan on each
    model (Wilson CI; method = the trojan's name), and ``clean_acc_drop`` = twin - trojaned (paired
    bootstrap over test images)."""
    rows, correct = [], {}
    for key, model in models.items():
        c = (predict(model, clean_test["x"], device=device) == clean_test["y"]).double().numpy()
        correct[key] = c
        rows.append(summarize(c, seed=seed, n_boot=n_boot, study=study, dataset=dataset, model=labels[key],
                              method="none", metric="clean_acc"))
        for t, spec in enumerate(specs):
            trig = triggered[spec.name]
            a = attack_success_rate(predict(model, trig["x"], device=device).numpy(), trig["target"].numpy())
            rows.append({"study": study, "dataset": dataset, "model": labels[key], "method": spec.name, "metric": "asr",
                         "x_name": "trojan", "x": float(t), "x_label": spec.name, "value": a["value"],
                         "ci_low": a["ci_low"], "ci_high": a["ci_high"], "n": a["n"], "seed": seed})
    if set(MODELS) <= set(correct):
        d, lo, hi = paired_difference_ci(correct["clean"], correct["trojaned"], n_boot=n_boot, seed=seed)
        rows.append({"study": study, "dataset": dataset, "model": labels["trojaned"], "method": "none",
                     "metric": "clean_acc_drop", "value": d, "ci_low": lo, "ci_high": hi,
                     "n": len(correct["clean"]), "seed": seed})
    return rows


# --------------------------------------------------------------------------- maps


def scored_trojans(specs: list[TrojanSpec]) -> list[TrojanSpec]:
    """The trojans whose maps are scored: patch and natural (style footprints are the whole image)."""
    return [s for s in specs if s.kind in SCORED_KINDS]


def select_images(triggered: dict, specs: list[TrojanSpec], n_images: int) -> dict:
    """The first ``n_images`` triggered test images of each scored trojan, concatenated:
    ``x``, ``target``, ``footprint``, ``trojan`` (index into the scored list), ``trojans`` (names)."""
    parts = {k: [] for k in ("x", "target", "footprint", "trojan")}
    names = []
    for t, spec in enumerate(scored_trojans(specs)):
        trig = triggered[spec.name]
        n = min(n_images, len(trig["x"]))
        parts["x"].append(trig["x"][:n])
        parts["target"].append(trig["target"][:n])
        parts["footprint"].append(trig["footprint"][:n])
        parts["trojan"].append(torch.full((n,), t, dtype=torch.int64))
        names.append(spec.name)
    out = {k: torch.cat(v) for k, v in parts.items()} if names else {}
    return {**out, "trojans": names}


def importance_maps(model: nn.Module, x: torch.Tensor, target: torch.Tensor, methods: dict[str, dict], *,
                    seed: int, batch_size: int, device) -> tuple[torch.Tensor, dict[str, str], dict[str, float]]:
    """``sum_c |attribution_c|`` of every method, batched: maps [M, N, H, W] (NaN for a method not
    applicable to the model), ``{method: reason}`` of those, and seconds spent per method."""
    import time

    model = model.eval().to(device)
    maps, skipped, seconds = [], {}, {}
    for name, params in methods.items():
        started = time.perf_counter()
        try:
            chunks = [aggregate_channels(attribute(name, model, x[i:i + batch_size], target[i:i + batch_size],
                                                   seed=seed + i, **params), "abs_sum")
                      for i in range(0, len(x), batch_size)]
            maps.append(torch.cat(chunks))
        except NotApplicableError as exc:
            log.warning("%s", exc)
            skipped[name] = str(exc)
            maps.append(torch.full((len(x), *x.shape[2:]), float("nan")))
        seconds[name] = time.perf_counter() - started
        log.info("trojans: %s on %d images in %.1f s", name, len(x), seconds[name])
    return torch.stack(maps), skipped, seconds


# --------------------------------------------------------------------------- scores


def image_scores(maps: torch.Tensor, methods: list[str], images: dict) -> pd.DataFrame:
    """Per image and method every score of :data:`SCORES`: columns method, trojan, image, metric, value."""
    frames = []
    foot = images["footprint"]
    trojan = images["trojan"].numpy()
    names = np.array(images["trojans"], dtype=object)[trojan] if len(trojan) else np.array([], dtype=object)
    for i, method in enumerate(methods):
        m = maps[i]
        nan = torch.isnan(m).flatten(1).any(dim=1).numpy()
        for metric, fn in SCORES.items():
            v = fn(torch.nan_to_num(m), foot)
            v = np.where(nan, np.nan, v)
            frames.append(pd.DataFrame({"method": method, "trojan": names, "image": np.arange(len(v)),
                                        "metric": metric, "value": v}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["method", "trojan", "image", "metric", "value"])


def score_rows(scores: pd.DataFrame, trojans: list[str], *, l1_baseline: str, correlation_baseline: str,
               seed: int, n_boot: int, study: str, dataset: str, model: str) -> list[dict]:
    """Results rows: each score's mean per method and trojan (``x_name = trojan``) and over every
    scored image (metric ``<score>_all``); per method the difference to the baselines
    (``l1_minus_<blank>``, ``correlation_minus_<edge>``: paired bootstrap CI) and the Holm-adjusted
    one-sided Wilcoxon p-value (``..._p_holm``; value = p, no interval)."""
    keys = dict(study=study, dataset=dataset, model=model)
    rows = []
    for (method, metric), group in scores.groupby(["method", "metric"], sort=False):
        rows.append(summarize(group["value"].to_numpy(), seed=seed, n_boot=n_boot, method=method, metric=f"{metric}_all",
                              **keys))
        for t, name in enumerate(trojans):
            v = group.loc[group["trojan"] == name, "value"].to_numpy()
            rows.append(summarize(v, seed=seed, n_boot=n_boot, method=method, metric=metric, x_name="trojan",
                                  x=float(t), x_label=name, **keys))
    for metric, baseline, short in (("footprint_l1", l1_baseline, "l1"),
                                    ("footprint_correlation", correlation_baseline, "correlation")):
        tests = baseline_tests(scores, metric, baseline, seed=seed, n_boot=n_boot)
        for method, r in tests.items():
            rows.append({**keys, "method": method, "metric": f"{short}_minus_{baseline}", "value": r["diff"],
                         "ci_low": r["diff_low"], "ci_high": r["diff_high"], "n": r["n"], "seed": seed})
            rows.append({**keys, "method": method, "metric": f"{short}_vs_{baseline}_p_holm", "value": r["p_holm"],
                         "n": r["n"], "seed": seed})
    return rows


def baseline_tests(scores: pd.DataFrame, metric: str, baseline: str, *, seed: int, n_boot: int) -> dict[str, dict]:
    """Every attribution method vs ``baseline`` on ``metric``, paired over images (see
    :func:`interpbench.metrics.trojans.beats_baseline`), with Holm-adjusted p-values ``p_holm``.
    Baselines (registry kind ``baseline``: the blank map, the edge detector) are not tested
    against each other: "methods that beat the blank map" counts attribution methods only."""
    s = scores[scores["metric"] == metric]
    wide = s.pivot_table(index=["trojan", "image"], columns="method", values="value", dropna=False)
    if baseline not in wide.columns:
        return {}
    out = {}
    for method in wide.columns:
        if method == baseline or method_info(method).kind == "baseline":
            continue
        out[method] = beats_baseline(wide[method].to_numpy(), wide[baseline].to_numpy(),
                                     higher_is_better=DIRECTION[metric], n_boot=n_boot, seed=seed)
    adjusted = holm({m: r["p"] for m, r in out.items()})
    for m, r in out.items():
        r["p_holm"] = adjusted[m]
    return out


def methods_beating(results: pd.DataFrame, short: str, baseline: str, alpha: float) -> tuple[list[str], list[str]]:
    """(methods whose Holm-adjusted p is below ``alpha`` against ``baseline``, methods tested)."""
    p = results[results["metric"] == f"{short}_vs_{baseline}_p_holm"]
    tested = [m for m, v in zip(p["method"], p["value"]) if not math.isnan(v)]
    return sorted(m for m, v in zip(p["method"], p["value"]) if not math.isnan(v) and v < alpha), sorted(tested)


@dataclass
class TrojansParams:
    """Every parameter of the study ``trojans`` (``conf/base/parameters_trojans.yml``); each node
    parses only the sub-keys it receives."""

    data: TrojanDataParams = field(default_factory=TrojanDataParams)
    trojans: dict[str, Any] | None = None  # name -> interpbench.data.trojans.TrojanParams fields
    model: TrojanModelParams | None = None
    explanation: TrojanExplainParams = field(default_factory=TrojanExplainParams)
    n_boot: int = 1000
    report: TrojanReportParams = field(default_factory=TrojanReportParams)
    synthesis: SynthesisParams = field(default_factory=SynthesisParams)
    cpu_threads: int | None = 1


def trojans_params(raw: dict, where: str = "trojans") -> TrojansParams:
    """Parse and check the study's parameters (ConfigError naming the key on any mistake)."""
    from ..config import parse
    from ..data.trojans import parse_trojans
    from ..errors import ConfigError

    p = parse(TrojansParams, raw, where)
    d = p.data
    if d.images is None and (d.n_train < 2 or d.n_test < 2 or not 2 <= d.num_classes <= 10):
        raise ConfigError(f"{where}.data: n_train and n_test must be >= 2 and num_classes in 2..10, got {d}.")
    if d.images is not None:
        _check_images(d.images, d.num_classes, p.model, f"{where}.data.images")
    if p.trojans is not None:
        parse_trojans(p.trojans, d.num_classes, f"{where}.trojans", scenes=d.images is None)
    if p.model is not None and p.model.pretrained and not p.model.model.weights_path:
        raise ConfigError(f"{where}.model.model.weights_path: required with {where}.model.pretrained (the file of the "
                          f"already-trojaned model's state_dict).")
    if p.model is not None and p.model.model.num_classes != d.num_classes:
        raise ConfigError(f"{where}.model.model.num_classes: {p.model.model.num_classes} differs from "
                          f"{where}.data.num_classes ({d.num_classes}).")
    for name in p.explanation.methods:
        try:
            method_info(name)
        except ConfigError as exc:
            raise ConfigError(f"{where}.explanation.methods: {exc}") from None
    r = p.report
    if p.n_boot < 1 or p.explanation.n_images < 1 or p.explanation.batch_size < 1 or r.figure_images < 1 or (p.cpu_threads or 1) < 1:
        raise ConfigError(f"{where}: n_boot, cpu_threads, explanation.n_images, explanation.batch_size and "
                          f"report.figure_images must be >= 1.")
    if not 0 < r.asr_min <= 1 or not 0 <= r.clean_tol < 1 or not 0 < r.alpha < 1 or r.few_max < 0:
        raise ConfigError(f"{where}.report: asr_min in (0, 1], clean_tol in [0, 1), alpha in (0, 1), few_max >= 0; got {r}.")
    if r.beat_chance_min < 0:
        raise ConfigError(f"{where}.report.beat_chance_min: expected >= 0, got {r.beat_chance_min}.")
    check_synthesis(p.synthesis, f"{where}.synthesis")
    return p


def _check_images(im: TrojanImagesParams, num_classes: int, model: TrojanModelParams | None, where: str) -> None:
    from ..errors import ConfigError

    if im.source != "image_folder":
        raise ConfigError(f"{where}.source: expected 'image_folder', got {im.source!r}.")
    if num_classes < 2:
        raise ConfigError(f"{where}: the data's num_classes (the model's classes) must be >= 2, got {num_classes}.")
    if im.image_size < 8 or (im.resize_size is not None and im.resize_size < im.image_size):
        raise ConfigError(f"{where}: expected image_size >= 8 and resize_size >= image_size, got "
                          f"{im.image_size}/{im.resize_size}.")
    for key in ("max_per_class", "source_max_per_class", "max_triggered"):
        if getattr(im, key) is not None and getattr(im, key) < 1:
            raise ConfigError(f"{where}.{key}: expected a positive integer or null, got {getattr(im, key)!r}.")
    if model is not None and not model.pretrained:
        raise ConfigError(f"{where}: an image folder is only read to test an already-trojaned model (nothing is "
                          f"poisoned or trained on it); set trojans.model.pretrained: true with its weights_path.")


def dataset_label(p: TrojansParams) -> str:
    """The results table's dataset name: ``scenes``, or the image folder's ``name``."""
    return "scenes" if p.data.images is None else p.data.images.name


def has_twin(p: TrojansParams) -> bool:
    """Whether a clean twin is trained (not for a pretrained trojaned model)."""
    return p.model is None or not p.model.pretrained


def not_evaluated_trojans(p: TrojansParams, specs: list[TrojanSpec]) -> dict[str, str]:
    """``{trojan: why}`` for the trojans the run cannot test (natural ones on an image folder)."""
    from ..data.trojans import NATURAL_ON_FOLDER

    if p.data.images is None:
        return {}
    return {s.name: NATURAL_ON_FOLDER for s in specs if s.kind == "natural"}


def model_label(p: TrojansParams, key: str) -> str:
    """The results table's model name: ``<architecture>_trojaned`` / ``<architecture>_clean``."""
    return f"{p.model.model.architecture}_{key}" if p.model is not None else key
