"""``TorchStateDictDataset``: a model's state_dict, loaded with ``weights_only=True``."""

from __future__ import annotations

import io
from typing import Any

import torch
from kedro.io.core import DatasetError
from torch import nn

from ._file import BytesFileDataset


class TorchStateDictDataset(BytesFileDataset):
    """Saves ``model.state_dict()`` (or a state_dict) with ``torch.save``; loads the state_dict.

    Loading never unpickles arbitrary objects (``weights_only=True``). Nodes rebuild the model
    from the zoo and call ``load_state_dict``.

    Example::

        "{namespace}.{model}_state":
          type: interpbench.datasets.TorchStateDictDataset
          filepath: data/06_models/{namespace}/{model}.pt
          versioned: true
    """

    def _to_bytes(self, data: Any) -> bytes:
        state = data.state_dict() if isinstance(data, nn.Module) else data
        if not isinstance(state, dict):
            raise TypeError(f"expected an nn.Module or a state_dict, got {type(data).__name__}")
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in state.items()}, buf)
        return buf.getvalue()

    def _from_bytes(self, raw: bytes, where: str) -> dict[str, torch.Tensor]:
        try:
            return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DatasetError(f"{where} is not a readable torch state_dict: {exc}") from None
