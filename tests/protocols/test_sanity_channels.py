"""RGB maps reach the sanity-check metrics and figures with their channels (PAIR normalisation
takes |a| per channel before summing them)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from interpbench.explain import method_maps
from interpbench.protocols.sanity_checks import randomization_maps, similarity_rows
from interpbench.reporting.figures import attribution_grid, randomization_grid


def _rgb_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                          nn.Linear(64, 3))
    model.block_names = ["4", "0"]  # randomization blocks, output -> input
    return model


def _grayscale(image_3d):  # PAIR VisualizeImageGrayscale
    g = np.sum(np.abs(image_3d), axis=2)
    return np.clip((g - g.min()) / (np.percentile(g, 99) - g.min()), 0, 1)


def test_method_maps_keep_the_channels_and_repeat_one_channel_maps():
    model, x = _rgb_cnn(), torch.rand(2, 3, 16, 16)
    maps, skipped = method_maps(model, x, torch.tensor([0, 1]), {"saliency": {}, "gradcam": {"layer": "0"}}, seed=0)
    assert tuple(maps.shape) == (2, 2, 3, 16, 16) and not skipped
    assert not torch.equal(maps[0, :, 0], maps[0, :, 1])  # gradients differ per channel
    assert torch.equal(maps[1, :, 0], maps[1, :, 2])  # GradCAM: one map repeated


def test_similarity_rows_use_the_per_channel_abs():
    model, x = _rgb_cnn(), torch.rand(4, 3, 16, 16)
    bundle = randomization_maps(model, x, {"input_x_gradient": {}}, "cascading", seed=0)
    ref, last = bundle["maps"][0], bundle["maps"][-1]
    rows = similarity_rows(ref, [(last, {"x": 1.0})], ["input_x_gradient"], ["spearman_abs"], seed=0, n_boot=10)
    expected = [spearmanr(_grayscale(a.permute(1, 2, 0).numpy()).ravel(),
                          _grayscale(b.permute(1, 2, 0).numpy()).ravel())[0] for a, b in zip(ref[0], last[0])]
    assert np.isclose(rows[0]["value"], np.mean(expected), atol=1e-6)
    fig = randomization_grid(x, bundle["maps"], bundle["steps"], bundle["methods"], 1)
    assert len(fig.axes) == len(bundle["steps"]) + 1
    fig = attribution_grid(x, bundle["maps"][0], ["input_x_gradient"], signed=True)
    assert len(fig.axes) == 2 * 4
