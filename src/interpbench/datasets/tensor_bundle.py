"""``TensorBundleDataset``: a dict of tensors (plus small JSON values) in one safetensors file."""

from __future__ import annotations

import json
from typing import Any

import torch
from kedro.io.core import DatasetError
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ._file import BytesFileDataset

_JSON_KEY = "interpbench.json"


class TensorBundleDataset(BytesFileDataset):
    """Saves ``{"x": Tensor, "y": Tensor, "classes": [...], ...}`` to a ``.safetensors`` file.

    Tensor values become safetensors entries; everything else (class names, sources, small
    numbers) must be JSON-serialisable and is kept in the file's metadata. Loading returns the
    same dict, with tensors on the CPU.
    """

    def _to_bytes(self, data: Any) -> bytes:
        if not isinstance(data, dict):
            raise TypeError(f"expected a dict of tensors, got {type(data).__name__}")
        tensors = {k: v.detach().cpu().contiguous() for k, v in data.items() if torch.is_tensor(v)}
        extra = {k: v for k, v in data.items() if not torch.is_tensor(v)}
        return st_save(tensors, metadata={_JSON_KEY: json.dumps(extra)})

    def _from_bytes(self, raw: bytes, where: str) -> dict[str, Any]:
        try:
            tensors = st_load(raw)
            meta = json.loads(_read_metadata(raw).get(_JSON_KEY, "{}"))
        except (SafetensorError, ValueError) as exc:
            raise DatasetError(f"{where} is not a readable tensor bundle (safetensors): {exc}") from None
        return {**tensors, **meta}


def _read_metadata(raw: bytes) -> dict[str, str]:
    # safetensors.torch.load drops the metadata; its header is 8 bytes of length + JSON.
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    return header.get("__metadata__", {}) or {}
