"""Nodes of the study ``input_gradients`` (Shah, Jain, Netrapalli 2021)."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import torch
from matplotlib.figure import Figure

from interpbench.data import load_cifar10, subsample
from interpbench.metrics.results import results_table
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.helpers import build_for_data, train_for_data
from interpbench.pipelines.params import (
    ig_dataset_name,
    ig_slot_models,
    input_gradients_params,
)
from interpbench.protocols.input_gradients import (
    RANDOM,
    attribution_bundle,
    attribution_scores,
    blockmnist_split,
    diffroar_rows,
    k_label,
    model_label,
    null_share_rows,
    retrain_masked,
    retrain_seeds,
    robustness_rows,
)
from interpbench.reporting.figures import (
    block_attribution_grid,
    grouped_bars,
    k_curves,
)
from interpbench.reporting.input_gradients_report import (
    input_gradients_findings,
    input_gradients_report,
)
from interpbench.parallel import parse_parallel, run_jobs
from interpbench.runtime import cpu_threads, resolve_device, seed_everything

log = logging.getLogger(__name__)

KEEP = ("top", "bottom")
"""DiffROAR keeps the top or the bottom k pixels of each image."""


def make_blockmnist_split(
    mnist_train: dict, mnist_test: dict, params: dict, seed: int, *, position: str
) -> tuple[dict, dict]:
    """BlockMNIST (``position="random"``) or BlockMNIST-Top (``"top"``) from the MNIST split."""
    d = input_gradients_params(params).data.blockmnist
    return blockmnist_split(mnist_train, mnist_test, classes=d.classes, position=position, seed=seed,
                            null_patch=d.null_patch, max_train=d.max_train, max_test=d.max_test)


def prepare_rgb_images(scenes_train: dict, scenes_test: dict, params: dict, seed: int) -> tuple[dict, dict]:
    """The colour-image slot (`rgb`): the shared scenes, or CIFAR-10 read from ``data.rgb.root``; subsampled (seeded)."""
    d = input_gradients_params(params).data.rgb
    if d.source == "cifar10":
        train, test = load_cifar10(d.root)
    else:
        train, test = ({"x": b["x"], "y": b["y"]} for b in (scenes_train, scenes_test))
    train, test = subsample(train, d.max_train, seed), subsample(test, d.max_test, seed + 1)
    log.info("input_gradients rgb slot: %s, %d train / %d test images", d.source, len(train["y"]), len(test["y"]))
    return train, test


def _ig_train(train: dict, init_state: dict | None, params: dict, seed: int, device: str, *, slot: str, variant: str):
    p = input_gradients_params(params)
    pair = ig_slot_models(p, slot)
    cfg = dataclasses.replace(pair.standard if variant == "standard" else pair.robust, seed=seed)
    attack = None if variant == "standard" else dataclasses.asdict(pair.attack)
    desc = f"{slot} {model_label(pair.model.architecture, variant, pair.attack.norm)}"
    return train_for_data(pair, train, init_state, cfg, attack=attack, seed=seed, device=device,
                          threads=p.cpu_threads, desc=desc)


def train_standard_model(train: dict, params: dict, seed: int, device: str, *, slot: str) -> tuple[dict, pd.DataFrame]:
    """The slot's standard model (plain empirical risk minimisation)."""
    return _ig_train(train, None, params, seed, device, slot=slot, variant="standard")


def train_robust_model(
    train: dict, standard_state: dict, params: dict, seed: int, device: str, *, slot: str
) -> tuple[dict, pd.DataFrame]:
    """The slot's PGD adversarially trained model (Madry et al. 2018), from scratch or, with
    ``robust_init: standard``, fine-tuned from the standard model's weights."""
    pair = ig_slot_models(input_gradients_params(params), slot)
    init = standard_state if pair.robust_init == "standard" else None
    return _ig_train(train, init, params, seed, device, slot=slot, variant="robust")


