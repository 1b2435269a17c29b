"""The project's parameters merge: soft, except that a model mapping (one with ``architecture``) in
an environment file replaces base's whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interpbench.config_loader import InterpbenchConfigLoader, replaced_paths
from interpbench.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS

BASE = {
    "seed": 0,
    "study": {
        "models": {
            "slot": {
                "model": {"architecture": "mlp", "num_classes": 2, "options": {"hidden": [256, 256]}},
                "train": {"epochs": 10, "lr": 0.05},
            },
            "other": {"model": {"architecture": "resnet_small", "options": {"width": 8}}},
        },
        "n_boot": 1000,
    },
}


def _loader(tmp_path: Path, env: dict, runtime_params: dict | None = None) -> InterpbenchConfigLoader:
    for name, params in (("base", BASE), ("env", env)):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "parameters.yml").write_text(yaml.safe_dump(params))
    return CONFIG_LOADER_CLASS(str(tmp_path), env="env", runtime_params=runtime_params, **CONFIG_LOADER_ARGS)


def test_project_uses_this_loader_with_the_soft_merge():
    assert CONFIG_LOADER_CLASS is InterpbenchConfigLoader
    assert CONFIG_LOADER_ARGS["merge_strategy"] == {"parameters": "soft"}


def test_env_model_with_another_architecture_replaces_base_model_whole(tmp_path):
    env = {"study": {"models": {"slot": {"model": {"architecture": "mnist_cnn", "num_classes": 2}}}}}
    params = _loader(tmp_path, env)["parameters"]
    assert params["study"]["models"]["slot"]["model"] == {"architecture": "mnist_cnn", "num_classes": 2}  # no options
    assert params["study"]["models"]["slot"]["train"] == {"epochs": 10, "lr": 0.05}  # sibling of model kept
    assert params["study"]["models"]["other"] == BASE["study"]["models"]["other"]
    assert params["study"]["n_boot"] == 1000 and params["seed"] == 0


def test_env_overriding_one_key_keeps_its_siblings(tmp_path):
    env = {"study": {"models": {"slot": {"train": {"epochs": 1}}}}, "seed": 3}
    params = _loader(tmp_path, env)["parameters"]
    assert params["study"]["models"]["slot"]["train"] == {"epochs": 1, "lr": 0.05}
    assert params["study"]["models"]["slot"]["model"] == BASE["study"]["models"]["slot"]["model"]
    assert params["seed"] == 3 and params["study"]["n_boot"] == 1000


def test_env_options_only_are_soft_merged(tmp_path):
    # No ``architecture`` beside them: the model mapping is merged key by key as before.
    env = {"study": {"models": {"slot": {"model": {"options": {"hidden": [16]}}}}}}
    model = _loader(tmp_path, env)["parameters"]["study"]["models"]["slot"]["model"]
    assert model == {"architecture": "mlp", "num_classes": 2, "options": {"hidden": [16]}}


@pytest.mark.parametrize("env", [{}, {"study": {"models": {"slot": {"model": {"architecture": "mnist_cnn"}}}}}])
def test_runtime_params_still_deep_merge(tmp_path, env):
    # ``kedro run --params "study.models.other.model.options.width=4"`` changes one key, with or
    # without an environment file that replaces another model.
    runtime = {"study": {"models": {"other": {"model": {"options": {"width": 4}}}}}}
    params = _loader(tmp_path, env, runtime)["parameters"]
    assert params["study"]["models"]["other"]["model"] == {"architecture": "resnet_small", "options": {"width": 4}}


def test_runtime_architecture_alone_does_not_drop_the_model_keys(tmp_path):
    runtime = {"study": {"models": {"slot": {"model": {"architecture": "mnist_cnn"}}}}}
    model = _loader(tmp_path, {"seed": 1}, runtime)["parameters"]["study"]["models"]["slot"]["model"]
    assert model == {"architecture": "mnist_cnn", "num_classes": 2, "options": {"hidden": [256, 256]}}


def test_runtime_params_apply_inside_a_replaced_model(tmp_path):
    env = {"study": {"models": {"slot": {"model": {"architecture": "mnist_cnn", "num_classes": 2, "options": {}}}}}}
    runtime = {"study": {"models": {"slot": {"model": {"options": {"channels": 4}}}}}}
    model = _loader(tmp_path, env, runtime)["parameters"]["study"]["models"]["slot"]["model"]
    assert model == {"architecture": "mnist_cnn", "num_classes": 2, "options": {"channels": 4}}


def test_replaced_paths_are_the_outermost_model_mappings():
    config = {"a": {"model": {"architecture": "x", "options": {"architecture": "nested"}}}, "b": [{"architecture": 1}],
              "architecture": "top-level scalar"}
    assert replaced_paths(config) == [("a", "model")]
