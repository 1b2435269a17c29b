"""Study ``neuron_robustness``: Srivastava, Oikarinen, Weng 2023 (*Corrupting Neuron Explanations of
Deep Visual Features*, ICCV) on Network Dissection (Bau et al. 2017; NetDissect-Lite), as plain
functions over models and probe sets (no Kedro).

1. Probe set: a Broden-layout folder (:mod:`interpbench.data.broden`); the embedded default writes
   one from the colour scenes (categories object, color, texture and the image-level scene).
2. Dissection (:mod:`interpbench.metrics.dissection`) of the configured layers: per unit its
   threshold, best concept, category, IoU and whether it is interpretable (IoU > 0.04).
3. Noise: every probe image gets seeded noise (Gaussian std sweep, 8-bit re-quantised), the probe
   set is dissected again (thresholds recomputed); per layer and std, the share of the clean
   interpretable units whose label changes -- per unit averaged over noise seeds (bootstrap interval
   over units) and per seed (t interval over seeds).
4. Crafted attack (:func:`interpbench.attacks.probe.unit_concept_attack`): for ``n_units``
   interpretable units of one layer, a target concept is chosen; only the probe images holding the
   source (the unit's label) or the target concept are attacked; the probe set is dissected again;
   the share of targeted units whose label became the target (Wilson interval over units), whose
   label changed at all, and the share of probe images touched per unit.

Results rows name the dissected representation ``<model>.<layer>`` in the ``model`` column (e.g.
``resnet_small.stage3``); ``method`` is ``none`` (clean), ``<kind>_noise`` or ``crafted_attack``.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from ..attacks.probe import NOISE_KINDS, corrupt_images, quantize, unit_concept_attack
from ..config import parse
from ..data.broden import read_broden, scenes_to_broden, write_broden
from ..data.scenes import generate_scenes
from ..errors import ConfigError
from ..metrics.dissection import NETDISSECT_QUANTILE, dissect, layer_activations, top_concepts, units_table
from ..metrics.results import summarize, summarize_seeds
from ..metrics.trojans import wilson_interval
from ..pipelines.params import ModelParams

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- parameters


@dataclass
class ProbeParams:
    """``source: scenes`` writes a Broden-layout set from the colour scenes to ``root``;
    ``source: broden`` reads the Broden folder at ``root`` (never written to)."""

    source: Literal["scenes", "broden"] = "scenes"
    root: str = "data/03_primary/neuron_robustness/broden"
    n_images: int = 300  # scenes
    image_size: int = 32  # scenes: generated size; broden: images resized to this (None: as stored)
    num_classes: int = 8  # scenes: shapes drawn
    cooccur_prob: float = 0.3  # scenes
    categories: list[str] | None = None  # broden: the categories to use (None: all)
    max_images: int | None = None  # broden: the first that many images
    split: str | None = None  # broden: only this split
    cache: bool = True  # keep decoded images in memory (small probe sets)


@dataclass
class DissectModelParams:
    """The dissected model: the zoo's trained state (default) or ``pretrained`` (a local weights file)."""

    layers: list[str] = field(default_factory=lambda: ["stage1", "stage2", "stage3"])
    pretrained: ModelParams | None = None
    label: str | None = None


@dataclass
class DissectionParams:
    quantile: float = NETDISSECT_QUANTILE  # NetDissect-Lite's readout index 994 of 1000
    iou_threshold: float = 0.04
    batch_size: int = 100
    float64: bool = True  # tallies in float64 (matches the reference to 1e-6); float32 on a GPU
    top_k: int = 5  # concepts per unit in the IoU table


@dataclass
class NoiseParams:
    kind: str = "gaussian"
    stds: list[float] = field(default_factory=lambda: [0.005, 0.01, 0.02, 0.05])
    seeds: int = 3
    quantize: bool = True


@dataclass
class CraftedAttackParams:
    layer: str | None = None  # None: the deepest configured layer
    n_units: int = 8
    target: Literal["random", "runner_up"] = "random"  # same category as the unit's label
    eps: float = 4 / 255
    steps: int = 10
    step_size: float | None = None  # None: 2 * eps / steps (the paper)
    quantize: bool = True
    batch_size: int = 64


@dataclass
class NeuronReportParams:
    noise_std: float = 0.02  # the headline std
    changed_min: float = 0.1  # "a substantial fraction": the deepest layer's lower bound above this
    attack_success_min: float = 0.5  # "most targeted units": Wilson lower bound at least this
    touched_max: float = 0.1  # "touching < 10% of images": every attacked unit's share below this
    panel_units: int = 3
    panel_images: int = 4


