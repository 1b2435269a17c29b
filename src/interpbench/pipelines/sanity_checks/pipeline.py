"""Study ``sanity_checks``: Adebayo et al. 2018, model and data randomization tests.

One namespaced slot per model (``sanity_checks.<model>``) explaining the zoo's trained model of
the same name (or a pretrained model, see ``StudySlotParams``); cascading and independent
randomization are separate nodes so they can run in parallel.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import bind
from interpbench.pipelines.sanity_checks.nodes import (
    compute_random_label_maps,
    compute_randomization_maps,
    plot_randomization_grid,
    plot_similarity_curves,
    score_random_labels,
    score_randomization,
    select_images,
    train_random_labels,
    write_sanity_report,
)

STUDY = "sanity_checks"
SLOTS = {"mnist_cnn": "mnist", "mlp": "mnist"}  # zoo model -> its data set
MODES = ("cascading", "independent")
GLOBAL = ["seed", "device"]


def _slot(model: str, dataset: str) -> Pipeline:
    common = ["params:zoo_slot", "params:protocol"]
    nodes = [
        Node(select_images, ["test", "params:slot", "params:protocol"], "images", name="select_images", tags=["explanation"]),
        Node(train_random_labels, ["train", *common, "params:seed", "params:device"],
             ["random_labels_state", "random_labels_history"], name="train_random_labels", tags=["training"]),
        Node(compute_random_label_maps,
             ["images", "state", "random_labels_state", *common, "params:seed", "params:device"],
             "random_labels_maps", name="compute_random_label_maps", tags=["explanation"]),
        Node(bind(score_random_labels, study=STUDY, model_name=model, dataset=dataset),
             ["random_labels_maps", "random_labels_history", "params:protocol", "params:seed"],
             "random_labels_results", name="score_random_labels", tags=["evaluation"]),
        Node(bind(plot_randomization_grid, title=f"{model}: true-label vs random-label model"),
             ["images", "random_labels_maps", "params:protocol"], "random_labels_grid_figure",
             name="plot_random_labels_grid", tags=["reporting"]),
    ]
    for mode in MODES:
        nodes += [
            Node(bind(compute_randomization_maps, mode=mode),
                 ["images", "state", "params:zoo_slot", "params:slot", "params:protocol", "params:seed", "params:device"],
                 f"{mode}_maps", name=f"compute_{mode}_maps", tags=["explanation"]),
            Node(bind(score_randomization, study=STUDY, model_name=model, dataset=dataset, mode=mode),
                 [f"{mode}_maps", "params:protocol", "params:slot", "params:seed"], f"{mode}_results",
                 name=f"score_{mode}", tags=["evaluation"]),
            Node(bind(plot_similarity_curves, title=f"{model}: {mode} randomization"),
                 [f"{mode}_results", "params:protocol"], f"{mode}_similarity_figure",
                 name=f"plot_{mode}_similarity", tags=["reporting"]),
        ]
    nodes.append(Node(bind(plot_randomization_grid, title=f"{model}: cascading randomization (output -> input)"),
                      ["images", "cascading_maps", "params:protocol"], "cascading_grid_figure",
                      name="plot_cascading_grid", tags=["reporting"]))
    outputs = [f"{k}_results" for k in (*MODES, "random_labels")]
    return Pipeline(
        nodes,
        namespace=model,
        inputs={"train": f"{dataset}_train", "test": f"{dataset}_test", "state": f"zoo.{model}.state"},
        outputs={o: f"{model}_{o}" for o in outputs},
        parameters={**{p: p for p in GLOBAL}, "protocol": "protocol", "slot": model, "zoo_slot": f"zoo.{model}"},
    )


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    slots = sum((_slot(m, d) for m, d in SLOTS.items()), Pipeline([]))
    tables = [f"{m}_{k}_results" for m in SLOTS for k in (*MODES, "random_labels")]
    return Pipeline(
        [
            slots,
            Node(collect_results, tables, "results", name="collect_results", tags=["evaluation"]),
            Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
            Node(bind(write_sanity_report, models=list(SLOTS)),
                 ["results", "params:protocol", "params:report", *[f"{m}.cascading_maps" for m in SLOTS]],
                 ["report", "findings_metrics"], name="write_report", tags=["reporting"]),
        ],
        namespace=STUDY,
        inputs={f"{d}_{s}" for d in set(SLOTS.values()) for s in ("train", "test")} | {f"zoo.{m}.state" for m in SLOTS},
        parameters={*GLOBAL, *(f"zoo.{m}" for m in SLOTS)},
        tags=[STUDY],
    )

