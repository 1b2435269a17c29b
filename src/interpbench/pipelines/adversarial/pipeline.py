"""Study ``adversarial``: the *Adversaries & Interpretability* practicum (Santurkar & Tsipras,
MadryLab ``robustness``), measured on the embedded scenes (``conf/gpu_cifar10``: CIFAR-10).

Structure (``conf/base/parameters_adversarial.yml`` configures each part):

- ``select_images`` (data_engineering): the scenes with their object masks (or the
  input_gradients rgb slot's images);
- models: the *standard* model is input_gradients' ``rgb.standard_state`` (reused); ``train_robust``
  fine-tunes it with PGD into the study's *robust* model; ``train_judge`` trains the independent
  standard judge (another seed). The second judge is input_gradients' ``rgb.robust_state``;
- exercise 1 and 5: ``compute_gradient_maps`` (explanation), ``score_gradient_maps`` (evaluation);
- exercise 2: ``search_min_eps``; exercise 3: ``train_on_mislabelled_sets``; exercise 4:
  ``attack_large_eps`` (evaluation; their fan-out jobs go to the ``parallel`` backend);
- exercise 6: ``visualize_neurons`` (explanation), ``score_neurons`` (evaluation);
- reporting: figures per exercise, MLflow metrics, the report with findings.
"""

import functools

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.adversarial import nodes as n
from interpbench.pipelines.common import collect_results, results_to_metrics
from interpbench.pipelines.helpers import parameter_names, sub_params_node
from interpbench.protocols.adversarial_params import STUDY

STANDARD, JUDGE_ROBUST = "input_gradients.rgb.standard_state", "input_gradients.rgb.robust_state"
SHARED = {"scenes_train", "scenes_test", "input_gradients.rgb.train_data", "input_gradients.rgb.test_data",
          STANDARD, JUDGE_ROBUST}
IG, PAR, RUN = "params:input_gradients.models", "params:parallel", ["params:seed", "params:device"]
REPORT = ("data", "robust", "judge", "smoothgrad", "mislabelled", "large_eps", "neurons", "report")
MODELS = ["images.test_data", STANDARD, "robust.state"]
TABLES = ["localisation_results", "min_eps_results", "mislabelled_results", "large_eps_results", "neuron_results"]


def _node(func, data: list[str], keys: tuple[str, ...], outputs, stage: str, extra=(), study: bool = False) -> Node:
    """A node fed ``data``, then the study's parameter sub-keys ``keys`` (gathered into one mapping:
    kedro-viz shows exactly what each node reads), then ``extra``."""
    return sub_params_node(STUDY, func, data, keys, outputs, name=func.__name__, stage=stage, rest=extra,
                           **({"study": STUDY} if study else {}))


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The study's own nodes; it reads the shared scenes and input_gradients' rgb models."""
    nodes = [
        _node(n.select_images, ["scenes_train", "scenes_test", "input_gradients.rgb.train_data",
                                "input_gradients.rgb.test_data"], ("data",),
              ["images.train_data", "images.test_data", "images.eval_data"], "data_engineering", ["params:seed"]),
        _node(n.train_robust_model, ["images.train_data", STANDARD], ("robust", "cpu_threads"),
              ["robust.state", "robust.history"], "training", [IG, *RUN]),
        _node(n.train_judge, ["images.train_data"], ("judge", "cpu_threads"), ["judge.state", "judge.history"],
              "training", [IG, *RUN]),
        _node(n.compute_gradient_maps, MODELS, ("smoothgrad", "cpu_threads"), "gradients.saliency_maps", "explanation",
              [IG, *RUN]),
        _node(n.score_gradient_maps, ["gradients.saliency_maps", "images.test_data"], ("smoothgrad", "n_boot"),
              "localisation_results", "evaluation", ["params:seed"], study=True),
        _node(n.search_min_eps, MODELS, ("min_eps", "batch_size", "n_boot", "cpu_threads", "report"),
              ["min_eps_results", "min_eps.examples"], "evaluation", [IG, PAR, *RUN], study=True),
        _node(n.train_on_mislabelled_sets, ["images.train_data", "images.eval_data", *MODELS[1:]],
              ("data", "mislabelled", "batch_size", "n_boot", "cpu_threads", "report"),
              ["mislabelled_results", "mislabelled.examples"], "evaluation", [IG, PAR, *RUN], study=True),
        _node(n.attack_large_eps, [*MODELS, "judge.state", JUDGE_ROBUST],
              ("large_eps", "batch_size", "n_boot", "cpu_threads", "report"),
              ["large_eps_results", "large_eps.examples"], "evaluation", [IG, *RUN], study=True),
        _node(n.visualize_neurons, MODELS, ("neurons", "cpu_threads"), "neurons.examples", "explanation", [IG, *RUN]),
        _node(n.score_neurons, ["neurons.examples", *MODELS, "judge.state", JUDGE_ROBUST],
              ("batch_size", "n_boot"), "neuron_results", "evaluation", [IG, *RUN], study=True),
        Node(collect_results, TABLES, "results", name="collect_results", tags=["evaluation"]),
        Node(n.plot_smoothgrad, "results", "smoothgrad_figure", name="plot_smoothgrad", tags=["reporting"]),
        _node(n.plot_gradient_grid, ["gradients.saliency_maps", "images.test_data"], ("smoothgrad", "report"),
              "gradients_figure", "reporting"),
        Node(n.plot_min_eps, "results", "min_eps_figure", name="plot_min_eps", tags=["reporting"]),
        Node(n.plot_min_eps_examples, "min_eps.examples", "min_eps_examples_figure", name="plot_min_eps_examples",
             tags=["reporting"]),
        Node(n.plot_smoothgrad_grid, ["gradients.saliency_maps", "images.test_data"], "smoothgrad_grid_figure",
             name="plot_smoothgrad_grid", tags=["reporting"]),
        Node(n.plot_mislabelled, ["mislabelled.examples", "results"], "mislabelled_figure", name="plot_mislabelled",
             tags=["reporting"]),
        Node(n.plot_large_eps, "large_eps.examples", "large_eps_figure", name="plot_large_eps", tags=["reporting"]),
        _node(n.plot_neurons, ["neurons.examples", "images.test_data"], ("report",), "neurons_figure", "reporting"),
        Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
        _node(n.write_adversarial_report, ["results"], REPORT, ["report", "findings_metrics"], "reporting"),
    ]
    return Pipeline(nodes, namespace=STUDY, inputs=SHARED, parameters=parameter_names(nodes), tags=[STUDY])
