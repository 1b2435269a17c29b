"""The input_gradients protocol on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from interpbench.errors import ConfigError
from interpbench.models.training import TrainConfig
from interpbench.runtime import cpu_threads
from interpbench.protocols.input_gradients import (
    attribution_bundle,
    attribution_scores,
    blockmnist_split,
    check_fractions,
    diffroar_rows,
    fill_value,
    k_label,
    model_label,
    null_share_rows,
    retrain_masked,
    retrain_seeds,
    robustness_rows,
    train_variant,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Threshold(nn.Module):
    """Two classes on [N, 1, 1, 2] images: logit_1 - logit_0 = 10 * (x_0 - 0.5); x_1 is ignored."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0]]))
            self.fc.bias.copy_(torch.tensor([0.0, -5.0]))

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_names_and_fractions():
    assert model_label("mlp", "standard", "l2") == "mlp_standard"
    assert model_label("mlp", "robust", "linf") == "mlp_robust_linf"
    assert [k_label(k) for k in (0.025, 0.05, 0.1, 0.5)] == ["2.5%", "5%", "10%", "50%"]
    assert check_fractions([0.1, 1], "x.k") == [0.1, 1.0]
    with pytest.raises(ConfigError, match=r"x\.k: every k must be a fraction in \(0, 1\]"):
        check_fractions([0.1, 1.5], "x.k")
    with pytest.raises(ConfigError, match="distinct"):
        check_fractions([0.1, 0.1], "x.k")


def test_blockmnist_split_relabels_and_places_the_signal():
    rng = np.random.default_rng(0)
    digits = {"x": torch.from_numpy(rng.random((60, 1, 28, 28), dtype=np.float32)), "y": torch.arange(60) % 3}
    train, test = blockmnist_split(digits, digits, classes=[2, 1], position="random", seed=5, max_test=10)
    assert train["x"].shape == (40, 1, 56, 28) and len(test["y"]) == 10
    assert set(train["y"].tolist()) == {0, 1} and train["classes"] == ["2", "1"]
    assert torch.equal(train["y"] == 0, train["digit"] == 2)
    for b in (train, test):
        top = b["signal_top"]
        assert b["signal_mask"][top, :28].all() and not b["signal_mask"][top, 28:].any()
        assert b["signal_mask"][~top, 28:].all() and not b["signal_mask"][~top, :28].any()
    assert 0 < int(train["signal_top"].sum()) < 40
    top_train, _ = blockmnist_split(digits, digits, classes=[2, 1], position="top", seed=5)
    assert top_train["signal_top"].all()


def test_robustness_rows_on_a_linear_boundary():
    # distances to the boundary x_0 = 0.5: 0.4, 0.4, 0.05, 0.05 -> PGD-L2 at eps 0.2 flips the near two
    x = torch.tensor([0.1, 0.9, 0.45, 0.55]).view(4, 1, 1, 1) * torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    x = x + torch.tensor([0.0, 0.5]).view(1, 1, 1, 2)
    y = torch.tensor([0, 1, 0, 1])
    clean, robust = robustness_rows(Threshold(), x, y, norm="l2", eps=0.2, steps=20, seed=0,
                                    study="s", dataset="d", model="m")
    assert clean["metric"] == "clean_acc" and clean["value"] == 1.0 and clean["method"] == "none"
    assert robust["metric"] == "robust_acc" and robust["value"] == 0.5
    assert (robust["method"], robust["x_name"], robust["x"], robust["x_label"]) == ("pgd_l2", "eps", 0.2, "eps=0.2")
    assert robust["model"] == "m" and robust["n"] == 4
    _, small = robustness_rows(Threshold(), x, y, norm="linf", eps=0.01, steps=5, seed=0, study="s", dataset="d", model="m")
    assert small["value"] == 1.0 and small["method"] == "pgd_linf"
    _, restarted = robustness_rows(Threshold(), x, y, norm="l2", eps=0.2, steps=20, seed=0, restarts=3,
                                   study="s", dataset="d", model="m")
    assert restarted["value"] == 0.5  # the far two survive every restart, the near two never do


def test_input_gradient_scores_of_a_linear_model_are_its_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(5, 1, 3, 4)
    target = torch.tensor([0, 1, 2, 1, 0])
    scores = attribution_scores(model, x, target, "saliency", batch_size=2)
    expected = model[1].weight.detach().abs()[target].view(5, 3, 4)
    torch.testing.assert_close(scores, expected)
    rnd = attribution_scores(None, x, target, "random", seed=3)
    assert rnd.shape == (5, 3, 4) and torch.equal(rnd, attribution_scores(None, x, target, "random", seed=3))
    with pytest.raises(ConfigError, match="needs a model"):
        attribution_scores(None, x, target, "saliency")


