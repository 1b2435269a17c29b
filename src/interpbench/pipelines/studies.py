"""The studies (one Kedro namespace and one ``pipelines/<study>`` package each) and the views.

Each study package builds its whole pipeline with its nodes tagged by stage. A *stage* pipeline
is the union of every study's nodes with that stage's tag; a *study* pipeline is its namespace's
nodes plus the shared upstream nodes they read (e.g. the MNIST split).
"""

from __future__ import annotations

import importlib

from kedro.pipeline import Pipeline

from interpbench.pipelines.shared import shared_data_pipeline

STAGES = ("data_engineering", "training", "explanation", "evaluation", "reporting")
STUDIES = ("zoo", "sanity_checks", "input_gradients")


def providers() -> Pipeline:
    """Nodes other studies may read from: the shared data and the zoo's trained models."""
    from interpbench.pipelines.zoo.pipeline import zoo_nodes

    return shared_data_pipeline() + zoo_nodes()


def study_pipeline(study: str, own: Pipeline) -> Pipeline:
    """``own`` (the study's namespaced nodes) plus every provider node upstream of it."""
    everything = providers() + own
    return everything.to_nodes(*(n.name for n in own.nodes))


def stage_pipeline(stage: str) -> Pipeline:
    """Every study's nodes tagged ``stage``."""
    parts = [importlib.import_module(f"interpbench.pipelines.{s}").create_pipeline() for s in STUDIES]
    everything = sum(parts, Pipeline([]))
    return Pipeline([n for n in everything.nodes if stage in n.tags])
