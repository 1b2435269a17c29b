"""The Broden-layout reader and writer: scenes -> Broden folder -> reader round trip, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from interpbench.data import generate_scenes
from interpbench.data.broden import read_broden, scenes_to_broden, write_broden
from interpbench.errors import DataError


@pytest.fixture
def scenes_folder(tmp_path):
    scenes = generate_scenes(12, image_size=24, num_classes=4, seed=3, cooccur_prob=0.5)
    args = scenes_to_broden(scenes)
    write_broden(tmp_path / "broden", **args)
    return tmp_path / "broden", scenes, args


def test_scenes_round_trip(scenes_folder):
    root, scenes, args = scenes_folder
    probe = read_broden(root)
    assert len(probe) == 12 and probe.categories == ["object", "color", "texture", "scene"]
    assert probe.seg_size == (24, 24)
    batch = probe.batch(range(12))
    # images: 8-bit quantised scenes
    np.testing.assert_allclose(batch["x"].numpy(), np.round(scenes["x"].numpy() * 255) / 255, atol=1e-6)
    names = probe.labels
    for i in range(12):
        layers = {probe.categories[probe.label_category[p[p > 0][0]]]: p for p in batch["pixels"][i].numpy() if p.any()}
        obj = scenes["object_mask"][i].numpy()
        assert [names[j] if j else "" for j in layers["object"].ravel()] == [args["categories"]["object"][k - 1] if k else "" for k in obj.ravel()]
        col = scenes["color_mask"][i].numpy()
        assert [names[j] if j else "" for j in layers["color"].ravel()] == [scenes["colors"][k] if k >= 0 else "" for k in col.ravel()]
        tex = scenes["texture_mask"][i].numpy()
        assert [names[j] if j else "" for j in layers["texture"].ravel()] == [scenes["textures"][k] if k >= 0 else "" for k in tex.ravel()]
        (scene,) = [int(s) for s in batch["scalars"][i] if s > 0]
        assert names[scene] == ["plain", "gradient", "noise"][int(scenes["background"][i])] + "-background"
        assert probe.categories[probe.label_category[scene]] == "scene"
    held = probe.image_labels()  # per image, from the segmentations alone
    for i in range(12):
        expect = set(batch["pixels"][i].unique().tolist()) | set(batch["scalars"][i].tolist())
        assert set(held[i].tolist()) == expect - {0}
    # every concept has one primary category, the one it was written under
    for cat, concepts in args["categories"].items():
        for c in concepts:
            assert probe.categories[probe.label_category[names.index(c)]] == cat


def test_max_images_and_categories(scenes_folder):
    root, _, _ = scenes_folder
    probe = read_broden(root, categories=["color", "scene"], max_images=5)
    assert len(probe) == 5 and probe.categories == ["color", "scene"]
    assert probe.batch(range(5))["pixels"].shape[1] == 1


def test_missing_index_is_a_clear_error(scenes_folder):
    root, _, _ = scenes_folder
    (root / "index.csv").unlink()
    with pytest.raises(DataError, match=r"index\.csv does not exist"):
        read_broden(root)


def test_bad_segmentation_png_names_file_row_and_column(scenes_folder):
    root, _, _ = scenes_folder
    (root / "images" / "probe" / "00003_color.png").write_bytes(b"not a png")
    probe = read_broden(root)
    with pytest.raises(DataError, match=r"index\.csv, row 4, column 'color': segmentation .*00003_color\.png is not a readable PNG"):
        probe.batch(range(6))


def test_out_of_range_label_and_bad_cell(scenes_folder):
    root, _, _ = scenes_folder
    Image.fromarray(np.full((24, 24, 3), 200, dtype=np.uint8)).save(root / "images" / "probe" / "00000_object.png")
    with pytest.raises(DataError, match=r"row 1, column 'object'.*label 51400"):
        read_broden(root).batch([0])
    text = (root / "index.csv").read_text().splitlines()
    text[2] = text[2].rsplit(",", 1)[0] + ",oops"
    (root / "index.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"row 2, column 'scene': 'oops' is neither"):
        read_broden(root)
