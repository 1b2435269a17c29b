"""Nodes of the study ``neuron_robustness`` (Srivastava, Oikarinen, Weng 2023 on Network Dissection):
thin wrappers that parse the parameters they receive and call :mod:`interpbench.protocols.neuron_robustness`
and :mod:`interpbench.reporting.neuron_robustness_report`."""

from __future__ import annotations

import logging

import pandas as pd
from matplotlib.figure import Figure
from torch import nn

from interpbench.errors import ConfigError
from interpbench.metrics.dissection import check_layers
from interpbench.metrics.results import results_table
from interpbench.models import build_model
from interpbench.pipelines.common import findings_to_metrics
from interpbench.pipelines.helpers import build_for_data, classifier_params
from interpbench.protocols import neuron_robustness as nr
from interpbench.reporting import neuron_robustness_report as report
from interpbench.runtime import cpu_threads, resolve_device, seed_everything

log = logging.getLogger(__name__)


def make_probe_set(params: dict, seed: int) -> dict:
    """Write the Broden-layout probe set from the colour scenes (or check the configured Broden
    folder); returns the manifest the later stages read it back from."""
    p = nr.neuron_params(params)
    manifest = nr.make_probe_set(p.probe, seed)
    log.info("neuron_robustness: probe set %s (%s): %d images, %d concepts in %s", manifest["root"], manifest["source"],
             manifest["n_images"], manifest["n_labels"], manifest["categories"])
    return manifest


def _model(p, state: dict, zoo_slot: dict, probe) -> tuple[nn.Module, str]:
    """The dissected model and its label: ``model.pretrained`` (local weights) or the zoo's trained state."""
    x = probe.batch([0])["x"]
    if p.model.pretrained is not None:
        m = p.model.pretrained
        try:
            model = build_model(m.architecture, num_classes=m.num_classes, in_channels=int(x.shape[1]),
                                image_size=int(x.shape[-1]), weights_path=m.weights_path, **m.options)
        except ConfigError as exc:
            raise ConfigError(f"neuron_robustness.model.pretrained: {exc}") from None
        label = p.model.label or m.architecture
    else:
        zp = classifier_params(zoo_slot, "zoo.resnet_small")
        model = build_for_data(zp, x, state)
        label = p.model.label or zp.model.architecture
    check_layers(model, p.model.layers, "neuron_robustness.model.layers")
    return model.eval(), label


def _setup(params, manifest, state, zoo_slot):
    p = nr.neuron_params(params)
    probe = nr.load_probe(p.probe, manifest)
    model, label = _model(p, state, zoo_slot, probe)
    return p, probe, model, label


def _dataset(p) -> str:
    return "scenes" if p.probe.source == "scenes" else "broden"


def dissect_probe_set(state: dict, manifest: dict, params: dict, zoo_slot: dict, seed: int, device: str,
                      *, study: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Dissect the configured layers on the clean probe set: per-unit table, top-concepts IoU table,
    results rows (share of interpretable units and mean IoU per layer)."""
    p, probe, model, label = _setup(params, manifest, state, zoo_slot)
    with cpu_threads(p.cpu_threads):
        units, top = nr.unit_tables(nr.run_dissection(model, probe, p, device=resolve_device(device)), probe, p)
    units.insert(0, "model", label)
    units["margin"] = nr.iou_margins(units, top)
    for layer, g in units.groupby("layer", sort=False):
        log.info("dissection %s %s: %d/%d units interpretable", label, layer, int(g.interpretable.sum()), len(g))
    rows = nr.dissection_rows(units, model=label, dataset=_dataset(p), study=study, seed=seed, n_boot=p.n_boot)
    return units, top, results_table(rows)


def corrupt_with_noise(state: dict, manifest: dict, clean_units: pd.DataFrame, params: dict, zoo_slot: dict, seed: int,
                       device: str, *, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Noise sweep: re-dissect the noisy probe set for every std and noise seed; per-unit table and results rows."""
    p, probe, model, label = _setup(params, manifest, state, zoo_slot)
    with cpu_threads(p.cpu_threads):
        noisy = nr.noise_sweep(model, probe, clean_units, p, seed=seed, device=resolve_device(device))
    rows = nr.noise_rows(noisy, p, model=label, dataset=_dataset(p), study=study, seed=seed)
    return noisy, results_table(rows)


def attack_units(state: dict, manifest: dict, clean_units: pd.DataFrame, clean_concepts: pd.DataFrame, params: dict,
                 zoo_slot: dict, seed: int, device: str, *, study: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The crafted attack on each targeted unit: per-unit table, results rows, before/after panel."""
    p, probe, model, label = _setup(params, manifest, state, zoo_slot)
    with cpu_threads(p.cpu_threads):
        seed_everything(seed)
        table, panel = nr.crafted_attack(model, probe, clean_units, clean_concepts, p, seed=seed,
                                         device=resolve_device(device))
    rows = nr.attack_rows(table, len(probe), model=label, dataset=_dataset(p), study=study, seed=seed, n_boot=p.n_boot)
    return table, results_table(rows), panel


def plot_label_changes(results: pd.DataFrame) -> Figure:
    """Share of interpretable units whose label changes vs noise std, one line per layer."""
    return report.label_change_curves(results)


def plot_attack_panel(panel: dict) -> Figure:
    """Top-activating probe images of attacked units with their masks, before and after the attack."""
    return report.attack_panel(panel)


def write_neuron_report(results: pd.DataFrame, attacked: pd.DataFrame, manifest: dict, params: dict) -> tuple[str, dict]:
    """The study's Markdown report and its findings' counts (for MLflow)."""
    p = nr.neuron_params(params)
    findings = report.neuron_findings(results, attacked, p)
    return report.neuron_report(results, attacked, manifest, p, findings), findings_to_metrics(findings)
