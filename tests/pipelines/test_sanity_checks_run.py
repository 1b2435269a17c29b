"""``kedro run --pipelines sanity_checks`` on tiny data: table, figures, report."""

import glob

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project


@pytest.mark.timeout(600)
def test_sanity_checks_end_to_end(tiny_project):
    bootstrap_project(tiny_project)
    with KedroSession.create(project_path=tiny_project) as session:
        session.run(pipeline_names=["sanity_checks"])
    out = tiny_project / "data/08_reporting/sanity_checks"
    table = pd.read_parquet(sorted(glob.glob(str(out / "results.parquet/*/results.parquet")))[-1])
    assert set(table["model"]) == {f"{m}_{k}" for m in ("mnist_cnn", "mlp") for k in ("cascading", "independent", "random_labels")}
    assert set(table["metric"]) == {"spearman_abs", "spearman_signed", "ssim", "hog", "train_acc"}
    casc = table[(table["model"] == "mnist_cnn_cascading") & (table["method"] == "saliency") & (table["metric"] == "ssim")]
    assert list(casc["x_label"]) == ["original", "fc2", "fc1", "conv2", "conv1"] and casc["x_name"].eq("layer_step").all()
    assert (table[table["model"] == "mlp_cascading"]["method"] != "gradcam").all()  # not applicable to the MLP
    assert set(table[table["model"].str.endswith("random_labels")]["x_name"]) == {"data_randomization", "epoch"}
    for m in ("primary", "secondary"):  # figures are named by slot
        for fig in ("cascading_grid", "cascading_similarity", "independent_similarity", "random_labels_grid"):
            assert (out / f"{m}_{fig}.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "(threshold: Spearman (abs) < 0.3)" in report and "`gradcam` not applicable" in report
    assert report.count("- ✅ **") + report.count("- ❌ **") + report.count("- ⚠ not evaluated: **") == 6
