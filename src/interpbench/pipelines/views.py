"""The registered views: each study end to end, each stage, and ``__default__``.

A *study* is any package under ``pipelines/`` with a ``create_pipeline()`` returning that study's
own nodes, each tagged with its stage (found by Kedro's ``find_pipelines``: nothing lists the
studies by hand). A study's view is its own nodes plus every node upstream of them (the shared
data in :mod:`.shared_data`, other studies' trained models). A *stage* view is every node tagged
with that stage; the stages run in :data:`STAGES` order, each reading only what the earlier ones
saved in the catalog.

A package may register its own view instead (``own_views``): the scorecard's reads the studies'
latest saved tables rather than running every study upstream of it.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from interpbench.pipelines.shared_data import shared_data_pipeline

STAGES = ("data_engineering", "training", "explanation", "evaluation", "reporting")


def build_views(studies: dict[str, Pipeline], own_views: dict[str, Pipeline] | None = None) -> dict[str, Pipeline]:
    """``{study: view, stage: view, "__default__": everything}`` from the studies' own nodes; a
    study in ``own_views`` gets that view instead of its nodes plus everything upstream."""
    everything = sum(studies.values(), shared_data_pipeline())
    untagged = [n.name for n in everything.nodes if not n.tags & set(STAGES)]
    if untagged:
        raise ValueError(f"nodes without a stage tag ({', '.join(STAGES)}): {', '.join(sorted(untagged))}")
    own_views = own_views or {}
    views = {name: own_views.get(name) or everything.to_nodes(*(n.name for n in own.nodes))
             for name, own in studies.items()}
    views.update({stage: everything.only_nodes_with_tags(stage) for stage in STAGES})
    views["__default__"] = everything
    return views


def stage_of(node) -> str:
    """The stage tag of a node."""
    return next(s for s in STAGES if s in node.tags)
