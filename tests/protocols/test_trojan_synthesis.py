"""The synthesis half's accounting: accuracy rows, patch vs style, all vs best, SNAFUE's bank."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from interpbench.judges import ALL
from interpbench.protocols.trojan_synthesis import (
    SynthesisParams,
    accuracy_rows,
    all_vs_best,
    images_by_item,
    kind_difference,
    natural_patch_bank,
    option_sets,
)

KINDS = {"p1": "patch", "p2": "patch", "s1": "style", "s2": "style"}


def _choices(correct: dict[tuple[str, str], list[bool]], sets: dict[tuple[str, str], bool]) -> pd.DataFrame:
    rows = [{"trojan": t, "kind": KINDS[t], "method": m, "level": "image", "image": i, "correct": c, "n_options": 8}
            for (t, m), cs in correct.items() for i, c in enumerate(cs)]
    rows += [{"trojan": t, "kind": KINDS[t], "method": m, "level": "set", "image": -1, "correct": c, "n_options": 8}
             for (t, m), c in sets.items()]
    return pd.DataFrame(rows)


def test_accuracy_rows_mean_over_trojans_and_per_kind():
    c = _choices({("p1", "a"): [True, True, False, False], ("p2", "a"): [True] * 4,
                  ("s1", "a"): [False] * 4, ("s2", "a"): [True, False, False, False]},
                 {("p1", "a"): True, ("p2", "a"): True, ("s1", "a"): False, ("s2", "a"): False,
                  **{(t, ALL): True for t in KINDS}})
    rows = pd.DataFrame(accuracy_rows(c, judge="features", seed=0, n_boot=200, study="trojans"))
    img = rows[(rows["metric"] == "synthesis_accuracy_features") & (rows["method"] == "a")].set_index("x_label")
    assert img.loc["all trojans", "value"] == pytest.approx((0.5 + 1 + 0 + 0.25) / 4)
    assert img.loc["all trojans", "n"] == 4
    assert img.loc["patch", "value"] == pytest.approx(0.75) and img.loc["style", "value"] == pytest.approx(0.125)
    sets = rows[rows["metric"] == "synthesis_set_accuracy_features"].set_index(["method", "x_label"])
    assert sets.loc[("a", "all trojans"), "value"] == 0.5 and sets.loc[(ALL, "all trojans"), "value"] == 1.0
    chance = rows[rows["metric"] == "synthesis_chance"].iloc[0]
    assert chance["value"] == 1 / 8
    assert accuracy_rows(c.iloc[:0], judge="features", seed=0, n_boot=10) == []


def test_kind_difference_and_all_vs_best():
    c = _choices({("p1", "a"): [True] * 4, ("p2", "a"): [True, True, True, False],
                  ("s1", "a"): [False] * 4, ("s2", "a"): [False] * 4},
                 {("p1", "a"): True, ("p2", "a"): False, ("s1", "a"): False, ("s2", "a"): False,
                  ("p1", "b"): True, ("p2", "b"): True, ("s1", "b"): False, ("s2", "b"): False,
                  ("p1", ALL): True, ("p2", ALL): True, ("s1", ALL): True, ("s2", ALL): False})
    d, lo, hi = kind_difference(c, "patch", "style", seed=0, n_boot=500)
    assert d == pytest.approx(0.875) and lo > 0 and hi <= 1
    assert math.isnan(kind_difference(c, "patch", "natural", seed=0, n_boot=10)[0])
    ab = all_vs_best(c, seed=0, n_boot=500)
    assert ab["best"] == "b" and ab["best_acc"] == 0.5 and ab["all_acc"] == 0.75 and ab["diff"] == pytest.approx(0.25)
    assert ab["ci_low"] <= 0  # one trojan of four: within the noise


def test_option_sets_and_images_by_item():
    bundle = {"trojans": ["smiley", "brick"], "kinds": ["patch", "style"], "triggers": ["smiley", "brick"],
              "methods": ["a", "b"], "x": torch.rand(8, 3, 4, 4),
              "trojan": torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), "method": torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])}
    s = SynthesisParams()
    options, truth = option_sets(bundle, s, seed=0)
    assert truth["smiley"].label == "patch:smiley" and len(options["brick"]) == 8
    assert options == option_sets(bundle, s, seed=0)[0]
    items = images_by_item(bundle)
    assert set(items) == {("smiley", "a"), ("smiley", "b"), ("brick", "a"), ("brick", "b")}
    assert torch.equal(items[("brick", "b")], bundle["x"][6:])


def test_natural_patch_bank_crops_clean_images_and_photos():
    x = torch.rand(20, 3, 32, 32)
    bank = natural_patch_bank(x, n_clean=10, per_photo=2, size=12, seed=0, exclude={"moon"})
    assert bank.shape == (10 + 2 * 7, 3, 12, 12) and 0 <= float(bank.min()) and float(bank.max()) <= 1
    assert torch.equal(bank, natural_patch_bank(x, n_clean=10, per_photo=2, size=12, seed=0, exclude={"moon"}))
    assert any(torch.equal(bank[0], x[i, :, a:a + 12, b:b + 12]) for i in range(20) for a in range(21) for b in range(21))


@pytest.mark.parametrize("synthesis, match", [
    ({"methods": {"deep_dream": {}}}, r"trojans\.synthesis\.methods: Unknown synthesis method 'deep_dream'.*tabor"),
    ({"judge": {"name": "humans"}}, r"trojans\.synthesis\.judge\.name: Unknown judge 'humans'.*clip, features"),
    ({"judge": {"model": "trojaned"}}, r"trojans\.synthesis\.judge\.model: the features judge reads the study's clean twin"),
    ({"options": {"distractors": {"sticker": ["x"]}}}, r"distractor kind 'sticker' is unknown"),
    ({"n_images": 0}, r"n_images"),
])
def test_bad_synthesis_parameters_are_named(synthesis, match):
    from interpbench.errors import ConfigError
    from interpbench.protocols.trojans import trojans_params

    with pytest.raises(ConfigError, match=match):
        trojans_params({"synthesis": synthesis})


def test_synthesis_findings_not_evaluated_when_off_and_checked_otherwise():
    from interpbench.protocols.trojans import TrojanReportParams
    from interpbench.reporting.synthesis_report import synthesis_findings

    off = synthesis_findings(pd.DataFrame(), pd.DataFrame(), TrojanReportParams(), enabled=False, seed=0, n_boot=10)
    assert [f.status for f in off] == ["not_evaluated"] * 3 and "synthesis is off" in off[0].evidence
    c = _choices({(t, "a"): [KINDS[t] == "patch"] * 4 for t in KINDS},
                 {**{(t, "a"): KINDS[t] == "patch" for t in KINDS}, **{(t, ALL): True for t in KINDS}})
    c["judge"] = "features"
    rows = pd.DataFrame(accuracy_rows(c, judge="features", seed=0, n_boot=200, study="trojans"))
    found = synthesis_findings(rows, c, TrojanReportParams(beat_chance_min=1), enabled=True, seed=0, n_boot=200)
    assert [f.status for f in found] == ["failed", "passed", "failed"]  # 0.5 [0, 1] over 4 trojans is not above chance
    assert "patch − style 1.000" in found[1].evidence
