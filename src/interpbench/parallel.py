"""Independent, seeded jobs run in the Kedro process or on a Dask cluster (``dask.distributed``).

A fan-out node (DiffROAR retrainings, feature-synthesis runs, ...) builds ``{key: kwargs}`` and
calls :func:`run_jobs`; every job is seeded by its own key (the caller puts its seed in its
kwargs), so the results are the same whatever the backend, the number of workers and the order in
which jobs finish, and they come back in the order of the keys. Workers only compute: the node
that called :func:`run_jobs` saves the datasets and logs to MLflow, in the Kedro process.

Backends (``parallel`` in ``conf/base/parameters.yml``):

- ``sequential``: one job after the other in the Kedro process.
- ``dask`` with ``address: local``: a ``LocalCluster`` of ``n_workers`` processes with
  ``threads_per_worker`` torch threads each, started at the first fan-out of the run and closed
  at its end (:func:`close_clusters`, called by the project's hooks).
- ``dask`` with a scheduler address (``tcp://host:8786``): the jobs go to that cluster; its
  workers need the same environment (``pip install`` of this project). A job asks for
  ``resources`` (e.g. ``{GPU: 1}``), so workers started with ``--resources GPU=1`` run one such
  job at a time.

Why not Kedro's runners: ``ParallelRunner`` cannot pickle kedro-mlflow's artifact datasets
(Galileo-Galilei/kedro-mlflow#689) and Kedro's documented Dask runner recipe is broken on
Kedro 1.x (kedro-org/kedro#5774); sending the nodes' inner jobs keeps the catalog, the hooks and
MLflow in one process.

A job that raises fails the node with a :class:`JobError` naming its key and carrying the
worker's traceback; no retry (a deterministic failure would fail again). A job whose worker dies
is re-run elsewhere by the scheduler (Dask's ``distributed.scheduler.allowed-failures``, 3 by
default).
"""

from __future__ import annotations

import logging
import pickle
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tqdm.auto import tqdm

from .errors import InterpbenchError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParallelParams:
    """``parallel`` parameters: where the fan-out jobs run."""

    backend: Literal["sequential", "dask"] = "sequential"
    address: str = "local"          # "local": a LocalCluster for the run; else a scheduler address
    n_workers: int = 2              # LocalCluster only
    threads_per_worker: int = 1     # LocalCluster only: torch threads of each worker's job
    resources: dict[str, float] = field(default_factory=dict)  # asked for by every job, e.g. {GPU: 1}

    def __post_init__(self) -> None:
        if self.n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {self.n_workers}")
        if self.threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be >= 1, got {self.threads_per_worker}")

    def describe(self) -> str:
        if self.backend == "sequential":
            return "sequential (in the Kedro process)"
        if self.address == "local":
            return f"Dask LocalCluster, {self.n_workers} workers x {self.threads_per_worker} thread(s)"
        return f"Dask cluster at {self.address}"


class JobError(InterpbenchError):
    """A fan-out job raised; the message names its key and holds the job's traceback."""


def run_jobs(
    fn: Callable[..., Any],
    jobs: Mapping[str, Mapping[str, Any]],
    parallel: ParallelParams,
    *,
    shared: Mapping[str, Any] | None = None,
    threads: int | None = None,
    desc: str = "jobs",
) -> dict[str, Any]:
    """``{key: fn(**shared, **jobs[key])}`` in the order of ``jobs``.

    ``fn`` must be a module-level function (workers import it); ``shared`` holds the arguments
    every job takes (sent to each Dask worker once, not once per job). ``threads``: torch CPU
    threads while a job runs in the Kedro process (``None``: unchanged); on a LocalCluster each
    job runs with ``threads_per_worker``.
    """
    shared = dict(shared or {})
    if not jobs:
        return {}
    log.info("%s: %d jobs, %s", desc, len(jobs), parallel.describe())
    if parallel.backend == "sequential":
        return _run_sequential(fn, jobs, shared, threads, desc)
    return _run_dask(fn, jobs, shared, parallel, desc)


def _run_sequential(fn, jobs, shared, threads, desc) -> dict[str, Any]:
    out = {}
    for key, kwargs in tqdm(jobs.items(), desc=desc, total=len(jobs), leave=False):
        try:
            out[key] = _call(fn, {**shared, **kwargs}, threads)
        except Exception as exc:
            raise JobError(f"{desc}: job {key!r} failed: {type(exc).__name__}: {exc}\n"
                           f"{traceback.format_exc()}") from exc
    return out


def _call(fn: Callable[..., Any], kwargs: dict[str, Any], threads: int | None) -> Any:
    """Run one job (in the Kedro process or on a worker) with ``threads`` torch threads."""
    from .runtime import cpu_threads

    with cpu_threads(threads):
        return fn(**kwargs)


