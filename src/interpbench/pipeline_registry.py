"""Project pipelines: each study end to end, each of the five stages, and ``__default__``.

``find_pipelines`` discovers the study packages under ``pipelines/``; :mod:`.pipelines.views`
builds the stage views from the studies' stage tags. Adding a study adds a package, nothing here.
A package that also defines ``create_view()`` (the scorecard) registers that as its own view.
"""

from __future__ import annotations

import importlib

from kedro.framework import project
from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from interpbench.pipelines.views import build_views


def register_pipelines() -> dict[str, Pipeline]:
    # Kedro >= 1.5 narrows find_pipelines to the packages named by `kedro run --pipelines`; a
    # stage view (e.g. `--pipelines training`) needs every study, so discover them all.
    requested = getattr(project.pipelines, "_requested_pipelines", None)
    try:
        project.pipelines._requested_pipelines = None
        studies = find_pipelines(raise_errors=True)
    finally:
        project.pipelines._requested_pipelines = requested
    studies.pop("__default__", None)
    own_views = {}
    for name in studies:
        module = importlib.import_module(f"{__package__}.pipelines.{name}")
        if hasattr(module, "create_view"):
            own_views[name] = module.create_view()
    return build_views(studies, own_views)
