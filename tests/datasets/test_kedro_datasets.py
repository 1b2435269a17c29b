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