def test_not_applicable_methods_get_nan_maps_and_no_rows():
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))
    model.block_names, model.gradcam_layer_name = ["1"], None
    x, y = torch.rand(3, 1, 4, 2), torch.tensor([0, 1, 1])
    bundle = attribution_bundle(model, x, y, {"saliency": {}, "gradcam": {}})
    assert bundle["methods"] == ["saliency", "gradcam"] and torch.isnan(bundle["maps"][1]).all()
    assert "gradcam" in bundle["skipped"] and torch.equal(bundle["target"], y)
    mask = torch.zeros(3, 4, 2, dtype=torch.bool)
    mask[:, :2] = True
    rows = null_share_rows(bundle, mask, [0.25], study="s", dataset="d", model="m")
    assert [r["method"] for r in rows] == ["saliency"]


def test_null_share_rows_known_answers():
    mask = torch.zeros(2, 4, 2, dtype=torch.bool)
    mask[:, :2] = True  # signal block: the top two rows
    in_null = torch.zeros(2, 4, 2)
    in_null[:, 2:] = torch.arange(4.0).view(2, 2) + 1.0
    bundle = {"maps": torch.stack([in_null, in_null.flip(1)]), "methods": ["leaky", "faithful"]}
    rows = null_share_rows(bundle, mask, [0.25, 0.5], seed=0, study="s", dataset="blockmnist", model="m")
    got = {(r["method"], r["x"]): r["value"] for r in rows}
    assert got == {("leaky", 0.25): 1.0, ("leaky", 0.5): 1.0, ("faithful", 0.25): 0.0, ("faithful", 0.5): 0.0}
    assert {r["metric"] for r in rows} == {"null_block_share"} and {r["x_label"] for r in rows} == {"25%", "50%"}


