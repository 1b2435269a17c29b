"""The ``gpu_cifar10`` environment, run as shipped on CPU: ``kedro run --env gpu_cifar10 --pipelines
input_gradients`` in a throw-away project copy with a generated CIFAR-10 batch folder, made tiny
only through ``--params`` overrides (the environment's models, mnist_cnn on BlockMNIST included,
are kept). Before the project's config loader, base's MLP ``options: {hidden: ...}`` leaked into
the environment's mnist_cnn and the first training node failed."""

from __future__ import annotations

import glob
import pickle

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from omegaconf import OmegaConf

from tests.conftest import end_mlflow_runs, make_project_copy

# What ``kedro run --params "..."`` would pass (the same dot-list parsing as Kedro's CLI).
TINY_PARAMS = [
    "mnist.max_images=300",
    "scenes.n_train=16", "scenes.n_test=8",
    "input_gradients.data.blockmnist.max_train=32", "input_gradients.data.blockmnist.max_test=16",
    "input_gradients.data.rgb.max_train=24", "input_gradients.data.rgb.max_test=12",
    "input_gradients.models.blockmnist.standard.epochs=1", "input_gradients.models.blockmnist.robust.epochs=1",
    "input_gradients.models.blockmnist.attack.steps=1",
    "input_gradients.models.rgb.model.options.width=4",
    "input_gradients.models.rgb.model.options.blocks_per_stage=1",
    "input_gradients.models.rgb.standard.epochs=1", "input_gradients.models.rgb.robust.epochs=1",
    "input_gradients.models.rgb.attack.steps=1", "input_gradients.models.rgb.attack.eval_steps=1",
    "input_gradients.explanation.n_images=8",
    "input_gradients.null_block_share.k=[0.1]",
    "input_gradients.diffroar.k=[0.1]", "input_gradients.diffroar.train.epochs=1",
    "input_gradients.n_boot=10",
    "input_gradients.cpu_threads=1",
    "input_gradients.report.figure_images=1",
]
CIFAR = "data/01_raw/cifar-10-batches-py"  # data.rgb.root in conf/gpu_cifar10
OUT = "data/08_reporting/input_gradients"


def write_cifar_batches(root, n_per_batch: int = 8) -> None:
    """A CIFAR-10 "python version" folder: data_batch_1..5 and test_batch pickles, tiny."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(v) for v in np.arange(n_per_batch) % 10]
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        (root / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))


@pytest.mark.timeout(300)
def test_gpu_cifar10_env_runs_input_gradients_on_cpu(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path)  # conf/gpu_cifar10 as shipped, empty conf/local
    write_cifar_batches(project / CIFAR)
    monkeypatch.chdir(project)
    end_mlflow_runs()
    bootstrap_project(project)
    runtime_params = OmegaConf.to_container(OmegaConf.from_dotlist(TINY_PARAMS))
    with KedroSession.create(project_path=project, env="gpu_cifar10", runtime_params=runtime_params) as session:
        # The old merge fails here: ConfigError: Model 'mnist_cnn' has no option 'hidden'.
        session.run(pipeline_names=["input_gradients"])
        params = session.load_context().params["input_gradients"]
    assert params["models"]["blockmnist"]["model"] == {"architecture": "mnist_cnn", "num_classes": 2, "options": {}}
    assert params["models"]["rgb"]["model"]["options"] == {"width": 4, "blocks_per_stage": 1}  # --params kept

    (path,) = glob.glob(str(project / OUT / "results.parquet/*/results.parquet"))
    table = pd.read_parquet(path)
    assert set(table["dataset"]) == {"blockmnist", "blockmnist_top", "cifar10"}
    assert {"mnist_cnn_standard", "mnist_cnn_robust_l2"} <= set(table.loc[table["dataset"] == "blockmnist", "model"])
    cifar = table[table["dataset"] == "cifar10"]
    assert {"resnet_small_standard", "resnet_small_robust_l2"} <= set(cifar["model"])
    assert {"clean_acc", "robust_acc", "diffroar"} <= set(cifar["metric"])
    assert set(table.loc[table["metric"] == "diffroar", "dataset"]) == {"cifar10"}


TINY_ADVERSARIAL = [
    "adversarial.data.n_test=8", "adversarial.data.n_train=16",
    "adversarial.robust.train.epochs=1", "adversarial.robust.attack.steps=1", "adversarial.judge.train.epochs=1",
    "adversarial.min_eps.grids.l2=[0.5,2.0]", "adversarial.min_eps.grids.linf=[0.03,0.1]", "adversarial.min_eps.steps=2",
    "adversarial.mislabelled.attack.steps=2", "adversarial.mislabelled.seeds=2", "adversarial.mislabelled.train.epochs=1",
    "adversarial.large_eps.steps=2", "adversarial.neurons.units=[0,1]", "adversarial.neurons.steps=2",
    "adversarial.smoothgrad.n_samples=[2]", "adversarial.smoothgrad.noise_levels=[0.15]",
    "adversarial.smoothgrad.headline.n_samples=2", "adversarial.n_boot=10", "adversarial.report.figure_images=2",
]


@pytest.mark.timeout(300)
def test_gpu_cifar10_env_runs_adversarial_without_object_masks(tmp_path, monkeypatch):
    """CIFAR-10 through input_gradients' rgb slot: no object masks, so the localisation findings
    are reported as not evaluated, and every other exercise runs."""
    project = make_project_copy(tmp_path)
    write_cifar_batches(project / CIFAR)
    monkeypatch.chdir(project)
    end_mlflow_runs()
    bootstrap_project(project)
    runtime_params = OmegaConf.to_container(OmegaConf.from_dotlist(TINY_PARAMS + TINY_ADVERSARIAL))
    with KedroSession.create(project_path=project, env="gpu_cifar10", runtime_params=runtime_params) as session:
        session.run(pipeline_names=["adversarial"])
    (path,) = glob.glob(str(project / "data/08_reporting/adversarial/results.parquet/*/results.parquet"))
    table = pd.read_parquet(path)
    assert set(table["dataset"]) == {"rgb_slot"}
    assert {"min_eps_median", "clean_test_acc", "judged_as_target_standard", "activation_vs_top_images"} <= set(table["metric"])
    assert not {"object_mass", "perturbation_in_target_shape"} & set(table["metric"])
    acc = table[table["metric"] == "clean_test_acc"]
    assert set(acc["method"]) == {"mislabelled_all", "mislabelled_two_class"}
    report = (project / "data/08_reporting/adversarial/report.md").read_text()
    assert report.count("⚠ not evaluated") >= 2  # SmoothGrad vs gradient, robust vs standard gradient mass
