"""The ``imagenet`` environment end to end on CPU: ``sanity_checks`` on a generated ImageNet-style
folder with randomly initialised resnet18 weights in both pretrained slots (the env's own files;
only sizes, architectures and sample counts shrunk through runtime parameters)."""

from __future__ import annotations

import copy
import glob

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from PIL import Image

from tests.conftest import TINY_PARAMETERS, end_mlflow_runs, make_project_copy

SLOTS = ("primary", "secondary")


def _image_folder(root, classes=("cat", "dog"), per_class=2):
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")


@pytest.mark.timeout(600)
def test_imagenet_env_runs_sanity_checks_on_cpu(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path)
    _image_folder(project / "data/01_raw/imagenet/val")
    weights = project / "data/01_raw/weights/resnet18.pth"
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    tiny_methods = {"smoothgrad": {"n_samples": 2}, "vargrad": {"n_samples": 2},
                    "integrated_gradients": {"n_steps": 2}, "ig_smoothgrad": {"n_samples": 1, "n_steps": 2}}
    slot = {"images": {"image_size": 32, "max_per_class": 1},
            "pretrained": {"architecture": "resnet18", "weights_path": str(weights)}}
    runtime = copy.deepcopy({k: TINY_PARAMETERS[k] for k in ("mnist", "scenes", "zoo")})
    runtime["sanity_checks"] = {"protocol": {"n_images": 2, "n_boot": 10, "figure_images": 1, "methods": tiny_methods},
                                **{s: copy.deepcopy(slot) for s in SLOTS}}
    runtime["sanity_checks"]["secondary"]["label"] = "resnet18_copy"  # two slots, one architecture
    monkeypatch.chdir(project)
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="imagenet", runtime_params=runtime) as session:
        session.run(pipeline_names=["sanity_checks"])

    (path,) = glob.glob(str(project / "data/08_reporting/sanity_checks/results.parquet/*/results.parquet"))
    table = pd.read_parquet(path)
    assert set(table["dataset"]) == {"imagenet"}
    assert set(table["model"]) == {f"{m}_{k}" for m in ("resnet18", "resnet18_copy") for k in ("cascading", "independent")}
    assert len(set(table["method"])) == 9  # the env's nine methods, none dropped
    report = (project / "data/08_reporting/sanity_checks/report.md").read_text()
    assert "⚠ not evaluated" in report  # the random-label test is switched off in this env