@dataclass
class NeuronRobustnessParams:
    probe: ProbeParams = field(default_factory=ProbeParams)
    model: DissectModelParams = field(default_factory=DissectModelParams)
    dissection: DissectionParams = field(default_factory=DissectionParams)
    noise: NoiseParams = field(default_factory=NoiseParams)
    attack: CraftedAttackParams = field(default_factory=CraftedAttackParams)
    n_boot: int = 1000
    report: NeuronReportParams = field(default_factory=NeuronReportParams)
    cpu_threads: int | None = 1


def neuron_params(raw: dict, where: str = "neuron_robustness") -> NeuronRobustnessParams:
    """Parse and check the study's parameters (ConfigError naming the key)."""
    p = parse(NeuronRobustnessParams, raw, where)
    pr = p.probe
    if pr.source == "scenes" and (pr.n_images < 8 or not 2 <= pr.num_classes <= 10):
        raise ConfigError(f"{where}.probe: n_images >= 8 and num_classes in 2..10, got {pr.n_images}, {pr.num_classes}.")
    if not p.model.layers:
        raise ConfigError(f"{where}.model.layers: name at least one layer.")
    d = p.dissection
    if not 0.5 < d.quantile < 1 or not 0 <= d.iou_threshold < 1 or d.batch_size < 1 or d.top_k < 1:
        raise ConfigError(f"{where}.dissection: quantile in (0.5, 1), iou_threshold in [0, 1), batch_size and top_k "
                          f">= 1; got {d}.")
    n = p.noise
    if n.kind not in NOISE_KINDS:
        raise ConfigError(f"{where}.noise.kind: expected one of {list(NOISE_KINDS)}, got {n.kind!r}.")
    if not n.stds or any(s <= 0 for s in n.stds) or n.seeds < 1:
        raise ConfigError(f"{where}.noise: stds must be > 0 (at least one) and seeds >= 1; got {n}.")
    a = p.attack
    if a.layer is not None and a.layer not in p.model.layers:
        raise ConfigError(f"{where}.attack.layer: {a.layer!r} is not one of {where}.model.layers {p.model.layers}.")
    if a.n_units < 0 or a.eps <= 0 or a.steps < 1 or a.batch_size < 1:
        raise ConfigError(f"{where}.attack: n_units >= 0, eps > 0, steps >= 1, batch_size >= 1; got {a}.")
    r = p.report
    if r.noise_std not in n.stds:
        raise ConfigError(f"{where}.report.noise_std: {r.noise_std} is not one of {where}.noise.stds {n.stds}.")
    if p.n_boot < 1 or (p.cpu_threads or 1) < 1 or r.panel_units < 0 or r.panel_images < 1:
        raise ConfigError(f"{where}: n_boot, cpu_threads, report.panel_images >= 1 and report.panel_units >= 0.")
    return p


def attack_layer(p: NeuronRobustnessParams) -> str:
    return p.attack.layer or p.model.layers[-1]


def deepest_layer(p: NeuronRobustnessParams) -> str:
    return p.model.layers[-1]


# --------------------------------------------------------------------------- probe set


def make_probe_set(p: ProbeParams, seed: int) -> dict:
    """Write the scenes probe set (``source: scenes``) or check the Broden folder; the manifest
    (root, counts) the later stages read the probe set back from."""
    root = Path(p.root)
    if p.source == "scenes":
        scenes = generate_scenes(p.n_images, image_size=p.image_size, num_classes=p.num_classes,
                                 seed=seed + 7_000_003, cooccur_prob=p.cooccur_prob)
        if (root / "images" / "probe").is_dir():
            shutil.rmtree(root / "images" / "probe")  # a smaller set must not keep stale files
        write_broden(root, **scenes_to_broden(scenes))
    probe = load_probe(p, {"root": str(root)})
    share = probe_label_counts(probe)[probe.label_concepts()] / len(probe)
    sizes = {"n_images": len(probe), "n_labels": len(probe.label_concepts()), "categories": probe.categories,
             "seg_size": list(probe.seg_size), "concept_share": [float(share.min()), float(np.median(share)),
                                                                 float(share.max())]}
    return {"source": p.source, "root": str(root), **sizes}


def load_probe(p: ProbeParams, manifest: dict):
    if p.source == "scenes":
        return read_broden(manifest["root"], cache=p.cache)
    return read_broden(manifest["root"], categories=p.categories, max_images=p.max_images, split=p.split,
                       image_size=p.image_size, cache=p.cache)


