"""The read-only datasets of the cross-study reports: OptionalDataset (latest version, or None
when nothing is saved yet) and FileTreeDataset (a folder's files on demand)."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
from kedro.io import AbstractDataset, DatasetError

from interpbench.datasets import FileTreeDataset, OptionalDataset


def _parquet(path, versioned=True):
    return {"type": "pandas.ParquetDataset", "filepath": str(path), "versioned": versioned}


def test_optional_dataset_is_none_until_a_version_is_saved_then_the_latest(tmp_path):
    path = tmp_path / "study" / "results.parquet"
    optional = OptionalDataset(dataset=_parquet(path))
    assert optional.exists()  # the project's missing-input check lets the run start
    assert optional.load() is None

    for value, version in ((1.0, "2026-01-01T00.00.00.000Z"), (2.0, "2026-01-02T00.00.00.000Z")):
        AbstractDataset.from_config("w", _parquet(path), save_version=version).save(pd.DataFrame({"value": [value]}))
    latest = OptionalDataset(dataset=_parquet(path)).load()
    assert latest["value"].tolist() == [2.0]
    assert latest.attrs["version"] == "2026-01-02T00.00.00.000Z"


def test_optional_dataset_wraps_unversioned_files_and_is_read_only(tmp_path):
    text = OptionalDataset(dataset={"type": "text.TextDataset", "filepath": str(tmp_path / "report.md")})
    assert text.load() is None
    (tmp_path / "report.md").write_text("# hi\n")
    assert text.load() == "# hi\n"
    with pytest.raises(DatasetError, match="read-only"):
        text.save("x")


def test_file_tree_reads_inside_its_folder_only(tmp_path):
    (tmp_path / "reports" / "study").mkdir(parents=True)
    (tmp_path / "reports" / "study" / "fig.png").write_bytes(b"png")
    (tmp_path / "secret.txt").write_text("no")
    tree = FileTreeDataset(path=str(tmp_path / "reports")).load()
    assert tree.read("study/fig.png") == b"png"
    assert tree.read("study/../study/fig.png") == b"png"
    assert tree.read("study/absent.png") is None
    assert tree.read("../secret.txt") is None and tree.read(str(tmp_path / "secret.txt")) is None
    assert pickle.loads(pickle.dumps(tree)).read("study/fig.png") == b"png"
    assert FileTreeDataset(path=str(tmp_path / "nowhere")).exists()
