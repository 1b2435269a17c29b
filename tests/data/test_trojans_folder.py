"""Trojans on an image folder (an already-trojaned model): class labels, the folder's images and
their triggered sets (interpbench.data.trojans, interpbench.data.imagefolder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from interpbench.data.imagefolder import class_indices
from interpbench.data.trojans import load_trojan_folder, parse_trojans, triggered_folder_sets
from interpbench.errors import ConfigError, DataError

TABLE = {
    "smiley": {"kind": "patch", "trigger": "smiley", "target": 30},
    "star": {"kind": "patch", "trigger": "star", "source": 893, "target": 365},
    "brick": {"kind": "style", "trigger": "brick", "target": 211},
    "fork": {"kind": "natural", "trigger": "fork", "target": 316},
}


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, n in (("0", 3), ("30", 2), ("893", 5)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    return tmp_path


def test_class_indices(tmp_path):
    assert class_indices(["b", "a", "c"], "sorted", 3) == [1, 0, 2]
    with pytest.raises(ConfigError, match=r"images\.labels: 'sorted' .* needs all 1000 class folders; found 2"):
        class_indices(["a", "b"], "sorted", 1000, where="images.labels")
    assert class_indices(["893", "0030"], "index", 1000) == [893, 30]
    with pytest.raises(ConfigError, match=r"'index' needs class folders named by a class index in 0\.\.999; .*'n01440764'"):
        class_indices(["n01440764"], "index", 1000)
    synsets = tmp_path / "LOC_synset_mapping.txt"
    synsets.write_text("n01 tench, Tinca tinca\nn02 goldfish\nn03 great white shark\n")
    assert class_indices(["n03", "n01"], str(synsets), 3) == [2, 0]
    with pytest.raises(ConfigError, match=r"\['n09'\] are not listed"):
        class_indices(["n09"], str(synsets), 3)
    with pytest.raises(ConfigError, match=r"lists 3 classes; the model has 1000"):
        class_indices(["n01"], str(synsets), 1000)
    with pytest.raises(ConfigError, match=r"expected 'sorted', 'index' or an existing file"):
        class_indices(["n01"], "sortd", 3)


def test_folder_images_clean_and_source_extras(folder):
    d = load_trojan_folder(folder, labels="index", num_classes=1000, image_size=16, max_per_class=2,
                           source_classes=(893,), source_max_per_class=4)
    assert d["x"].shape == (2 + 2 + 4, 3, 16, 16) and 0 <= d["x"].min() and d["x"].max() <= 1
    assert d["y"].tolist() == [0, 0, 30, 30, 893, 893, 893, 893]
    assert d["clean"].tolist() == [True] * 6 + [False] * 2  # the source class's extra images are not clean test images
    assert len(d["classes"]) == 1000 and d["classes"][893] == "893" and d["classes"][1] == "1"
    every = load_trojan_folder(folder, labels="index", num_classes=1000, image_size=16, source_classes=(893,))
    assert len(every["y"]) == 10 and every["clean"].all()
    with pytest.raises(DataError, match=r"trojans\.data\.images\.root: image folder .*nowhere"):
        load_trojan_folder(folder / "nowhere", labels="index", num_classes=1000, image_size=16)


def test_triggered_folder_sets(folder):
    specs = parse_trojans(TABLE, 1000, scenes=False)
    d = load_trojan_folder(folder, labels="index", num_classes=1000, image_size=16, max_per_class=2,
                           source_classes=(893,))
    sets = triggered_folder_sets(d, specs, seed=0)
    assert set(sets) == {"smiley", "star", "brick"}  # natural trojans: not on a folder
    assert sets["smiley"]["y_clean"].tolist() == [0, 0, 893, 893]  # clean images, not of the target class 30
    assert sorted(sets["star"]["index"].tolist()) == [4, 5, 6, 7, 8]  # every image read of the source class
    for name, s in sets.items():
        original = d["x"][s["index"]]
        outside = ~s["footprint"][:, None].expand_as(original)
        assert torch.equal(s["x"][outside], original[outside]), name
        assert (s["target"] == next(t.target for t in specs if t.name == name)).all()
    few = triggered_folder_sets(d, specs, seed=0, max_images=3)
    assert [len(few[k]["x"]) for k in ("smiley", "star", "brick")] == [3, 3, 3]
    again = triggered_folder_sets(d, specs, seed=0, max_images=3)
    assert torch.equal(few["star"]["x"], again["star"]["x"]) and torch.equal(few["star"]["index"], again["star"]["index"])


def test_parse_trojans_for_a_folder():
    specs = parse_trojans({**TABLE, "dropped": None}, 1000, scenes=False)
    assert [s.name for s in specs] == list(TABLE) and all(s.poison_fraction is None for s in specs)
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.smiley\.poison_fraction: required"):
        parse_trojans({"smiley": TABLE["smiley"]}, 1000)  # the scenes are poisoned: a fraction is needed
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.fork\.trigger: a natural trojan's trigger is an object of the scenes"):
        parse_trojans({"fork": {**TABLE["fork"], "poison_fraction": 0.1}}, 1000)
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.star\.target: class 365 is out of range; the data have 10 classes"):
        parse_trojans({"star": TABLE["star"]}, 10, scenes=False)
