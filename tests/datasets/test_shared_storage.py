"""Shared storage through fsspec: versioned datasets on ``memory://`` seen from two catalogs.

Two project copies that point the same catalog entry at shared storage (here fsspec's in-memory
filesystem standing in for s3://, gcs://, a mounted share...) see each other's versions: the
latest one by default, or a pinned one by ``Version(load=..., save=None)``.
"""

from __future__ import annotations

import fsspec
import pytest
import torch
from kedro.io import DataCatalog
from kedro.io.core import Version

from interpbench.datasets import TensorBundleDataset, TorchStateDictDataset

V1, V2 = "2026-11-23T10.00.00.000Z", "2026-11-23T11.00.00.000Z"

ENTRIES = {
    "model": {"type": "interpbench.datasets.TorchStateDictDataset",
              "filepath": "memory://proj/data/06_models/m.pt", "versioned": True},
    "bundle": {"type": "interpbench.datasets.TensorBundleDataset",
               "filepath": "memory://proj/data/05_model_input/b.safetensors", "versioned": True},
}


def _data(value: float) -> dict:
    return {"model": {"weight": torch.full((2, 3), value), "bias": torch.zeros(2)},
            "bundle": {"x": torch.full((4, 1, 2, 2), value), "y": torch.arange(4), "classes": [str(value)]}}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


@pytest.fixture
def memory_fs():
    fs = fsspec.filesystem("memory")
    fs.rm("/proj", recursive=True) if fs.exists("/proj") else None
    yield fs
    if fs.exists("/proj"):
        fs.rm("/proj", recursive=True)


def test_versioned_save_and_load_on_memory_fs(memory_fs):
    for cls, name in ((TorchStateDictDataset, "model"), (TensorBundleDataset, "bundle")):
        ds = cls(filepath=ENTRIES[name]["filepath"], version=Version(None, None))
        assert not ds.exists()
        ds.save(_data(1.0)[name])
        assert ds.exists()
        assert _same(ds.load(), _data(1.0)[name])
    # one file per dataset, in a version folder, and no temporary file left behind
    files = memory_fs.find("/proj")
    assert len(files) == 2, files
    assert all(f.rsplit("/", 2)[-1] == f.rsplit("/", 3)[-3] for f in files), files


@pytest.mark.parametrize("name", ["model", "bundle"])
def test_a_second_project_copy_sees_the_versions_of_the_first(memory_fs, name):
    first = DataCatalog.from_config({name: ENTRIES[name]}, save_version=V1)
    first.save(name, _data(1.0)[name])
    later_run = DataCatalog.from_config({name: ENTRIES[name]}, save_version=V2)
    later_run.save(name, _data(2.0)[name])

    # another copy of the project, built from the same catalog entry
    second = DataCatalog.from_config({name: ENTRIES[name]})
    assert _same(second.load(name), _data(2.0)[name])
    pinned = DataCatalog.from_config({name: ENTRIES[name]}, load_versions={name: V1})
    assert _same(pinned.load(name), _data(1.0)[name])

    cls = TorchStateDictDataset if name == "model" else TensorBundleDataset
    direct = cls(filepath=ENTRIES[name]["filepath"], version=Version(load=V1, save=None))
    assert _same(direct.load(), _data(1.0)[name])
    latest = cls(filepath=ENTRIES[name]["filepath"], version=Version(load=None, save=None))
    assert _same(latest.load(), _data(2.0)[name])

    assert sorted(f.rsplit("/", 2)[-2] for f in memory_fs.find("/proj")) == [V1, V2]
