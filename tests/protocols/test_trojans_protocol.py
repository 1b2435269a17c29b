"""Protocol helpers of the study trojans: the paired tests against the baselines."""

import numpy as np
import pandas as pd

from interpbench.protocols.trojans import baseline_tests


def _scores(values: dict[str, list[float]], metric="footprint_l1") -> pd.DataFrame:
    rows = [{"method": m, "trojan": "t", "image": i, "metric": metric, "value": v}
            for m, vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_baselines_are_not_counted_as_methods_beating_a_baseline():
    rng = np.random.default_rng(0)
    blank = np.full(20, 0.1)
    scores = _scores({"blank": list(blank), "sobel_edges": list(blank - 0.05 - rng.random(20) * 0.01),
                      "saliency": list(blank - 0.02 - rng.random(20) * 0.01),
                      "occlusion": list(blank + 0.02 + rng.random(20) * 0.01)})
    out = baseline_tests(scores, "footprint_l1", "blank", seed=0, n_boot=200)
    assert set(out) == {"saliency", "occlusion"}  # the edge detector is a baseline, not a method
    assert out["saliency"]["p_holm"] < 0.01 and out["occlusion"]["p_holm"] > 0.5
    assert out["saliency"]["diff"] < 0 < out["occlusion"]["diff"]


def test_a_method_not_applicable_to_the_model_is_recorded_with_nan_maps():
    import torch

    from interpbench.models import build_model
    from interpbench.protocols.trojans import importance_maps

    torch.manual_seed(0)
    model = build_model("resnet_small", num_classes=3, in_channels=3, image_size=8, width=4)
    x, target = torch.rand(2, 3, 8, 8), torch.tensor([0, 2])
    maps, skipped, seconds = importance_maps(model, x, target, {"saliency": {}, "lrp": {}}, seed=0, batch_size=2,
                                             device="cpu")
    assert maps.shape == (2, 2, 8, 8) and set(seconds) == {"saliency", "lrp"}
    assert torch.isfinite(maps[0]).all() and torch.isnan(maps[1]).all()  # LRP has no rule for residual additions
    assert list(skipped) == ["lrp"] and skipped["lrp"]
