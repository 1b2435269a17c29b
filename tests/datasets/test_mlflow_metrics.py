"""The batched MLflow metrics dataset logs what kedro-mlflow's history dataset logs."""

import mlflow
import pytest

from interpbench.datasets.mlflow_metrics import BATCH, MlflowMetricsBatchDataset


@pytest.fixture
def tracking(tmp_path):
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield mlflow.MlflowClient()
    if mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(before)


def test_batched_metrics_keep_keys_prefix_values_and_steps(tracking):
    curve = [{"value": float(v), "step": i} for i, v in enumerate(range(BATCH + 5))]  # spans two batches
    data = {"a.b.spearman": curve, "single": {"value": 0.5, "step": 0}}
    with mlflow.start_run() as run:
        MlflowMetricsBatchDataset(prefix="study").save(data)
    history = tracking.get_metric_history(run.info.run_id, "study.a.b.spearman")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(d["step"], d["value"]) for d in curve]
    assert [(m.step, m.value) for m in tracking.get_metric_history(run.info.run_id, "study.single")] == [(0, 0.5)]
    with mlflow.start_run(run_id=run.info.run_id):
        loaded = MlflowMetricsBatchDataset(prefix="study", run_id=run.info.run_id).load()
    assert loaded["study.single"] == {"step": 0, "value": 0.5}  # kedro-mlflow's load keeps the prefix
