"""The cross-study scorecard and the index page of every report (reporting only).

It reads every study package under ``pipelines/`` (found like ``find_pipelines`` finds them, so a
new study's table and report are read without editing this file; its scorecard columns come from
the measures registered in :mod:`interpbench.reporting.scorecard`). In ``__default__`` (and the
``reporting`` stage) its nodes read the studies' own ``<study>.results`` and ``<study>.report``, so
Kedro runs them after every study. ``kedro run --pipelines scorecard``
runs :func:`create_view` instead: the same nodes reading the latest *saved* tables and reports
through ``scorecard.latest_results.<study>`` / ``scorecard.latest_report.<study>``
(:class:`interpbench.datasets.OptionalDataset`: None for a study that has not saved one yet, shown
as not scored), and none of the studies' nodes.
"""

from __future__ import annotations

import functools
import importlib.resources

from kedro.pipeline import Node, Pipeline

from interpbench.pipelines.helpers import bind
from interpbench.pipelines.scorecard.nodes import build_scorecard_outputs, write_index_page
from interpbench.reporting.scorecard import studies

STUDY = "scorecard"
PARAMS = ("params:scorecard.measures", "params:trojans.report.alpha")


def study_packages() -> tuple[str, ...]:
    """Every study package under ``pipelines/`` (one with a ``pipeline.py``) but this one: the
    studies the scorecard knows first, in its column order, then any other by name."""
    root = importlib.resources.files("interpbench.pipelines")
    found = {p.name for p in root.iterdir() if p.is_dir() and (p / "pipeline.py").is_file()} - {STUDY}
    known = [s for s in studies() if s in found]
    return (*known, *sorted(found - set(known)))


@functools.cache
def create_pipeline(**kwargs) -> Pipeline:
    """The scorecard's nodes reading the studies' outputs of the same run."""
    read = study_packages()
    results = [f"{s}.results" for s in read]
    reports = [f"{s}.report" for s in read]
    return Pipeline(
        [
            Node(bind(build_scorecard_outputs, studies=read), [*PARAMS, *results],
                 ["table", "heatmap_figure", "report", "mlflow_metrics"], name="build_scorecard", tags=["reporting"]),
            Node(bind(write_index_page, studies=read), ["report", "reporting_files", *reports], "index_page",
                 name="write_index_page", tags=["reporting"]),
        ],
        namespace=STUDY,
        inputs={*results, *reports},
        parameters=set(PARAMS),
        tags=[STUDY],
    )


def create_view() -> Pipeline:
    """``kedro run --pipelines scorecard``: the same nodes on the latest saved tables and reports."""
    read = study_packages()
    return Pipeline(create_pipeline(), inputs={
        **{f"{s}.results": f"{STUDY}.latest_results.{s}" for s in read},
        **{f"{s}.report": f"{STUDY}.latest_report.{s}" for s in read},
    })
