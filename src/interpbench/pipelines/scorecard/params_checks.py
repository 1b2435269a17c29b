"""Check of the ``scorecard`` parameters before the run."""

from __future__ import annotations

from typing import Any

from interpbench.config import parse
from interpbench.param_checks import mapping, register_params_check
from interpbench.pipelines.scorecard.pipeline import STUDY
from interpbench.reporting.scorecard import ScorecardOptions


def check_scorecard(raw: Any, where: str) -> dict:
    keys = mapping(raw, where, ["measures"])
    measures = dict(keys.get("measures") or {})
    if "alpha" in measures:  # the trojans study's report.alpha, not a scorecard key
        from interpbench.errors import ConfigError

        raise ConfigError(f"{where}.measures: unknown parameter 'alpha' (the scorecard reads trojans.report.alpha).")
    return {"measures": parse(ScorecardOptions, measures, f"{where}.measures")}


register_params_check(STUDY, check_scorecard)
