"""Check of the ``zoo`` parameters before the run: one ClassifierParams per model slot."""

from __future__ import annotations

from typing import Any

from interpbench.param_checks import mapping, register_params_check
from interpbench.pipelines.helpers import classifier_params
from interpbench.pipelines.zoo.pipeline import SLOTS, STUDY


def check_zoo(raw: Any, where: str) -> dict:
    slots = mapping(raw, where, SLOTS, required=SLOTS)
    return {slot: classifier_params(value, f"{where}.{slot}") for slot, value in slots.items()}


register_params_check(STUDY, check_zoo)
