"""The scorecard from synthetic results tables of every study: rows read, directions, not-scored
cells (never zero), ranks, a missing study, the heat-map and the report."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from interpbench.metrics.results import results_table
from interpbench.reporting.scorecard import (
    MEASURES,
    NOT_SCORED_COLOUR,
    ScorecardOptions,
    build_scorecard,
    heatmap,
    scorecard_metrics,
    scorecard_report,
    studies,
)


def _row(study, dataset, model, method, metric, value, x_name="none", x=math.nan, x_label="", ci=0.01, n=10):
    return {"study": study, "dataset": dataset, "model": model, "method": method, "metric": metric, "x_name": x_name,
            "x": x, "x_label": x_label, "value": value, "ci_low": value - ci, "ci_high": value + ci, "n": n, "seed": 0}


def sanity_table():
    rows = []
    # cascading: step 0 = original (1.0), the last step is what the scorecard reads
    for method, last in (("saliency", 0.10), ("guided_backprop", 0.60), ("gradcam", 0.30)):
        for step, v in ((0, 1.0), (1, 0.8), (2, last)):
            rows.append(_row("sanity_checks", "mnist", "mnist_cnn_cascading", method, "spearman_abs", v,
                             "layer_step", step, f"block{step}"))
        rows.append(_row("sanity_checks", "mnist", "mnist_cnn_cascading", method, "ssim", 0.5, "layer_step", 2, "b2"))
    for method, v in (("saliency", 0.20), ("guided_backprop", 0.70)):  # gradcam: no data-randomization row
        rows.append(_row("sanity_checks", "mnist", "mnist_cnn_random_labels", method, "spearman_abs", v,
                         "data_randomization", 1.0, "random vs control"))
    rows += [_row("sanity_checks", "mnist", "mnist_cnn_random_labels", "none", "train_acc", v, "labels_permuted", x, who)
             for x, v, who in ((1.0, 0.99, "random-label model"), (0.0, 0.97, "control"))]
    return results_table(rows)


def input_gradients_table():
    rows = []
    for model, shares in (("mlp_standard", (0.45, 0.40)), ("mlp_robust_l2", (0.05, 0.02))):
        for k, v in zip((0.05, 0.1), shares):
            rows.append(_row("input_gradients", "blockmnist", model, "saliency", "null_block_share", v, "k", k, f"{k:.0%}"))
        rows.append(_row("input_gradients", "blockmnist_top", model, "saliency", "null_block_share", 0.9, "k", 0.1, "10%"))
    for model, method, v in (("resnet_small_standard", "saliency", 0.08), ("resnet_small_robust_l2", "saliency", 0.23),
                             ("none", "random", 0.02)):
        rows.append(_row("input_gradients", "scenes", model, method, "diffroar", v, "k", 0.1, "10%", n=3))
        rows.append(_row("input_gradients", "scenes", model, method, "diffroar", 0.5, "k", 0.3, "30%", n=3))
    return results_table(rows)


def trojans_table():
    m = "cnn_small_trojaned"
    rows = []
    for method, l1, corr, p_blank, p_edges in (("saliency", 0.18, 0.38, 1.0, 0.01), ("guided_backprop", 0.13, 0.52, 0.01, 0.001),
                                               ("lime", 0.26, 0.28, 1.0, 0.9), ("occlusion", 0.26, math.nan, 1.0, math.nan)):
        rows += [_row("trojans", "scenes", m, method, "footprint_l1_all", l1),
                 _row("trojans", "scenes", m, method, "footprint_correlation_all", corr),
                 _row("trojans", "scenes", m, method, "footprint_l1", 0.0, "trojan", 0.0, "smiley"),
                 {**_row("trojans", "scenes", m, method, "l1_vs_blank_p_holm", p_blank), "ci_low": math.nan, "ci_high": math.nan},
                 {**_row("trojans", "scenes", m, method, "correlation_vs_sobel_edges_p_holm", p_edges),
                  "ci_low": math.nan, "ci_high": math.nan}]
    rows += [_row("trojans", "scenes", m, "blank", "footprint_l1_all", 0.10),
             _row("trojans", "scenes", m, "blank", "footprint_correlation_all", math.nan),
             _row("trojans", "scenes", m, "sobel_edges", "footprint_l1_all", 0.21),
             _row("trojans", "scenes", m, "sobel_edges", "footprint_correlation_all", 0.28)]
    for method, v in (("tabor", 0.17), ("snafue", 0.08), ("rfla_perturb", 0.33)):
        rows += [_row("trojans", "scenes", m, method, "synthesis_accuracy_features", v, x_label="all trojans", n=6),
                 _row("trojans", "scenes", m, method, "synthesis_accuracy_features", 0.9, "kind", 0.0, "patch", n=2)]
    rows.append({**_row("trojans", "scenes", m, "chance", "synthesis_chance", 0.125), "ci_low": math.nan, "ci_high": math.nan})
    rows.append(_row("trojans", "scenes", "cnn_small_clean", "none", "clean_acc", 0.9))
    return results_table(rows)


def neuron_table():
    rows = [_row("neuron_robustness", "scenes", f"resnet_small.{layer}", "gaussian_noise", "label_changed", v,
                 "noise_std", std, layer) for layer in ("stage2", "stage3") for std, v in ((0.02, 0.01), (0.05, 0.04))]
    rows.append(_row("neuron_robustness", "scenes", "resnet_small.stage3", "crafted_attack", "label_changed", 0.375,
                     x_label="stage3"))
    return results_table(rows)


def adversarial_table():
    rows = [_row("adversarial", "scenes", m, "saliency", "object_mass", v) for m, v in (("standard", 0.49), ("robust", 0.5))]
    rows += [_row("adversarial", "scenes", "standard", "smoothgrad_sigma0.15", "object_mass", v, "n_samples", n, str(n))
             for n, v in ((5, 0.40), (50, 0.42))]
    rows.append(_row("adversarial", "scenes", "none", "uniform_map", "object_mass", 0.156))
    return results_table(rows)


def zoo_table():
    return results_table([_row("zoo", "mnist", "mlp", "none", "test_acc", 0.9)])


def all_tables():
    return {"zoo": zoo_table(), "sanity_checks": sanity_table(), "input_gradients": input_gradients_table(),
            "trojans": trojans_table(), "neuron_robustness": neuron_table(), "adversarial": adversarial_table()}


def cell(card, method, column, role="method"):
    t = card.table
    sel = t[(t["method"] == method) & (t["column"] == column) & (t["role"] == role)]
    assert len(sel) == 1, (method, column, sel)
    return sel.iloc[0]


@pytest.fixture(scope="module")
def card():
    return build_scorecard(all_tables(), ScorecardOptions(alpha=0.05))


def test_every_study_is_read_and_every_measure_has_metadata():
    assert studies() == ("zoo", "sanity_checks", "input_gradients", "trojans", "neuron_robustness", "adversarial")
    for m in MEASURES.values():
        assert m.direction in ("lower", "higher") and m.description and m.study in studies(), m
    assert {m.name: m.direction for m in MEASURES.values()} == {
        "model_randomization": "lower", "data_randomization": "lower", "null_block_share": "lower",
        "diffroar": "higher", "trojan_l1": "lower", "trojan_correlation": "higher", "baselines_beaten": "higher",
        "rediscovery": "higher", "dissection_noise": "lower", "dissection_attack": "lower", "object_mass": "higher"}


def test_object_mass_reads_the_gradient_and_smoothgrad_at_its_largest_n(card):
    assert cell(card, "saliency", "object_mass[standard]")["value"] == 0.49
    assert cell(card, "smoothgrad_sigma0.15", "object_mass[standard]")["value"] == 0.42  # N = 50, not 5
    assert cell(card, "uniform_map", "object_mass[robust]", role="baseline")["value"] == 0.156


def test_cells_are_read_from_the_documented_rows(card):
    assert cell(card, "saliency", "model_randomization[mnist_cnn]")["value"] == pytest.approx(0.10)  # last step
    assert cell(card, "saliency", "model_randomization[mnist_cnn]")["x_label"] == "block2"
    assert cell(card, "guided_backprop", "data_randomization[mnist_cnn]")["value"] == pytest.approx(0.70)
    assert cell(card, "saliency", "null_block_share[mlp_standard]")["value"] == pytest.approx(0.40)  # k = 0.1, blockmnist
    assert cell(card, "saliency", "diffroar[resnet_small_robust_l2]")["value"] == pytest.approx(0.23)
    assert cell(card, "random", "diffroar[resnet_small_robust_l2]", "baseline")["value"] == pytest.approx(0.02)
    assert cell(card, "guided_backprop", "trojan_l1[cnn_small_trojaned]")["value"] == pytest.approx(0.13)
    assert cell(card, "sobel_edges", "trojan_correlation[cnn_small_trojaned]", "baseline")["value"] == pytest.approx(0.28)
    beaten = cell(card, "guided_backprop", "baselines_beaten[cnn_small_trojaned]")
    assert (beaten["value"], beaten["n"]) == (2.0, 2)
    assert cell(card, "saliency", "baselines_beaten[cnn_small_trojaned]")["value"] == 1.0
    assert cell(card, "lime", "baselines_beaten[cnn_small_trojaned]")["value"] == 0.0  # a real zero, scored
    assert cell(card, "occlusion", "baselines_beaten[cnn_small_trojaned]")["n"] == 1  # the NaN p is no test
    assert cell(card, "rfla_perturb", "rediscovery[features]")["value"] == pytest.approx(0.33)
    assert cell(card, "chance", "rediscovery[features]", "baseline")["value"] == pytest.approx(0.125)
    assert cell(card, "network_dissection", "dissection_noise[resnet_small.stage3]")["value"] == pytest.approx(0.04)
    assert cell(card, "network_dissection", "dissection_attack[resnet_small.stage3]")["value"] == pytest.approx(0.375)
    ci = cell(card, "saliency", "trojan_l1[cnn_small_trojaned]")
    assert (ci["ci_low"], ci["ci_high"]) == (pytest.approx(0.17), pytest.approx(0.19))


def test_blocks_keep_synthesis_and_dissection_apart(card):
    t = card.table
    assert set(t.loc[t["block"] == "feature synthesis", "method"]) == {"tabor", "snafue", "rfla_perturb", "chance"}
    assert set(t.loc[t["block"] == "unit labels", "method"]) == {"network_dissection"}
    assert not (t.loc[t["block"] == "attribution", "method"].isin(["tabor", "network_dissection"])).any()
    assert set(t.loc[t["role"] == "baseline", "method"]) == {"blank", "sobel_edges", "random", "chance", "uniform_map"}


def test_unscored_cells_are_nan_never_zero(card):
    gradcam = cell(card, "gradcam", "data_randomization[mnist_cnn]")  # the study has no such row
    assert not gradcam["scored"] and math.isnan(gradcam["value"]) and "did not score" in gradcam["note"]
    lime = cell(card, "lime", "model_randomization[mnist_cnn]")  # trojans-only method
    assert not lime["scored"] and math.isnan(lime["value"]) and math.isnan(lime["rank"])
    nan = cell(card, "occlusion", "trojan_correlation[cnn_small_trojaned]")  # NaN in the study's table
    assert not nan["scored"] and "NaN" in nan["note"]
    t = card.table
    assert (t.loc[~t["scored"], "value"].isna()).all()
    assert not ((t["value"] == 0) & ~t["scored"]).any()


def test_ranks_follow_each_measures_direction(card):
    def ranks(column):
        t = card.table
        sel = t[(t["column"] == column) & t["scored"] & (t["role"] == "method")]
        return dict(zip(sel["method"], sel["rank"]))

    # lower is better: saliency 0.10 < gradcam 0.30 < guided_backprop 0.60
    assert ranks("model_randomization[mnist_cnn]") == {"saliency": 1, "gradcam": 2, "guided_backprop": 3}
    # higher is better: guided_backprop 0.52 > saliency 0.38 > lime 0.28 (occlusion NaN: unranked)
    assert ranks("trojan_correlation[cnn_small_trojaned]") == {"guided_backprop": 1, "saliency": 2, "lime": 3}
    assert ranks("trojan_l1[cnn_small_trojaned]") == {"guided_backprop": 1, "saliency": 2, "lime": 3, "occlusion": 3}
    assert ranks("rediscovery[features]") == {"rfla_perturb": 1, "tabor": 2, "snafue": 3}
    assert ranks("baselines_beaten[cnn_small_trojaned]") == {"guided_backprop": 1, "saliency": 2, "lime": 3,
                                                             "occlusion": 3}
    baseline = cell(card, "blank", "trojan_l1[cnn_small_trojaned]", "baseline")
    assert baseline["scored"] and math.isnan(baseline["rank"])  # baselines are shown, never ranked
    alone = cell(card, "saliency", "null_block_share[mlp_standard]")
    assert (alone["rank"], alone["n_ranked"]) == (1, 1)


def test_a_missing_study_is_not_scored_and_named(card):
    tables = {**all_tables(), "input_gradients": None, "neuron_robustness": None, "adversarial": None}
    missing = build_scorecard(tables)
    assert missing.missing_studies == ["input_gradients", "neuron_robustness", "adversarial"]
    t = missing.table
    for measure in ("null_block_share", "diffroar", "dissection_noise", "dissection_attack"):
        cols = t[t["measure"] == measure]
        assert len(cols) and not cols["scored"].any() and cols["value"].isna().all(), measure
        assert cols["note"].str.contains("no saved results table of").all()
    # the known row of a missing study still shows, not scored
    assert cell(missing, "network_dissection", "dissection_noise")["note"].endswith("neuron_robustness")
    report = scorecard_report(missing)
    assert "**Missing: `input_gradients`, `neuron_robustness`, `adversarial`**" in report
    assert "- ⚠ `neuron_robustness`: missing" in report
    # the other studies' cells are unaffected
    def scored(frame):
        return frame[(frame["study"] == "sanity_checks") & frame["scored"]].reset_index(drop=True)

    pd.testing.assert_frame_equal(scored(t), scored(card.table))


def test_an_x_the_table_lacks_is_not_scored_with_the_reason():
    card = build_scorecard(all_tables(), ScorecardOptions(null_block_share_k=0.2))
    col = card.table[card.table["measure"] == "null_block_share"]
    assert not col["scored"].any() and col["note"].str.contains(r"x = 0.2 \(the table has x = 0.05, 0.1\)").all()


def test_no_table_at_all_still_builds():
    card = build_scorecard(dict.fromkeys(studies()))
    assert set(card.missing_studies) == set(studies())
    assert not card.table["scored"].any()
    assert "no method scored" in scorecard_report(card)
    plt.close(heatmap(card))


def test_heatmap_greys_not_scored_cells_and_colours_ranks(card):
    fig = heatmap(card)
    try:
        ax = fig.axes[0]
        texts = [t.get_text() for t in ax.texts]
        assert "n/s" in texts and "0.100" in texts and "0.375" in texts
        faces = [tuple(p.get_facecolor()) for p in ax.patches]
        grey = matplotlib_rgba(NOT_SCORED_COLOUR)
        n_unscored = int((~card.table["scored"] & (card.table["method"] != "")).sum())
        assert sum(f == grey for f in faces) == n_unscored
        assert len({f for f in faces if f != grey}) > 3  # rank colours
    finally:
        plt.close(fig)


def matplotlib_rgba(colour):
    from matplotlib.colors import to_rgba

    return tuple(to_rgba(colour))


def test_report_gives_intervals_directions_and_definitions(card):
    report = scorecard_report(card)
    assert "model randomization ↓ (mnist_cnn)" in report and "trojan correlation ↑ (cnn_small_trojaned)" in report
    assert "0.130 [0.120, 0.140] (#1)" in report  # guided_backprop's trojan L1, its interval, its rank
    assert "not scored" in report and "![scorecard heat-map](heatmap.png)" in report
    for m in MEASURES.values():
        assert f"`{m.name}`" in report
    assert "random-label model 0.990" in report  # the data-randomization fits are noted


def test_metrics_hold_the_scored_cells_only(card):
    metrics = scorecard_metrics(card)
    assert metrics["trojan_l1.cnn_small_trojaned.guided_backprop"]["value"] == pytest.approx(0.13)
    assert len(metrics) == int(card.table["scored"].sum())
