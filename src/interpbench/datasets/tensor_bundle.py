"""``TensorBundleDataset``: a (nested) dict of tensors plus small JSON values in one safetensors file."""

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
_REF = "__tensor__"  # a nested tensor's place in the JSON metadata: {"__tensor__": "<safetensors key>"}


class TensorBundleDataset(BytesFileDataset):
    """Saves ``{"x": Tensor, "y": Tensor, "classes": [...], "train": {"x": Tensor, ...}, ...}``
    to a ``.safetensors`` file.

    Top-level tensors become safetensors entries under their own key; tensors nested in dicts or
    lists become entries named by their path (``train/x``) and are referenced from the JSON
    metadata, which holds everything else (class names, sources, small numbers; it must be
    JSON-serialisable). Loading returns the same structure, with tensors on the CPU.
    """

    def _to_bytes(self, data: Any) -> bytes:
        if not isinstance(data, dict):
            raise TypeError(f"expected a dict of tensors, got {type(data).__name__}")
        tensors: dict[str, torch.Tensor] = {}
        extra = {}
        for key, value in data.items():
            if torch.is_tensor(value):
                tensors[str(key)] = value.detach().cpu().contiguous()
            else:
                extra[key] = _pack(value, str(key), tensors)
        return st_save(tensors, metadata={_JSON_KEY: json.dumps(extra)})

    def _from_bytes(self, raw: bytes, where: str) -> dict[str, Any]:
        try:
            tensors = st_load(raw)
            meta = json.loads(_read_metadata(raw).get(_JSON_KEY, "{}"))
        except (SafetensorError, ValueError) as exc:
            raise DatasetError(f"{where} is not a readable tensor bundle (safetensors): {exc}") from None
        used: set[str] = set()
        extra = {k: _unpack(v, tensors, used) for k, v in meta.items()}
        return {**{k: v for k, v in tensors.items() if k not in used}, **extra}


def _pack(value: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if torch.is_tensor(value):
        tensors[path] = value.detach().cpu().contiguous()
        return {_REF: path}
    if isinstance(value, dict):
        return {k: _pack(v, f"{path}/{k}", tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pack(v, f"{path}/{i}", tensors) for i, v in enumerate(value)]
    return value


def _unpack(value: Any, tensors: dict[str, torch.Tensor], used: set[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_REF}:
            used.add(value[_REF])
            return tensors[value[_REF]]
        return {k: _unpack(v, tensors, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, tensors, used) for v in value]
    return value


def _read_metadata(raw: bytes) -> dict[str, str]:
    # safetensors.torch.load drops the metadata; its header is 8 bytes of length + JSON.
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    return header.get("__metadata__", {}) or {}
