"""NodeTimingHooks: per-node times and the end-of-run summary per study."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from interpbench.hooks import NodeTimingHooks


def test_summary_per_study_and_slowest(caplog, monkeypatch):
    clock = iter([0.0, 2.0, 2.0, 3.0, 3.0, 7.0])
    monkeypatch.setattr("interpbench.hooks.time.perf_counter", lambda: next(clock))
    hooks = NodeTimingHooks()
    hooks.before_pipeline_run()
    for name in ("zoo.mlp.train", "zoo.mlp.score", "sanity_checks.primary.maps"):
        node = SimpleNamespace(name=name)
        hooks.before_node_run(node)
        hooks.after_node_run(node)
    with caplog.at_level(logging.INFO, logger="interpbench.hooks"):
        hooks.after_pipeline_run()
    assert "Node time per study: sanity_checks 4 s, zoo 3 s" in caplog.text
    assert "Slowest nodes: sanity_checks.primary.maps 4.0 s, zoo.mlp.train 2.0 s, zoo.mlp.score 1.0 s" in caplog.text
