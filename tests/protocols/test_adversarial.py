"""The adversarial study's procedure (interpbench.protocols.adversarial), statistics and parameters."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from interpbench.errors import ConfigError
from interpbench.explain import attribute
from interpbench.metrics.adversarial import (
    difference_ci,
    geometric_mean_ratio_ci,
    median_ci,
    paired_median_difference_ci,
)
from interpbench.protocols import adversarial as adv
from interpbench.protocols.adversarial_params import adversarial_params


def _model(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()


def test_the_judge_is_never_the_attacked_model():
    attacked = {"standard": _model(0), "robust": _model(1)}
    with pytest.raises(ConfigError, match="judge 'standard' is the attacked model 'robust'"):
        adv.check_judges({"standard": attacked["robust"]}, attacked)
    shared = _model(2)
    shared[3] = attacked["standard"][3]  # a judge sharing a layer (its parameter tensors) with an attacked model
    with pytest.raises(ConfigError, match="must be another model"):
        adv.check_judges({"x": shared}, attacked)
    with pytest.raises(ConfigError, match="has the same weights as the attacked model 'standard'"):
        adv.check_judges({"copy": copy.deepcopy(attacked["standard"])}, attacked)
    adv.check_judges({"other": _model(3)}, attacked)


def test_smoothgrad_grid_is_smoothgrad_for_every_n_and_sigma():
    model = _model()
    x, y = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    grid = adv.smoothgrad_grid(model, x, y, [1, 3], [1e-7, 0.2], seed=5, batch_size=2)
    assert grid.shape == (2, 2, 4, 8, 8)
    gradient = adv.importance(attribute("saliency", model, x, y))
    torch.testing.assert_close(grid[0, 1], gradient, rtol=1e-4, atol=1e-6)  # σ -> 0: the gradient
    # N = 3 at σ = 0.2 is the mean of the gradients at the first three noisy copies of the seeded draw.
    g = torch.Generator().manual_seed(5)
    torch.randn((3, *x.shape), generator=g)  # σ = 1e-7's draw comes first
    noise = torch.randn((3, *x.shape), generator=g)
    span = x.flatten(1).max(1).values - x.flatten(1).min(1).values
    mean = sum(attribute("saliency", model, x + noise[k] * (0.2 * span).view(-1, 1, 1, 1), y) for k in range(3)) / 3
    torch.testing.assert_close(grid[1, 1], adv.importance(mean), rtol=1e-4, atol=1e-6)


def test_object_mass_of_a_map_inside_the_mask():
    maps = torch.zeros(2, 4, 4)
    maps[0, :2, :2] = 1.0  # all mass on the object
    maps[1] = 1.0  # uniform: the mask's area share
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[:, :2, :2] = True
    rows, items = adv.localisation_rows("m", maps, mask, keys={"study": "s", "dataset": "d", "model": "x"}, seed=0,
                                        n_boot=20)
    np.testing.assert_allclose(items["object_mass"], [1.0, 0.25])
    np.testing.assert_allclose(adv.area_share(mask), [0.25, 0.25])
    assert items["pointing_game"][0] == 1.0 and math.isnan(items["pointing_game"][1])  # a constant map: undefined


def test_statistics_on_known_values():
    med, lo, hi = median_ci([1.0, 2.0, 4.0, math.inf, math.inf], n_boot=200)
    assert med == 4.0 and lo <= med <= hi
    assert median_ci([math.inf, math.inf, 1.0])[0] == math.inf
    ratio, lo, hi = geometric_mean_ratio_ci([2.0, 4.0, 8.0], [1.0, 2.0, 4.0], cap=16.0, n_boot=100)
    assert ratio == pytest.approx(2.0) and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)
    ratio, *_ = geometric_mean_ratio_ci([math.inf, 1.0], [1.0, 1.0], cap=4.0)
    assert ratio == pytest.approx(2.0)  # inf censored at 4: sqrt(4 * 1)
    d, *_ = paired_median_difference_ci([2.0, 2.0, math.inf], [1.0, 1.0, math.inf], cap=8.0)
    assert d == 1.0
    d, lo, hi = difference_ci([1.0, 1.0, 1.0], [0.0, 0.0], n_boot=50)
    assert (d, lo, hi) == (1.0, 1.0, 1.0)


def test_pair_subset_relabels_the_two_classes():
    bundle = {"x": torch.arange(6).view(6, 1, 1, 1).float(), "y": torch.tensor([0, 3, 1, 3, 0, 2])}
    x, y = adv.pair_subset(bundle, [3, 0])
    assert x.flatten().tolist() == [0.0, 1.0, 3.0, 4.0] and y.tolist() == [1, 0, 0, 1]


@pytest.mark.parametrize(("raw", "phrase"), [
    ({"large_eps": {"norm": "l1"}}, r"adversarial.large_eps.norm: attack norm must be one of \['linf', 'l2'\]"),
    ({"mislabelled": {"attack": {"eps": -0.5}}}, "adversarial.mislabelled.attack.eps: expected a finite number > 0"),
    ({"robust": {"attack": {"norm": "l0"}}}, "adversarial.robust.attack.norm"),
    ({"min_eps": {"grids": {"l1": [0.1]}}}, "adversarial.min_eps.grids: attack norm must be one of"),
    ({"min_eps": {"grids": {"l2": [0.1, -0.2]}}}, r"adversarial.min_eps.grids.l2: every eps must be a finite number > 0"),
    ({"min_eps": {"modes": ["sideways"]}}, "adversarial.min_eps.modes"),
    ({"neurons": {"units": [-1]}}, "adversarial.neurons.units"),
    ({"smoothgrad": {"headline": {"n_samples": 7, "noise_level": 0.15}}}, "must be one of the grid"),
    ({"mislabelled": {"two_class": [1, 1]}}, "two different class indices"),
])
def test_bad_parameters_name_the_key(raw, phrase):
    with pytest.raises(ConfigError, match=phrase):
        adversarial_params(raw)


def test_a_unit_index_past_the_representation_is_named_with_its_key():
    from interpbench.protocols.adversarial_params import NeuronParams

    model = _model()
    with pytest.raises(ConfigError, match=r"adversarial.neurons.units: unit index 999 is out of range"):
        adv.visualize_units(model, torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]), NeuronParams(units=[999], steps=1),
                            seed=0, where="adversarial.neurons.units")


def _rows(model, method, **metrics):
    from tests.reporting.test_scorecard import _row

    return [_row("adversarial", "scenes", model, method, metric, value, ci=0.02, n=3) for metric, value in metrics.items()]


def test_mislabelled_findings_need_models_that_learnt_their_set():
    from interpbench.metrics.results import results_table
    from interpbench.reporting.adversarial_report import adversarial_findings

    p = adversarial_params({})
    learnt = results_table(_rows("trained_on_standard_attacks", "mislabelled_all", clean_test_acc=0.35, chance=0.125,
                                 mislabelled_fit=0.8))
    unfit = results_table(_rows("trained_on_standard_attacks", "mislabelled_all", clean_test_acc=0.35, chance=0.125,
                                mislabelled_fit=0.3))
    claim = "Non-robust features are features (all classes)"
    found = {f.claim.split(":")[0]: f for f in adversarial_findings(learnt, p)}
    assert found[claim].status == "passed"  # 0.33 > 0.125 + 0.05
    found = {f.claim.split(":")[0]: f for f in adversarial_findings(unfit, p)}
    assert found[claim].status == "not_evaluated" and "fit their mislabelled set only to 0.300" in found[claim].evidence
    # every finding is listed, absent rows as not evaluated
    assert len(adversarial_findings(learnt, p)) == 8


def test_a_switched_off_two_class_variant_is_said_so():
    from interpbench.metrics.results import results_table
    from interpbench.reporting.adversarial_report import adversarial_findings

    p = adversarial_params({"mislabelled": {"two_class": None}})
    found = [f for f in adversarial_findings(results_table([]), p) if "two-class variant" in f.claim]
    assert len(found) == 1 and found[0].status == "not_evaluated" and "switched off" in found[0].evidence