class _Pickled:
    """A value sent with plain pickle. Dask serialises ``nn.Module`` attribute by attribute
    (``register_generic``), which turns its hook dicts into plain dicts: ``register_forward_hook``
    then fails on the worker ("cannot create weak reference to 'dict' object")."""

    def __init__(self, value: Any) -> None:
        self.data = pickle.dumps(value)

    def load(self) -> Any:
        return pickle.loads(self.data)


def _wrap(values: Mapping[str, Any]) -> dict[str, Any]:
    from torch import nn

    return {k: _Pickled(v) if isinstance(v, nn.Module) else v for k, v in values.items()}


def _unwrap(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.load() if isinstance(v, _Pickled) else v for k, v in values.items()}


def _worker_call(fn: Callable[..., Any], kwargs: dict[str, Any], threads: int | None, shared: dict[str, Any]) -> Any:
    """A job on a Dask worker: its traceback travels back as text (a worker's frames do not)."""
    try:
        return _call(fn, {**_unwrap(shared), **_unwrap(kwargs)}, threads)
    except Exception as exc:
        raise _RemoteJobFailure(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}") from None


class _RemoteJobFailure(RuntimeError):
    pass


def _run_dask(fn, jobs, shared, parallel: ParallelParams, desc) -> dict[str, Any]:
    from distributed import as_completed

    client = dask_client(parallel)
    threads = parallel.threads_per_worker if parallel.address == "local" else None
    # hash=False: unique keys. Content-hashed keys make a value scattered again (the same tiny
    # argument in a later fan-out) race the scheduler's release of its previous copy, and the
    # scatter can then wait forever.
    shared_future = client.scatter(_wrap(shared), broadcast=True, hash=False) if shared else {}
    futures = {}
    for key, kwargs in jobs.items():
        futures[client.submit(_worker_call, fn, _wrap(kwargs), threads, shared_future,
                              resources=parallel.resources or None, pure=False)] = key
    out: dict[str, Any] = {}
    try:
        for future in tqdm(as_completed(futures), desc=desc, total=len(futures), leave=False):
            key = futures[future]
            try:
                out[key] = future.result()
            except _RemoteJobFailure as exc:
                raise JobError(f"{desc}: job {key!r} failed on a Dask worker: {exc}") from None
            except Exception as exc:  # lost beyond the scheduler's allowed failures, cancelled, ...
                raise JobError(f"{desc}: job {key!r} failed on a Dask worker: {type(exc).__name__}: {exc}") from exc
    finally:
        for future in futures:
            if not future.done():
                future.cancel()
    return {key: out[key] for key in jobs}


CONNECT_TIMEOUT = "20s"
"""How long to wait for a scheduler given by address."""

_clusters: dict[tuple, Any] = {}
_lock = threading.Lock()


def dask_client(parallel: ParallelParams):
    """The run's Dask client for ``parallel`` (started at first use, kept until :func:`close_clusters`)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise InterpbenchError("parallel.backend: dask needs the `distributed` package (pip install distributed).") from None
    key = (parallel.address, parallel.n_workers, parallel.threads_per_worker)
    with _lock:
        if key in _clusters:
            return _clusters[key][0]
        if parallel.address == "local":
            import dask

            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which also fixes glibc's
            # mmap threshold: every large tensor is then mmap'ed and unmapped, and a DiffROAR
            # retraining ran 2.6x slower (5.9 s vs 2.2 s, mostly system time). Its statistical
            # profiler samples the job's stack every 10 ms; neither helps these jobs.
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                             "distributed.worker.profile.enabled": False})
            log.info("Starting a Dask LocalCluster: %d workers x %d thread(s)", parallel.n_workers,
                     parallel.threads_per_worker)
            cluster = LocalCluster(n_workers=parallel.n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.WARNING,
                                   resources=parallel.resources or None)
            client = Client(cluster)
        else:
            cluster = None
            try:
                client = Client(parallel.address, timeout=CONNECT_TIMEOUT)
            except OSError as exc:
                raise InterpbenchError(
                    f"parallel.address: no Dask scheduler answered at {parallel.address!r} ({exc}). Start one "
                    "(`dask scheduler`) and workers (`dask worker <address>`), or use address: local."
                ) from None
        _clusters[key] = (client, cluster)
        return client


def close_clusters() -> None:
    """Close the clients (and the LocalClusters) this process opened."""
    with _lock:
        for client, cluster in _clusters.values():
            try:
                client.close()
                if cluster is not None:
                    cluster.close()
            except Exception as exc:  # closing must never fail a finished run
                log.warning("Closing a Dask cluster: %s", exc)
        _clusters.clear()


def parse_parallel(raw: Any, where: str = "parallel") -> ParallelParams:
    """``parallel`` parameters, strictly parsed (unknown keys and bad values name the key)."""
    from .config import parse
    from .errors import ConfigError

    params = parse(ParallelParams, raw, where)
    if not isinstance(params.address, str) or not params.address:
        raise ConfigError(f"{where}.address: expected 'local' or a scheduler address like tcp://host:8786.")
    return params
