"""A versioned fsspec file holding bytes; subclasses convert objects to and from bytes.

Saving is atomic: the object is serialised fully in memory, written to a hidden temporary file
beside the target (same directory, so same filesystem) and then renamed onto the target through
fsspec. A failure at any step leaves neither a half-written target nor the temporary file behind;
an unversioned target that existed before keeps its old content. On a local disk the rename is
``os.rename`` (atomic on POSIX); object stores have no rename (fsspec copies, then deletes), but
there a file only appears once its upload completes.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    CLOUD_PROTOCOLS,
    HTTP_PROTOCOLS,
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
        protocol, path = _protocol_and_path(filepath, version)
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
        self._write_atomically(path, raw)

    def _write_atomically(self, path: str, raw: bytes) -> None:
        parent, _, name = path.rpartition("/")
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp" if parent else f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            with self._fs.open(tmp, mode="wb") as f:
                f.write(raw)
            self._fs.mv(tmp, path)
        except BaseException:
            with suppress(Exception):
                if self._fs.exists(tmp):
                    self._fs.rm(tmp)
            raise
        finally:
            self._fs.invalidate_cache(tmp)
            self._fs.invalidate_cache(path)

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}


def _protocol_and_path(filepath: str, version: Version | None) -> tuple[str, str]:
    """Kedro's ``get_protocol_and_path``, except that the path of a protocol other than a local
    file, HTTP or one of Kedro's cloud protocols is the one fsspec itself uses for that filesystem.

    Kedro keeps the host part of a URL only for its cloud protocols (``s3://bucket/...``), so
    ``memory://proj/data/m.pt`` would become ``/data/m.pt``; fsspec reads it as ``/proj/data/m.pt``.
    """
    protocol, path = get_protocol_and_path(filepath, version)
    if protocol not in ("file", *HTTP_PROTOCOLS, *CLOUD_PROTOCOLS):
        path = fsspec.get_filesystem_class(protocol)._strip_protocol(str(filepath))
    return protocol, path