def retrain_on_masked(source: dict, params: dict, parallel: dict, seed: int, device: str, *rankings: dict) -> tuple:
    """Every DiffROAR retraining, one job per (ranking, k, keep, seed) (:mod:`interpbench.parallel`):
    a fresh model (seeded by the job's seed, :func:`retrain_seeds`) on the train images keeping
    only their ``keep`` (top / bottom) k pixels by the ranking, scored on the masked test images.
    Returns, per ranking in ``rankings``' order, ``[{"k", "keep", "seeds", "correct" [seeds, N]}, ...]``."""
    p = input_gradients_params(params)
    seeds = retrain_seeds(seed, p.diffroar.seeds)
    grid = [(i, k, keep, s) for i in range(len(rankings)) for k in p.diffroar.k for keep in KEEP for s in seeds]
    jobs = {_job_key(rankings[i], k, keep, s): {"ranking": i, "k": k, "keep": keep, "seed": s} for i, k, keep, s in grid}
    shared = {"source": source, "scores": [(r["train"], r["test"], f"DiffROAR {r['model']} {r['method']}")
                                           for r in rankings],
              "pair": ig_slot_models(p, source["slot"]), "cfg": p.diffroar.train, "fill": p.diffroar.fill,
              "device": device, "mask_seed": seed}
    done = run_jobs(diffroar_job, jobs, parse_parallel(parallel, "parallel"), shared=shared, threads=p.cpu_threads,
                    desc="DiffROAR retrainings")
    return tuple(
        [{"k": k, "keep": keep, "seeds": torch.tensor(seeds),
          "correct": torch.cat([done[_job_key(r, k, keep, s)] for s in seeds])} for k in p.diffroar.k for keep in KEEP]
        for r in rankings
    )


def _job_key(ranking: dict, k: float, keep: str, seed: int) -> str:
    return f"{ranking['model']}/{ranking['method']}/{keep}-{k_label(k)}/seed{seed}"


def diffroar_job(source: dict, scores: list, pair, cfg, fill: str, device: str, mask_seed: int, *, ranking: int,
                 k: float, keep: str, seed: int) -> torch.Tensor:
    """One DiffROAR retraining (a fan-out job): correctness ``[1, N]`` of the model of ``seed``."""
    scores_train, scores_test, desc = scores[ranking]

    def build(s: int):
        seed_everything(s)
        return build_for_data(pair, source["train"]["x"])

    return retrain_masked(source["train"], source["test"], scores_train, scores_test, k=k, keep=keep, build=build,
                          cfg=cfg, fill=fill, device=resolve_device(device), desc=f"{desc} {keep}-{k_label(k)}",
                          seeds=[seed], mask_seed=mask_seed)


def select_diffroar_source(params: dict, seed: int, *slot_data, slots: list[str]) -> dict:
    """The data slot DiffROAR runs on (``diffroar.data``): its train set (a seeded subsample of
    ``diffroar.max_train`` images when set) and its test set. ``slot_data`` are (train, test) for
    each of ``slots``."""
    p = input_gradients_params(params)
    slot = p.diffroar.data
    i = 2 * slots.index(slot)
    train = subsample(slot_data[i], p.diffroar.max_train, seed + 2)
    log.info("DiffROAR on the %s slot (%s): %d train / %d test images", slot, ig_dataset_name(p, slot),
             len(train["y"]), len(slot_data[i + 1]["y"]))
    return {"slot": slot, "dataset": ig_dataset_name(p, slot), "train": train, "test": slot_data[i + 1]}


def compute_test_attributions(state: dict, test: dict, params: dict, seed: int, device: str, *, slot: str) -> dict:
    """Pixel importance ``sum_c |a_c|`` of every configured method on the slot's test images,
    explaining the true label (or the prediction, ``explanation.target``)."""
    p = input_gradients_params(params)
    e = p.explanation
    dev = resolve_device(device)
    model = build_for_data(ig_slot_models(p, slot), test["x"], state).to(dev)
    n = len(test["y"]) if e.n_images is None else e.n_images
    with cpu_threads(p.cpu_threads):
        return attribution_bundle(model, test["x"][:n], test["y"][:n], e.methods, target=e.target, seed=seed,
                                  batch_size=e.batch_size, device=dev)


