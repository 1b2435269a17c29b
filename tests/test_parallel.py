"""Fan-out jobs (interpbench.parallel): the same results sequentially and on a 2-worker Dask
LocalCluster, failures named by their job's key, strict parameters, and ParallelRunner refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from interpbench import parallel as parallel_module
from interpbench.errors import ConfigError, InterpbenchError
from interpbench.hooks import ParallelHooks
from interpbench.parallel import JobError, ParallelParams, close_clusters, parse_parallel, run_jobs
from interpbench.pipelines.input_gradients.nodes import retrain_on_masked
from interpbench.protocols.input_gradients import check_fractions

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(300)  # a Dask hang fails the test instead of stalling the suite
LOCAL2 = ParallelParams(backend="dask", address="local", n_workers=2, threads_per_worker=1)


@pytest.fixture(scope="module")
def cluster():
    yield LOCAL2
    close_clusters()


# Jobs are module-level functions the workers import by name (pytest's importlib mode leaves this
# test module unimportable there), so these tests send a library function: check_fractions.
JOBS = {f"job{i}": {"ks": [i / 10, 1.0]} for i in range(1, 7)}


def test_sequential_jobs_come_back_in_key_order_with_the_shared_arguments():
    out = run_jobs(check_fractions, JOBS, ParallelParams(), shared={"where": "k"})
    assert list(out) == list(JOBS) and out["job3"] == [0.3, 1.0]


def test_a_local_cluster_gives_the_sequential_results(cluster):
    assert run_jobs(check_fractions, JOBS, cluster, shared={"where": "k"}) == run_jobs(
        check_fractions, JOBS, ParallelParams(), shared={"where": "k"})


@pytest.mark.parametrize("backend", ["sequential", "dask"])
def test_a_failing_job_fails_the_run_with_its_key(backend, cluster):
    parallel = cluster if backend == "dask" else ParallelParams()
    jobs = {**JOBS, "job4": {"ks": [1.5]}}
    with pytest.raises(JobError, match=r"test: job 'job4' failed.*ConfigError: k: every k must be a fraction") as info:
        run_jobs(check_fractions, jobs, parallel, shared={"where": "k"}, desc="test")
    assert "check_fractions" in str(info.value)  # the job's own traceback travels with it


def _diffroar_inputs():
    base = yaml.safe_load((ROOT / "conf/base/parameters_input_gradients.yml").read_text())["input_gradients"]
    models = base["models"]
    models["rgb"]["model"]["options"] = {"width": 4, "blocks_per_stage": 1}
    params = {"models": models, "diffroar": {**base["diffroar"], "k": [0.1, 0.5], "seeds": 2,
                                              "train": {"epochs": 1, "batch_size": 16, "lr": 0.003, "optimizer": "adam"}},
              "cpu_threads": 1}
    g = torch.Generator().manual_seed(0)

    def split(n):
        return {"x": torch.rand(n, 3, 16, 16, generator=g), "y": torch.randint(0, 8, (n,), generator=g)}

    source = {"slot": "rgb", "dataset": "scenes", "train": split(48), "test": split(16)}
    rankings = [{"model": m, "method": "saliency", "dataset": "scenes", "train": torch.rand(48, 16, 16, generator=g),
                 "test": torch.rand(16, 16, 16, generator=g)} for m in ("resnet_small_standard", "random")]
    return source, params, rankings


@pytest.mark.timeout(300)
def test_diffroar_retrainings_are_identical_sequentially_and_on_two_workers(cluster):
    source, params, rankings = _diffroar_inputs()
    seq = retrain_on_masked(source, params, {"backend": "sequential"}, 0, "cpu", *rankings)
    dask = retrain_on_masked(source, params, vars(cluster), 0, "cpu", *rankings)
    assert len(seq) == 2 and len(seq[0]) == 4  # per ranking: 2 k levels x top/bottom
    for levels_seq, levels_dask in zip(seq, dask):
        for a, b in zip(levels_seq, levels_dask):
            assert (a["k"], a["keep"]) == (b["k"], b["keep"])
            assert a["correct"].shape == (2, 16)  # 2 seeds x 16 test items
            assert torch.equal(a["seeds"], b["seeds"]) and torch.equal(a["correct"], b["correct"])


def test_parallel_parameters_are_strict():
    assert parse_parallel(None) == ParallelParams()
    with pytest.raises(ConfigError, match=r"parallel: unknown parameter 'n_worker' \(did you mean 'n_workers'\?\)"):
        parse_parallel({"n_worker": 2})
    with pytest.raises(ConfigError, match=r"parallel.backend: expected one of \['sequential', 'dask'\]"):
        parse_parallel({"backend": "ray"})
    with pytest.raises(ConfigError, match="n_workers must be >= 1"):
        parse_parallel({"n_workers": 0})


def test_an_unreachable_scheduler_is_named(monkeypatch):
    monkeypatch.setattr(parallel_module, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InterpbenchError, match=r"parallel.address: no Dask scheduler answered at 'tcp://127.0.0.1:9'"):
        run_jobs(check_fractions, JOBS, ParallelParams(backend="dask", address="tcp://127.0.0.1:9"), shared={"where": "k"})


def test_parallel_runner_is_refused_with_what_to_use_instead():
    class SharedMemoryDataCatalog:  # what Kedro builds for ParallelRunner
        pass

    with pytest.raises(ConfigError, match=r"ParallelRunner is not supported.*default runner.*`parallel` parameters"):
        ParallelHooks().before_pipeline_run({"runner": "<kedro.runner.ParallelRunner object>"}, None, object())
    with pytest.raises(ConfigError, match="ParallelRunner"):
        ParallelHooks().before_pipeline_run({"runner": None}, None, SharedMemoryDataCatalog())
    ParallelHooks().before_pipeline_run({"runner": "SequentialRunner"}, None, object())  # no error


@pytest.mark.timeout(120)
def test_a_job_whose_worker_dies_is_run_again(cluster, tmp_path):
    # The job (a script the workers can run by path: test functions cannot travel, see above)
    # kills its worker process the first time; the nanny restarts the worker and the scheduler
    # re-runs the job (distributed.scheduler.allowed-failures).
    marker = tmp_path / "died-once"
    script = tmp_path / "job.py"
    script.write_text(
        "import os, pathlib\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.touch()\n"
        "    os._exit(1)\n"
        "globals().clear()\n"  # run_path returns the script's globals: nothing to send back
    )
    import runpy

    out = run_jobs(runpy.run_path, {"survivor": {"path_name": str(script)}}, cluster, desc="retry")
    assert out == {"survivor": {}} and marker.exists()


@pytest.mark.timeout(120)
def test_jobs_go_to_a_running_cluster_by_address_and_ask_for_its_resources():
    from distributed import LocalCluster

    # An already running cluster (as `dask scheduler` + `dask worker --resources GPU=1` would be).
    with LocalCluster(n_workers=1, threads_per_worker=1, resources={"GPU": 1}, dashboard_address=None,
                      silence_logs=40) as running:
        parallel = parse_parallel({"backend": "dask", "address": running.scheduler_address, "resources": {"GPU": 1}})
        try:
            out = run_jobs(check_fractions, JOBS, parallel, shared={"where": "k"})
        finally:
            close_clusters()  # closes the client only: the cluster is not ours
        assert out == run_jobs(check_fractions, JOBS, ParallelParams(), shared={"where": "k"})
        assert len(running.scheduler_info["workers"]) == 1  # still running
