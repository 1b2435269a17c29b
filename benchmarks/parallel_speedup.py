"""Fan-out speedup: the embedded default's DiffROAR retraining jobs, sequential vs a Dask
LocalCluster (``interpbench.parallel``), with a check that both give identical results.

Reads the DiffROAR source and rankings the last ``kedro run --pipelines input_gradients`` saved
(run it first). Usage::

    python benchmarks/parallel_speedup.py [--workers 2] [--jobs N]

``--jobs`` keeps the first N jobs of the ranking x k x keep x seed grid (all by default).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker (and sequential)")
    ap.add_argument("--rankings", default="random,standard,robust")
    args = ap.parse_args()

    import torch
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from interpbench.parallel import close_clusters, dask_client, parse_parallel
    from interpbench.pipelines.input_gradients.nodes import retrain_on_masked

    root = Path(__file__).resolve().parents[1]
    bootstrap_project(root)
    with KedroSession.create(project_path=root) as session:
        catalog = session.load_context().catalog
        try:
            source = catalog.load("input_gradients.diffroar.source")
            rankings = [catalog.load(f"input_gradients.diffroar.{r}.rankings") for r in args.rankings.split(",")]
        except Exception as exc:
            raise SystemExit(f"Run `kedro run --pipelines input_gradients` first ({exc}).") from None
        params = catalog.load("params:input_gradients")
    sub = {k: params[k] for k in ("models", "diffroar")}
    sub["cpu_threads"] = args.threads
    local = {"backend": "dask", "address": "local", "n_workers": args.workers, "threads_per_worker": args.threads}
    t0 = time.perf_counter()
    sequential = retrain_on_masked(source, sub, {"backend": "sequential"}, 0, "cpu", *rankings)
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    dask_client(parse_parallel(local))  # the LocalCluster's start, timed apart
    t_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    on_dask = retrain_on_masked(source, sub, local, 0, "cpu", *rankings)
    t_dask = time.perf_counter() - t0
    close_clusters()
    same = all(torch.equal(a["correct"], b["correct"]) for ra, rb in zip(sequential, on_dask) for a, b in zip(ra, rb))
    n_jobs = sum(len(r) for r in sequential) * len(sequential[0][0]["seeds"])
    print(f"\nDiffROAR retraining jobs of the embedded default ({n_jobs} jobs), {os.cpu_count()} cores")
    print("| backend | wall s | speedup |\n|---|---|---|")
    print(f"| sequential, {args.threads} thread(s) | {t_seq:.1f} | 1.00 |")
    print(f"| Dask LocalCluster {args.workers} workers x {args.threads} thread(s), jobs only | {t_dask:.1f} | "
          f"{t_seq / t_dask:.2f} |")
    print(f"| the same with the cluster's start ({t_start:.1f} s) | {t_dask + t_start:.1f} | "
          f"{t_seq / (t_dask + t_start):.2f} |")
    print(f"identical results: {same}")


if __name__ == "__main__":
    main()
