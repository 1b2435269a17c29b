import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from interpbench.metrics.results import results_table
from interpbench.models import build_model
from interpbench.models.training import TrainConfig, accuracy_per_item
from interpbench.protocols.sanity_checks import (
    fit_labels,
    label_subset,
    original_maps,
    randomization_maps,
    randomization_rows,
    similarity_rows,
)
from interpbench.reporting.sanity_report import sanity_findings


def test_randomization_maps_cover_every_step_and_method():
    torch.manual_seed(0)
    model = build_model("mnist_cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(3, 1, 28, 28)
    bundle = randomization_maps(model, x, {"saliency": {}, "gradcam": {}}, "cascading", seed=0)
    assert bundle["maps"].shape == (5, 2, 3, 1, 28, 28)  # [steps, methods, images, C, H, W]
    assert bundle["steps"] == ["original", "fc2", "fc1", "conv2", "conv1"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not torch.equal(bundle["maps"][0, 0], bundle["maps"][4, 0])


def test_not_applicable_method_is_recorded_and_skipped_in_rows():
    model = build_model("mlp")
    bundle = randomization_maps(model, torch.rand(2, 1, 28, 28), {"saliency": {}, "gradcam": {}}, "independent", seed=0)
    assert "gradcam" in bundle["skipped"] and torch.isnan(bundle["maps"][:, 1]).all()
    rows = randomization_rows(bundle, ["spearman_abs"], seed=0, n_boot=10, study="s", dataset="d", model="m")
    assert {r["method"] for r in rows} == {"saliency"}


def test_step_zero_scores_one_and_rows_follow_the_contract():
    rng = np.random.default_rng(0)
    maps = torch.from_numpy(rng.random((3, 1, 8, 28, 28)).astype("float32"))
    bundle = {"maps": maps, "steps": ["original", "b1", "b2"], "methods": ["saliency"]}
    table = results_table(randomization_rows(bundle, ["spearman_abs", "ssim", "hog"], seed=0, n_boot=50,
                                             study="s", dataset="d", model="m_cascading"))
    start = table[table["x"] == 0]
    assert np.allclose(start["value"], 1.0) and set(start["x_label"]) == {"original"}
    later = table[(table["x"] > 0) & (table["metric"] == "spearman_abs")]
    assert (later["value"].abs() < 0.1).all()  # independent noise maps
    # scored on an explicit device (the run's): the same rows
    on_cpu = results_table(randomization_rows(bundle, ["spearman_abs", "ssim", "hog"], seed=0, n_boot=50,
                                              device=torch.device("cpu"), study="s", dataset="d", model="m_cascading"))
    pd.testing.assert_frame_equal(on_cpu, table)


def test_similarity_rows_against_several_map_sets():
    # zero-centred maps: PAIR's diverging span |p99| is then about the same for a map and its
    # negation, and rho is -1 up to the ties of the clipped top 1%
    ref = torch.rand(1, 4, 16, 16) - 0.5
    rows = similarity_rows(ref, [(ref, {"x": 0.0}), (-ref, {"x": 1.0})], ["m"], ["spearman_signed"], seed=0, n_boot=10)
    assert math.isclose(rows[0]["value"], 1.0) and math.isclose(rows[1]["value"], -1.0, abs_tol=1e-3)


def _table(grad_last, gbp_top, grad_top, rl):
    rows = []
    for step, (g, b) in enumerate([(1.0, 1.0), (grad_top, gbp_top), (grad_top, gbp_top), (grad_last, 0.5)]):
        for method, v in (("saliency", g), ("guided_backprop", b)):
            rows.append(dict(model="cnn_cascading", method=method, metric="spearman_abs", x=float(step), x_label=f"b{step}", value=v))
    rows.append(dict(model="cnn_random_labels", method="saliency", metric="spearman_abs", x=1.0, x_label="", value=rl))
    rows.append(dict(model="cnn_random_labels", method="none", metric="train_acc", x_name="labels_permuted", x=1.0,
                     x_label="random-label model", value=0.97))
    rows.append(dict(model="cnn_random_labels", method="none", metric="train_acc", x_name="labels_permuted", x=0.0,
                     x_label="control", value=1.0))
    return results_table([{**r, "study": "s", "dataset": "d", "n": 10, "seed": 0} for r in rows])


def test_findings_hold_on_a_paper_like_table():
    found = sanity_findings(_table(grad_last=0.1, gbp_top=0.9, grad_top=0.4, rl=0.1), "cnn")
    assert [f.holds for f in found] == [True, True, True]
    assert "0.100" in found[0].evidence and "0.970" in found[2].evidence


def test_findings_fail_when_maps_ignore_the_model():
    found = sanity_findings(_table(grad_last=0.9, gbp_top=0.9, grad_top=0.9, rl=0.95), "cnn")
    assert [f.holds for f in found] == [False, False, False]


# --- the trained model's maps computed once (original_maps) and reused as step 0 -----------------


def test_precomputed_original_maps_give_the_same_bundle_as_recomputing_them():
    """Step 0 from original_maps equals step 0 recomputed inside randomization_maps, bit for bit,
    for the noisy methods too (each method call seeds its own RNG from ``seed``), and so do the
    later steps (the same block seeds whether or not step 0 was computed there)."""
    torch.manual_seed(0)
    model = build_model("mnist_cnn")
    x = torch.rand(3, 1, 28, 28)
    methods = {"saliency": {}, "smoothgrad": {"n_samples": 3}, "vargrad": {"n_samples": 3}, "guided_backprop": {}}
    original = original_maps(model, x, methods, seed=5)
    assert original["maps"].shape == (4, 3, 1, 28, 28) and original["methods"] == list(methods)
    for mode in ("cascading", "independent"):
        before = randomization_maps(model, x, methods, mode, seed=5)
        after = randomization_maps(model, x, methods, mode, seed=5, original=original)
        assert torch.equal(before["maps"], after["maps"]) and before["steps"] == after["steps"]
        assert torch.equal(before["target"], after["target"]) and before["skipped"] == after["skipped"]
        assert torch.equal(after["maps"][0], original["maps"])
    # another seed changes the noisy methods' maps: the equality above is not vacuous
    other = original_maps(model, x, methods, seed=6)
    assert torch.equal(other["maps"][0], original["maps"][0]) and not torch.equal(other["maps"][1], original["maps"][1])


def test_first_step_maps_are_step_one_of_both_modes():
    """original_maps(first_step=True) also gives step 1 (the output block re-initialised), the same
    model in both modes: both bundles built from it equal the ones computed step by step."""
    torch.manual_seed(0)
    model = build_model("mnist_cnn")
    x = torch.rand(3, 1, 28, 28)
    methods = {"saliency": {}, "smoothgrad": {"n_samples": 3}, "gradcam": {}}
    shared = original_maps(model, x, methods, seed=5, first_step=True)
    assert shared["first_step"] == "fc2" and shared["first_step_maps"].shape == (3, 3, 1, 28, 28)
    for mode in ("cascading", "independent"):
        before = randomization_maps(model, x, methods, mode, seed=5)
        after = randomization_maps(model, x, methods, mode, seed=5, original=shared)
        assert torch.equal(before["maps"], after["maps"]) and before["steps"] == after["steps"]
        assert torch.equal(after["maps"][1], shared["first_step_maps"])
    with pytest.raises(ValueError, match="step 1 re-initialises 'fc9', this model's 'fc2'"):
        randomization_maps(model, x, methods, "cascading", seed=5, original={**shared, "first_step": "fc9"})


def test_original_maps_for_other_methods_are_refused():
    model = build_model("mlp")
    x = torch.rand(2, 1, 28, 28)
    original = original_maps(model, x, {"saliency": {}}, seed=0)
    with pytest.raises(ValueError, match="original maps are for methods"):
        randomization_maps(model, x, {"saliency": {}, "smoothgrad": {}}, "cascading", seed=0, original=original)


# --- data randomization: the subset, the control, the eval-mode fit --------------------------------


def _separable(n=120, classes=4, seed=0):
    """Images whose class is a bright 7x7 square at one of ``classes`` positions, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = 0.1 * torch.rand(n, 1, 28, 28, generator=g)
    for i, c in enumerate(y.tolist()):
        r, col = divmod(c, 2)
        x[i, 0, 7 * r + 3: 7 * r + 10, 7 * col + 3: 7 * col + 10] += 0.9
    return x, y


def test_label_subset_shares_the_images_and_permutes_the_labels():
    x, y = torch.rand(50, 1, 4, 4), torch.arange(50) % 10
    xs, y_true, y_perm = label_subset(x, y, 20, seed=3)
    again = label_subset(x, y, 20, seed=3)
    assert all(torch.equal(a, b) for a, b in zip((xs, y_true, y_perm), again))  # seeded
    idx = [int(torch.nonzero((x == xi).all(dim=(1, 2, 3)))[0]) for xi in xs]
    assert torch.equal(y[idx], y_true)  # the true labels of the drawn images
    assert sorted(y_perm.tolist()) == sorted(y_true.tolist()) and not torch.equal(y_perm, y_true)
    assert not torch.equal(label_subset(x, y, 20, seed=4)[0], xs)


def test_control_fits_its_true_labels_and_an_untrained_model_is_near_chance(one_torch_thread):
    x, y = _separable()
    torch.manual_seed(0)
    untrained = build_model("mlp", num_classes=4, hidden=[32])
    chance = accuracy_per_item(untrained, x, y).mean().item()
    assert chance <= 0.5  # 4 balanced classes: about 0.25
    torch.manual_seed(0)
    control = build_model("mlp", num_classes=4, hidden=[32])
    history, correct = fit_labels(control, x, y, TrainConfig(epochs=15, batch_size=16, lr=1e-2, seed=0))
    assert correct.shape == (len(y),) and set(correct.unique().tolist()) <= {0.0, 1.0}
    assert correct.mean().item() >= 0.95 and not control.training
    assert len(history) == 15


class _ModeDependent(nn.Module):
    """Predicts the class written in pixel (0, 0) in eval mode and always the next class in train
    mode: its running train-mode accuracy is 0, its eval-mode fit 1."""

    def __init__(self, classes=3):
        super().__init__()
        self.classes = classes
        self.bias = nn.Parameter(torch.zeros(classes))

    def forward(self, x):
        label = x[:, 0, 0, 0].round().long()
        shown = label if not self.training else (label + 1) % self.classes
        return 10.0 * nn.functional.one_hot(shown, self.classes).float() + 0.0 * self.bias


def test_fit_is_measured_in_eval_mode_not_from_the_running_train_accuracy():
    y = torch.arange(12) % 3
    x = torch.zeros(12, 1, 2, 2)
    x[:, 0, 0, 0] = y.float()
    history, correct = fit_labels(_ModeDependent(), x, y, TrainConfig(epochs=2, batch_size=4, lr=1e-3))
    assert [h["accuracy"] for h in history] == [0.0, 0.0]
    assert correct.mean().item() == 1.0


def test_random_and_true_label_nodes_share_subset_and_initial_weights(one_torch_thread):
    from interpbench.pipelines.sanity_checks.nodes import train_on_labels

    x, y = _separable(n=80)
    zoo = {"model": {"architecture": "mlp", "options": {"hidden": [16]}, "num_classes": 4}}
    protocol = {"random_labels": {"n_train": 40, "train": {"epochs": 12, "batch_size": 8, "lr": 0.01}}}
    out = {lab: train_on_labels({"x": x, "y": y}, zoo, protocol, 0, "cpu", labels=lab) for lab in ("random", "true")}
    (r_state, r_hist, r_fit), (t_state, t_hist, t_fit) = out["random"], out["true"]
    assert r_fit["labels"] == "random" and t_fit["labels"] == "true" and len(r_fit["correct"]) == 40
    assert t_fit["epochs"] == len(t_hist) and r_fit["epochs"] == len(r_hist)
    assert t_fit["correct"].mean().item() >= 0.95  # true labels of a separable task are fit
    assert r_state.keys() == t_state.keys() and not torch.equal(r_state["body.0.weight"], t_state["body.0.weight"])
    # one epoch each from the same seed: the same initial weights and batch order; only labels differ
    one = {"random_labels": {"n_train": 40, "train": {"epochs": 1, "batch_size": 40, "lr": 1e-9}}}
    a, b = (train_on_labels({"x": x, "y": y}, zoo, one, 0, "cpu", labels=lab)[0] for lab in ("random", "true"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(ValueError, match="labels must be one of"):
        train_on_labels({"x": x, "y": y}, zoo, protocol, 0, "cpu", labels="shuffled")
