"""``FileTreeDataset``: a folder whose files are read on demand (e.g. the figures the reports embed)."""

from __future__ import annotations

import posixpath
from copy import deepcopy
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError

from ._file import _protocol_and_path


class FileTree:
    """Read access to the files under one folder: ``read("study/figure.png")`` gives the bytes, or
    None when the file is absent or the path leaves the folder. Picklable (fsspec filesystems are)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs, self.root = fs, root.rstrip("/")

    def path(self, relative: str) -> str | None:
        """The full path of ``relative`` (a POSIX path inside the folder), None when it escapes it."""
        norm = posixpath.normpath(relative.replace("\\", "/"))
        if norm.startswith(("/", "../")) or norm in ("..", ".") or "://" in relative:
            return None
        return f"{self.root}/{norm}"

    def read(self, relative: str) -> bytes | None:
        path = self.path(relative)
        if path is None or not self.fs.isfile(path):
            return None
        with self.fs.open(path, "rb") as f:
            return f.read()

    def __repr__(self) -> str:
        return f"FileTree({self.root!r})"


class FileTreeDataset(AbstractDataset):
    """Read-only: ``load()`` gives a :class:`FileTree` over ``path`` (files are read when asked for,
    so a large folder costs nothing to load). It always exists: a file that is absent reads as None.

    Example::

        scorecard.reporting_files:
          type: interpbench.datasets.FileTreeDataset
          path: data/08_reporting
    """

    def __init__(self, *, path: str, credentials: dict[str, Any] | None = None, fs_args: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        protocol, root = _protocol_and_path(path, None)
        self._protocol, self._root = protocol, root
        self._fs = fsspec.filesystem(protocol, **(deepcopy(credentials) or {}), **(deepcopy(fs_args) or {}))
        self.metadata = metadata

    def load(self) -> FileTree:
        return FileTree(self._fs, self._root)

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only.")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": self._root, "protocol": self._protocol}
