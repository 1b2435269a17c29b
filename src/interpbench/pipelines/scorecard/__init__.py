"""The cross-study scorecard and the index page of every report."""

from interpbench.pipelines.scorecard.pipeline import create_pipeline, create_view

__all__ = ["create_pipeline", "create_view"]
