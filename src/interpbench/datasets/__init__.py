"""Custom Kedro datasets: torch state_dicts and tensor bundles (both versionable), and two read-only
helpers of the cross-study reports: the latest saved data of another entry or None, and a folder of files."""

from .file_tree import FileTree, FileTreeDataset
from .optional import OptionalDataset
from .tensor_bundle import TensorBundleDataset
from .torch_state_dict import TorchStateDictDataset

__all__ = ["FileTree", "FileTreeDataset", "OptionalDataset", "TensorBundleDataset", "TorchStateDictDataset"]
