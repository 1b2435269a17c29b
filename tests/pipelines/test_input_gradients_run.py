"""End to end: a tiny ``kedro run --pipelines input_gradients`` in a throw-away project copy
(embedded default: BlockMNIST + scenes), and the CIFAR-10 environment on a generated batch folder."""

from __future__ import annotations

import copy
import glob
import sqlite3

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench import parallel
from interpbench.metrics.results import RESULT_COLUMNS
from tests.conftest import TINY_PARAMETERS, end_mlflow_runs, make_project_copy

TINY_INPUT_GRADIENTS = {
    "data": {"rgb": {"max_train": 64, "max_test": 24}},
    "models": {
        "blockmnist": {"standard": {"epochs": 1}, "robust": {"epochs": 1}, "attack": {"steps": 2}},
        "rgb": {"model": {"options": {"width": 4, "blocks_per_stage": 1}}, "standard": {"epochs": 1},
                    "robust": {"epochs": 1}, "attack": {"steps": 1, "eval_steps": 2}},
    },
    "null_block_share": {"k": [0.05, 0.1]},
    "diffroar": {"k": [0.1, 0.5], "train": {"epochs": 1}},
    "n_boot": 50,
    "report": {"figure_images": 2},
}
OUT = "data/08_reporting/input_gradients"
FIGURES = ("accuracy.png", "null_block_share.png", "diffroar.png", "blockmnist_gradients.png",
           "blockmnist_top_gradients.png", "rgb_gradients.png", "report.md")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _run(project, env=None, runtime_params=None):
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=runtime_params) as session:
        session.run(pipeline_names=["input_gradients"])


def _tables(project):
    return [pd.read_parquet(f) for f in sorted(glob.glob(str(project / OUT / "results.parquet/*/results.parquet")))]


@pytest.mark.timeout(600)
def test_input_gradients_runs_end_to_end_and_is_deterministic(tmp_path, monkeypatch):
    params = {**copy.deepcopy(TINY_PARAMETERS), "input_gradients": TINY_INPUT_GRADIENTS}
    project = make_project_copy(tmp_path, params)
    monkeypatch.chdir(project)
    _run(project)
    (table,) = _tables(project)
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert set(table["study"]) == {"input_gradients"}
    assert set(table["dataset"]) == {"blockmnist", "blockmnist_top", "scenes"}
    assert set(table["metric"]) == {"clean_acc", "robust_acc", "null_block_share", "acc_top", "acc_bottom", "diffroar",
                                    "acc_top_seed", "acc_bottom_seed", "diffroar_seed"}
    assert set(table["model"]) >= {"mlp_standard", "mlp_robust_l2", "resnet_small_standard", "resnet_small_robust_l2"}
    share = table[table["metric"] == "null_block_share"]
    assert set(share["x"]) == {0.05, 0.1} and set(share["dataset"]) == {"blockmnist", "blockmnist_top"}
    assert share["value"].between(0, 1).all()
    diff = table[table["metric"] == "diffroar"]  # DiffROAR on the rgb slot (scenes) by default
    assert set(diff["x"]) == {0.1, 0.5} and set(diff["method"]) == {"saliency", "random"} and len(diff) == 6
    assert set(diff["dataset"]) == {"scenes"} and (diff["n"] == 3).all()  # 3 retraining seeds (the default)
    assert (diff["ci_low"] <= diff["value"]).all() and (diff["value"] <= diff["ci_high"]).all()
    per_seed = table[table["metric"] == "diffroar_seed"]
    assert len(per_seed) == 18 and set(per_seed["seed"]) == {0, 1, 2}  # run seed 0 + 0, 1, 2
    # The aggregate is the mean of the per-seed values of the same (model, method, k).
    means = per_seed.groupby(["model", "method", "x"])["value"].mean()
    for _, row in diff.iterrows():
        assert row["value"] == pytest.approx(means[(row["model"], row["method"], row["x"])])
    for name in FIGURES:
        assert (project / OUT / name).stat().st_size > 0, name
    report = (project / OUT / "report.md").read_text()
    assert "## Findings" in report and ("✅" in report or "❌" in report)
    assert "![DiffROAR vs k](diffroar.png)" in report and "null block" in report

    with sqlite3.connect(project / "mlflow.db") as db:
        metrics = {r[0] for r in db.execute("select distinct key from metrics")}
    assert "input_gradients.blockmnist.mlp_standard.saliency.null_block_share" in metrics
    assert "input_gradients.blockmnist.mlp_robust_l2.pgd_l2.robust_acc" in metrics
    assert {f"input_gradients.findings.{s}" for s in ("passed", "failed", "not_evaluated")} <= metrics

    # Same seed -> the same table, with the DiffROAR retrainings sent to a 2-worker Dask LocalCluster.
    sent = []
    run_dask = parallel._run_dask
    monkeypatch.setattr(parallel, "_run_dask", lambda fn, jobs, *a: sent.append(len(jobs)) or run_dask(fn, jobs, *a))
    _run(project, runtime_params={"parallel": {"backend": "dask", "address": "local", "n_workers": 2}})
    assert sent == [36]  # 3 rankings x 2 k x top/bottom x 3 seeds
    first, second = _tables(project)
    pd.testing.assert_frame_equal(first, second)