def compute_diffroar_rankings(
    source: dict, params: dict, seed: int, device: str, *states: dict, ranking: str, slots: list[str]
) -> dict:
    """Per-pixel scores ranking every train and test image of the DiffROAR data: the configured
    method's attributions of the ``standard`` or ``robust`` model (of the true label), or the
    model-free ``random`` ranking (seeded). ``states`` are the ``ranking`` model's weights of each
    of ``slots`` (empty for the random ranking); the DiffROAR slot's is used."""
    p = input_gradients_params(params)
    dev = resolve_device(device)
    pair = ig_slot_models(p, source["slot"])
    if ranking == RANDOM:
        model, method, label, kwargs = None, RANDOM, "none", {}
    else:
        model = build_for_data(pair, source["train"]["x"], states[slots.index(source["slot"])]).to(dev)
        method, kwargs = p.diffroar.method, p.diffroar.method_params
        label = model_label(pair.model.architecture, ranking, pair.attack.norm)
    with cpu_threads(p.cpu_threads):
        scores = {
            split: attribution_scores(model, source[split]["x"], source[split]["y"], method, kwargs, seed=seed + i,
                                      batch_size=p.explanation.batch_size, device=dev, desc=f"{label} {method} {split}")
            for i, split in enumerate(("train", "test"))
        }
    return {**scores, "method": method, "model": label, "dataset": source["dataset"]}


def _ig_keys(p, slot: str, variant: str, study: str) -> dict:
    pair = ig_slot_models(p, slot)
    name = model_label(pair.model.architecture, variant, pair.attack.norm)
    return dict(study=study, dataset=ig_dataset_name(p, slot), model=name)


def score_robustness(
    state: dict, test: dict, params: dict, seed: int, device: str, *, study: str, slot: str, variant: str
) -> pd.DataFrame:
    """``clean_acc`` and ``robust_acc`` (PGD at the robust model's training eps) of one model."""
    p = input_gradients_params(params)
    pair = ig_slot_models(p, slot)
    a = pair.attack
    model = build_for_data(pair, test["x"], state)
    with cpu_threads(p.cpu_threads):
        rows = robustness_rows(model, test["x"], test["y"], norm=a.norm, eps=a.eps, steps=a.eval_steps or a.steps,
                               step_size=a.step_size, seed=seed, n_boot=p.n_boot, device=resolve_device(device),
                               restarts=a.restarts, **_ig_keys(p, slot, variant, study))
    return results_table(rows)


def score_null_block_share(
    maps: dict, test: dict, params: dict, seed: int, *, study: str, slot: str, variant: str
) -> pd.DataFrame:
    """Share of each method's top-k pixels in the BlockMNIST null block, for every k (Shah et al. §4)."""
    p = input_gradients_params(params)
    rows = null_share_rows(maps, test["signal_mask"], p.null_block_share.k, seed=seed, n_boot=p.n_boot,
                           **_ig_keys(p, slot, variant, study))
    return results_table(rows)


def score_diffroar(rankings: dict, retrained: list, params: dict, seed: int, *, study: str) -> pd.DataFrame:
    """acc_top, acc_bottom and DiffROAR(k) = acc_top - acc_bottom of one ranking (Shah et al. eq. 1):
    per retraining seed (``*_seed`` rows, interval over test items) and their mean over seeds with
    a 95% t-interval over seeds (see :func:`diffroar_rows`)."""
    p = input_gradients_params(params)
    levels: dict[float, dict] = {}
    for r in retrained:
        level = levels.setdefault(r["k"], {"k": r["k"], "seeds": [int(s) for s in r["seeds"]]})
        level[r["keep"]] = r["correct"].numpy()
    rows = diffroar_rows(list(levels.values()), seed=seed, n_boot=p.n_boot, study=study, dataset=rankings["dataset"],
                         model=rankings["model"], method=rankings["method"])
    return results_table(rows)


