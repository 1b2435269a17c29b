"""End to end: a tiny ``kedro run --pipelines adversarial`` in a throw-away project copy."""

from __future__ import annotations

import copy
import glob
import sqlite3

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.metrics.results import RESULT_COLUMNS
from tests.conftest import TINY_PARAMETERS, end_mlflow_runs, make_project_copy
from tests.pipelines.test_input_gradients_run import TINY_INPUT_GRADIENTS

OUT = "data/08_reporting/adversarial"
FIGURES = ("smoothgrad.png", "smoothgrad_grid.png", "gradients.png", "min_eps.png", "min_eps_examples.png",
           "mislabelled.png", "large_eps.png", "neurons.png")


def _run(project, runtime_params=None):
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=runtime_params) as session:
        session.run(pipeline_names=["adversarial"])


def _table(project) -> pd.DataFrame:
    return pd.read_parquet(sorted(glob.glob(str(project / OUT / "results.parquet/*/results.parquet")))[-1])


@pytest.mark.timeout(400)
def test_adversarial_runs_end_to_end_and_is_deterministic(tmp_path, monkeypatch):
    params = {**copy.deepcopy(TINY_PARAMETERS), "input_gradients": copy.deepcopy(TINY_INPUT_GRADIENTS)}
    project = make_project_copy(tmp_path, params)
    monkeypatch.chdir(project)
    _run(project)
    table = _table(project)
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert set(table["study"]) == {"adversarial"} and set(table["dataset"]) == {"scenes"}
    metrics = set(table["metric"])
    assert {"object_mass", "pointing_game", "object_mass_difference", "success_rate", "min_eps_median",
            "min_eps_ratio", "clean_test_acc", "attack_hit_rate", "judged_as_target_standard",
            "judged_as_target_robust", "perturbation_in_target_shape", "activation_vs_top_images",
            "judged_as_unit_class_standard"} <= metrics
    curve = table[table["metric"] == "success_rate"]
    assert set(curve["method"]) == {"pgd_l2_untargeted", "pgd_l2_targeted", "pgd_linf_untargeted", "pgd_linf_targeted"}
    assert ((curve["value"] >= 0) & (curve["value"] <= 1)).all()
    sg = table[table["method"].str.startswith("smoothgrad_sigma") & (table["metric"] == "object_mass")]
    assert set(sg["x"]) == {2.0, 4.0} and set(sg["method"]) == {"smoothgrad_sigma0.1", "smoothgrad_sigma0.2"}
    acc = table[table["metric"] == "clean_test_acc"]
    assert set(acc["method"]) == {"mislabelled_all", "mislabelled_two_class"} and (acc["n"] == 2).all()
    for name in (*FIGURES, "report.md"):
        assert (project / OUT / name).stat().st_size > 0, name
    report = (project / OUT / "report.md").read_text()
    assert "## Findings" in report and report.count("\n- ") >= 8
    assert "judge" in report and all(f"]({f})" in report for f in FIGURES)
    with sqlite3.connect(project / "mlflow.db") as db:
        logged = {r[0] for r in db.execute("select distinct key from metrics")}
    assert {f"adversarial.findings.{s}" for s in ("passed", "failed", "not_evaluated")} <= logged
    assert "adversarial.scenes.robust.pgd_l2_untargeted.min_eps_median" in logged

    # the same seed gives the same table
    _run(project)
    pd.testing.assert_frame_equal(table, _table(project))


@pytest.mark.timeout(120)
def test_a_unit_index_out_of_range_stops_the_run_naming_the_key(tmp_path, monkeypatch):
    params = {**copy.deepcopy(TINY_PARAMETERS), "input_gradients": copy.deepcopy(TINY_INPUT_GRADIENTS)}
    params["adversarial"]["neurons"]["units"] = [0, 999]
    project = make_project_copy(tmp_path, params)
    monkeypatch.chdir(project)
    with pytest.raises(Exception, match=r"adversarial.neurons.units: unit index 999 is out of range"):
        _run(project)
