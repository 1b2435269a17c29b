import numpy as np
import pytest
import torch
from PIL import Image

from interpbench.data import load_image_folder
from interpbench.errors import DataError


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, n in (("zebra", 2), ("ant", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            arr = rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"img{i}.png")
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    Image.fromarray(np.full((16, 16), 200, np.uint8)).save(tmp_path / "ant" / "gray.PNG")
    return tmp_path


def test_loads_sorted_classes(folder):
    d = load_image_folder(folder, image_size=16)
    assert d["classes"] == ["ant", "zebra"]
    assert d["x"].shape == (6, 3, 16, 16) and d["x"].dtype == torch.float32
    assert d["y"].tolist() == [0, 0, 0, 0, 1, 1] and d["y"].dtype == torch.int64
    assert 0 <= d["x"].min() and d["x"].max() <= 1
    assert torch.allclose(d["x"][0], torch.full((3, 16, 16), 200 / 255))  # gray.PNG sorts first
    again = load_image_folder(folder, image_size=16)
    assert torch.equal(d["x"], again["x"])


def test_max_per_class_and_class_names(folder):
    d = load_image_folder(folder, image_size=8, max_per_class=1, class_names=["zebra", "ant"])
    assert d["classes"] == ["zebra", "ant"] and d["y"].tolist() == [0, 1]
    with pytest.raises(DataError, match="cat"):
        load_image_folder(folder, class_names=["cat"])


def test_missing_root_names_path_and_layout(tmp_path):
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path / "imagenet" / "val")
    assert str(tmp_path / "imagenet" / "val") in str(info.value)
    assert "root/<class_name>/<image>.jpg" in str(info.value)


def test_empty_root_and_unreadable_image(tmp_path):
    with pytest.raises(DataError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "cat").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path)
    (tmp_path / "cat" / "broken.jpg").write_bytes(b"\xff\xd8 garbage")
    with pytest.raises(DataError, match="broken.jpg"):
        load_image_folder(tmp_path)
