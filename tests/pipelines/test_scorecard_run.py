"""The scorecard pipeline: in ``__default__`` it runs after every study; ``kedro run --pipelines
scorecard`` runs only its own nodes on the latest saved tables, and a study that has saved none is
shown as missing instead of failing the run."""

from __future__ import annotations

import base64
import re

import pandas as pd
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from interpbench.pipelines.scorecard.pipeline import study_packages
from interpbench.reporting.scorecard import studies
from tests.conftest import make_project_copy
from tests.reporting.test_index_page import PNG, assert_every_image_resolves
from tests.reporting.test_scorecard import sanity_table, trojans_table

NODES = {"scorecard.build_scorecard", "scorecard.write_index_page"}


def _pipelines():
    configure_project("interpbench")
    from interpbench.pipeline_registry import register_pipelines

    return register_pipelines()


def test_default_run_builds_the_scorecard_and_index_after_every_study():
    pipes = _pipelines()
    default = pipes["__default__"]
    nodes = {n.name: n for n in default.nodes}
    every_study = {n.namespace.split(".")[0] for n in default.nodes if n.namespace} - {"scorecard"}
    assert set(study_packages()) == every_study and set(studies()) <= every_study
    assert {f"{s}.results" for s in every_study} <= set(nodes["scorecard.build_scorecard"].inputs)
    assert {f"{s}.report" for s in every_study} <= set(nodes["scorecard.write_index_page"].inputs)
    # the sequential runner's order: the index page last, after every study's figures and reports
    groups = default.grouped_nodes
    assert [n.name for n in groups[-1]] == ["scorecard.write_index_page"]
    assert {n.name for n in pipes["reporting"].nodes} >= NODES


def test_scorecard_alone_runs_only_its_nodes_on_the_saved_tables():
    view = _pipelines()["scorecard"]
    assert {n.name for n in view.nodes} == NODES
    free = view.inputs()
    assert {f"scorecard.latest_results.{s}" for s in studies()} <= free
    assert {f"scorecard.latest_report.{s}" for s in studies()} <= free
    assert not {f"{s}.results" for s in studies()} & free


def _save_study(project, study, table, version="2026-01-01T00.00.00.000Z"):
    folder = project / "data" / "08_reporting" / study
    (folder / "results.parquet" / version).mkdir(parents=True)
    table.to_parquet(folder / "results.parquet" / version / "results.parquet")
    (folder / "report.md").write_text(f"# The {study} report\n\n![a figure](figure.png)\n")
    (folder / "figure.png").write_bytes(PNG)


def test_scorecard_alone_with_missing_studies_does_not_fail(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path)
    monkeypatch.chdir(project)
    _save_study(project, "sanity_checks", sanity_table())
    _save_study(project, "trojans", trojans_table())
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["scorecard"])

    out = project / "data" / "08_reporting"
    report = (out / "scorecard" / "report.md").read_text()
    assert "**Missing: `zoo`, `input_gradients`, `neuron_robustness`, `adversarial`**" in report
    assert "- ✅ `sanity_checks`: " in report and "version 2026-01-01T00.00.00.000Z" in report
    assert (out / "scorecard" / "heatmap.png").read_bytes().startswith(b"\x89PNG")
    (table,) = (out / "scorecard" / "scorecard.parquet").glob("*/scorecard.parquet")
    card = pd.read_parquet(table)
    assert card.loc[card["study"] == "input_gradients", "value"].isna().all()
    assert card.loc[card["study"] == "sanity_checks", "scored"].any()

    page = (out / "index.html").read_text()
    for key in ("scorecard", *studies()):
        assert f'<section id="report-{key}">' in page
    assert "No report saved yet: run <code>kedro run --pipelines input_gradients</code>" in page
    assert assert_every_image_resolves(page) == 3  # the heat-map and the two studies' figures
    heat = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="scorecard heat-map"', page)
    assert base64.b64decode(heat.group(1)) == (out / "scorecard" / "heatmap.png").read_bytes()
    assert list(project.glob("mlruns/*/*/artifacts/index.html"))  # logged to MLflow


def test_scorecard_parameters_are_checked_before_the_run():
    import pytest

    from interpbench.errors import ConfigError
    from interpbench.param_checks import check_params

    parsed = check_params({"scorecard": {"measures": {"diffroar_k": 0.3}}}, ["scorecard"])
    assert parsed["scorecard"]["measures"].diffroar_k == 0.3
    with pytest.raises(ConfigError, match=r"scorecard\.measures: unknown parameter 'difroar_k' \(did you mean 'diffroar_k'\?\)"):
        check_params({"scorecard": {"measures": {"difroar_k": 0.3}}}, ["scorecard"])
