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