def test_fill_value():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    torch.testing.assert_close(fill_value(x), x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(fill_value(x, "pixel_mean"), x.mean(dim=0))
    with pytest.raises(ConfigError, match="fill"):
        fill_value(x, "median")


def _one_pixel_task(n: int, seed: int):
    """Pixel (0, 0) is the label; the other 15 pixels are noise; its score is the highest."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 4, 4, generator=g)
    x[:, 0, 0, 0] = y.float()
    scores = torch.rand(n, 4, 4, generator=g) * 0.5
    scores[:, 0, 0] = 1.0
    return {"x": x, "y": y}, scores


def test_retrain_masked_keeps_the_discriminative_pixel_only_in_top_k():
    (train, s_train), (test, s_test) = _one_pixel_task(200, 0), _one_pixel_task(200, 1)
    cfg = TrainConfig(epochs=20, lr=0.05, batch_size=32, seed=0)

    def build():
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))

    top = retrain_masked(train, test, s_train, s_test, k=1 / 16, keep="top", build=build, cfg=cfg)
    bottom = retrain_masked(train, test, s_train, s_test, k=1 / 16, keep="bottom", build=build, cfg=cfg)
    assert top.shape == (200,) and top.mean().item() == 1.0
    assert bottom.mean().item() < 0.7  # one noise pixel: about chance

    def build_seeded(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))

    seeded = retrain_masked(train, test, s_train, s_test, k=1 / 16, keep="top", build=build_seeded, cfg=cfg, seeds=[0, 1])
    assert seeded.shape == (2, 200) and (seeded == 1).all()
    torch.testing.assert_close(seeded[0], retrain_masked(train, test, s_train, s_test, k=1 / 16, keep="top",
                                                         build=build, cfg=cfg))  # seed 0 = the single run


def test_diffroar_rows_aggregate_over_seeds_by_hand():
    # 3 retraining seeds x 4 test items at k = 10%; one seed at k = 50% (1-D: the old single-run form).
    top = [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]  # acc_top per seed: 0.75, 0.5, 1.0
    bottom = [[0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]]  # acc_bottom per seed: 0.25, 0.0, 0.25
    levels = [{"k": 0.5, "top": [1, 1, 1, 1], "bottom": [1, 1, 1, 1]},
              {"k": 0.1, "top": top, "bottom": bottom, "seeds": [10, 11, 12]}]
    rows = diffroar_rows(levels, seed=7, n_boot=200, study="s", dataset="d", model="m", method="saliency")
    at = {(r["x"], r["metric"], r["seed"]): r for r in rows}
    # Per-seed DiffROAR 0.5, 0.5, 0.75: mean 7/12, sd (n - 1) = sqrt(((1/12)^2 * 2 + (2/12)^2) / 2) = 0.1443376,
    # half-width t_{0.975, 2} * sd / sqrt(3) = 4.3026527 * 0.1443376 / 1.7320508 = 0.3585544.
    d = at[(0.1, "diffroar", 7)]
    assert d["value"] == pytest.approx(7 / 12) and d["n"] == 3
    assert d["ci_low"] == pytest.approx(7 / 12 - 0.3585544, abs=1e-6)
    assert d["ci_high"] == pytest.approx(7 / 12 + 0.3585544, abs=1e-6)
    assert at[(0.1, "acc_top", 7)]["value"] == pytest.approx(0.75) and at[(0.1, "acc_bottom", 7)]["value"] == pytest.approx(0.5 / 3)
    # acc_top per seed 0.75, 0.5, 1.0: sd 0.25, half-width 4.3026527 * 0.25 / sqrt(3) = 0.6210344
    assert at[(0.1, "acc_top", 7)]["ci_high"] == pytest.approx(0.75 + 0.6210344, abs=1e-6)
    # The per-seed rows stay, under the retraining seed, with their interval over test items.
    got = {(r["metric"], r["seed"]): r["value"] for r in rows if r["x"] == 0.1 and r["metric"].endswith("_seed")}
    assert got == {("acc_top_seed", 10): 0.75, ("acc_bottom_seed", 10): 0.25, ("diffroar_seed", 10): 0.5,
                   ("acc_top_seed", 11): 0.5, ("acc_bottom_seed", 11): 0.0, ("diffroar_seed", 11): 0.5,
                   ("acc_top_seed", 12): 1.0, ("acc_bottom_seed", 12): 0.25, ("diffroar_seed", 12): 0.75}
    assert all(r["n"] == 4 for r in rows if r["metric"].endswith("_seed"))
    # One seed: the mean is that run's, the interval over seeds undefined.
    one = at[(0.5, "diffroar", 7)]
    assert one["value"] == 0.0 and one["n"] == 1 and np.isnan(one["ci_low"]) and np.isnan(one["ci_high"])
    assert [r["metric"] for r in rows[:3]] == ["acc_top", "acc_bottom", "diffroar"]  # k = 10% first
    with pytest.raises(ConfigError, match="different test sets"):
        diffroar_rows([{"k": 0.1, "top": [1, 0], "bottom": [1]}])
    with pytest.raises(ConfigError, match="2 seeds for 3 retrainings"):
        diffroar_rows([{"k": 0.1, "top": top, "bottom": bottom, "seeds": [1, 2]}])


def test_retrain_seeds_come_from_the_run_seed():
    assert retrain_seeds(5, 3) == [5, 6, 7]
    with pytest.raises(ConfigError, match="seeds must be >= 1"):
        retrain_seeds(0, 0)


def test_training_is_seeded_and_adversarial_training_runs():
    x, y = torch.rand(64, 1, 4, 4), torch.arange(64) % 2
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, optimizer="sgd", seed=3)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
        history = train_variant(model, x, y, cfg, attack={"norm": "linf", "eps": 0.1, "steps": 2, "step_size": None})
        states.append(model.state_dict())
    assert len(history) == 2
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key])


def test_cpu_threads_restores_the_setting():
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(None):
        assert torch.get_num_threads() == before


def _robust_and_non_robust_features(n: int, seed: int, d: int = 100):
    """Tsipras et al. (2019)'s task on [n, 1, 1, d] images in [0, 1]: pixel 0 is 0.1 / 0.9 by class
    with probability 0.9 (else the other class's value): a robust but imperfect feature, Linf distance
    0.8 between its values; pixels 1..d-1 are 0.45 / 0.55 by class plus N(0, 0.05) noise: each weak,
    together predictive of every item, but all flipped by an Linf perturbation of 0.1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    sign = (2 * y - 1).float()
    x = (0.5 + 0.05 * sign.view(n, 1) + 0.05 * torch.randn(n, d, generator=g)).clamp(0, 1)
    agree = torch.where(torch.rand(n, generator=g) < 0.9, 1.0, -1.0)
    x[:, 0] = 0.5 + 0.4 * sign * agree
    return x.view(n, 1, 1, d), y


def test_adversarial_training_raises_pgd_accuracy_at_the_training_eps():
    """Known answer (Tsipras et al. 2019): a standard linear model uses the weak features (clean accuracy ~0.87 here)
    and falls to Linf PGD at eps 0.15; PGD training at that eps leaves only the robust pixel usable,
    which keeps its ~90% under the attack."""
    (x, y), (x_test, y_test) = _robust_and_non_robust_features(400, 0), _robust_and_non_robust_features(400, 1)
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.1, optimizer="sgd", seed=0)
    attack = {"norm": "linf", "eps": 0.15, "steps": 10, "step_size": None}
    acc = {}
    for variant, att in (("standard", None), ("robust", attack)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(100, 2))
        train_variant(model, x, y, cfg, attack=att)
        rows = robustness_rows(model.eval(), x_test, y_test, norm="linf", eps=0.15, steps=10, seed=0, n_boot=20)
        acc[variant] = {r["metric"]: r["value"] for r in rows}
    assert acc["standard"]["clean_acc"] >= 0.8 and acc["robust"]["clean_acc"] >= 0.8, acc
    assert acc["standard"]["robust_acc"] <= 0.3, acc
    assert acc["robust"]["robust_acc"] - acc["standard"]["robust_acc"] >= 0.5, acc