def plot_gradient_examples(test: dict, standard_maps: dict, robust_maps: dict, params: dict, *, slot: str) -> Figure:
    """Test images, then each method's |attribution| of the true class for the standard and the
    robust model (per-image normalised; the dashed line separates BlockMNIST's blocks)."""
    p = input_gradients_params(params)
    pair = ig_slot_models(p, slot)
    n = min(p.report.figure_images, standard_maps["maps"].shape[1])
    names = [model_label(pair.model.architecture, v, pair.attack.norm) for v in ("standard", "robust")]
    rows, labels = [], []
    for i, method in enumerate(standard_maps["methods"]):
        for name, bundle in zip(names, (standard_maps, robust_maps)):
            rows.append(bundle["maps"][i, :n])
            labels.append(f"{name}\n{method}")
    cols = [f"y={int(y)}" for y in test["y"][:n]]
    boundary = test["x"].shape[-2] // 2 if "signal_mask" in test else None
    return block_attribution_grid(test["x"][:n], torch.stack(rows), labels, cols, boundary=boundary,
                                  title=f"{ig_dataset_name(p, slot)}: |attribution| of the true class, standard vs robust")


def plot_null_block_share(results: pd.DataFrame) -> Figure:
    return k_curves(results, "null_block_share", title="Share of the top-k pixels in the null block (lower is better)",
                    ylabel="null-block share", reference=0.5, reference_label="random map", ylim=(0, 1))


def plot_diffroar(results: pd.DataFrame) -> Figure:
    return k_curves(results, "diffroar", title="DiffROAR(k) = acc(top-k unmasked) - acc(bottom-k unmasked)",
                    ylabel="DiffROAR", reference=0.0)


def plot_robustness(results: pd.DataFrame) -> Figure:
    return grouped_bars(results, ["clean_acc", "robust_acc"], title="Clean and PGD accuracy (95% bootstrap CI)",
                        ylabel="accuracy")


def write_input_gradients_report(
    results: pd.DataFrame, params: dict, seed: int, *maps: dict, slots: list[str]
) -> tuple[str, dict[str, dict]]:
    """The study's Markdown report and its findings' counts (for MLflow, see :func:`findings_to_metrics`);
    ``maps`` are the (standard, robust) attribution bundles of each slot."""
    p = input_gradients_params(params)
    owners = [s for s in slots for _ in ("standard", "robust")]
    skipped = {f"{m} on {s}": r for s, b in zip(owners, maps) for m, r in b.get("skipped", {}).items()}
    setup = []
    for slot in slots:
        pair = ig_slot_models(p, slot)
        a = pair.attack
        setup.append(f"{ig_dataset_name(p, slot)}: {pair.model.architecture}; standard {pair.standard.epochs} epochs "
                     f"({pair.standard.optimizer}, lr {pair.standard.lr:g}); robust {pair.robust.epochs} epochs of "
                     f"PGD-{a.norm} training (eps {a.eps:g}, {a.steps} steps, init {pair.robust_init})")
    d = p.diffroar
    n_train = "all" if d.max_train is None else f"at most {d.max_train}"
    setup.append(f"DiffROAR on {ig_dataset_name(p, d.data)} at k = {', '.join(k_label(k) for k in d.k)}: {d.method} "
                 f"rankings of both models and a random ranking; each (ranking, k, top/bottom) retrained with "
                 f"{d.seeds} seeds ({', '.join(map(str, retrain_seeds(seed, d.seeds)))}) for {d.train.epochs} "
                 f"epochs ({d.train.optimizer}, lr {d.train.lr:g}, batch {d.train.batch_size}) on {n_train} training "
                 f"images; fill {d.fill}")
    setup.append(f"attributions explain the {p.explanation.target} class; methods {', '.join(p.explanation.methods)}")
    figures = {"accuracy": "accuracy.png", "null_block_share": "null_block_share.png", "diffroar": "diffroar.png",
               **{f"gradients_{s}": f"{s}_gradients.png" for s in slots}}
    method = "saliency" if "saliency" in p.explanation.methods else next(iter(p.explanation.methods))
    findings = input_gradients_findings(results, p.report.small_k, method, report=p.report, skipped=skipped)
    text = input_gradients_report(results, small_k=p.report.small_k, method=method, setup=setup, skipped=skipped,
                                  figures=figures, report=p.report, findings=findings)
    return text, findings_to_metrics(findings)

