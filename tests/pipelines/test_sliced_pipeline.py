"""A slice of the zoo pipeline run with Kedro's SequentialRunner on an in-memory catalog."""

import torch
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from interpbench.data import generate_scenes
from interpbench.pipelines.zoo.pipeline import create_pipeline as zoo_nodes


def test_resnet_small_slot_trains_explains_and_scores_from_memory():
    slot = {
        "model": {"architecture": "resnet_small", "num_classes": 8, "options": {"width": 8}},
        "train": {"epochs": 1, "batch_size": 32},
        "explain": {"methods": ["saliency", "lrp"], "n_images": 2},
    }
    train, test = generate_scenes(64, seed=0), generate_scenes(16, seed=1)
    catalog = DataCatalog({
        "scenes_train": MemoryDataset(train), "scenes_test": MemoryDataset(test),
        "params:zoo.resnet_small": MemoryDataset(slot),
        "params:seed": MemoryDataset(0), "params:device": MemoryDataset("cpu"),
    })
    sliced = zoo_nodes().only_nodes_with_namespaces(["zoo.resnet_small"]).only_nodes_with_tags(
        "training", "explanation", "evaluation")
    assert {n.name for n in sliced.nodes} == {
        "zoo.resnet_small.train_classifier", "zoo.resnet_small.explain_examples", "zoo.resnet_small.score_classifier"}
    outputs = SequentialRunner().run(sliced, catalog)
    examples = catalog["zoo.resnet_small.examples"].load()
    assert examples["maps"].shape == (2, 2, 3, 32, 32)  # [methods, images, C, H, W]
    assert examples["status"][0] == "ok" and examples["status"][1].startswith("not applicable")
    assert torch.isnan(examples["maps"][1]).all()
    table = outputs["zoo.resnet_small_accuracy"].load()
    assert set(table["metric"]) == {"train_acc", "test_acc"} and set(table["n"]) == {64, 16}
