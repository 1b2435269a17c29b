import math

import numpy as np
import torch

from interpbench.metrics.results import results_table
from interpbench.models import build_model
from interpbench.protocols.sanity_checks import randomization_maps, randomization_rows, similarity_rows
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
    rows.append(dict(model="cnn_random_labels", method="none", metric="train_acc", x=10.0, x_label="", value=0.97))
    return results_table([{**r, "study": "s", "dataset": "d", "n": 10, "seed": 0} for r in rows])


def test_findings_hold_on_a_paper_like_table():
    found = sanity_findings(_table(grad_last=0.1, gbp_top=0.9, grad_top=0.4, rl=0.1), "cnn")
    assert [f.holds for f in found] == [True, True, True]
    assert "0.100" in found[0].evidence and "0.970" in found[2].evidence


def test_findings_fail_when_maps_ignore_the_model():
    found = sanity_findings(_table(grad_last=0.9, gbp_top=0.9, grad_top=0.9, rl=0.95), "cnn")
    assert [f.holds for f in found] == [False, False, False]
