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
