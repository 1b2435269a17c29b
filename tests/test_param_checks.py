"""Parameters are checked before any node runs (interpbench.param_checks + ParamsCheckHooks)."""

from __future__ import annotations

import copy
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from kedro.config import OmegaConfigLoader

from interpbench.errors import ConfigError
from interpbench.param_checks import check_params, params_checks, register_params_check, top_level_keys
from tests.conftest import ROOT, TINY_PARAMETERS, make_project_copy

STUDY_KEYS = {"mnist", "scenes", "zoo", "sanity_checks", "input_gradients", "trojans", "neuron_robustness"}


def _parameters(env: str | None = None) -> dict:
    """The committed parameters as Kedro merges them (soft merge of conf/base and ``env``)."""
    loader = OmegaConfigLoader(str(ROOT / "conf"), base_env="base", default_run_env="local", env=env,
                               merge_strategy={"parameters": "soft"})
    return loader["parameters"]


def test_every_top_level_key_has_a_check():
    assert set(_parameters()) <= set(params_checks())
    assert STUDY_KEYS | {"seed", "device"} <= set(params_checks())


@pytest.mark.parametrize("env", [None, "imagenet", "gpu_cifar10", "broden"])
def test_committed_parameters_pass(env):
    params = _parameters(env)
    parsed = check_params(params)
    assert set(parsed) == set(params)


def _with(params: dict, path: str, value) -> dict:
    out = copy.deepcopy(params)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("mnist.test_fractoin", r"mnist: unknown parameter 'test_fractoin' \(did you mean 'test_fraction'\?\)"),
        ("scenes.n_trian", r"scenes: unknown parameter 'n_trian' \(did you mean 'n_train'\?\)"),
        ("zoo.mlp.train.epochz", r"zoo\.mlp\.train: unknown parameter 'epochz' \(did you mean 'epochs'\?\)"),
        ("zoo.mlp.explain.n_image", r"zoo\.mlp\.explain: unknown parameter 'n_image' \(did you mean 'n_images'\?\)"),
        ("zoo.mlpp", r"zoo: unknown parameter 'mlpp' \(did you mean 'mlp'\?\)"),
        ("sanity_checks.protocol.random_labels.n_trian",
         r"sanity_checks\.protocol\.random_labels: unknown parameter 'n_trian' \(did you mean 'n_train'\?\)"),
        ("sanity_checks.protocl", r"sanity_checks: unknown parameter 'protocl' \(did you mean 'protocol'\?\)"),
        ("sanity_checks.secondary.image", r"sanity_checks\.secondary: unknown parameter 'image' \(did you mean 'images'\?\)"),
        ("input_gradients.diffroar.trian",
         r"input_gradients\.diffroar: unknown parameter 'trian' \(did you mean 'train'\?\)"),
        ("input_gradients.models.rgb.atack",
         r"input_gradients\.models\.rgb: unknown parameter 'atack' \(did you mean 'attack'\?\)"),
    ],
)
def test_a_misspelled_nested_key_names_its_path_and_the_closest_key(path, message):
    params = _with(_parameters(), path, {"epochs": 1} if path.endswith("trian") else 1)
    with pytest.raises(ConfigError, match=message):
        check_params(params)


def test_wrong_values_fail_too():
    with pytest.raises(ConfigError, match=r"input_gradients\.diffroar\.k"):
        check_params(_with(_parameters(), "input_gradients.diffroar.k", [0.1, 2.0]))
    with pytest.raises(ConfigError, match=r"sanity_checks\.secondary\.images\.root: required"):
        check_params(_with(_parameters(), "sanity_checks.secondary", {"images": {"source": "image_folder"}}))
    with pytest.raises(ConfigError, match=r"sanity_checks\.primary and sanity_checks\.secondary both name their model 'mlp'"):
        check_params(_with(_parameters(), "sanity_checks.primary", {"label": "mlp"}))
    with pytest.raises(ConfigError, match=r"zoo: missing required parameter 'resnet_small'"):
        params = _parameters()
        del params["zoo"]["resnet_small"]
        check_params(params)
    with pytest.raises(ConfigError, match=r"device: 'gpu' is not a torch device"):
        check_params({"device": "gpu"})
    with pytest.raises(ConfigError, match=r"seed: expected an integer"):
        check_params({"seed": "0"})


def test_only_the_keys_asked_for_are_checked_and_unchecked_keys_warn(caplog):
    params = _with(_parameters(), "zoo.mlpp", 1)
    params["my_notes"] = {"anything": 1}
    with caplog.at_level("WARNING", logger="interpbench.param_checks"):
        assert set(check_params(params, {"mnist", "seed"})) == {"mnist", "seed"}
    assert "my_notes" in caplog.text


def test_registry_and_key_extraction(monkeypatch):
    from interpbench import param_checks

    monkeypatch.setattr(param_checks, "_CHECKS", dict(params_checks()))  # leave the registry as it was
    register_params_check("_test_key", lambda raw, where: raw)
    assert params_checks()["_test_key"](3, "_test_key") == 3
    with pytest.raises(ValueError):
        register_params_check("a.b", lambda raw, where: raw)
    names = ["params:input_gradients", "params:zoo.mlp", "params:sanity_checks.protocol", "mnist_train", "parameters"]
    assert top_level_keys(names) == {"input_gradients", "zoo", "sanity_checks"}


@pytest.mark.timeout(120)
def test_kedro_run_with_a_typo_fails_before_the_first_node(tmp_path):
    project = make_project_copy(tmp_path, TINY_PARAMETERS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "input_gradients",
         "--params", "input_gradients.diffroar.trian.epochs=1"],
        cwd=project, env=env, capture_output=True, text=True, timeout=110,
    )
    out = " ".join((proc.stdout + proc.stderr).split())  # rich wraps long lines
    assert proc.returncode != 0, out
    assert "input_gradients.diffroar: unknown parameter 'trian' (did you mean 'train'?)" in out, out
    assert "Running node" not in out and "Completed" not in out, out
    assert not any(p.is_file() for p in project.glob("data/**/*")), "a node wrote data"
    if (project / "mlflow.db").exists():  # checked before kedro-mlflow opens a run
        with sqlite3.connect(project / "mlflow.db") as db:
            assert db.execute("select count(*) from runs").fetchone()[0] == 0
    assert time.monotonic() - started < 100
