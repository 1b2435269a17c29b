"""The vectorised dissection against the loop-based NetDissect-Lite transcription
(tests/metrics/dissection_reference.py) on a small Broden-layout fixture with edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from interpbench.data.broden import read_broden, write_broden
from interpbench.errors import ConfigError
from interpbench.metrics.dissection import dissect, layer_activations, units_table
from tests.metrics.dissection_reference import reference_dissect

S = 16


def _probe_arrays(n=14, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, S, S, 3), dtype=np.uint8)
    obj = np.zeros((n, S, S), dtype=np.int64)
    col = np.zeros((n, S, S), dtype=np.int64)
    for i in range(n):
        for _ in range(2):
            y, x, h, w = rng.integers(0, S - 4, 2).tolist() + rng.integers(3, 9, 2).tolist()
            obj[i, y:y + h, x:x + w] = rng.integers(1, 4)
            y, x = rng.integers(0, S - 4, 2)
            col[i, y:y + 6, x:x + 6] = rng.integers(1, 4)
        images[i, obj[i] == 1] = (230, 20, 20)  # make a concept visible to the network
    scene = rng.integers(0, 3, size=n)  # 0: no image-level label
    obj[0], col[0], scene[0] = 0, 0, 1  # image 0: only an image-level label
    col[1] = 0  # image 1: no colour segmentation at all
    scene[2] = 0
    return images, obj, col, scene


def _fixture(tmp_path):
    images, obj, col, scene = _probe_arrays()
    write_broden(tmp_path, images, {"object": ["box", "slab", "tile"], "color": ["red", "teal", "gold"],
                                    "scene": ["indoor", "outdoor"]},
                 {"object": obj, "color": col}, {"scene": scene})
    return read_broden(tmp_path)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3, 2, 1), nn.ReLU(), nn.Conv2d(6, 5, 3, 2, 1), nn.ReLU())
        with torch.no_grad():  # unit 2 of the last layer never fires
            self.body[2].weight[2].zero_()
            self.body[2].bias[2] = -1.0

    def forward(self, x):
        return self.body(x).mean((2, 3))


LAYERS = ["body.1", "body.3"]


def _reference(model, probe, layer):
    batch = probe.batch(range(len(probe)))
    feats = layer_activations(model, [layer], batch["x"])[layer].double().numpy()
    pixels = [p.numpy() if p.numel() and p.any() else None for p in batch["pixels"]]
    pixels = [None if p is None else p[[d for d in range(len(p)) if p[d].any()]] for p in pixels]
    scalars = [[int(s) for s in row if s > 0] for row in batch["scalars"]]
    return reference_dissect(feats, pixels, scalars, probe.label_category, len(probe.categories), *probe.seg_size)


def test_dissection_matches_the_netdissect_transcription(tmp_path):
    probe = _fixture(tmp_path)
    model = _Net().eval()
    result = dissect(model, LAYERS, probe, batch_size=5)  # several batches: the streaming path
    for layer in LAYERS:
        thr, iou, label, cat, score = _reference(model, probe, layer)
        d = result[layer]
        assert d.exact
        np.testing.assert_allclose(d.thresholds.numpy(), thr, atol=1e-6, rtol=0)
        np.testing.assert_allclose(d.iou.numpy(), iou, atol=1e-6, rtol=0)
        table = units_table(d, probe)
        assert table["label_id"].tolist() == label.tolist()
        assert table["category"].tolist() == [probe.categories[c] for c in cat]
        np.testing.assert_allclose(table["iou"].to_numpy(), score, atol=1e-6)
    dead = units_table(result["body.3"], probe).iloc[2]
    assert dead["label"] == "-" and dead["iou"] == 0 and not dead["interpretable"]
    assert (result["body.3"].iou.numpy().max(axis=1) > 0).sum() >= 3  # the other units do overlap concepts


def test_approximate_quantile_is_close(tmp_path):
    probe = _fixture(tmp_path)
    model = _Net().eval()
    exact = dissect(model, ["body.1"], probe, batch_size=7)["body.1"].thresholds
    approx = dissect(model, ["body.1"], probe, batch_size=7, exact_limit=0)["body.1"]
    assert not approx.exact
    feats = layer_activations(model, ["body.1"], probe.batch(range(len(probe)))["x"])["body.1"]
    v = feats.double().transpose(0, 1).reshape(feats.shape[1], -1).sort(dim=1).values
    width = (v[:, -1] - v[:, 0]) / 4096
    pos = int(np.floor(994 / 999 * (v.shape[1] - 1)))  # the two order statistics the exact value lies between
    assert (approx.thresholds >= v[:, pos] - width - 1e-9).all() and (approx.thresholds <= v[:, pos + 1] + width + 1e-9).all()
    assert ((exact >= v[:, pos]) & (exact <= v[:, pos + 1])).all()


def test_unknown_layer_lists_the_model_layers(tmp_path):
    probe = _fixture(tmp_path)
    with pytest.raises(ConfigError, match=r"no layer 'body\.9'.*body\.1, body\.2"):
        dissect(_Net(), ["body.9"], probe)
