"""explanation stage: the union of every study's explanation nodes (one namespace per study)."""

from kedro.pipeline import Pipeline


def create_pipeline(**kwargs) -> Pipeline:
    # Imported here: the study packages import this stage's nodes module.
    from interpbench.pipelines.studies import stage_pipeline

    return stage_pipeline("explanation")
