"""Check of the ``input_gradients`` parameters before the run (the parser every node uses)."""

from __future__ import annotations

from typing import Any

from interpbench.errors import ConfigError
from interpbench.param_checks import register_params_check
from interpbench.pipelines.input_gradients.pipeline import STUDY
from interpbench.pipelines.params import input_gradients_params


def check_input_gradients(raw: Any, where: str):
    p = input_gradients_params(raw, where)
    if p.models is None:
        raise ConfigError(f"{where}: missing required parameter 'models'.")
    return p


register_params_check(STUDY, check_input_gradients)
