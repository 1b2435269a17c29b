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
    labels = table[table["model"].str.endswith("random_labels")]
    assert set(labels["x_name"]) == {"data_randomization", "labels_permuted"}
    fits = labels[labels["metric"] == "train_acc"]  # eval-mode fits: random-label model (x=1) and control (x=0)
    assert len(fits) == 4 and set(fits["x"]) == {0.0, 1.0} and fits["n"].eq(64).all()
    # the control and the maps of the trained model are persisted once per slot
    models, maps = tiny_project / "data/06_models/sanity_checks", tiny_project / "data/07_model_output/sanity_checks"
    for m in ("primary", "secondary"):
        assert glob.glob(str(models / f"{m}_true_labels.pt/*/*")) and glob.glob(str(models / f"{m}_random_labels.pt/*/*"))
        assert glob.glob(str(maps / f"{m}_original_maps.safetensors/*/*"))
        assert glob.glob(str(maps / f"{m}_random_labels_fit.safetensors/*/*"))
    for m in ("primary", "secondary"):  # figures are named by slot
        for fig in ("cascading_grid", "cascading_similarity", "independent_similarity", "random_labels_grid"):
            assert (out / f"{m}_{fig}.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "(threshold: Spearman (abs) < 0.3, the whole 95% interval)" in report and "`gradcam` not applicable" in report
    assert report.count("- ✅ **") + report.count("- ❌ **") + report.count("- ⚠ not evaluated: **") == 6
    # Known outcome on these settings: 2 epochs of 2 batches (4 Adam steps at lr 1e-3) cannot make a
    # model memorise 64 permuted labels, so its eval-mode fit is far below 0.9 and the data
    # randomization finding is not evaluated for either slot. The model randomization findings
    # depend on 1-epoch zoo models and 12 images: not determined here, so not asserted.
    assert (fits[fits["x"] == 1.0]["value"] < 0.9).all()
    for label in ("mnist_cnn", "mlp"):
        assert (f"- ⚠ not evaluated: **{label}: the random-label model's Gradient maps differ from the true-label "
                f"control's**: the random-label model fit only ") in report
