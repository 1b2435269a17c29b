"""End to end: a tiny ``kedro run --pipelines trojans`` in a throw-away project copy."""

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

OUT = "data/08_reporting/trojans"


def _run(project):
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["trojans"])


@pytest.mark.timeout(600)
def test_trojans_runs_end_to_end_and_is_deterministic(tmp_path, monkeypatch):
    params = copy.deepcopy(TINY_PARAMETERS)  # holds the study's tiny settings (trojans)
    project = make_project_copy(tmp_path, params)
    monkeypatch.chdir(project)
    _run(project)
    files = sorted(glob.glob(str(project / OUT / "results.parquet/*/results.parquet")))
    table = pd.read_parquet(files[0])
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert set(table["study"]) == {"trojans"} and set(table["dataset"]) == {"scenes"}
    assert set(table["model"]) == {"cnn_small_trojaned", "cnn_small_clean"}
    asr = table[table["metric"] == "asr"]
    assert set(asr["method"]) == {"smiley", "green_star", "brick", "gravel", "heart", "arrow"}
    assert len(asr) == 12 and (asr["ci_low"] <= asr["value"]).all() and (asr["value"] <= asr["ci_high"]).all()
    assert {"clean_acc", "clean_acc_drop", "footprint_l1", "footprint_correlation", "footprint_mass", "pointing_game",
            "footprint_l1_all", "l1_minus_blank", "l1_vs_blank_p_holm", "correlation_minus_sobel_edges",
            "correlation_vs_sobel_edges_p_holm"} <= set(table["metric"])
    l1 = table[(table["metric"] == "footprint_l1") & (table["method"] == "saliency")]
    assert set(l1["x_label"]) == {"smiley", "green_star", "heart", "arrow"}  # patch and natural trojans only
    lrp = table[(table["metric"] == "footprint_l1_all") & (table["method"] == "lrp")]
    assert lrp["value"].notna().all()  # cnn_small has an LRP rule for every layer (resnet_small: see test_trojans_protocol)
    for name in ("scores.png", "trigger_maps.png", "report.md"):
        assert (project / OUT / name).stat().st_size > 0, name
    report = (project / OUT / "report.md").read_text()
    assert "## Findings" in report and "trojan `smiley` is implanted" in report
    assert "few methods beat `blank` under the L1 metric" in report
    for split in ("clean_train", "poisoned_train", "clean_test", "triggered_test"):
        assert glob.glob(str(project / f"data/05_model_input/trojans/{split}.safetensors/*/{split}.safetensors")), split

    with sqlite3.connect(project / "mlflow.db") as db:
        metrics = {r[0] for r in db.execute("select distinct key from metrics")}
    assert "trojans.scenes.cnn_small_trojaned.smiley.asr" in metrics
    assert "trojans.scenes.cnn_small_trojaned.saliency.footprint_l1_all" in metrics
    assert {f"trojans.findings.{s}" for s in ("passed", "failed", "not_evaluated")} <= metrics

    _run(project)  # same seed -> the same table
    second = pd.read_parquet(sorted(glob.glob(str(project / OUT / "results.parquet/*/results.parquet")))[-1])
    pd.testing.assert_frame_equal(table, second)
