from kedro.framework.project import configure_project

from interpbench.pipelines.studies import STAGES, STUDIES


def _pipelines():
    configure_project("interpbench")
    from interpbench.pipeline_registry import register_pipelines

    return register_pipelines()


def test_stages_studies_and_default_are_registered():
    pipes = _pipelines()
    assert set(STAGES) | set(STUDIES) | {"__default__"} <= set(pipes)
    for name in (*STAGES, *STUDIES):
        assert pipes[name].nodes, f"pipeline {name} is empty"


def test_stages_partition_the_default_pipeline():
    pipes = _pipelines()
    default = {n.name for n in pipes["__default__"].nodes}
    staged = [n.name for s in STAGES for n in pipes[s].nodes]
    assert sorted(staged) == sorted(default)


def test_study_pipeline_includes_its_shared_inputs():
    pipes = _pipelines()
    names = {n.name for n in pipes["zoo"].nodes}
    assert {"prepare_mnist", "make_scenes", "zoo.mnist_cnn.train_classifier"} <= names
    assert all(n.namespace in (None, "") or n.namespace.startswith("zoo") for n in pipes["zoo"].nodes)
