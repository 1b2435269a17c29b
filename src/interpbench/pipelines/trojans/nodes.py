"""Nodes of the study ``trojans`` (Casper et al. 2023): thin wrappers that parse the parameters they
receive and call :mod:`interpbench.data.trojans`, :mod:`interpbench.protocols.trojans` and
:mod:`interpbench.reporting.trojans_report`."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
from matplotlib.figure import Figure

from interpbench.data import generate_scenes
from interpbench.data.trojans import (
    load_trojan_folder,
    parse_trojans,
    poison_training_set,
    triggered_folder_sets,
    triggered_test_sets,
)
from interpbench.errors import ConfigError
from interpbench.metrics.results import results_table
from interpbench.models import build_model
from interpbench.models.training import train_model
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.helpers import cpu_state_dict, image_size_of
from interpbench.protocols.trojans import (
    accuracy_rows,
    dataset_label,
    has_twin,
    image_scores,
    importance_maps,
    model_label,
    not_evaluated_trojans,
    score_rows,
    select_images,
    trojans_params,
)
from interpbench.reporting.synthesis_report import synthesis_findings, synthesis_section
from interpbench.reporting.trojans_report import (
    score_boxes,
    trigger_map_grid,
    trojans_findings,
    trojans_report,
)
from interpbench.runtime import cpu_threads, resolve_device, seed_everything

log = logging.getLogger(__name__)

def _specs(p):
    return parse_trojans(p.trojans, p.data.num_classes, "trojans.trojans", scenes=p.data.images is None)


def _tested(p, triggered: dict) -> list:
    """The trojans that have a triggered test set (natural ones on an image folder have none)."""
    return [s for s in _specs(p) if s.name in triggered]


def make_trojan_data(params: dict, seed: int) -> tuple[dict, dict, dict, dict]:
    """The study's colour scenes, the poisoned training set and the triggered test sets:
    (clean train, poisoned train, clean test, triggered test: per trojan images, targets, footprints).
    With ``data.images`` (an already-trojaned model): the image folder's images, no training sets."""
    p = trojans_params(params)
    if p.data.images is not None:
        return _folder_data(p, seed)
    d = p.data
    common = dict(image_size=d.image_size, num_classes=d.num_classes, cooccur_prob=d.cooccur_prob)
    train = generate_scenes(d.n_train, seed=seed, **common)
    test = generate_scenes(d.n_test, seed=seed + 1_000_003, **common)
    specs = _specs(p)
    poisoned = poison_training_set(train, specs, seed=seed)
    triggered = triggered_test_sets(test, specs, seed=seed + 1)
    classes = train["classes"]
    for spec in specs:
        log.info("trojan %s: %s; %d poisoned training images, %d triggered test images", spec.name,
                 spec.describe(classes), int((poisoned["trojan"] == specs.index(spec)).sum()),
                 len(triggered[spec.name]["x"]))
    clean_train = {"x": train["x"], "y": train["y"], "classes": classes}
    clean_test = {"x": test["x"], "y": test["y"], "classes": classes}
    return clean_train, {**poisoned, "classes": classes}, clean_test, {"trojans": triggered, "classes": classes}


def _folder_data(p, seed: int) -> tuple[dict, dict, dict, dict]:
    im, specs = p.data.images, _specs(p)
    folder = load_trojan_folder(im.root, labels=im.labels, num_classes=p.data.num_classes, image_size=im.image_size,
                                resize_size=im.resize_size, max_per_class=im.max_per_class,
                                source_classes=tuple(s.source for s in specs if s.source is not None),
                                source_max_per_class=im.source_max_per_class)
    triggered = triggered_folder_sets(folder, specs, seed=seed + 1, max_images=im.max_triggered)
    classes = folder["classes"]
    for spec in specs:
        n = len(triggered[spec.name]["x"]) if spec.name in triggered else "no"
        log.info("trojan %s: %s; %s triggered test images", spec.name, spec.describe(classes), n)
    for name, why in not_evaluated_trojans(p, specs).items():
        log.warning("trojan %s not evaluated: %s", name, why)
    none = {"x": folder["x"][:0], "y": folder["y"][:0], "classes": classes,
            "note": "no training set: the trojaned model is pretrained"}
    clean_test = {"x": folder["x"][folder["clean"]], "y": folder["y"][folder["clean"]], "classes": classes}
    return none, dict(none), clean_test, {"trojans": triggered, "classes": classes}


def _pretrained(p, x) -> dict:
    """The already-trojaned model's state_dict, read from ``model.model.weights_path``."""
    m = p.model.model
    try:
        model = build_model(m.architecture, num_classes=m.num_classes, in_channels=int(x.shape[1]),
                            image_size=image_size_of(x), weights_path=m.weights_path, **m.options)
    except ConfigError as exc:
        raise ConfigError(f"trojans.model.model.weights_path: {exc}") from None
    log.info("trojans: the trojaned model is the pretrained %s from %s (not trained here)", m.architecture,
             m.weights_path)
    return cpu_state_dict(model)


def build_trojan_model(p, x, state=None):
    """The study's model for images like ``x``: with ``state`` loaded, else fresh (or the configured
    weights file), in eval mode."""
    m = p.model.model
    model = build_model(m.architecture, num_classes=m.num_classes, in_channels=int(x.shape[1]),
                        image_size=image_size_of(x), weights_path=m.weights_path if state is None else None, **m.options)
    if state is not None:
        model.load_state_dict(state)
    return model.eval()


