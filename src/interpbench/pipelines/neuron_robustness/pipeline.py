"""Study ``neuron_robustness``: Srivastava, Oikarinen, Weng 2023, *Corrupting Neuron Explanations of
Deep Visual Features*, on Network Dissection (Bau et al. 2017).

Structure (``conf/base/parameters_neuron_robustness.yml`` configures each part):

- ``make_probe_set`` (data_engineering): the Broden-layout probe set written from the colour scenes
  (or a real Broden folder checked, ``conf/broden``); ``neuron_robustness.probe_manifest`` says where;
- ``dissect_probe_set`` (evaluation): the configured layers of the zoo's ``resnet_small`` (or a
  pretrained model from a local weights file) dissected: ``clean_units``, ``clean_concepts``;
- ``corrupt_with_noise`` (evaluation): the noise sweep, re-dissected per std and noise seed;
- ``attack_units`` (evaluation): the crafted PGD attack per targeted unit, re-dissected;
- reporting: label-change curves, the before/after panel, MLflow metrics, the report with findings.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import parameter_names, sub_params_node
from interpbench.pipelines.neuron_robustness.nodes import (
    attack_units,
    corrupt_with_noise,
    dissect_probe_set,
    make_probe_set,
    plot_attack_panel,
    plot_label_changes,
    write_neuron_report,
)

STUDY = "neuron_robustness"
ZOO_MODEL = "resnet_small"  # the zoo model dissected unless model.pretrained is set
KEYS = ("probe", "model", "dissection", "noise", "attack", "n_boot", "report", "cpu_threads")
RUN = ["params:seed", "params:device"]
STATE, ZOO = f"zoo.{ZOO_MODEL}.state", f"params:zoo.{ZOO_MODEL}"


def _node(func, data: list[str], keys: tuple[str, ...], outputs, name: str, stage: str, extra=(), run=RUN,
          **constants) -> Node:
    return sub_params_node(STUDY, func, data, keys, outputs, name=name, stage=stage, rest=[*extra, *run], **constants)


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The study's own nodes; it reads the zoo's trained ``resnet_small``."""
    base = ("probe", "model", "dissection", "cpu_threads")
    nodes = [
        _node(make_probe_set, [], ("probe",), "probe_manifest", "make_probe_set", "data_engineering",
              run=["params:seed"]),
        _node(dissect_probe_set, [STATE, "probe_manifest"], (*base, "n_boot"),
              ["clean_units", "clean_concepts", "dissection_results"], "dissect_probe_set", "evaluation",
              extra=[ZOO], study=STUDY),
        _node(corrupt_with_noise, [STATE, "probe_manifest", "clean_units"], (*base, "noise", "n_boot"),
              ["noise_units", "noise_results"], "corrupt_with_noise", "evaluation", extra=[ZOO], study=STUDY),
        _node(attack_units, [STATE, "probe_manifest", "clean_units", "clean_concepts"],
              (*base, "attack", "n_boot", "report"), ["attack_units", "attack_results", "attack_panel"],
              "attack_units", "evaluation", extra=[ZOO], study=STUDY),
        Node(collect_results, ["dissection_results", "noise_results", "attack_results"], "results",
             name="collect_results", tags=["evaluation"]),
        Node(plot_label_changes, "results", "label_changes_figure", name="plot_label_changes", tags=["reporting"]),
        Node(plot_attack_panel, "attack_panel", "attack_panel_figure", name="plot_attack_panel", tags=["reporting"]),
        Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
        _node(write_neuron_report, ["results", "attack_units", "probe_manifest"], KEYS[:-1],
              ["report", "findings_metrics"], "write_report", "reporting", run=[]),
    ]
    return Pipeline(nodes, namespace=STUDY, inputs={STATE}, parameters=parameter_names(nodes), tags=[STUDY])
