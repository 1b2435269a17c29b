"""``OptionalDataset``: read another dataset's latest saved data, or None when nothing is saved yet."""

from __future__ import annotations

import logging
from copy import deepcopy
from typing import Any

from kedro.io.core import AbstractDataset, DatasetError

log = logging.getLogger(__name__)


class OptionalDataset(AbstractDataset):
    """Read-only wrapper: ``load()`` gives the wrapped dataset's data (its latest version when it is
    versioned) or ``None`` when nothing has been saved there yet, so a reader such as the scorecard
    runs with whatever the studies have saved so far. It always "exists" for the project's
    missing-input check (:mod:`interpbench.input_checks`). A loaded DataFrame carries its version
    in ``attrs["version"]``.

    Example (the same files as ``"{study}.results"``)::

        "scorecard.latest_results.{study}":
          type: interpbench.datasets.OptionalDataset
          dataset:
            type: pandas.ParquetDataset
            filepath: data/08_reporting/{study}/results.parquet
            versioned: true
    """

    def __init__(self, *, dataset: dict[str, Any] | str, metadata: dict[str, Any] | None = None) -> None:
        config = {"type": dataset} if isinstance(dataset, str) else deepcopy(dataset)
        self._dataset = AbstractDataset.from_config("wrapped", config)
        self.metadata = metadata

    @property
    def _version(self):
        """The wrapped dataset's version spec (the run record reads it)."""
        return getattr(self._dataset, "_version", None)

    def resolve_load_version(self) -> str | None:
        resolve = getattr(self._dataset, "resolve_load_version", None)
        return resolve() if resolve is not None else None

    def load(self) -> Any:
        if not self._dataset.exists():
            where = self._dataset._describe().get("filepath", self._dataset)
            log.warning("Nothing saved yet at %s: loading None", where)
            return None
        data = self._dataset.load()
        version = self.resolve_load_version() if self._version else None
        if version and hasattr(data, "attrs"):
            data.attrs["version"] = version
        return data

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only; save to the wrapped dataset's own entry instead.")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe()}
