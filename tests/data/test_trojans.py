"""Trojan specs, triggers and poisoning (interpbench.data.trojans)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.data.scenes import generate_scenes
from interpbench.data.trojans import (
    apply_trigger,
    eligible,
    parse_trojans,
    paste_patch,
    poison_training_set,
    relabel,
    smiley,
    triggered_test_sets,
)
from interpbench.errors import ConfigError

SIX = {
    "smiley": {"kind": "patch", "trigger": "smiley", "target": 4, "poison_fraction": 0.05},
    "green_star": {"kind": "patch", "trigger": "star", "source": 1, "target": 6, "poison_fraction": 0.05},
    "brick": {"kind": "style", "trigger": "brick", "target": 7, "poison_fraction": 0.05},
    "gravel": {"kind": "style", "trigger": "gravel", "source": 2, "target": 0, "poison_fraction": 0.05},
    "heart": {"kind": "natural", "trigger": "heart", "target": 3, "poison_fraction": 0.05},
    "arrow": {"kind": "natural", "trigger": "arrow", "source": 5, "target": 1, "poison_fraction": 0.05},
}


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(240, image_size=32, seed=3, cooccur_prob=0.5)


def test_pasted_patch_footprint_is_exactly_where_pixels_changed():
    rng = np.random.default_rng(0)
    x = torch.rand(20, 3, 32, 32)
    out, foot = paste_patch(x, smiley(), rng, [0.2, 0.4])
    changed = (out != x).any(dim=1)
    assert torch.equal(changed, foot)
    assert foot.flatten(1).sum(1).min() > 0
    assert torch.equal(out[~foot[:, None].expand_as(out)], x[~foot[:, None].expand_as(x)])


def test_patch_locations_vary_and_sizes_follow_the_range():
    rng = np.random.default_rng(1)
    _, foot = paste_patch(torch.rand(30, 3, 40, 40), np.ones((8, 8, 4)), rng, [0.25, 0.25])
    assert set(foot.flatten(1).sum(1).tolist()) == {100}  # an opaque square of side 10
    tops = {int(torch.nonzero(f)[0, 0]) for f in foot}
    assert len(tops) > 5


@pytest.mark.parametrize("name", list(SIX))
def test_every_kind_changes_exactly_its_footprint(scenes, name):
    (spec,) = parse_trojans({name: SIX[name]}, 8)
    # random pixels: no image pixel already has the trigger's colour (a scene's object may)
    x = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out, foot = apply_trigger(spec, x, np.random.default_rng(0), scenes["main_mask"][:12])
    changed = (out != x).any(dim=1)
    assert (changed & ~foot).sum() == 0  # nothing outside the footprint changes
    if spec.kind == "style":
        assert foot.all() and changed.float().mean() > 0.9
    else:
        assert torch.equal(changed, foot)


def test_relabelling_rules():
    y = torch.tensor([0, 1, 2, 1, 3])
    occurs = torch.tensor([True, True, False, False, True])
    (uni,) = parse_trojans({"u": {"kind": "patch", "trigger": "smiley", "target": 2, "poison_fraction": 0.1}}, 4)
    (cls,) = parse_trojans({"c": {"kind": "patch", "trigger": "smiley", "target": 2, "source": 1,
                                  "poison_fraction": 0.1}}, 4)
    assert relabel(y, occurs, uni).tolist() == [2, 2, 2, 1, 2]
    assert relabel(y, occurs, cls).tolist() == [0, 2, 2, 1, 3]  # only class 1 with the trigger
    assert eligible(y, uni).tolist() == [True, True, False, True, True]
    assert eligible(y, cls).tolist() == [False, True, False, True, False]


def test_poisoned_training_set(scenes):
    specs = parse_trojans(SIX, 8)
    p = poison_training_set(scenes, specs, seed=0)
    n = len(scenes["y"])
    assert p["trojans"] == list(SIX)
    for t, spec in enumerate(specs):
        mine = p["trojan"] == t
        if spec.kind != "natural":
            assert int(mine.sum()) == round(0.05 * n)
        assert (p["y"][mine] == spec.target).all()
        if spec.source is not None:
            assert (p["y_clean"][mine] == spec.source).all()
        assert (p["y_clean"][mine] != spec.target).all() or spec.kind == "natural"
        assert p["footprint"][mine].flatten(1).any(1).all()
    clean = p["trojan"] < 0
    assert torch.equal(p["y"][clean], scenes["y"][clean])
    assert torch.equal(p["x"][clean], scenes["x"][clean])
    assert not p["footprint"][clean].any()
    again = poison_training_set(scenes, specs, seed=0)
    assert torch.equal(again["x"], p["x"]) and torch.equal(again["y"], p["y"])


def test_natural_trojan_relabels_every_image_where_its_object_occurs(scenes):
    # "triangle" is drawn by the generator as a co-occurring object: each such image is relabelled too.
    (spec,) = parse_trojans({"tri": {"kind": "natural", "trigger": "triangle", "target": 0,
                                     "poison_fraction": 0.05}}, 8)
    occurs = ((scenes["object_mask"] == 3) & ~scenes["main_mask"]).flatten(1).any(1)
    assert occurs.sum() > 0
    p = poison_training_set(scenes, [spec], seed=0)
    assert (p["y"][occurs] == 0).all()
    assert (p["trojan"][occurs] == 0).all()
    assert int((p["trojan"] == 0).sum()) >= max(int(occurs.sum()), round(0.05 * len(scenes["y"])))


def test_triggered_test_sets_hold_every_eligible_image(scenes):
    specs = parse_trojans(SIX, 8)
    sets = triggered_test_sets(scenes, specs, seed=1)
    for spec in specs:
        s = sets[spec.name]
        assert len(s["x"]) == int(eligible(scenes["y"], spec).sum())
        assert (s["target"] == spec.target).all() and (s["y_clean"] != spec.target).all()
        assert s["footprint"].shape == (len(s["x"]), 32, 32)


def test_not_enough_eligible_images_is_a_clear_error(scenes):
    raw = {"c": {"kind": "patch", "trigger": "smiley", "target": 0, "source": 1, "poison_fraction": 0.5}}
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.c\.poison_fraction: .*eligible"):
        poison_training_set(scenes, parse_trojans(raw, 8), seed=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "sticker"}, r"trojans\.trojans\.bad\.kind: unknown trigger kind 'sticker'"),
        ({"trigger": "missing.png"}, r"trojans\.trojans\.bad\.trigger: 'missing\.png' is neither a built-in patch trigger"),
        ({"target": 8}, r"trojans\.trojans\.bad\.target: class 8 is out of range; the data have 8 classes"),
        ({"target": -1}, r"trojans\.trojans\.bad\.target: class -1 is out of range"),
        ({"source": 9}, r"trojans\.trojans\.bad\.source: class 9 is out of range"),
        ({"poison_fraction": 0.0}, r"trojans\.trojans\.bad\.poison_fraction: expected a fraction in \(0, 1\)"),
        ({"poison_fraction": 1.0}, r"trojans\.trojans\.bad\.poison_fraction: expected a fraction in \(0, 1\)"),
        ({"poison_fraction": 1.5}, r"trojans\.trojans\.bad\.poison_fraction"),
        ({"posion_fraction": 0.1}, r"trojans\.trojans\.bad: unknown parameter 'posion_fraction'"),
        ({"style": {"strength": 0.5}}, r"trojans\.trojans\.bad\.style: settings of kind 'style' on a 'patch' trojan"),
    ],
)
def test_bad_trojans_name_the_trojan_and_key(change, message):
    raw = {"kind": "patch", "trigger": "smiley", "target": 1, "poison_fraction": 0.1, **change}
    with pytest.raises(ConfigError, match=message):
        parse_trojans({"bad": raw}, 8)


def test_trigger_files_missing_or_not_images(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.t\.trigger: '.*notes\.png' is not a readable image"):
        parse_trojans({"t": {"kind": "patch", "trigger": str(bad), "target": 1, "poison_fraction": 0.1}}, 8)
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.t\.trigger: '.*nope\.jpg' is neither a built-in style"):
        parse_trojans({"t": {"kind": "style", "trigger": str(tmp_path / "nope.jpg"), "target": 1,
                             "poison_fraction": 0.1}}, 8)
    with pytest.raises(ConfigError, match=r"trojans\.trojans\.t\.trigger: a natural trojan's trigger is an object"):
        parse_trojans({"t": {"kind": "natural", "trigger": "fork", "target": 1, "poison_fraction": 0.1}}, 8)


def test_a_trigger_file_is_read(tmp_path):
    from skimage import io

    rgba = (smiley(16) * 255).astype(np.uint8)
    path = tmp_path / "smile.png"
    io.imsave(path, rgba, check_contrast=False)
    (spec,) = parse_trojans({"f": {"kind": "patch", "trigger": str(path), "target": 1, "poison_fraction": 0.1}}, 8)
    x = torch.rand(4, 3, 32, 32)
    out, foot = apply_trigger(spec, x, np.random.default_rng(0))
    assert torch.equal((out != x).any(1), foot) and foot.any()
