from kedro.framework.project import configure_project

from interpbench.pipelines.views import STAGES

STUDIES = ("zoo", "sanity_checks", "input_gradients", "trojans", "neuron_robustness", "adversarial")
REPORTING = ("scorecard",)  # packages that only report across the studies


def _pipelines():
    configure_project("interpbench")
    from interpbench.pipeline_registry import register_pipelines

    return register_pipelines()


def test_stages_studies_and_default_are_registered():
    pipes = _pipelines()
    assert set(STAGES) | set(STUDIES) | set(REPORTING) | {"__default__"} <= set(pipes)
    for name in (*STAGES, *STUDIES, *REPORTING):
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


def test_studies_are_discovered_not_listed():
    """Every package under pipelines/ is a view (the studies and the scorecard); nothing else is
    registered besides the stages and __default__."""
    import importlib.resources

    pipes = _pipelines()
    packages = {p.name for p in importlib.resources.files("interpbench.pipelines").iterdir()
                if p.is_dir() and (p / "pipeline.py").is_file()}
    assert packages == set(STUDIES) | set(REPORTING)
    assert set(pipes) == packages | set(STAGES) | {"__default__"}


def test_every_node_has_one_stage_and_its_study_tag():
    pipes = _pipelines()
    for node in pipes["__default__"].nodes:
        assert len(node.tags & set(STAGES)) == 1, node.name
        study = node.namespace.split(".")[0] if node.namespace else None
        assert study is None or study in node.tags, node.name


def test_nodes_receive_the_parameter_sub_keys_they_use():
    """No node reads a whole study mapping (``params:<study>``); kedro-viz shows what each reads."""
    pipes = _pipelines()
    whole = {f"params:{s}" for s in (*STUDIES, *REPORTING)}
    for node in pipes["__default__"].nodes:
        assert not set(node.inputs) & whole, (node.name, node.inputs)
