"""Study ``input_gradients``: Shah, Jain, Netrapalli 2021, *Do Input Gradients Highlight
Discriminative Features?* (NeurIPS 2021).

Structure (the parameters in ``conf/base/parameters_input_gradients.yml`` configure each part):

- one namespaced slot per data set (``input_gradients.<slot>``): BlockMNIST, BlockMNIST-Top and a
  colour-image slot `rgb` (the synthetic scenes, or CIFAR-10 in ``conf/gpu_cifar10``); each trains a
  standard and a PGD adversarially trained model, scores clean / PGD accuracy, computes attribution
  maps of the test images and, on the BlockMNIST slots, their share of top-k pixels in the null block;
- DiffROAR (``input_gradients.diffroar``) on the slot named by ``diffroar.data`` (the colour
  images by default): one ranking per model (``standard``, ``robust``) plus a model-free ``random``
  ranking, and one node (``diffroar.retrain_on_masked``) that sends every retraining, one
  independent seeded job per ranking x k level x top/bottom x seed, to the ``parallel`` backend
  (:mod:`interpbench.parallel`: in the Kedro process, or on a Dask cluster), so the graph does not
  grow with the levels and seeds.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import with_sub_params
from interpbench.pipelines.input_gradients.nodes import (
    compute_diffroar_rankings,
    compute_test_attributions,
    make_blockmnist_split,
    plot_diffroar,
    plot_gradient_examples,
    plot_null_block_share,
    plot_robustness,
    prepare_rgb_images,
    retrain_on_masked,
    score_diffroar,
    score_null_block_share,
    score_robustness,
    select_diffroar_source,
    train_robust_model,
    train_standard_model,
    write_input_gradients_report,
)
from interpbench.protocols.input_gradients import RANDOM, VARIANTS

STUDY = "input_gradients"
#: data slot -> BlockMNIST signal position (None: the colour-image slot `rgb`).
SLOTS = {"blockmnist": "random", "blockmnist_top": "top", "rgb": None}
RANKINGS = (*VARIANTS, RANDOM)
#: The study's parameter sub-keys; each node receives only those it uses (see ``_uses``).
KEYS = ("data", "models", "explanation", "null_block_share", "diffroar", "n_boot", "report", "cpu_threads")


def _params(items) -> set[str]:
    """The parameter names (without ``params:``) that ``items`` (nodes, pipelines) read, kept
    un-namespaced when they are wrapped in a namespace."""
    names = set()
    for item in items:
        inputs = item.inputs if isinstance(item, Node) else item.all_inputs()
        names |= {i[len("params:"):] for i in inputs if i.startswith("params:")}
    return names


def _uses(func, n_data: int, *keys: str, **constants):
    """``(node function, its parameter inputs)``: ``func`` fed the sub-keys ``keys`` after its data."""
    return with_sub_params(func, n_data, list(keys), **constants), [f"params:{STUDY}.{k}" for k in keys]


def _data_node(slot: str, position: str | None) -> Node:
    if position is None:
        fn, ps = _uses(prepare_rgb_images, 2, "data")
        return Node(fn, ["scenes_train", "scenes_test", *ps, "params:seed"], ["train_data", "test_data"],
                    name="prepare_rgb_images", tags=["data_engineering"])
    fn, ps = _uses(make_blockmnist_split, 2, "data", position=position)
    return Node(fn, ["mnist_train", "mnist_test", *ps, "params:seed"],
                ["train_data", "test_data"], name="make_blockmnist", tags=["data_engineering"])


def _slot(slot: str, position: str | None) -> Pipeline:
    run = ["params:seed", "params:device"]
    train_std, p_train = _uses(train_standard_model, 1, "models", "cpu_threads", slot=slot)
    train_rob, _ = _uses(train_robust_model, 2, "models", "cpu_threads", slot=slot)
    plot, p_plot = _uses(plot_gradient_examples, 3, "models", "report", slot=slot)
    nodes = [
        _data_node(slot, position),
        Node(train_std, ["train_data", *p_train, *run], ["standard_state", "standard_history"],
             name="train_standard", tags=["training"]),
        Node(train_rob, ["train_data", "standard_state", *p_train, *run], ["robust_state", "robust_history"],
             name="train_robust", tags=["training"]),
        Node(plot, ["test_data", "standard_maps", "robust_maps", *p_plot], "gradients_figure",
             name="plot_gradient_examples", tags=["reporting"]),
    ]
    for v in VARIANTS:
        score, p_score = _uses(score_robustness, 2, "models", "data", "n_boot", "cpu_threads", study=STUDY, slot=slot,
                               variant=v)
        explain, p_explain = _uses(compute_test_attributions, 2, "models", "explanation", "cpu_threads", slot=slot)
        nodes += [
            Node(score, [f"{v}_state", "test_data", *p_score, *run], f"{v}_accuracy",
                 name=f"score_{v}_robustness", tags=["evaluation"]),
            Node(explain, [f"{v}_state", "test_data", *p_explain, *run], f"{v}_maps",
                 name=f"compute_{v}_attributions", tags=["explanation"]),
        ]
        if position is not None:
            share, p_share = _uses(score_null_block_share, 2, "models", "data", "null_block_share", "n_boot",
                                   study=STUDY, slot=slot, variant=v)
            nodes.append(Node(share, [f"{v}_maps", "test_data", *p_share, "params:seed"], f"{v}_null_share",
                              name=f"score_{v}_null_block_share", tags=["evaluation"]))
    shared = {"scenes_train", "scenes_test"} if position is None else {"mnist_train", "mnist_test"}
    return Pipeline(nodes, namespace=slot, inputs=shared, parameters=_params(nodes))


def _ranking(ranking: str) -> Pipeline:
    run = ["params:seed", "params:device"]
    states = [] if ranking == RANDOM else [f"{s}_{ranking}_state" for s in SLOTS]
    rank, p_rank = _uses(compute_diffroar_rankings, 1, "models", "explanation", "diffroar", "cpu_threads",
                         ranking=ranking, slots=list(SLOTS))
    score, p_score = _uses(score_diffroar, 2, "n_boot", study=STUDY)
    nodes = [
        Node(rank, ["source", *p_rank, *run, *states], "rankings", name="compute_rankings", tags=["explanation"]),
        Node(score, ["rankings", "retrained", *p_score, "params:seed"], "results", name="score_diffroar",
             tags=["evaluation"]),
    ]
    return Pipeline(nodes, namespace=ranking, inputs={"source", *states}, parameters=_params(nodes))


def _diffroar() -> Pipeline:
    per_slot = [f"{s}.{n}" for s in SLOTS for n in ("train_data", "test_data")]
    select, p_select = _uses(select_diffroar_source, 0, "data", "diffroar", slots=list(SLOTS))
    select = Node(select, [*p_select, "params:seed", *per_slot], "source", name="select_source",
                  tags=["data_engineering"])
    # Retraining on masked data scores the rankings: it is evaluation, not training.
    retrain, p_retrain = _uses(retrain_on_masked, 1, "models", "diffroar", "cpu_threads")
    retrain = Node(retrain, ["source", *p_retrain, "params:parallel", "params:seed", "params:device",
                             *(f"{r}.rankings" for r in RANKINGS)], [f"{r}.retrained" for r in RANKINGS],
                   name="retrain_on_masked", tags=["evaluation"])
    states = {f"{s}_{v}_state": f"{s}.{v}_state" for s in SLOTS for v in VARIANTS}
    parts = [select, retrain, *(_ranking(r) for r in RANKINGS)]
    return Pipeline(parts, namespace="diffroar", inputs={**{n: n for n in per_slot}, **states},
                    parameters=_params(parts))


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The study's own nodes (the shared data it reads come from ``pipelines.shared_data``)."""
    slots = sum((_slot(s, pos) for s, pos in SLOTS.items()), Pipeline([]))
    tables = [f"{s}.{v}_accuracy" for s in SLOTS for v in VARIANTS]
    tables += [f"{s}.{v}_null_share" for s, pos in SLOTS.items() if pos is not None for v in VARIANTS]
    tables += [f"diffroar.{r}.results" for r in RANKINGS]
    maps = [f"{s}.{v}_maps" for s in SLOTS for v in VARIANTS]
    report, p_report = _uses(write_input_gradients_report, 1, *KEYS, slots=list(SLOTS))
    parts = [
        slots,
        _diffroar(),
        Node(collect_results, tables, "results", name="collect_results", tags=["evaluation"]),
        Node(plot_null_block_share, "results", "null_block_share_figure", name="plot_null_block_share",
             tags=["reporting"]),
        Node(plot_diffroar, "results", "diffroar_figure", name="plot_diffroar", tags=["reporting"]),
        Node(plot_robustness, "results", "accuracy_figure", name="plot_robustness", tags=["reporting"]),
        Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
        Node(report, ["results", *p_report, "params:seed", *maps], ["report", "findings_metrics"], name="write_report",
             tags=["reporting"]),
    ]
    return Pipeline(
        parts,
        namespace=STUDY,
        inputs={"mnist_train", "mnist_test", "scenes_train", "scenes_test"},
        parameters=_params(parts),
        tags=[STUDY],
    )

