"""What each run records in MLflow: interpbench.tracking and RunRecordHooks."""

from __future__ import annotations

import json
import subprocess

import mlflow
import pytest
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.tracking import dataset_version, device_description, git_info, run_tags, version_tags
from tests.conftest import end_mlflow_runs


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_info_in_a_repository_clean_then_dirty(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_info(tmp_path) == {"git.commit": sha, "git.dirty": "false"}
    (tmp_path / "a.txt").write_text("2")
    assert git_info(tmp_path) == {"git.commit": sha, "git.dirty": "true"}


def test_git_info_outside_a_repository_and_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_info(tmp_path) == {"git.commit": "unknown", "git.dirty": "unknown"}
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable
    assert git_info(tmp_path)["git.commit"] == "unknown"


def test_device_description_on_cpu():
    assert device_description("cpu") == f"cpu ({torch.get_num_threads()} threads)"
    if not torch.cuda.is_available():
        assert device_description("auto").startswith("cpu (")
        assert "unavailable" in device_description("not-a-device")


def test_run_tags_and_version_tags(tmp_path):
    tags = run_tags("2026-01-01T00.00.00.000Z", "cpu", tmp_path)
    assert set(tags) == {"git.commit", "git.dirty", "kedro.run_id", "device", "torch.version"}
    assert tags["kedro.run_id"] == "2026-01-01T00.00.00.000Z" and tags["torch.version"] == torch.__version__
    assert version_tags({"b": "2", "a": "1"}) == {"dataset_version.a": "1", "dataset_version.b": "2"}


def test_dataset_version_of_versioned_and_plain_datasets(tmp_path):
    from kedro.io import MemoryDataset, Version

    from interpbench.datasets import TorchStateDictDataset

    ds = TorchStateDictDataset(filepath=str(tmp_path / "m.pt"), version=Version(None, "2026-01-01T00.00.00.000Z"))
    assert dataset_version(ds, saved=True) == "2026-01-01T00.00.00.000Z"
    ds.save({"w": torch.zeros(1)})
    assert dataset_version(ds, saved=False) == "2026-01-01T00.00.00.000Z"
    assert dataset_version(MemoryDataset(1), saved=False) is None
    assert dataset_version(None, saved=True) is None


@pytest.mark.timeout(300)
def test_a_kedro_run_records_tags_and_dataset_versions_in_mlflow(tiny_project):
    bootstrap_project(tiny_project)
    with KedroSession.create(project_path=tiny_project) as session:
        session_id = session.session_id
        session.run(pipeline_names=["zoo"], to_nodes=["zoo.mlp.train_classifier"])
    mlflow.set_tracking_uri(f"sqlite:///{tiny_project / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    run = runs[0]
    tags = run.data.tags
    assert tags["kedro.run_id"] == session_id
    assert tags["torch.version"] == torch.__version__
    assert tags["device"].startswith(("cpu (", "cuda: "))
    assert tags["git.dirty"] in ("true", "false", "unknown") and tags["git.commit"]
    assert tags["dataset_version.zoo.mlp.state"] == session_id  # the run's save version
    local = client.download_artifacts(run.info.run_id, "run_record.json", str(tiny_project))
    record = json.loads(open(local).read())
    assert record["status"] == "completed"
    assert record["datasets_saved"] == {"zoo.mlp.state": session_id, "zoo.mlp.history": session_id}
    assert record["kedro.run_id"] == session_id

    # A second run that only reads the model records the version it loaded (the first run's).
    end_mlflow_runs()
    bootstrap_project(tiny_project)
    with KedroSession.create(project_path=tiny_project) as session:
        second_id = session.session_id
        session.run(pipeline_names=["zoo"], node_names=["zoo.mlp.explain_examples"])
    second = [r for r in client.search_runs(run.info.experiment_id) if r.info.run_id != run.info.run_id]
    assert len(second) == 1
    assert second[0].data.tags["kedro.run_id"] == second_id != session_id
    assert second[0].data.tags["dataset_version.zoo.mlp.state"] == session_id