# --------------------------------------------------------------------------- dissection


def _dtype(p: NeuronRobustnessParams):
    return torch.float64 if p.dissection.float64 else torch.float32


def run_dissection(model, probe, p: NeuronRobustnessParams, layers=None, device="cpu", transform=None) -> dict:
    d = p.dissection
    return dissect(model, layers or p.model.layers, probe, quantile=d.quantile, batch_size=d.batch_size,
                   dtype=_dtype(p), device=device, transform=transform)


def unit_tables(result: dict, probe, p: NeuronRobustnessParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    units = pd.concat([units_table(result[n], probe, p.dissection.iou_threshold) for n in result], ignore_index=True)
    top = pd.concat([top_concepts(result[n], probe, p.dissection.top_k) for n in result], ignore_index=True)
    return units, top


def iou_margins(units: pd.DataFrame, top: pd.DataFrame) -> pd.Series:
    """Per unit: its label's IoU minus the best other concept's (how far noise must move it)."""
    second = top[top["rank"] == 2].set_index(["layer", "unit"])["iou"]
    first = top[top["rank"] == 1].set_index(["layer", "unit"])["iou"]
    margin = (first - second).reindex(pd.MultiIndex.from_frame(units[["layer", "unit"]]))
    return pd.Series(margin.to_numpy(), index=units.index)


def dissection_rows(units: pd.DataFrame, *, model: str, dataset: str, study: str, seed: int, n_boot: int) -> list[dict]:
    """Per layer: ``interpretable`` (share of units), ``iou`` (mean best IoU, bootstrap over units)
    and, with a ``margin`` column, ``iou_margin`` (mean over interpretable units of the label's IoU
    minus the runner-up concept's)."""
    rows = []
    for step, (layer, g) in enumerate(units.groupby("layer", sort=False)):
        metrics = [("interpretable", g["interpretable"].astype(float)), ("iou", g["iou"])]
        if "margin" in g:
            metrics.append(("iou_margin", g.loc[g["interpretable"], "margin"]))
        for metric, values in metrics:
            rows.append(summarize(values.to_numpy(), seed=seed, n_boot=n_boot, study=study, dataset=dataset,
                                  model=f"{model}.{layer}", method="none", metric=metric, x_name="layer",
                                  x=float(step), x_label=layer))
    return rows


# --------------------------------------------------------------------------- noise


def noise_sweep(model, probe, clean: pd.DataFrame, p: NeuronRobustnessParams, *, seed: int, device="cpu") -> pd.DataFrame:
    """Every (std, noise seed): the probe set corrupted and dissected again; one row per unit with
    its new label and whether it changed (for the units interpretable on the clean probe set)."""
    n = p.noise
    frames = []
    for std in n.stds:
        for s in range(n.seeds):
            noise_seed = seed * 1000 + s

            def transform(x, index, std=std, noise_seed=noise_seed):
                return corrupt_images(x, index, kind=n.kind, std=std, seed=noise_seed, quantized=n.quantize)

            units, _ = unit_tables(run_dissection(model, probe, p, device=device, transform=transform), probe, p)
            units = units.merge(clean[["layer", "unit", "label_id", "interpretable"]], on=["layer", "unit"],
                                suffixes=("", "_clean"))
            units["std"], units["noise_seed"] = float(std), noise_seed
            units["changed"] = units["label_id"] != units["label_id_clean"]
            frames.append(units)
            log.info("noise %s std %.3f seed %d: %s", n.kind, std, noise_seed, ", ".join(
                f"{lay} {g.loc[g.interpretable_clean, 'changed'].mean():.2f}" for lay, g in units.groupby("layer", sort=False)))
    return pd.concat(frames, ignore_index=True)


def noise_rows(noisy: pd.DataFrame, p: NeuronRobustnessParams, *, model: str, dataset: str, study: str, seed: int) -> list[dict]:
    """``label_changed`` (per unit over seeds; bootstrap over interpretable units),
    ``label_changed_seeds`` (per seed; t interval over seeds) and ``interpretable`` under noise."""
    rows = []
    method = f"{p.noise.kind}_noise"
    for layer, g in noisy.groupby("layer", sort=False):
        for std, h in g.groupby("std"):
            keys = dict(study=study, dataset=dataset, model=f"{model}.{layer}", method=method, x_name="noise_std",
                        x=float(std), x_label=layer)
            base = h[h["interpretable_clean"]]
            per_unit = base.groupby("unit")["changed"].mean().to_numpy(dtype=float)
            rows.append(summarize(per_unit, seed=seed, n_boot=p.n_boot, metric="label_changed", **keys))
            per_seed = base.groupby("noise_seed")["changed"].mean().to_numpy(dtype=float)
            rows.append(summarize_seeds(per_seed, seed=seed, metric="label_changed_seeds", **keys))
            share = h.groupby("unit")["interpretable"].mean().to_numpy(dtype=float)
            rows.append(summarize(share, seed=seed, n_boot=p.n_boot, metric="interpretable", **keys))
    return rows


# --------------------------------------------------------------------------- crafted attack


def concept_masks(batch: dict, label: int) -> torch.Tensor:
    """[B, sh, sw] float: where label ``label`` is, in any segmentation layer; the whole image
    where it is an image-level label."""
    pix = (batch["pixels"] == label).any(dim=1)
    scalar = (batch["scalars"] == label).any(dim=1)
    return (pix | scalar[:, None, None]).to(torch.float32)


def _images_with(probe, labels: list[int]) -> np.ndarray:
    """Indices of the probe images holding any of ``labels`` (pixel- or image-level)."""
    return np.array([i for i, held in enumerate(probe.image_labels()) if np.isin(labels, held).any()], dtype=np.int64)


def choose_targets(clean: pd.DataFrame, top: pd.DataFrame, probe, p: NeuronRobustnessParams, seed: int) -> pd.DataFrame:
    """The attacked units (interpretable units of the attack layer, a seeded sample) and their
    target concepts: ``random`` -- a seeded concept of the label's category other than the label
    that occurs in the probe set; ``runner_up`` -- the unit's second-best concept of that category."""
    layer = attack_layer(p)
    cands = clean[(clean["layer"] == layer) & clean["interpretable"]]
    rng = np.random.default_rng(seed + 11)
    chosen = cands.iloc[np.sort(rng.permutation(len(cands))[: p.attack.n_units])] if len(cands) else cands
    present = set(np.flatnonzero(probe_label_counts(probe) > 0).tolist())
    rows = []
    for r in chosen.itertuples(index=False):
        cat = probe.categories.index(r.category)
        pool = [j for j in probe.label_concepts() if probe.label_category[j] == cat and j != r.label_id and j in present]
        if not pool:
            continue
        if p.attack.target == "runner_up":
            ranked = top[(top["layer"] == layer) & (top["unit"] == r.unit) & (top["category"] == r.category)]
            names = [n for n in ranked["label"] if n != r.label and probe.labels.index(n) in pool]
            target = probe.labels.index(names[0]) if names else int(rng.choice(pool))
        else:
            target = int(rng.choice(pool))
        rows.append({"layer": layer, "unit": int(r.unit), "source_id": int(r.label_id), "source": r.label,
                     "target_id": target, "target": probe.labels[target], "category": r.category,
                     "iou_clean": float(r.iou)})
    return pd.DataFrame(rows, columns=["layer", "unit", "source_id", "source", "target_id", "target", "category",
                                       "iou_clean"])


def probe_label_counts(probe) -> np.ndarray:
    """Per label number, how many probe images hold it."""
    counts = np.zeros(probe.n_labels, dtype=np.int64)
    for held in probe.image_labels():
        counts[held] += 1
    return counts


def crafted_attack(model, probe, clean: pd.DataFrame, top: pd.DataFrame, p: NeuronRobustnessParams, *, seed: int,
                   device="cpu") -> tuple[pd.DataFrame, dict]:
    """Attack every chosen unit; one row per unit (new label, target reached, label changed, share of
    probe images touched, its IoU with the target before and after) and the before/after panel."""
    a = p.attack
    targets = choose_targets(clean, top, probe, p, seed)
    model = model.eval().to(device)
    rows, panel = [], []
    for t in targets.itertuples(index=False):
        idx = _images_with(probe, [t.source_id, t.target_id])
        adv = {}
        for start in range(0, len(idx), a.batch_size):
            batch = probe.batch(idx[start : start + a.batch_size])
            x_adv = unit_concept_attack(model, t.layer, t.unit, batch["x"].to(device),
                                        concept_masks(batch, t.source_id).to(device),
                                        concept_masks(batch, t.target_id).to(device), eps=a.eps, steps=a.steps,
                                        step_size=a.step_size, batch_size=a.batch_size).cpu()
            if a.quantize:
                x_adv = quantize(x_adv)
            adv.update({int(i): x_adv[k] for k, i in enumerate(batch["index"].tolist())})

        def transform(x, index, adv=adv):
            out = x.clone()
            for k, i in enumerate(index.tolist()):
                if i in adv:
                    out[k] = adv[i].to(x.device, x.dtype)
            return out

        result = run_dissection(model, probe, p, layers=[t.layer], device=device, transform=transform)
        after = units_table(result[t.layer], probe, p.dissection.iou_threshold).iloc[t.unit]
        iou_target_after = float(result[t.layer].iou[t.unit, t.target_id])
        clean_iou_target = float(top_iou(top, t.layer, t.unit, t.target))
        rows.append({**t._asdict(), "label_after": after["label"], "label_id_after": int(after["label_id"]),
                     "iou_after": float(after["iou"]), "target_iou_clean": clean_iou_target,
                     "target_iou_after": iou_target_after, "target_reached": int(after["label_id"]) == t.target_id,
                     "label_changed": int(after["label_id"]) != t.source_id, "touched": len(idx) / len(probe),
                     "n_touched": len(idx)})
        log.info("crafted attack %s unit %d: %s -> %s (target %s), %d images touched (%.1f%%)", t.layer, t.unit,
                 t.source, after["label"], t.target, len(idx), 100 * len(idx) / len(probe))
        if len(panel) < p.report.panel_units:
            panel.append(_panel_item(model, probe, t, result[t.layer].thresholds[t.unit], clean, transform, p, device))
    table = pd.DataFrame(rows, columns=[*targets.columns, "label_after", "label_id_after", "iou_after",
                                        "target_iou_clean", "target_iou_after", "target_reached", "label_changed",
                                        "touched", "n_touched"])
    return table, {"units": panel}


def top_iou(top: pd.DataFrame, layer: str, unit: int, label: str) -> float:
    hit = top[(top["layer"] == layer) & (top["unit"] == unit) & (top["label"] == label)]
    return float(hit["iou"].iloc[0]) if len(hit) else math.nan


def _top_images(model, probe, layer, unit, threshold, p, device, transform=None):
    """The probe images where the unit fires most (max activation), with the thresholded upsampled map."""
    scores, idx = [], []
    for batch in probe.batches(p.dissection.batch_size):
        x = batch["x"] if transform is None else transform(batch["x"], batch["index"])
        a = layer_activations(model, [layer], x.to(device))[layer][:, unit]
        scores.append(a.flatten(1).amax(dim=1).cpu())
        idx.append(batch["index"])
    order = torch.cat(scores).argsort(descending=True)[: p.report.panel_images]
    chosen = torch.cat(idx)[order]
    batch = probe.batch(chosen.tolist())
    x = batch["x"] if transform is None else transform(batch["x"], batch["index"])
    a = layer_activations(model, [layer], x.to(device))[layer][:, unit : unit + 1].double()
    up = torch.nn.functional.interpolate(a, size=probe.seg_size, mode="bilinear", align_corners=False)[:, 0]
    return x.cpu(), (up > float(threshold)).cpu()


def _panel_item(model, probe, t, threshold_after, clean, transform, p, device) -> dict:
    before_thr = float(clean[(clean["layer"] == t.layer) & (clean["unit"] == t.unit)]["threshold"].iloc[0])
    x0, m0 = _top_images(model, probe, t.layer, t.unit, before_thr, p, device)
    x1, m1 = _top_images(model, probe, t.layer, t.unit, threshold_after, p, device, transform)
    return {"layer": t.layer, "unit": int(t.unit), "source": t.source, "target": t.target,
            "x_before": x0, "mask_before": m0.to(torch.uint8), "x_after": x1, "mask_after": m1.to(torch.uint8)}


def attack_rows(table: pd.DataFrame, n_images: int, *, model: str, dataset: str, study: str, seed: int,
                n_boot: int) -> list[dict]:
    """``target_reached`` and ``label_changed`` (shares of attacked units, Wilson intervals) and
    ``touched`` (share of probe images attacked per unit: mean, bootstrap over units) per layer."""
    rows = []
    for layer, g in table.groupby("layer", sort=False):
        keys = dict(study=study, dataset=dataset, model=f"{model}.{layer}", method="crafted_attack", x_name="none",
                    x_label=layer, seed=seed)
        for metric in ("target_reached", "label_changed"):
            k, n = int(g[metric].sum()), len(g)
            lo, hi = wilson_interval(k, n)
            rows.append({**keys, "metric": metric, "value": k / n if n else math.nan, "ci_low": lo, "ci_high": hi,
                         "n": n})
        rows.append(summarize(g["touched"].to_numpy(dtype=float), seed=seed, n_boot=n_boot, metric="touched",
                              **{k: v for k, v in keys.items() if k != "seed"}))
    return rows
