"""The study's parameters: conf/base parses, and each mistake is a ConfigError naming its key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from interpbench.errors import ConfigError
from interpbench.pipelines.params import ig_dataset_name, ig_slot_models, input_gradients_params

ROOT = Path(__file__).resolve().parents[2]


def _base() -> dict:
    return yaml.safe_load((ROOT / "conf/base/parameters_input_gradients.yml").read_text())["input_gradients"]


def _gpu() -> dict:
    return yaml.safe_load((ROOT / "conf/gpu_cifar10/parameters_input_gradients.yml").read_text())["input_gradients"]


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def test_base_and_gpu_parameters_parse():
    p = input_gradients_params(_base())
    assert p.models.blockmnist.model.architecture == "mlp" and p.diffroar.data == "rgb"
    assert p.diffroar.seeds >= 3 and len(p.diffroar.k) <= 3  # CPU default: few k levels, >= 3 retraining seeds
    assert ig_slot_models(p, "blockmnist_top") is p.models.blockmnist
    assert ig_dataset_name(p, "rgb") == "scenes" and ig_dataset_name(p, "blockmnist_top") == "blockmnist_top"
    gpu = input_gradients_params(_merge(_base(), _gpu()))
    assert gpu.data.rgb.source == "cifar10" and gpu.diffroar.data == "rgb"
    assert ig_dataset_name(gpu, "rgb") == "cifar10" and gpu.models.rgb.model.num_classes == 10
    assert gpu.diffroar.k == [0.05, 0.1, 0.2, 0.3, 0.5] and gpu.diffroar.seeds >= 3 and gpu.diffroar.max_train is None


@pytest.mark.parametrize(
    "override, message",
    [
        ({"null_block_share": {"k": [0.05, 0]}}, r"input_gradients\.null_block_share\.k: every k"),
        ({"diffroar": {"k": [0.1, 0.1]}}, r"input_gradients\.diffroar\.k: the fractions must be distinct"),
        ({"diffroar": {"data": "mnist"}}, r"input_gradients\.diffroar\.data: expected one of"),
        ({"diffroar": {"k_levels": [0.1]}}, r"input_gradients\.diffroar: unknown parameter 'k_levels'"),
        ({"models": {"blockmnist": {"attack": {"norm": "l1"}}}}, r"input_gradients\.models\.blockmnist\.attack\.norm"),
        ({"models": {"blockmnist": {"attack": {"eps": -1.0}}}}, r"input_gradients\.models\.blockmnist\.attack: eps"),
        ({"models": {"rgb": {"attack": {"restarts": 0}}}},
         r"input_gradients\.models\.rgb\.attack\.restarts must be >= 1, got restarts=0"),
        ({"models": {"rgb": {"robust": {"epochs": 0}}}}, r"input_gradients\.models\.rgb\.robust"),
        ({"data": {"rgb": {"source": "cifar10"}}}, r"input_gradients\.data\.rgb\.root: required"),
        ({"data": {"blockmnist": {"classes": [3, 3]}}}, r"input_gradients\.data\.blockmnist\.classes"),
        ({"explanation": {"target": "logit"}}, r"input_gradients\.explanation\.target"),
        ({"diffroarr": {}}, r"did you mean 'diffroar'"),
        ({"diffroar": {"seeds": 0}}, r"input_gradients\.diffroar: seeds must be >= 1"),
        ({"diffroar": {"max_train": 1}}, r"input_gradients\.diffroar: seeds must be >= 1 and max_train >= 2"),
    ],
)
def test_mistakes_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        input_gradients_params(_merge(_base(), override))
