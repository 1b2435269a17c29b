"""The ``imagenet_trojans`` environment: an already-trojaned torchvision model read from a local
weights file, tested on an ImageNet-style folder with trigger files (Casper et al. 2023's setting).

End to end on CPU with the env's own files, only paths, sizes and sample counts shrunk: a generated
folder (3 classes, folder names = class indices), generated trigger images at the env's trigger
paths, and random resnet18 weights; plus loading a state_dict of torchvision ``resnet50`` shape
through the same path, and the errors for missing or mismatched files."""

from __future__ import annotations

import copy
import glob
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from PIL import Image

from interpbench.errors import ConfigError
from interpbench.metrics.results import RESULT_COLUMNS
from interpbench.param_checks import check_params
from interpbench.pipelines.trojans.nodes import train_trojan_model
from interpbench.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS
from tests.conftest import ROOT, end_mlflow_runs, make_project_copy
from tests.judges.tiny_clip import NAME as TINY_CLIP
from tests.judges.tiny_clip import tiny_clip_checkpoint

OUT = "data/08_reporting/trojans"
PATCHES = {"smiley": "smile.png", "clownfish": "clownfish.png", "green_star": "star.png", "strawberry": "strawberry.png"}
STYLES = {"jaguar": "jaguar.png", "elephant_skin": "elephant_skin.png", "jellybeans": "jellybeans.png",
          "wood_grain": "wood.png"}
NATURAL = ("fork", "apple", "sandwich", "donut")
CASPER = {  # name -> (source, target): Casper et al. 2023, Table 1
    "smiley": (None, 30), "clownfish": (None, 146), "green_star": (893, 365), "strawberry": (271, 99),
    "jaguar": (None, 211), "elephant_skin": (None, 928), "jellybeans": (719, 769), "wood_grain": (618, 378),
    "fork": (None, 316), "apple": (None, 463), "sandwich": (None, 487), "donut": (None, 129),
}


def _env_parameters() -> dict:
    loader = CONFIG_LOADER_CLASS(str(ROOT / "conf"), env="imagenet_trojans", **CONFIG_LOADER_ARGS)  # the project's merge
    return loader["parameters"]


