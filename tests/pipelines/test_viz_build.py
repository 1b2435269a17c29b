"""``kedro viz build`` exits 0 even when it fails, so check the files it writes."""

import json
import subprocess
import sys

import pytest
from kedro.framework.project import configure_project


@pytest.mark.timeout(300)
def test_viz_build_lists_every_node_of_every_registered_pipeline(tiny_project):
    subprocess.run([sys.executable, "-m", "kedro", "viz", "build"], cwd=tiny_project, check=True,
                   capture_output=True, timeout=280)
    api = tiny_project / "build" / "api"
    main = json.loads((api / "main").read_text())

    configure_project("interpbench")
    from interpbench.pipeline_registry import register_pipelines

    registered = register_pipelines()
    assert {p["id"] for p in main["pipelines"]} == set(registered)
    for name, pipe in registered.items():
        data = json.loads((api / "pipelines" / name).read_text())
        shown = {n["full_name"] for n in data["nodes"] if n["type"] == "task"}
        assert {n.name for n in pipe.nodes} == shown, name
