"""Check of the ``trojans`` parameters before the run (the parser every node uses)."""

from __future__ import annotations

from typing import Any

from interpbench.errors import ConfigError
from interpbench.param_checks import register_params_check
from interpbench.pipelines.trojans.pipeline import STUDY
from interpbench.protocols.trojans import trojans_params


def check_trojans(raw: Any, where: str):
    p = trojans_params(raw, where)
    for key in ("trojans", "model"):
        if getattr(p, key) is None:
            raise ConfigError(f"{where}: missing required parameter {key!r}.")
    return p


register_params_check(STUDY, check_trojans)
