"""Checks of the shared data sets' parameters (``mnist``, ``scenes``) before the run."""

from __future__ import annotations

from typing import Any

from interpbench.config import parse
from interpbench.param_checks import register_params_check
from interpbench.pipelines.data_engineering.nodes import MnistParams, ScenesParams


def check_mnist(raw: Any, where: str) -> MnistParams:
    return parse(MnistParams, raw, where)


def check_scenes(raw: Any, where: str) -> ScenesParams:
    return parse(ScenesParams, raw, where)


register_params_check("mnist", check_mnist)
register_params_check("scenes", check_scenes)