def train_trojan_model(train: dict, params: dict, seed: int, device: str, *, key: str) -> tuple[dict, pd.DataFrame]:
    """Train the trojaned model (``key="trojaned"``, on the poisoned set) or its clean twin
    (``key="clean"``); the same architecture, recipe and seed."""
    p = trojans_params(params)
    if p.model.pretrained:  # an already-trojaned model: nothing trained; no clean twin (an empty state)
        state = _pretrained(p, train["x"]) if key == "trojaned" else {}
        return state, pd.DataFrame({"epoch": pd.Series(dtype="int64")})
    cfg = dataclasses.replace(p.model.train, seed=seed)
    with cpu_threads(p.cpu_threads):
        seed_everything(seed)
        model = build_trojan_model(p, train["x"])
        history = train_model(model, train["x"], train["y"], cfg, resolve_device(device), desc=model_label(p, key))
    return cpu_state_dict(model), pd.DataFrame(history)


def score_attacks(trojaned_state: dict, clean_state: dict, clean_test: dict, triggered_test: dict, params: dict,
                  seed: int, device: str, *, study: str) -> pd.DataFrame:
    """Clean accuracy of both models, their difference, and every trojan's ASR on both (95% intervals).
    An empty ``clean_state``: no clean twin (a pretrained trojaned model), the trojaned model's rows only."""
    p = trojans_params(params)
    dev = resolve_device(device)
    models = {"trojaned": build_trojan_model(p, clean_test["x"], trojaned_state)}
    if clean_state:
        models["clean"] = build_trojan_model(p, clean_test["x"], clean_state)
    with cpu_threads(p.cpu_threads):
        rows = accuracy_rows(models, clean_test, triggered_test["trojans"], _tested(p, triggered_test["trojans"]),
                             seed=seed, n_boot=p.n_boot, device=dev, study=study, dataset=dataset_label(p),
                             labels={k: model_label(p, k) for k in models})
    return results_table(rows)


def compute_trigger_maps(state: dict, triggered_test: dict, params: dict, seed: int, device: str) -> dict:
    """Importance maps (``sum_c |attribution|``) of every configured method on the first
    ``explanation.n_images`` triggered test images of each patch and natural trojan, explaining the
    trojan's target class; methods not applicable to the model are recorded in ``skipped``."""
    p = trojans_params(params)
    e = p.explanation
    dev = resolve_device(device)
    images = select_images(triggered_test["trojans"], _tested(p, triggered_test["trojans"]), e.n_images)
    if not images["trojans"]:
        log.warning("trojans: no patch or natural trojan configured; no maps to compute")
        return {"methods": list(e.methods), "skipped": {}, "seconds": {}, "images": images}
    model = build_trojan_model(p, images["x"], state).to(dev)
    with cpu_threads(p.cpu_threads):
        maps, skipped, seconds = importance_maps(model, images["x"], images["target"], e.methods, seed=seed,
                                                 batch_size=e.batch_size, device=dev)
    return {"maps": maps, "methods": list(e.methods), "skipped": skipped, "seconds": seconds, "images": images}


def score_trigger_maps(trigger_maps: dict, params: dict, seed: int, *, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per image scores of every method against the footprints, and the results rows: means with
    95% bootstrap intervals per method and trojan, and the paired tests against the baselines."""
    p = trojans_params(params)
    images = trigger_maps["images"]
    if "maps" not in trigger_maps:
        return results_table([]), image_scores_empty()
    scores = image_scores(trigger_maps["maps"], trigger_maps["methods"], images)
    rows = score_rows(scores, images["trojans"], l1_baseline=p.report.l1_baseline,
                      correlation_baseline=p.report.correlation_baseline, seed=seed, n_boot=p.n_boot, study=study,
                      dataset=dataset_label(p), model=model_label(p, "trojaned"))
    return results_table(rows), scores


def image_scores_empty() -> pd.DataFrame:
    return pd.DataFrame({"method": pd.Series(dtype=str), "trojan": pd.Series(dtype=str),
                         "image": pd.Series(dtype="int64"), "metric": pd.Series(dtype=str),
                         "value": pd.Series(dtype=float)})


def plot_score_boxes(scores: pd.DataFrame, params: dict) -> Figure:
    """Box plots in the paper's style: methods sorted by their mean, baselines as lines."""
    p = trojans_params(params)
    return score_boxes(scores, baselines=(p.report.l1_baseline, p.report.correlation_baseline))


def plot_trigger_maps(trigger_maps: dict, params: dict) -> Figure:
    """Triggered images, their footprints and every method's map (per-image [0, 1] scaling)."""
    p = trojans_params(params)
    return trigger_map_grid(trigger_maps, p.report.figure_images)


def write_trojans_report(results: pd.DataFrame, trigger_maps: dict, synthesis: dict, synthesis_choices: pd.DataFrame,
                         params: dict, seed: int) -> tuple[str, dict]:
    """The study's Markdown report (both halves) and its findings' counts (for MLflow)."""
    p = trojans_params(params)
    specs = _specs(p)
    untested = not_evaluated_trojans(p, specs)
    findings = trojans_findings(results, specs, p.report, labels={k: model_label(p, k) for k in ("trojaned", "clean")},
                                skipped=trigger_maps.get("skipped", {}), not_evaluated=untested, twin=has_twin(p))
    findings += synthesis_findings(results, synthesis_choices, p.report, enabled=p.synthesis.enabled, seed=seed,
                                   n_boot=p.n_boot)
    text = trojans_report(results, specs, p, findings=findings, skipped=trigger_maps.get("skipped", {}),
                          seconds=trigger_maps.get("seconds", {}), not_evaluated=untested,
                          synthesis_lines=synthesis_section(results, synthesis_choices, synthesis, p))
    return text, findings_to_metrics(findings)
