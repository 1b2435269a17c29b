"""Project hooks: log how long each node took, so slow stages are visible in the run log."""

from __future__ import annotations

import logging
import time

from kedro.framework.hooks import hook_impl

log = logging.getLogger(__name__)


class NodeTimingHooks:
    """Log each node's wall time (and the process CPU time it used, all threads), and at the end of
    the run the time per study (the node name's first part) and the slowest nodes. On a shared
    machine the wall times move with the other jobs' load; the CPU times move less."""

    SLOWEST = 8

    def __init__(self) -> None:
        self._started: dict[str, tuple[float, float]] = {}
        self._took: dict[str, float] = {}
        self._cpu: dict[str, float] = {}

    @hook_impl
    def before_pipeline_run(self) -> None:
        self._started, self._took, self._cpu = {}, {}, {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = (time.perf_counter(), time.process_time())

    @hook_impl
    def after_node_run(self, node) -> None:
        started = self._started.pop(node.name, None)
        if started is not None:
            self._took[node.name] = took = time.perf_counter() - started[0]
            self._cpu[node.name] = cpu = time.process_time() - started[1]
            log.info("Node %s finished in %.1f s (CPU %.1f s)", node.name, took, cpu)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if not self._took:
            return
        for label, times in (("Node time per study", self._took), ("Node CPU time per study", self._cpu)):
            per_study: dict[str, float] = {}
            for name, took in times.items():
                study = name.split(".", 1)[0]
                per_study[study] = per_study.get(study, 0.0) + took
            log.info("%s: %s", label, ", ".join(
                f"{s} {t:.0f} s" for s, t in sorted(per_study.items(), key=lambda kv: -kv[1])))
        slowest = sorted(self._took.items(), key=lambda kv: -kv[1])[: self.SLOWEST]
        log.info("Slowest nodes: %s", ", ".join(f"{n} {t:.1f} s" for n, t in slowest))


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


class ParallelHooks:
    """Fan-out jobs (:mod:`interpbench.parallel`): refuse Kedro's ``ParallelRunner`` with a message
    that says what to use instead, and close the run's Dask clusters when it ends."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        from interpbench.errors import ConfigError

        if "ParallelRunner" in str(run_params.get("runner") or "") or type(catalog).__name__ == "SharedMemoryDataCatalog":
            raise ConfigError(
                "--runner ParallelRunner is not supported: it pickles every dataset, and kedro-mlflow's artifact "
                "datasets (figures, reports) cannot be pickled (Galileo-Galilei/kedro-mlflow#689). Run with the "
                "default runner: the expensive fan-outs (DiffROAR retrainings, feature synthesis) use more cores "
                "or machines through the `parallel` parameters (conf/base/parameters.yml: a 2-worker Dask "
                "LocalCluster by default, or a scheduler address; README: Running on a cluster)."
            )

    @hook_impl
    def after_pipeline_run(self) -> None:
        from interpbench.parallel import close_clusters

        close_clusters()

    @hook_impl
    def on_pipeline_error(self) -> None:
        from interpbench.parallel import close_clusters

        close_clusters()


class RunRecordHooks:
    """Record in the active MLflow run what produced it (see :mod:`interpbench.tracking`).

    Tags ``git.commit``, ``git.dirty``, ``kedro.run_id``, ``device``, ``torch.version`` and one
    ``dataset_version.<name>`` per versioned dataset loaded or saved, plus all of it as the
    artifact ``run_record.json``. kedro-mlflow opens the run in its ``before_pipeline_run`` and
    closes it in ``after_pipeline_run`` / ``on_pipeline_error``; pluggy calls a plugin's hooks
    before the project's, so ``trylast`` / ``tryfirst`` keep this inside the run. Nothing is
    logged when no MLflow run is active; a failure to log only warns.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._catalog = None
        self._tags: dict[str, str] = {}
        self._loaded: dict[str, str] = {}
        self._saved: dict[str, str] = {}

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        from interpbench.tracking import run_tags

        self._reset()
        self._catalog = catalog
        try:
            parameters = catalog.load("parameters") if "parameters" in catalog else {}
            device = (parameters or {}).get("device", "auto")
            self._tags = run_tags(run_params.get("run_id"), device, run_params.get("project_path") or ".")
            self._log(self._tags)
        except Exception as exc:  # the record must never fail the run
            log.warning("Run record: could not collect the run's tags: %s", exc)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data, node) -> None:
        self._note(dataset_name, self._loaded, saved=False)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data, node) -> None:
        self._note(dataset_name, self._saved, saved=True)

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self._finish("completed")

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        self._finish("failed")

    def _note(self, name: str, versions: dict[str, str], saved: bool) -> None:
        from interpbench.tracking import dataset_version

        if self._catalog is None or name.startswith("params:") or name == "parameters":
            return
        try:
            version = dataset_version(self._catalog.get(name), saved)
        except Exception:
            version = None
        if version:
            versions[name] = version

    def record(self, status: str = "completed") -> dict:
        """Everything recorded so far (what ``run_record.json`` holds)."""
        return {**self._tags, "status": status, "datasets_loaded": dict(sorted(self._loaded.items())),
                "datasets_saved": dict(sorted(self._saved.items()))}

    def _finish(self, status: str) -> None:
        import mlflow

        from interpbench.tracking import version_tags

        if self._catalog is None:
            return
        self._log(version_tags({**self._loaded, **self._saved}))
        if mlflow.active_run() is not None:
            try:
                mlflow.log_dict(self.record(status), "run_record.json")
            except Exception as exc:
                log.warning("Run record: could not log run_record.json: %s", exc)
        self._reset()

    @staticmethod
    def _log(tags: dict[str, str]) -> None:
        import mlflow

        if not tags or mlflow.active_run() is None:
            return
        try:
            mlflow.set_tags(tags)
        except Exception as exc:
            log.warning("Run record: could not set MLflow tags: %s", exc)
