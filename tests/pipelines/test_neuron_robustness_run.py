"""End to end: a tiny ``kedro run --pipelines neuron_robustness`` in a throw-away project copy."""

from __future__ import annotations

import copy
import glob
import sqlite3

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.data.broden import read_broden
from interpbench.metrics.results import RESULT_COLUMNS
from tests.conftest import TINY_PARAMETERS, end_mlflow_runs, make_project_copy

OUT = "data/08_reporting/neuron_robustness"


def _run(project, pipeline="neuron_robustness", tags=None):
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=[pipeline], tags=tags)


@pytest.mark.timeout(300)
def test_neuron_robustness_runs_end_to_end(tmp_path, monkeypatch):
    params = copy.deepcopy(TINY_PARAMETERS)  # holds the study's tiny settings (neuron_robustness)
    project = make_project_copy(tmp_path, params)
    monkeypatch.chdir(project)
    _run(project)
    probe = read_broden(project / "data/03_primary/neuron_robustness/broden")  # the written probe set reads back
    assert len(probe) == 48 and probe.categories == ["object", "color", "texture", "scene"]
    table = pd.read_parquet(sorted(glob.glob(str(project / OUT / "results.parquet/*/results.parquet")))[-1])
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert set(table["study"]) == {"neuron_robustness"} and set(table["dataset"]) == {"scenes"}
    assert {"resnet_small.stage2", "resnet_small.stage3"} <= set(table["model"])
    assert {"interpretable", "iou", "label_changed", "label_changed_seeds"} <= set(table["metric"])
    changed = table[(table["metric"] == "label_changed") & (table["x_name"] == "noise_std")]
    assert set(changed["x"]) == {0.02, 0.05} and set(changed["method"]) == {"gaussian_noise"}
    assert ((changed["value"] >= 0) & (changed["value"] <= 1)).all()
    units = pd.read_parquet(sorted(glob.glob(str(project / "data/07_model_output/neuron_robustness/clean_units.parquet/*/*")))[-1])
    assert len(units) == 32 + 64 and {"threshold", "label", "category", "iou", "interpretable"} <= set(units.columns)
    attacked = pd.read_parquet(sorted(glob.glob(str(project / "data/07_model_output/neuron_robustness/attack_units.parquet/*/*")))[-1])
    if len(attacked):
        assert {"target_reached", "label_changed", "touched"} <= set(table["metric"])
        assert (attacked["touched"] > 0).all()
    for name in ("label_changes.png", "attack_panel.png", "report.md"):
        assert (project / OUT / name).stat().st_size > 0, name
    report = (project / OUT / "report.md").read_text()
    assert "## Findings" in report and "## Crafted attack" in report and "noise at std 0.02" in report
    with sqlite3.connect(project / "mlflow.db") as db:
        metrics = {r[0] for r in db.execute("select distinct key from metrics")}
    assert "neuron_robustness.scenes.resnet_small.stage3.gaussian_noise.label_changed" in metrics
    assert {f"neuron_robustness.findings.{s}" for s in ("passed", "failed", "not_evaluated")} <= metrics

    # the evaluation stage runs alone from what the earlier stages saved, and gives the same table
    _run(project, tags=["evaluation"])
    again = pd.read_parquet(sorted(glob.glob(str(project / OUT / "results.parquet/*/results.parquet")))[-1])
    pd.testing.assert_frame_equal(table, again)
