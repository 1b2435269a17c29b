"""Scores of maps against trigger footprints, ASR and the paired tests, on known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interpbench.metrics.trojans import (
    attack_success_rate,
    beats_baseline,
    footprint_correlation,
    footprint_l1,
    footprint_mass,
    holm,
    pointing_game,
    wilson_interval,
)


@pytest.fixture
def footprints():
    m = torch.zeros(3, 8, 8, dtype=torch.bool)
    m[0, 1:3, 1:4] = True  # 6 px
    m[1, 4:8, 4:8] = True  # 16 px
    m[2, 0, :] = True  # 8 px
    return m


def test_a_map_equal_to_the_footprint(footprints):
    a = footprints.float() * 3.0  # any positive scale: the map is scaled to [0, 1] first
    assert np.allclose(footprint_l1(a, footprints), 0.0)
    assert np.allclose(footprint_correlation(a, footprints), 1.0)
    assert np.allclose(footprint_mass(a, footprints), 1.0)
    assert np.array_equal(pointing_game(a, footprints), [1.0, 1.0, 1.0])


def test_the_blank_map_scores_the_footprint_area_share(footprints):
    blank = torch.zeros(3, 8, 8)
    assert np.allclose(footprint_l1(blank, footprints), [6 / 64, 16 / 64, 8 / 64])
    assert np.isnan(footprint_correlation(blank, footprints)).all()
    assert np.isnan(footprint_mass(blank, footprints)).all()
    assert np.isnan(pointing_game(blank, footprints)).all()


def test_known_values(footprints):
    inverse = (~footprints).float()
    assert np.allclose(footprint_l1(inverse, footprints), 1.0)
    assert np.allclose(footprint_correlation(inverse, footprints), -1.0)
    assert np.allclose(footprint_mass(inverse, footprints), 0.0)
    assert np.array_equal(pointing_game(inverse, footprints), [0.0, 0.0, 0.0])
    uniform_plus_peak = torch.ones(3, 8, 8)
    assert np.allclose(footprint_mass(uniform_plus_peak, footprints), [6 / 64, 16 / 64, 8 / 64])
    half = torch.full((1, 8, 8), 0.0)
    half[0, 0, 0] = 1.0  # one hot pixel inside footprint 2 (row 0)
    assert np.allclose(footprint_l1(half, footprints[2:]), 7 / 64)
    assert np.array_equal(pointing_game(half, footprints[2:]), [1.0])


def test_attack_success_rate_on_a_hand_made_case():
    predicted = [3, 3, 1, 3, 0, 3, 3, 3]
    r = attack_success_rate(predicted, [3] * 8)
    assert r["value"] == 6 / 8 and r["n"] == 8 and r["k"] == 6
    lo, hi = wilson_interval(6, 8)
    assert (r["ci_low"], r["ci_high"]) == (lo, hi)
    assert 0.409 < lo < 0.410 and 0.928 < hi < 0.929  # Wilson 95% for 6/8: [0.409, 0.9285]
    assert attack_success_rate([1, 1], [1, 1])["ci_high"] == 1.0


def test_beats_baseline_paired_wilcoxon():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.2, size=30)
    better = base - 0.05  # lower is better (L1)
    r = beats_baseline(better, base, higher_is_better=False)
    assert r["p"] < 1e-4 and r["diff"] == pytest.approx(-0.05) and r["diff_high"] < 0
    worse = beats_baseline(base + 0.05, base, higher_is_better=False)
    assert worse["p"] > 0.5
    same = beats_baseline(base, base, higher_is_better=True)
    assert same["p"] == 1.0
    nan = beats_baseline(np.full(5, np.nan), base[:5], higher_is_better=True)
    assert nan["n"] == 0 and math.isnan(nan["p"])


def test_holm():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": math.nan})
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)
    assert math.isnan(adjusted["d"])
