import pytest
import torch

from interpbench.data import COLORS, PALETTE, SHAPES, TEXTURES, generate_scenes
from interpbench.errors import ConfigError


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(240, seed=7, cooccur_prob=0.5)


def test_shapes_and_dtypes(scenes):
    assert scenes["x"].shape == (240, 3, 32, 32) and scenes["x"].dtype == torch.float32
    assert 0 <= scenes["x"].min() and scenes["x"].max() <= 1
    assert scenes["y"].shape == (240,) and scenes["y"].dtype == torch.int64
    for key in ("object_mask", "color_mask", "texture_mask"):
        assert scenes[key].shape == (240, 32, 32) and scenes[key].dtype == torch.int64
    assert scenes["classes"] == SHAPES[:8] and len(SHAPES) >= 8 and len(COLORS) >= 6 and len(TEXTURES) >= 4


def test_deterministic():
    a, b = generate_scenes(20, seed=3, image_size=48), generate_scenes(20, seed=3, image_size=48)
    c = generate_scenes(20, seed=4, image_size=48)
    for key, value in a.items():
        assert torch.equal(value, b[key]) if isinstance(value, torch.Tensor) else value == b[key]
    assert not torch.equal(a["x"], c["x"])


def test_masks_consistent(scenes):
    obj, col, tex = scenes["object_mask"], scenes["color_mask"], scenes["texture_mask"]
    assert torch.equal(obj > 0, col >= 0) and torch.equal(obj > 0, tex >= 0)
    assert obj.max() <= 8 and col.max() < len(COLORS) and tex.max() < len(TEXTURES)
    for i in range(len(obj)):
        assert (obj[i] == scenes["y"][i] + 1).sum() > 20  # the label's shape is visible
    # object pixels carry the palette colour (plain or darkened); background pixels are the scene's
    x = scenes["x"].permute(0, 2, 3, 1)
    palette = torch.tensor(list(PALETTE.values()))
    on = col >= 0
    rgb, ref = x[on], palette[col[on]].float()
    ok = torch.isclose(rgb, ref, atol=1e-6).all(1) | torch.isclose(rgb, ref * 0.45, atol=1e-6).all(1)
    assert ok.all()
    # the main object's concepts are the ones reported per image
    main = scenes["main_mask"]
    assert main.dtype == torch.bool and torch.equal(obj[main], (scenes["y"][:, None, None] + 1).expand_as(obj)[main])
    idx = main.flatten(1).float().argmax(1)
    assert torch.equal(col.flatten(1)[torch.arange(240), idx], scenes["main_color"])
    assert torch.equal(tex.flatten(1)[torch.arange(240), idx], scenes["main_texture"])
    has = scenes["cooccur_shape"] >= 0
    assert 0.35 < has.float().mean() < 0.65


def test_balanced_classes_and_options():
    d = generate_scenes(100, num_classes=10, seed=0, cooccur_prob=0.0, colors=["red", "blue"], textures=["solid"])
    assert torch.bincount(d["y"]).tolist() == [10] * 10
    assert set(d["color_mask"].unique().tolist()) == {-1, COLORS.index("red"), COLORS.index("blue")}
    assert set(d["texture_mask"].unique().tolist()) == {-1, 0}
    assert (d["cooccur_shape"] == -1).all()
    with pytest.raises(ConfigError, match="purple"):
        generate_scenes(4, colors=["purple"])
    with pytest.raises(ConfigError):
        generate_scenes(4, num_classes=20)


def test_speed():
    import time

    start = time.perf_counter()
    generate_scenes(2000, seed=1)
    assert time.perf_counter() - start < 10
