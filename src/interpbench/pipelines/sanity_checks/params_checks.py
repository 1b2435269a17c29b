"""Check of the ``sanity_checks`` parameters before the run: the protocol and each model slot."""

from __future__ import annotations

from typing import Any

from interpbench.config import parse
from interpbench.errors import ConfigError
from interpbench.param_checks import mapping, register_params_check
from interpbench.pipelines.inputs import slot_labels
from interpbench.pipelines.params import (
    SanityParams,
    SanityReportParams,
    StudySlotParams,
)
from interpbench.pipelines.sanity_checks.pipeline import SLOTS, STUDY


def check_sanity_checks(raw: Any, where: str) -> dict:
    p = mapping(raw, where, ["protocol", "report", *SLOTS])
    parsed = {"protocol": parse(SanityParams, p.get("protocol"), f"{where}.protocol"),
              "report": parse(SanityReportParams, p.get("report") or {}, f"{where}.report")}
    for slot in SLOTS:
        s = parse(StudySlotParams, p.get(slot) or {}, f"{where}.{slot}")
        if s.images.source not in ("test_split", "image_folder"):
            raise ConfigError(f"{where}.{slot}.images.source: expected 'test_split' or 'image_folder', got {s.images.source!r}.")
        if s.images.source == "image_folder" and not s.images.root:
            raise ConfigError(f"{where}.{slot}.images.root: required when source is 'image_folder'.")
        parsed[slot] = s
    labels = {}
    for slot, (model, dataset) in SLOTS.items():
        label = slot_labels(p.get(slot), model, dataset)[0]
        if label in labels:
            raise ConfigError(f"{where}.{labels[label]} and {where}.{slot} both name their model {label!r} in the results "
                              f"table; set `label:` on one of them (e.g. {where}.{slot}.label: {label}_{slot}).")
        labels[label] = slot
    return parsed


register_params_check(STUDY, check_sanity_checks)
