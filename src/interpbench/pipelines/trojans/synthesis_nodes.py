"""Nodes of the study ``trojans``' second half (Casper et al. 2023, sec. 4.2): feature synthesis
and the multiple-choice test. Thin wrappers over :mod:`interpbench.synthesis`,
:mod:`interpbench.judges` and :mod:`interpbench.protocols.trojan_synthesis`."""

from __future__ import annotations

import logging

import pandas as pd
import torch
from matplotlib.figure import Figure

from interpbench.data.trojans import parse_trojans
from interpbench.judges import ClipJudge, FeatureJudge, multiple_choice
from interpbench.metrics.results import results_table
from interpbench.pipelines.helpers import cpu_state_dict, image_size_of
from interpbench.pipelines.trojans.nodes import build_trojan_model
from interpbench.protocols.trojan_synthesis import (
    accuracy_rows,
    clean_subset,
    images_by_item,
    natural_patch_bank,
    option_sets,
    synthesize_all,
)
from interpbench.protocols.trojans import dataset_label, model_label, not_evaluated_trojans, trojans_params
from interpbench.reporting.synthesis_report import synthesis_grid, synthesis_losses_figure
from interpbench.parallel import parse_parallel
from interpbench.runtime import cpu_threads, resolve_device, seed_everything

log = logging.getLogger(__name__)


def train_synthesis_generator(clean_train: dict, clean_test: dict, params: dict, seed: int, device: str) -> dict:
    """The small image generator of RFLA-Perturb and RFLA-Gen, trained on the clean training scenes
    (on the clean test images when there is no training set: a pretrained trojaned model); an
    empty state when synthesis is off or no RFLA method is configured."""
    from interpbench.synthesis import train_generator

    p = trojans_params(params)
    s = p.synthesis
    if not s.enabled or not any(m.startswith("rfla") for m in s.methods):
        return {}
    pool = clean_train if len(clean_train["x"]) else clean_test
    with cpu_threads(s.cpu_threads):
        seed_everything(seed)
        gen = train_generator(pool["x"], seed=seed, device=resolve_device(device), **s.generator)
    return cpu_state_dict(gen)


def synthesize_triggers(trojaned_state: dict, generator_state: dict, clean_train: dict, clean_test: dict,
                        params: dict, seed: int, device: str, parallel: dict) -> tuple[dict, pd.DataFrame]:
    """Every synthesis method's images for every trojan, from the trojaned model, the trojan's
    target (and source) class and clean images; and the methods' loss curves. One job per
    (trojan, method), run by the ``parallel`` backend."""
    from interpbench.synthesis import PatchGenerator

    p = trojans_params(params)
    s = p.synthesis
    specs = parse_trojans(p.trojans, p.data.num_classes, "trojans.trojans", scenes=p.data.images is None)
    untested = not_evaluated_trojans(p, specs)  # natural trojans on an image folder: no picture of the object
    specs = [spec for spec in specs if spec.name not in untested]
    pool = clean_train if len(clean_train["x"]) else clean_test
    size = image_size_of(pool["x"])
    empty = {"x": torch.zeros(0, 3, size, size), "trojan": torch.zeros(0, dtype=torch.int64),
             "method": torch.zeros(0, dtype=torch.int64), "trojans": [], "kinds": [], "triggers": [], "methods": [],
             "skipped": {}, "seconds": {}, "not_evaluated": {}}
    if not s.enabled:
        return empty, pd.DataFrame(columns=["trojan", "method", "step", "loss"])
    dev = resolve_device(device)
    clean_x, clean_y = clean_subset(pool, s.clean_images, seed)
    exclude = {spec.trigger for spec in specs} | {t for names in s.options.distractors.values() for t in names}
    bank = natural_patch_bank(clean_x, n_clean=s.bank.clean, per_photo=s.bank.per_photo, size=s.bank.size,
                              seed=seed, exclude=exclude)
    gen = None
    if generator_state:
        gen = PatchGenerator(**{k: s.generator[k] for k in ("size", "width") if k in s.generator})
        gen.load_state_dict(generator_state)
        gen = gen.eval()
    model = build_trojan_model(p, pool["x"], trojaned_state)
    return synthesize_all(model, specs, s, clean_x=clean_x, clean_y=clean_y, generator=gen, patch_bank=bank,
                          image_size=size, seed=seed, device=dev, parallel=parse_parallel(parallel, "parallel"))


def judge_synthesis(synthesis: dict, clean_state: dict, params: dict, seed: int, device: str, *, study: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The multiple-choice test: the judge's choice per synthesized image and per method's set, and
    the accuracy rows (per method, per kind, all methods together, chance)."""
    p = trojans_params(params)
    s = p.synthesis
    if not s.enabled or not synthesis["trojans"]:
        return results_table([]), pd.DataFrame()
    size = int(synthesis["x"].shape[-1])
    dev = resolve_device(device)
    if s.judge.name == "clip":
        judge = ClipJudge(model=s.judge.clip_model, checkpoint=s.judge.checkpoint or "", device=dev)
    elif not clean_state:
        log.warning("trojans: no clean twin to judge the synthesized images with (pretrained trojaned model); "
                    "configure synthesis.judge.name: clip with a checkpoint")
        return results_table([]), pd.DataFrame()
    else:
        judge = FeatureJudge(build_trojan_model(p, synthesis["x"], clean_state), image_size=size, device=dev)
    options, truth = option_sets(synthesis, s, seed)
    with cpu_threads(s.cpu_threads):
        choices = multiple_choice(judge, images_by_item(synthesis), options, truth, size=size,
                                  renderings=s.options.renderings, seed=seed)
    choices["judge"] = judge.name
    rows = accuracy_rows(choices, judge=judge.name, seed=seed, n_boot=p.n_boot, study=study,
                         dataset=dataset_label(p), model=model_label(p, "trojaned"))
    return results_table(rows), choices


def plot_synthesis(synthesis: dict, params: dict) -> Figure:
    """Per trojan: the true trigger, then the first synthesized images of every method."""
    return synthesis_grid(synthesis, n_per_method=trojans_params(params).report.figure_images)


def plot_synthesis_losses(losses: pd.DataFrame) -> Figure:
    """Each method's objective over its optimisation steps, one line per trojan."""
    return synthesis_losses_figure(losses)
