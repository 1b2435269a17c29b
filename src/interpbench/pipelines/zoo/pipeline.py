"""Study ``zoo``: the embedded default models, trained, explained and scored.

One namespaced slot per model (``zoo.<model>``) so that slots run independently; the slot list
is the pipeline's structure, each slot's architecture and training are parameters
(``conf/base/parameters_zoo.yml``).
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import (
    collect_results,
    results_to_metrics,
    train_classifier,
)
from interpbench.pipelines.helpers import bind
from interpbench.pipelines.zoo.nodes import (
    explain_examples,
    plot_accuracies,
    plot_attribution_gallery,
    score_classifier,
    write_zoo_report,
)

STUDY = "zoo"
SLOTS = {"mlp": "mnist", "mnist_cnn": "mnist", "resnet_small": "scenes"}  # model slot -> data set
GLOBAL_PARAMS = {"seed", "device"}


def _slot(model: str, dataset: str) -> Pipeline:
    nodes = [
        Node(train_classifier, ["train", "params:slot", "params:seed", "params:device"], ["state", "history"],
             name="train_classifier", tags=["training"]),
        Node(explain_examples, ["state", "test", "params:slot", "params:seed", "params:device"], "examples",
             name="explain_examples", tags=["explanation"]),
        Node(bind(score_classifier, study=STUDY, model_name=model, dataset=dataset),
             ["state", "train", "test", "params:slot", "params:seed", "params:device"], "accuracy",
             name="score_classifier", tags=["evaluation"]),
        Node(bind(plot_attribution_gallery, title=f"{model} on {dataset}: attributions of the predicted class"),
             "examples", "attributions_figure", name="plot_attribution_gallery", tags=["reporting"]),
    ]
    return Pipeline(
        nodes,
        namespace=model,
        inputs={"train": f"{dataset}_train", "test": f"{dataset}_test"},
        outputs={"accuracy": f"{model}_accuracy"},
        parameters={**{p: p for p in GLOBAL_PARAMS}, "slot": model},
    )


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The zoo's own nodes (cached: other studies read its trained models, and unions of the
    same node objects de-duplicate)."""
    slots = sum((_slot(m, d) for m, d in SLOTS.items()), Pipeline([]))
    return Pipeline(
        [
            slots,
            Node(collect_results, [f"{m}_accuracy" for m in SLOTS], "results", name="collect_results", tags=["evaluation"]),
            Node(plot_accuracies, "results", "accuracy_figure", name="plot_accuracies", tags=["reporting"]),
            Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
            Node(bind(write_zoo_report, galleries=list(SLOTS)), "results", "report", name="write_report", tags=["reporting"]),
        ],
        namespace=STUDY,
        inputs={f"{d}_{s}" for d in set(SLOTS.values()) for s in ("train", "test")},
        parameters=GLOBAL_PARAMS,
        tags=[STUDY],
    )

