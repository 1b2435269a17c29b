"""Study ``sanity_checks``: Adebayo et al. 2018, model and data randomization tests.

Two model slots named for their role, ``sanity_checks.primary`` (by default the zoo's ``mnist_cnn``,
the paper's MNIST CNN) and ``sanity_checks.secondary`` (by default the zoo's ``mlp``); either can
hold a pretrained model on an image folder instead (``StudySlotParams``, e.g. Inception v3 and
ResNet-50 in ``conf/imagenet``). The results table names each by its label (zoo model or
architecture). The maps both randomization modes share are computed once per slot
(``original_maps``): step 0, the trained model, and step 1, its output block re-initialised (the
same model in both modes); cascading and independent randomization are separate nodes so they can
run in parallel. Data randomization trains two models per slot on the same subset with the same recipe:
one on permuted labels (``random_labels_state``) and the true-label control
(``true_labels_state``); their maps are compared with each other.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import bind
from interpbench.pipelines.sanity_checks.nodes import (
    LABELS,
    compute_original_maps,
    compute_random_label_maps,
    compute_randomization_maps,
    plot_randomization_grid,
    plot_similarity_curves,
    score_random_labels,
    score_randomization,
    select_images,
    train_on_labels,
    write_sanity_report,
)

STUDY = "sanity_checks"
#: slot -> (the zoo model it explains unless a pretrained model is configured, that model's data set)
SLOTS = {"primary": ("mnist_cnn", "mnist"), "secondary": ("mlp", "mnist")}
MODES = ("cascading", "independent")
GLOBAL = ["seed", "device"]


def _slot(slot: str, model: str, dataset: str) -> Pipeline:
    common = ["params:zoo_slot", "params:protocol"]
    nodes = [
        Node(select_images, ["test", "params:slot", "params:protocol"], "images", name="select_images", tags=["explanation"]),
        # The maps both randomization modes share, once: step 0 (trained) and step 1 (output block re-initialised).
        Node(compute_original_maps,
             ["images", "state", "params:zoo_slot", "params:slot", "params:protocol", "params:seed", "params:device"],
             "original_maps", name="compute_original_maps", tags=["explanation"]),
    ]
    # Data randomization: the random-label model and its true-label control (same subset and recipe).
    for labels in LABELS:
        nodes.append(Node(bind(train_on_labels, labels=labels), ["train", *common, "params:seed", "params:device"],
                          [f"{labels}_labels_state", f"{labels}_labels_history", f"{labels}_labels_fit"],
                          name=f"train_{labels}_labels", tags=["training"]))
    nodes += [
        Node(compute_random_label_maps,
             ["images", "true_labels_state", "random_labels_state", *common, "params:seed", "params:device"],
             "random_labels_maps", name="compute_random_label_maps", tags=["explanation"]),
        Node(bind(score_random_labels, study=STUDY, model_name=model, dataset=dataset),
             ["random_labels_maps", "random_labels_fit", "true_labels_fit", "params:protocol", "params:slot",
              "params:seed", "params:device"],
             "random_labels_results", name="score_random_labels", tags=["evaluation"]),
        Node(bind(plot_randomization_grid, title=f"{slot}: true-label control vs random-label model"),
             ["images", "random_labels_maps", "params:protocol"], "random_labels_grid_figure",
             name="plot_random_labels_grid", tags=["reporting"]),
    ]
    for mode in MODES:
        nodes += [
            Node(bind(compute_randomization_maps, mode=mode),
                 ["images", "original_maps", "state", "params:zoo_slot", "params:slot", "params:protocol",
                  "params:seed", "params:device"],
                 f"{mode}_maps", name=f"compute_{mode}_maps", tags=["explanation"]),
            Node(bind(score_randomization, study=STUDY, model_name=model, dataset=dataset, mode=mode),
                 [f"{mode}_maps", "params:protocol", "params:slot", "params:seed", "params:device"], f"{mode}_results",
                 name=f"score_{mode}", tags=["evaluation"]),
            Node(bind(plot_similarity_curves, title=f"{slot}: {mode} randomization"),
                 [f"{mode}_results", "params:protocol"], f"{mode}_similarity_figure",
                 name=f"plot_{mode}_similarity", tags=["reporting"]),
        ]
    nodes.append(Node(bind(plot_randomization_grid, title=f"{slot}: cascading randomization (output -> input)"),
                      ["images", "cascading_maps", "params:protocol"], "cascading_grid_figure",
                      name="plot_cascading_grid", tags=["reporting"]))
    outputs = [f"{k}_results" for k in (*MODES, "random_labels")]
    return Pipeline(
        nodes,
        namespace=slot,
        inputs={"train": f"{dataset}_train", "test": f"{dataset}_test", "state": f"zoo.{model}.state"},
        outputs={o: f"{slot}_{o}" for o in outputs},
        parameters={**{p: p for p in GLOBAL}, "protocol": "protocol", "slot": slot, "zoo_slot": f"zoo.{model}"},
    )


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    slots = sum((_slot(s, m, d) for s, (m, d) in SLOTS.items()), Pipeline([]))
    tables = [f"{s}_{k}_results" for s in SLOTS for k in (*MODES, "random_labels")]
    return Pipeline(
        [
            slots,
            Node(collect_results, tables, "results", name="collect_results", tags=["evaluation"]),
            Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
            Node(bind(write_sanity_report, slots=SLOTS),
                 ["results", "params:protocol", "params:report", *[f"params:{s}" for s in SLOTS],
                  *[f"{s}.cascading_maps" for s in SLOTS]],
                 ["report", "findings_metrics"], name="write_report", tags=["reporting"]),
        ],
        namespace=STUDY,
        inputs={f"{d}_{s}" for _, d in SLOTS.values() for s in ("train", "test")} | {f"zoo.{m}.state" for m, _ in SLOTS.values()},
        parameters={*GLOBAL, *(f"zoo.{m}" for m, _ in SLOTS.values())},
        tags=[STUDY],
    )

