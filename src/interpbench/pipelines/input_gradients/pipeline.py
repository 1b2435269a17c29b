"""Study ``input_gradients``: Shah, Jain, Netrapalli 2021, *Do Input Gradients Highlight
Discriminative Features?* (NeurIPS 2021).

Structure (the parameters in ``conf/base/parameters_input_gradients.yml`` configure each part):

- one namespaced slot per data set (``input_gradients.<slot>``): BlockMNIST, BlockMNIST-Top and a
  natural-image slot (the synthetic scenes, or CIFAR-10 in ``conf/gpu_cifar10``); each trains a
  standard and a PGD adversarially trained model, scores clean / PGD accuracy, computes attribution
  maps of the test images and, on the BlockMNIST slots, their share of top-k pixels in the null block;
- DiffROAR (``input_gradients.diffroar``) on the slot named by ``diffroar.data``: one ranking per
  model (``standard``, ``robust``) plus a model-free ``random`` ranking, and one retraining node per
  ranking x k level x top/bottom (``diffroar.<ranking>.k<i>.retrain_<keep>``), all independent.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import bind
from interpbench.pipelines.input_gradients.nodes import (
    compute_diffroar_rankings,
    compute_test_attributions,
    make_blockmnist_split,
    plot_diffroar,
    plot_gradient_examples,
    plot_null_block_share,
    plot_robustness,
    prepare_natural_images,
    retrain_on_masked,
    score_diffroar,
    score_null_block_share,
    score_robustness,
    select_diffroar_source,
    train_robust_model,
    train_standard_model,
    write_input_gradients_report,
)
from interpbench.protocols.input_gradients import MAX_K_LEVELS, RANDOM, VARIANTS

STUDY = "input_gradients"
#: data slot -> BlockMNIST signal position (None: the natural-image slot).
SLOTS = {"blockmnist": "random", "blockmnist_top": "top", "natural": None}
RANKINGS = (*VARIANTS, RANDOM)
KEEP = ("top", "bottom")
P = "params:input_gradients"  # the study's whole parameter mapping, parsed strictly by every node
GLOBAL = {"seed": "seed", "device": "device", "input_gradients": "input_gradients"}


def _data_node(slot: str, position: str | None) -> Node:
    if position is None:
        return Node(prepare_natural_images, ["scenes_train", "scenes_test", P, "params:seed"], ["train_data", "test_data"],
                    name="prepare_natural_images", tags=["data_engineering"])
    return Node(bind(make_blockmnist_split, position=position), ["mnist_train", "mnist_test", P, "params:seed"],
                ["train_data", "test_data"], name="make_blockmnist", tags=["data_engineering"])


def _slot(slot: str, position: str | None) -> Pipeline:
    run = [P, "params:seed", "params:device"]
    nodes = [
        _data_node(slot, position),
        Node(bind(train_standard_model, slot=slot), ["train_data", *run], ["standard_state", "standard_history"],
             name="train_standard", tags=["training"]),
        Node(bind(train_robust_model, slot=slot), ["train_data", "standard_state", *run], ["robust_state", "robust_history"],
             name="train_robust", tags=["training"]),
        Node(bind(plot_gradient_examples, slot=slot), ["test_data", "standard_maps", "robust_maps", P], "gradients_figure",
             name="plot_gradient_examples", tags=["reporting"]),
    ]
    for v in VARIANTS:
        nodes += [
            Node(bind(score_robustness, study=STUDY, slot=slot, variant=v), [f"{v}_state", "test_data", *run],
                 f"{v}_accuracy", name=f"score_{v}_robustness", tags=["evaluation"]),
            Node(bind(compute_test_attributions, slot=slot), [f"{v}_state", "test_data", *run], f"{v}_maps",
                 name=f"compute_{v}_attributions", tags=["explanation"]),
        ]
        if position is not None:
            nodes.append(Node(bind(score_null_block_share, study=STUDY, slot=slot, variant=v),
                              [f"{v}_maps", "test_data", P, "params:seed"], f"{v}_null_share",
                              name=f"score_{v}_null_block_share", tags=["evaluation"]))
    shared = {"scenes_train", "scenes_test"} if position is None else {"mnist_train", "mnist_test"}
    return Pipeline(nodes, namespace=slot, inputs=shared, parameters=GLOBAL)


def _ranking(ranking: str) -> Pipeline:
    run = [P, "params:seed", "params:device"]
    states = [] if ranking == RANDOM else [f"{s}_{ranking}_state" for s in SLOTS]
    nodes = [Node(bind(compute_diffroar_rankings, ranking=ranking, slots=list(SLOTS)), ["source", *run, *states],
                  "rankings", name="compute_rankings", tags=["explanation"])]
    levels = []
    for i in range(MAX_K_LEVELS):
        # Retraining on masked data scores the ranking: it is evaluation, not training.
        retrain = [Node(bind(retrain_on_masked, level=i, keep=keep), ["source", "rankings", *run], f"{keep}_correct",
                        name=f"retrain_{keep}", tags=["evaluation"]) for keep in KEEP]
        nodes.append(Pipeline(retrain, namespace=f"k{i + 1}", inputs={"source", "rankings"}, parameters=GLOBAL))
        levels += [f"k{i + 1}.{keep}_correct" for keep in KEEP]
    nodes.append(Node(bind(score_diffroar, study=STUDY), ["rankings", P, "params:seed", *levels], "results",
                      name="score_diffroar", tags=["evaluation"]))
    return Pipeline(nodes, namespace=ranking, inputs={"source", *states}, parameters=GLOBAL)


def _diffroar() -> Pipeline:
    per_slot = [f"{s}.{n}" for s in SLOTS for n in ("train_data", "test_data")]
    select = Node(bind(select_diffroar_source, slots=list(SLOTS)), [P, *per_slot], "source", name="select_source",
                  tags=["data_engineering"])
    states = {f"{s}_{v}_state": f"{s}.{v}_state" for s in SLOTS for v in VARIANTS}
    return Pipeline([select, *(_ranking(r) for r in RANKINGS)], namespace="diffroar",
                    inputs={**{n: n for n in per_slot}, **states}, parameters=GLOBAL)


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The study's own nodes (the shared data it reads come from ``pipelines.shared_data``)."""
    slots = sum((_slot(s, pos) for s, pos in SLOTS.items()), Pipeline([]))
    tables = [f"{s}.{v}_accuracy" for s in SLOTS for v in VARIANTS]
    tables += [f"{s}.{v}_null_share" for s, pos in SLOTS.items() if pos is not None for v in VARIANTS]
    tables += [f"diffroar.{r}.results" for r in RANKINGS]
    maps = [f"{s}.{v}_maps" for s in SLOTS for v in VARIANTS]
    return Pipeline(
        [
            slots,
            _diffroar(),
            Node(collect_results, tables, "results", name="collect_results", tags=["evaluation"]),
            Node(plot_null_block_share, "results", "null_block_share_figure", name="plot_null_block_share",
                 tags=["reporting"]),
            Node(plot_diffroar, "results", "diffroar_figure", name="plot_diffroar", tags=["reporting"]),
            Node(plot_robustness, "results", "accuracy_figure", name="plot_robustness", tags=["reporting"]),
            Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
            Node(bind(write_input_gradients_report, slots=list(SLOTS)), ["results", P, *maps],
                 ["report", "findings_metrics"], name="write_report", tags=["reporting"]),
        ],
        namespace=STUDY,
        inputs={"mnist_train", "mnist_test", "scenes_train", "scenes_test"},
        parameters={"seed", "device", "input_gradients"},
        tags=[STUDY],
    )

