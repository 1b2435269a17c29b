"""The multiple-choice judges: options, the identity and noise checks, the CLIP plumbing, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpbench.errors import ConfigError
from interpbench.judges import (
    ALL,
    ClipJudge,
    FeatureJudge,
    Option,
    check_judge,
    choose_options,
    multiple_choice,
    option_pool,
    render_option,
)
from interpbench.models import build_model
from interpbench.models.training import TrainConfig, train_model
from tests.judges.tiny_clip import tiny_clip_checkpoint

TRIGGERS = [("patch", "smiley"), ("patch", "star"), ("style", "brick"), ("style", "gravel"), ("natural", "heart"),
            ("natural", "arrow")]
EXTRA = {"patch": ["chelsea", "coffee"], "style": ["grass", "camera"], "natural": []}


@pytest.fixture(scope="module")
def judge_model():
    """A cnn_small briefly trained on scenes: the features judge's network."""
    from interpbench.data import generate_scenes

    torch.manual_seed(0)
    d = generate_scenes(1000, seed=0, image_size=32, num_classes=8)
    m = build_model("cnn_small", num_classes=8, in_channels=3, image_size=32, width=8)
    train_model(m, d["x"], d["y"], TrainConfig(epochs=3, batch_size=64, lr=0.004, optimizer="adam", seed=0))
    return m.eval()


def _setup(seed=0):
    pool = option_pool(TRIGGERS, EXTRA)
    rng = np.random.default_rng(seed)
    truth = {o.label: o for o in pool[:6]}
    return pool, truth, {t: choose_options(o, pool, 8, rng) for t, o in truth.items()}


def test_options_true_first_same_kind_and_seeded():
    pool, truth, options = _setup()
    assert len(pool) == 10
    for t, opts in options.items():
        assert len(opts) == 8 and truth[t] in opts and len(set(opts)) == 8
        same = [o for o in pool if o.kind == truth[t].kind and o != truth[t]]
        assert set(same) <= set(opts)  # the other triggers of the same kind come first
    assert _setup()[2] == options
    with pytest.raises(ConfigError, match="distractors"):
        choose_options(pool[0], pool[:4], 8, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="kind"):
        option_pool([("sticker", "x")], {})


def test_render_option_plain_first_and_in_range():
    r = render_option(Option("patch", "smiley"), 32, 5, np.random.default_rng(0))
    assert r.shape == (5, 3, 32, 32) and 0 <= float(r.min()) and float(r.max()) <= 1
    assert not torch.allclose(r[0], r[1])


def test_features_judge_identity_is_perfect_and_noise_near_chance(judge_model):
    """The identity check: shown the trigger picture itself, the judge picks the true option every
    time; shown uniform noise, it is near chance (1/8)."""
    judge = FeatureJudge(judge_model, image_size=32)
    _, truth, options = _setup()
    images = {(t, "identity"): render_option(o, 32, 1, np.random.default_rng(5)) for t, o in truth.items()}
    gen = torch.Generator().manual_seed(0)
    images.update({(t, "noise"): torch.rand(10, 3, 32, 32, generator=gen) for t in truth})
    c = multiple_choice(judge, images, options, truth, size=32, renderings=16, seed=0)
    acc = c[c["level"] == "image"].groupby("method")["correct"].mean()
    assert acc["identity"] == 1.0
    assert acc["noise"] <= 0.34  # 60 noise trials, 6 trojans: near 1/8, far from the identity's 1.0
    assert set(c["method"]) == {"identity", "noise", ALL}
    assert c[c["method"] == ALL]["level"].eq("set").all()


def test_check_judge():
    assert check_judge("features") == "features"
    with pytest.raises(ConfigError, match="Unknown judge 'humans'.*clip, features"):
        check_judge("humans")


def test_clip_judge_missing_checkpoint_says_how(tmp_path):
    with pytest.raises(ConfigError, match=r'expected at .*missing.bin.*not a file.*nothing is downloaded.*pip install -e ".\[clip\]"'):
        ClipJudge(model="ViT-B-32", checkpoint=str(tmp_path / "missing.bin"))


def test_clip_judge_plumbing_with_a_random_tiny_model(tmp_path):
    """A randomly initialised tiny OpenCLIP model saved to a local file: the judge loads it and the
    multiple-choice test runs end to end (its accuracy means nothing: the weights are random)."""
    pytest.importorskip("open_clip")  # in the dev extra: present wherever the tests run
    ckpt = tiny_clip_checkpoint(tmp_path)
    judge = ClipJudge(model="interpbench-tiny", checkpoint=str(ckpt))
    e = judge.embed(torch.rand(3, 3, 20, 20))
    assert e.shape == (3, 32) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    _, truth, options = _setup()
    images = {(t, "identity"): render_option(o, 32, 2, np.random.default_rng(5)) for t, o in truth.items()}
    c = multiple_choice(judge, images, options, truth, size=32, renderings=4, seed=0)
    assert len(c) == 6 * 2 + 6 + 6 and c["correct"].dtype == bool
    with pytest.raises(ConfigError, match="could not be loaded"):
        bad = tmp_path / "bad.bin"
        torch.save({"nothing": torch.zeros(1)}, bad)
        ClipJudge(model="interpbench-tiny", checkpoint=str(bad))
