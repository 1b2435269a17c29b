"""A versioned fsspec file holding bytes; subclasses convert objects to and from bytes.

Saving serialises fully in memory first, then writes the file in one go, so a failed
serialisation never leaves a half-written file behind.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)


class BytesFileDataset(AbstractVersionedDataset):
    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        fs_args = deepcopy(fs_args) or {}
        if protocol == "file":
            fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(deepcopy(credentials) or {}), **fs_args)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    # subclasses implement these two
    def _to_bytes(self, data: Any) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _from_bytes(self, raw: bytes, where: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> Any:
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, mode="rb") as f:
            raw = f.read()
        return self._from_bytes(raw, path)

    def save(self, data: Any) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        try:
            raw = self._to_bytes(data)
        except Exception as exc:
            raise DatasetError(f"{type(self).__name__} could not serialise {type(data).__name__} for {path}: {exc}") from exc
        with self._fs.open(path, mode="wb") as f:
            f.write(raw)
        self._fs.invalidate_cache(path)

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}
