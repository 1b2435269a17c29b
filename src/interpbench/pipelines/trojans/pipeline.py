"""Study ``trojans``: Casper et al. 2023, trojans implanted by data poisoning and attribution maps
scored against the trigger's footprint.

Structure (``conf/base/parameters_trojans.yml`` configures each part):

- ``make_data`` (data_engineering): the study's colour scenes, the poisoned training set, the clean
  and triggered test sets with footprints (``trojans.{clean_train,poisoned_train,clean_test,
  triggered_test}_data``, versioned);
- ``train_trojaned`` / ``train_clean`` (training): the trojaned model and its clean twin, same recipe;
- ``score_attacks`` (evaluation): clean accuracy of both, ASR of every trojan (95% intervals);
- ``compute_trigger_maps`` (explanation): every method's map of the triggered images of the patch
  and natural trojans, explaining the target class;
- ``score_trigger_maps`` (evaluation): per-image scores, means and the paired tests vs the baselines;
- reporting: box plots, the map grid, the report with its findings, MLflow metrics.

The same nodes serve an already-trojaned model (``model.pretrained`` with ``data.images``, the
``imagenet_trojans`` environment): ``make_data`` reads the image folder and leaves the training
sets empty, ``train_trojaned`` loads the weights file, ``train_clean`` returns an empty state (no
twin) that ``score_attacks`` and the report understand.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import parameter_names, sub_params_node
from interpbench.pipelines.trojans.nodes import (
    compute_trigger_maps,
    make_trojan_data,
    plot_score_boxes,
    plot_trigger_maps,
    score_attacks,
    score_trigger_maps,
    train_trojan_model,
    write_trojans_report,
)
from interpbench.pipelines.trojans.synthesis_nodes import (
    judge_synthesis,
    plot_synthesis,
    plot_synthesis_losses,
    synthesize_triggers,
    train_synthesis_generator,
)

STUDY = "trojans"
#: The study's parameter sub-keys; each node receives only those it uses (see ``helpers.sub_params_node``).
KEYS = ("data", "trojans", "model", "explanation", "n_boot", "report", "synthesis", "cpu_threads")
RUN = ["params:seed", "params:device"]


def _node(func, data: list[str], keys: tuple[str, ...], outputs, name: str, stage: str, run=RUN, **constants) -> Node:
    return sub_params_node(STUDY, func, data, keys, outputs, name=name, stage=stage, rest=run, **constants)


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The study's own nodes (it generates its own scenes: no shared inputs)."""
    model_keys = ("data", "trojans", "model", "cpu_threads")
    nodes = [
        _node(make_trojan_data, [], ("data", "trojans"),
              ["clean_train_data", "poisoned_train_data", "clean_test_data", "triggered_test_data"],
              "make_data", "data_engineering", run=["params:seed"]),
        _node(train_trojan_model, ["poisoned_train_data"], model_keys, ["trojaned.state", "trojaned.history"],
              "train_trojaned", "training", key="trojaned"),
        _node(train_trojan_model, ["clean_train_data"], model_keys, ["clean.state", "clean.history"],
              "train_clean", "training", key="clean"),
        _node(score_attacks, ["trojaned.state", "clean.state", "clean_test_data", "triggered_test_data"],
              (*model_keys, "n_boot"), "attack_results", "score_attacks", "evaluation", study=STUDY),
        _node(compute_trigger_maps, ["trojaned.state", "triggered_test_data"], (*model_keys, "explanation"),
              "trojaned.trigger_maps", "compute_trigger_maps", "explanation"),
        _node(score_trigger_maps, ["trojaned.trigger_maps"], ("data", "model", "n_boot", "report"),
              ["map_results", "image_scores_results"], "score_trigger_maps", "evaluation", run=["params:seed"],
              study=STUDY),
        _node(train_synthesis_generator, ["clean_train_data", "clean_test_data"], ("synthesis",), "generator.state",
              "train_generator", "training"),
        _node(synthesize_triggers, ["trojaned.state", "generator.state", "clean_train_data", "clean_test_data"],
              ("data", "trojans", "model", "synthesis"), ["trojaned.synthesis", "synthesis_losses_results"],
              "synthesize_triggers", "explanation", run=[*RUN, "params:parallel"]),
        _node(judge_synthesis, ["trojaned.synthesis", "clean.state"], ("data", "model", "n_boot", "synthesis"),
              ["synthesis_results", "synthesis_choices_results"], "judge_synthesis", "evaluation", study=STUDY),
        _node(plot_synthesis, ["trojaned.synthesis"], ("report",), "synthesis_figure", "plot_synthesis", "reporting",
              run=[]),
        Node(plot_synthesis_losses, "synthesis_losses_results", "synthesis_losses_figure", name="plot_synthesis_losses",
             tags=["reporting"]),
        Node(collect_results, ["attack_results", "map_results", "synthesis_results"], "results", name="collect_results",
             tags=["evaluation"]),
        _node(plot_score_boxes, ["image_scores_results"], ("report",), "scores_figure", "plot_scores", "reporting",
              run=[]),
        _node(plot_trigger_maps, ["trojaned.trigger_maps"], ("report",), "trigger_maps_figure", "plot_trigger_maps",
              "reporting", run=[]),
        Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
        _node(write_trojans_report, ["results", "trojaned.trigger_maps", "trojaned.synthesis",
                                     "synthesis_choices_results"], KEYS[:-1], ["report", "findings_metrics"],
              "write_report", "reporting", run=["params:seed"]),
    ]
    return Pipeline(nodes, namespace=STUDY, parameters=parameter_names(nodes), tags=[STUDY])
