"""Project hooks: log how long each node took, so slow stages are visible in the run log."""

from __future__ import annotations

import logging
import time

from kedro.framework.hooks import hook_impl

log = logging.getLogger(__name__)


class NodeTimingHooks:
    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        started = self._started.pop(node.name, None)
        if started is not None:
            log.info("Node %s finished in %.1f s", node.name, time.perf_counter() - started)


class ParamsCheckHooks:
    """Check the parameters of every key the pipeline reads before its first node runs.

    ``tryfirst``: before kedro-mlflow's ``before_pipeline_run`` opens an MLflow run, so a
    mistyped key leaves no half-open run behind.
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        from interpbench.param_checks import check_params, top_level_keys

        parameters = catalog.load("parameters") if "parameters" in catalog else {}
        check_params(parameters or {}, top_level_keys(pipeline.inputs()))
