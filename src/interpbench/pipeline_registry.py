"""Project pipelines: the five stages, each study end to end, and ``__default__``.

``find_pipelines`` finds every package under ``pipelines/``: the stage packages
(``data_engineering`` ... ``reporting``, each the union of the studies' parts for that stage)
and one package per study (``zoo``, ...), each that study end to end. ``__default__`` is every
study on the embedded data.
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from interpbench.pipelines.studies import STUDIES


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    studies = [pipelines[s] for s in STUDIES if s in pipelines]
    if studies:
        pipelines["__default__"] = sum(studies, Pipeline([]))
    return pipelines
