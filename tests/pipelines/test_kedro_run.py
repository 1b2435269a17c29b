"""End to end: a small ``kedro run`` through a KedroSession, twice, in a throw-away project copy."""

from __future__ import annotations

import glob
import sqlite3

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.metrics.results import RESULT_COLUMNS


def _run(project, pipeline="zoo"):
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=[pipeline])


def _latest(pattern):
    found = sorted(glob.glob(pattern))
    assert found, f"nothing matches {pattern}"
    return found[-1]


@pytest.mark.timeout(600)
def test_zoo_runs_end_to_end_and_is_deterministic(tiny_project):
    _run(tiny_project)
    first = pd.read_parquet(_latest("data/08_reporting/zoo/results.parquet/*/results.parquet"))
    assert list(first.columns) == list(RESULT_COLUMNS)
    assert set(first["model"]) == {"mlp", "mnist_cnn", "resnet_small"}
    assert set(first["metric"]) == {"train_acc", "test_acc"}
    for name in ("accuracy.png", "mlp_attributions.png", "report.md"):
        assert (tiny_project / "data/08_reporting/zoo" / name).stat().st_size > 0
    assert "test_acc" in (tiny_project / "data/08_reporting/zoo/report.md").read_text()

    with sqlite3.connect(tiny_project / "mlflow.db") as db:
        runs = db.execute("select count(*) from runs").fetchone()[0]
        metrics = {r[0] for r in db.execute("select distinct key from metrics")}
    assert runs == 1
    assert "zoo.mnist.mnist_cnn.test_acc" in metrics

    _run(tiny_project)
    versions = sorted(glob.glob("data/08_reporting/zoo/results.parquet/*/results.parquet"))
    assert len(versions) == 2
    second = pd.read_parquet(versions[-1])
    pd.testing.assert_frame_equal(first, second)
