"""Fail at once when a pipeline's inputs are not on disk yet, naming the stage that makes them.

Running a stage alone (``kedro run --pipelines training``) reads only what earlier stages saved.
Without this check a missing input surfaces deep inside the first node that loads it, as a bare
``FileNotFoundError`` or "Data for MemoryDataset has not been saved yet".
"""

from __future__ import annotations

import logging

from kedro.framework.hooks import hook_impl

from interpbench.errors import InterpbenchError
from interpbench.pipelines.views import STAGES

log = logging.getLogger(__name__)


class MissingInputError(InterpbenchError):
    """A pipeline input that no node of the run makes is not in the catalog's storage."""


def missing_inputs(pipeline, catalog) -> list[str]:
    """The pipeline's free inputs (not parameters) that the catalog cannot load."""
    names = sorted(n for n in pipeline.inputs() if not n.startswith("params:") and n != "parameters")
    return [n for n in names if not catalog.exists(n)]


def producers(everything) -> dict[str, str]:
    """``{dataset: stage of the node that makes it}`` over the whole project."""
    made = {}
    for node in everything.nodes:
        stage = next((s for s in STAGES if s in node.tags), "?")
        for out in node.outputs:
            made[out] = stage
    return made


def missing_inputs_message(missing: list[str], made: dict[str, str]) -> str:
    lines = []
    for name in missing:
        stage = made.get(name)
        how = f"made by the '{stage}' stage: run `kedro run --pipelines {stage}` first" if stage else "not made by any pipeline: check its path in the catalog"
        lines.append(f"  - {name} ({how})")
    stages = sorted({made[n] for n in missing if n in made}, key=lambda s: STAGES.index(s) if s in STAGES else 99)
    order = " -> ".join(STAGES)
    hint = f"\nRun the stages in order ({order}) or the whole study at once." if stages else ""
    return "This run needs datasets that are not saved yet:\n" + "\n".join(lines) + hint


class MissingInputsHooks:
    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        missing = missing_inputs(pipeline, catalog)
        if not missing:
            return
        from kedro.framework.project import pipelines

        made = producers(pipelines["__default__"])
        raise MissingInputError(missing_inputs_message(missing, made))
