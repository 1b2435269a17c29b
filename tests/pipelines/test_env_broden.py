"""The ``broden`` environment: Network Dissection of a torchvision model read from a local weights
file on a Broden-layout folder. End to end on CPU with the env's own settings, only paths and
sizes shrunk: a generated Broden-layout folder (images twice the segmentation size, as broden1_224)
and random resnet18 weights."""

from __future__ import annotations

import glob

import pandas as pd
import pytest
import torch
import torchvision
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.data import generate_scenes
from interpbench.data.broden import read_broden, scenes_to_broden, write_broden
from interpbench.errors import ConfigError
from interpbench.metrics.results import RESULT_COLUMNS
from interpbench.pipelines.neuron_robustness.nodes import dissect_probe_set
from interpbench.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS
from tests.conftest import ROOT, end_mlflow_runs, make_project_copy

OUT = "data/08_reporting/neuron_robustness"


def _broden_folder(root, n=24):
    args = scenes_to_broden(generate_scenes(n, image_size=64, num_classes=4, seed=5))
    args["pixel_labels"] = {k: v[:, ::2, ::2] for k, v in args["pixel_labels"].items()}  # 32 px segmentations
    write_broden(root, **args)


def _weights(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)


def _env_parameters() -> dict:
    return CONFIG_LOADER_CLASS(str(ROOT / "conf"), env="broden", **CONFIG_LOADER_ARGS)["parameters"]


def test_env_points_at_a_real_broden_folder_and_a_local_resnet18():
    p = _env_parameters()["neuron_robustness"]
    assert p["probe"]["source"] == "broden" and p["probe"]["root"] == "data/01_raw/broden1_224"
    assert p["model"]["pretrained"]["architecture"] == "resnet18" and p["model"]["layers"][-1] == "net.layer4"
    assert p["n_boot"] == 1000 and p["noise"]["stds"] == [0.005, 0.01, 0.02, 0.05]  # base's settings kept


@pytest.mark.timeout(300)
def test_broden_env_runs_on_cpu(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path)
    _broden_folder(project / "data/01_raw/broden1_224")
    weights = project / "data/01_raw/weights/resnet18.pth"
    _weights(weights)
    runtime = {"neuron_robustness": {
        "probe": {"image_size": 64},
        "model": {"pretrained": {"num_classes": 1000, "weights_path": str(weights)}},
        "dissection": {"batch_size": 8},
        "noise": {"stds": [0.02], "seeds": 1},
        "attack": {"n_units": 1, "steps": 1, "batch_size": 8},
        "n_boot": 20, "report": {"panel_units": 1, "panel_images": 2}, "cpu_threads": 1},
        "zoo": {"resnet_small": {"model": {"architecture": "resnet_small", "num_classes": 8,
                                           "options": {"width": 4, "blocks_per_stage": 1}}}}}
    monkeypatch.chdir(project)
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="broden", runtime_params=runtime) as session:
        session.run(pipeline_names=["neuron_robustness"])
    (path,) = glob.glob(str(project / OUT / "results.parquet/*/results.parquet"))
    table = pd.read_parquet(path)
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert set(table["dataset"]) == {"broden"}
    assert {"resnet18.net.layer3", "resnet18.net.layer4"} <= set(table["model"])
    units = pd.read_parquet(glob.glob(str(project / "data/07_model_output/neuron_robustness/clean_units.parquet/*/*"))[0])
    assert len(units) == 256 + 512 and set(units["model"]) == {"resnet18"}
    report = (project / OUT / "report.md").read_text()
    assert "(broden), 24 images" in report and "## Findings" in report


def test_unknown_layer_lists_the_models_layers(tmp_path):
    _broden_folder(tmp_path / "b", n=4)
    weights = tmp_path / "w.pth"
    _weights(weights)
    params = {"probe": {"source": "broden", "root": str(tmp_path / "b"), "image_size": 64},
              "model": {"layers": ["net.layer9"], "pretrained": {"architecture": "resnet18", "num_classes": 1000,
                                                                 "weights_path": str(weights)}}}
    with pytest.raises(ConfigError, match=r"neuron_robustness\.model\.layers: Normalized has no layer 'net\.layer9'\. "
                                          r"Its layers: net, net\.conv1, net\.bn1"):
        dissect_probe_set({}, {"root": str(tmp_path / "b")}, params, {}, 0, "cpu", study="neuron_robustness")
    assert len(read_broden(tmp_path / "b")) == 4
