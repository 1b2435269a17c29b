"""Custom Kedro datasets: torch state_dicts and tensor bundles, both versionable."""

from .tensor_bundle import TensorBundleDataset
from .torch_state_dict import TorchStateDictDataset

__all__ = ["TensorBundleDataset", "TorchStateDictDataset"]
