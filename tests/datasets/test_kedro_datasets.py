import pytest
import torch
from kedro.io.core import DatasetError, Version

from interpbench.datasets import TensorBundleDataset, TorchStateDictDataset


def test_tensor_bundle_roundtrip_versioned(tmp_path):
    ds = TensorBundleDataset(filepath=str(tmp_path / "b.safetensors"), version=Version(None, None))
    data = {"x": torch.rand(3, 1, 4, 4), "y": torch.arange(3), "classes": ["a", "b"], "source": "test"}
    ds.save(data)
    back = TensorBundleDataset(filepath=str(tmp_path / "b.safetensors"), version=Version(None, None)).load()
    assert torch.equal(back["x"], data["x"]) and torch.equal(back["y"], data["y"])
    assert back["classes"] == ["a", "b"] and back["source"] == "test"


def test_state_dict_roundtrip_from_module(tmp_path):
    net = torch.nn.Linear(3, 2)
    ds = TorchStateDictDataset(filepath=str(tmp_path / "m.pt"), version=Version(None, None))
    ds.save(net)
    state = ds.load()
    assert set(state) == {"weight", "bias"} and torch.equal(state["weight"], net.weight.detach())


def test_state_dict_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": object()}, path)
    with pytest.raises(DatasetError, match="not a readable torch state_dict"):
        TorchStateDictDataset(filepath=str(path)).load()


def test_failed_serialisation_leaves_no_file(tmp_path):
    ds = TensorBundleDataset(filepath=str(tmp_path / "b.safetensors"))
    with pytest.raises(DatasetError, match="could not serialise"):
        ds.save({"x": torch.rand(2), "bad": object()})
    assert not (tmp_path / "b.safetensors").exists()


def test_tensor_bundle_roundtrip_nested(tmp_path):
    ds = TensorBundleDataset(filepath=str(tmp_path / "n.safetensors"))
    data = {
        "x": torch.rand(2, 3),
        "train": {"x": torch.rand(4, 1, 2, 2), "y": torch.arange(4), "name": "scenes"},
        "levels": [{"k": 0.1, "correct": torch.tensor([True, False])}, {"k": None}],
        "dataset": "scenes",
    }
    ds.save(data)
    back = ds.load()
    assert set(back) == set(data)
    assert torch.equal(back["x"], data["x"])
    assert torch.equal(back["train"]["x"], data["train"]["x"]) and back["train"]["name"] == "scenes"
    assert torch.equal(back["levels"][0]["correct"], data["levels"][0]["correct"])
    assert back["levels"][1] == {"k": None} and back["dataset"] == "scenes"