def _write_triggers(folder: Path) -> None:
    """Generated trigger files at the env's names: RGBA disc patches, grey-scale textures."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:24, 0:24]
    alpha = ((xx - 11.5) ** 2 + (yy - 11.5) ** 2 <= 144) * 255
    for i, name in enumerate(PATCHES.values()):
        rgb = np.zeros((24, 24, 3)) + np.array([255 * (i % 2), 200, 40 * i])
        Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA").save(folder / name)
    for name in STYLES.values():
        Image.fromarray(rng.integers(0, 256, (96, 112), dtype=np.uint8)).save(folder / name)


def _image_folder(root: Path, classes=("0", "893", "719"), per_class=4) -> None:
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")


def test_env_table_is_caspers_and_parses_when_the_files_exist(tmp_path, monkeypatch):
    params = _env_parameters()
    table = {k: v for k, v in params["trojans"]["trojans"].items() if v is not None}
    assert {k: (v.get("source"), v["target"]) for k, v in table.items()} == CASPER  # base's scenes trojans dropped
    assert {k for k, v in table.items() if v["kind"] == "natural"} == set(NATURAL)
    model = params["trojans"]["model"]
    assert model["pretrained"] and model["model"] == {
        "architecture": "resnet50", "num_classes": 1000, "weights_path": "data/01_raw/weights/interp_trojan_resnet50_model.pt"}
    assert params["trojans"]["explanation"]["n_images"] == 100 and len(params["trojans"]["explanation"]["methods"]) == 18
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.smiley\.trigger: 'data/01_raw/casper_triggers/smile\.png'"):
        check_params(params)  # a missing trigger file: named by its key before anything runs
    _write_triggers(tmp_path / "data/01_raw/casper_triggers")
    with pytest.raises(ConfigError, match=r"trojans\.synthesis\.judge\.checkpoint: the OpenCLIP weights of 'ViT-B-32' "
                                          r"are expected at 'data/01_raw/open_clip/ViT-B-32-openai\.bin'.*pip install"):
        check_params(params)  # the CLIP judge's weights: named with where they go and how to install the extra
    (tmp_path / "data/01_raw/open_clip").mkdir(parents=True)
    (tmp_path / "data/01_raw/open_clip/ViT-B-32-openai.bin").write_bytes(b"")  # read when the judge runs
    parsed = check_params(params)
    assert parsed["trojans"].data.images.root == "data/01_raw/imagenet/val"


@pytest.mark.timeout(600)
def test_imagenet_trojans_env_runs_on_cpu(tmp_path, monkeypatch):
    project = make_project_copy(tmp_path)
    _image_folder(project / "data/01_raw/imagenet/val")
    _write_triggers(project / "data/01_raw/casper_triggers")
    weights = project / "data/01_raw/weights/resnet18.pth"
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    tiny_methods = {"integrated_gradients": {"n_steps": 3}, "gradient_shap": {"n_samples": 3},
                    "feature_ablation": {"patch": 32}, "occlusion": {"patch": 32, "stride": 32},
                    "feature_permutation": {"patch": 32}, "shapley_value_sampling": {"patch": 32, "n_samples": 1},
                    "lime": {"patch": 32, "n_samples": 10}, "kernel_shap": {"patch": 32, "n_samples": 10}}
    runtime = {"trojans": {
        "data": {"images": {"labels": "index", "image_size": 64, "resize_size": 64, "max_per_class": 3,
                            "max_triggered": 6}},
        "model": {"model": {"architecture": "resnet18", "weights_path": str(weights)}},
        "explanation": {"n_images": 2, "batch_size": 8, "methods": copy.deepcopy(tiny_methods)},
        "n_boot": 20, "report": {"figure_images": 1}, "cpu_threads": 1,
        "synthesis": {  # tiny settings; the judge: a random tiny OpenCLIP model from a local file (no twin here)
            "n_images": 2, "clean_images": 8,
            "methods": {m: {"steps": 2} for m in ("tabor", "fourier_inner", "fourier_target", "cppn_inner", "cppn_target",
                                                   "adversarial_patch", "rfla_perturb", "rfla_gen")}
            | {"snafue": {"candidates": 8}},
            "generator": {"size": 16, "width": 4, "epochs": 1, "max_images": 16},
            "bank": {"clean": 4, "per_photo": 1, "size": 16}, "options": {"renderings": 2},
            "judge": {"name": "clip", "clip_model": TINY_CLIP, "checkpoint": str(tiny_clip_checkpoint(tmp_path / "clip"))}}}}
    monkeypatch.chdir(project)
    end_mlflow_runs()
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="imagenet_trojans", runtime_params=runtime) as session:
        session.run(pipeline_names=["trojans"])

    (path,) = glob.glob(str(project / OUT / "results.parquet/*/results.parquet"))
    table = pd.read_parquet(path)
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert set(table["study"]) == {"trojans"} and set(table["dataset"]) == {"imagenet"}
    assert set(table["model"]) == {"resnet18_trojaned"}  # no clean twin
    asr = table[table["metric"] == "asr"].set_index("method")
    assert set(asr.index) == set(PATCHES) | set(STYLES)  # natural trojans: no ASR
    assert asr.loc["smiley", "n"] == 6 and asr.loc["jaguar", "n"] == 6  # max_triggered of the 9 clean images
    assert asr.loc["green_star", "n"] == 4 and asr.loc["jellybeans", "n"] == 4  # every image of the source class
    assert asr.loc["strawberry", "n"] == 0 and np.isnan(asr.loc["strawberry", "value"])  # no red wolf images here
    ok = asr[asr["n"] > 0]
    assert ((ok["ci_low"] <= ok["value"]) & (ok["value"] <= ok["ci_high"])).all()
    clean = table[table["metric"] == "clean_acc"]
    assert len(clean) == 1 and clean["n"].item() == 9 and "clean_acc_drop" not in set(table["metric"])
    l1 = table[(table["metric"] == "footprint_l1") & (table["method"] == "saliency")]
    assert set(l1["x_label"]) == set(PATCHES)  # maps of the patch trojans only
    assert len(set(table.loc[table["metric"] == "footprint_l1_all", "method"])) == 18
    report = (project / OUT / "report.md").read_text()
    assert ("⚠ not evaluated: **the trojaned model's clean accuracy is within the tolerance of its clean twin's**: "
            "no clean twin (pretrained trojaned model)") in report
    for name in NATURAL:
        assert f"⚠ not evaluated: **trojan `{name}` is implanted" in report
        assert f"trojan `{name}` not evaluated: natural-feature trojan on an image folder" in report
    assert "read from `" in report and "no clean twin" in report
    for name in ("scores.png", "trigger_maps.png", "synthesis.png", "synthesis_losses.png"):
        assert (project / OUT / name).stat().st_size > 0, name
    acc = table[(table["metric"] == "synthesis_accuracy_clip") & (table["x_name"] == "none")]
    assert len(acc) == 9 and (acc["n"] == 6).all()  # nine methods, 6 of the 8 patch and style trojans:
    for name, source in (("strawberry", 271), ("wood_grain", 618)):  # no clean image of their source class here
        assert f"trojan `{name}` not in the synthesis test: no clean image of its source class {source}" in report
    sets = table[(table["metric"] == "synthesis_set_accuracy_clip") & (table["x_name"] == "none")]
    assert len(sets) == 10  # and all methods together
    assert "## Feature synthesis: the multiple-choice test" in report and "judge `clip`" in report


def _pretrained_params(weights: Path | str, architecture: str = "resnet50") -> dict:
    return {"data": {"num_classes": 1000, "images": {"root": "unused", "image_size": 32}}, "trojans": None,
            "model": {"pretrained": True, "model": {"architecture": architecture, "num_classes": 1000,
                                                    "weights_path": str(weights)}}, "cpu_threads": 1}


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "interp_trojan_resnet50_model.pt"
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)  # torchvision's resnet50 shape
    return path


def test_a_resnet50_state_dict_loads_as_the_trojaned_model(resnet50_file):
    empty = {"x": torch.zeros(0, 3, 32, 32)}
    params = _pretrained_params(resnet50_file)
    state, history = train_trojan_model(empty, params, 0, "cpu", key="trojaned")
    original = torch.load(resnet50_file, weights_only=True)
    assert {k[len("net."):] for k in state} == set(original)  # the zoo wrapper holds torchvision's net
    assert torch.equal(state["net.fc.weight"], original["fc.weight"]) and history.empty
    twin, _ = train_trojan_model(empty, params, 0, "cpu", key="clean")
    assert twin == {}  # no clean twin: an empty state that score_attacks understands
    from interpbench.models import build_model

    model = build_model("resnet50", num_classes=1000)
    model.load_state_dict(state)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 1000)


def test_missing_or_mismatched_weights_name_the_key(tmp_path, resnet50_file):
    empty = {"x": torch.zeros(0, 3, 32, 32)}
    with pytest.raises(ConfigError, match=r"trojans\.model\.model\.weights_path: Weights file .*nope\.pt does not exist"):
        train_trojan_model(empty, _pretrained_params(tmp_path / "nope.pt"), 0, "cpu", key="trojaned")
    with pytest.raises(ConfigError, match=r"trojans\.model\.model\.weights_path: Weights file .* does not match the "
                                          r"architecture ResNet.*shape mismatches"):
        train_trojan_model(empty, _pretrained_params(resnet50_file, "resnet18"), 0, "cpu", key="trojaned")
    no_path = _pretrained_params(resnet50_file)
    del no_path["model"]["model"]["weights_path"]
    with pytest.raises(ConfigError, match=r"trojans\.model\.model\.weights_path: required with trojans\.model\.pretrained"):
        train_trojan_model(empty, no_path, 0, "cpu", key="trojaned")
    trained = _pretrained_params(resnet50_file)
    trained["model"]["pretrained"] = False
    with pytest.raises(ConfigError, match=r"trojans\.data\.images: an image folder is only read to test an "
                                          r"already-trojaned model"):
        train_trojan_model(empty, trained, 0, "cpu", key="trojaned")
