"""The five stages run alone, in order, through the persisted catalog, and give the same results
tables as one ``kedro run``; a stage whose inputs are not saved yet fails at once, naming them."""

from __future__ import annotations

import copy
import glob
import time

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.input_checks import MissingInputError
from interpbench.pipelines.views import STAGES
from tests.conftest import TINY_PARAMETERS, end_mlflow_runs, make_project_copy
from tests.pipelines.test_input_gradients_run import TINY_INPUT_GRADIENTS

PARAMS = {**copy.deepcopy(TINY_PARAMETERS), "input_gradients": copy.deepcopy(TINY_INPUT_GRADIENTS)}
# Smaller still: the test runs every study twice.
PARAMS["mnist"]["max_images"] = 400
PARAMS["sanity_checks"]["protocol"].update(
    n_images=4, n_boot=20, methods={"saliency": {}, "gradcam": {}},
    random_labels={"n_train": 32, "train": {"epochs": 1, "batch_size": 32}})
PARAMS["input_gradients"]["diffroar"]["k"] = [0.5]
PARAMS["input_gradients"]["n_boot"] = 20
STUDY_OUTPUTS = ("zoo", "sanity_checks", "input_gradients", "neuron_robustness", "adversarial")


def _run(project, pipeline):
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=[pipeline])


def _tables(project):
    out = {}
    for study in STUDY_OUTPUTS:
        found = sorted(glob.glob(str(project / f"data/08_reporting/{study}/results.parquet/*/results.parquet")))
        assert len(found) == 1, f"{study}: expected one results table, found {found}"
        out[study] = pd.read_parquet(found[0])
    return out


@pytest.mark.timeout(900)
def test_stages_in_order_equal_one_run(tmp_path, monkeypatch):
    staged = make_project_copy(tmp_path / "staged", PARAMS) if (tmp_path / "staged").mkdir() is None else None
    monkeypatch.chdir(staged)
    for stage in STAGES:
        _run(staged, stage)
    staged_tables = _tables(staged)

    whole = make_project_copy(tmp_path / "whole", PARAMS) if (tmp_path / "whole").mkdir() is None else None
    monkeypatch.chdir(whole)
    _run(whole, "__default__")
    for study, table in _tables(whole).items():
        assert len(table) > 0
        pd.testing.assert_frame_equal(staged_tables[study], table, obj=f"{study} results")


def test_stage_without_its_inputs_fails_at_once_naming_them(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path, PARAMS)
    monkeypatch.chdir(project)
    started = time.perf_counter()
    with pytest.raises(MissingInputError) as err:
        _run(project, "training")
    assert time.perf_counter() - started < 60
    message = str(err.value)
    assert "mnist_train" in message and "data_engineering" in message
    assert not list((project / "data").rglob("*.pt"))  # no node ran
