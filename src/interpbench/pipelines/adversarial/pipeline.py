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
from interpbench.pipelines.helpers import bind
from interpbench.protocols.adversarial_params import STUDY

STANDARD, JUDGE_ROBUST = "input_gradients.rgb.standard_state", "input_gradients.rgb.robust_state"
SHARED = {"scenes_train", "scenes_test", "input_gradients.rgb.train_data", "input_gradients.rgb.test_data",
          STANDARD, JUDGE_ROBUST}
P, IG, PAR, RUN = "params:adversarial", "params:input_gradients.models", "params:parallel", ["params:seed", "params:device"]
MODELS = ["images.test_data", STANDARD, "robust.state"]
TABLES = ["localisation_results", "min_eps_results", "mislabelled_results", "large_eps_results", "neuron_results"]


def _node(func, inputs, outputs, stage: str, study: bool = False) -> Node:
    fn = bind(func, study=STUDY) if study else func
    return Node(fn, inputs, outputs, name=func.__name__, tags=[stage])


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The study's own nodes; it reads the shared scenes and input_gradients' rgb models."""
    nodes = [
        _node(n.select_images, ["scenes_train", "scenes_test", "input_gradients.rgb.train_data",
                                "input_gradients.rgb.test_data", P, "params:seed"],
              ["images.train_data", "images.test_data", "images.eval_data"], "data_engineering"),
        _node(n.train_robust_model, ["images.train_data", STANDARD, P, IG, *RUN], ["robust.state", "robust.history"],
              "training"),
        _node(n.train_judge, ["images.train_data", P, IG, *RUN], ["judge.state", "judge.history"], "training"),
        _node(n.compute_gradient_maps, [*MODELS, P, IG, *RUN], "gradients.saliency_maps", "explanation"),
        _node(n.score_gradient_maps, ["gradients.saliency_maps", "images.test_data", P, "params:seed"],
              "localisation_results", "evaluation", study=True),
        _node(n.search_min_eps, [*MODELS, P, IG, PAR, *RUN], "min_eps_results", "evaluation", study=True),
        _node(n.train_on_mislabelled_sets, ["images.train_data", "images.test_data", "images.eval_data", *MODELS[1:], P,
                                            IG, PAR, *RUN],
              ["mislabelled_results", "mislabelled.examples"], "evaluation", study=True),
        _node(n.attack_large_eps, [*MODELS, "judge.state", JUDGE_ROBUST, P, IG, *RUN],
              ["large_eps_results", "large_eps.examples"], "evaluation", study=True),
        _node(n.visualize_neurons, [*MODELS, P, IG, *RUN], "neurons.examples", "explanation"),
        _node(n.score_neurons, ["neurons.examples", "images.test_data", "judge.state", JUDGE_ROBUST, P, IG, *RUN],
              "neuron_results", "evaluation", study=True),
        Node(collect_results, TABLES, "results", name="collect_results", tags=["evaluation"]),
        _node(n.plot_smoothgrad, ["results"], "smoothgrad_figure", "reporting"),
        _node(n.plot_gradient_grid, ["gradients.saliency_maps", "images.test_data", P], "gradients_figure", "reporting"),
        _node(n.plot_min_eps, ["results"], "min_eps_figure", "reporting"),
        _node(n.plot_mislabelled, ["mislabelled.examples", "results"], "mislabelled_figure", "reporting"),
        _node(n.plot_large_eps, ["large_eps.examples"], "large_eps_figure", "reporting"),
        _node(n.plot_neurons, ["neurons.examples", "images.test_data", P], "neurons_figure", "reporting"),
        Node(results_to_metrics, "results", "mlflow_metrics", name="log_metrics", tags=["reporting"]),
        _node(n.write_adversarial_report, ["results", P], ["report", "findings_metrics"], "reporting"),
    ]
    params = {i[len("params:"):] for node in nodes for i in node.inputs if i.startswith("params:")}
    return Pipeline(nodes, namespace=STUDY, inputs=SHARED, parameters=params, tags=[STUDY])
