"""Both custom datasets write atomically: temporary file beside the target, then rename.

A failure while serialising or while writing leaves no target file and no temporary file; an
existing (unversioned) target keeps its old content.
"""

from __future__ import annotations

import pytest
import torch
from kedro.io.core import DatasetError, Version

from interpbench.datasets import TensorBundleDataset, TorchStateDictDataset, tensor_bundle, torch_state_dict

CASES = [
    pytest.param(TorchStateDictDataset, "m.pt", {"w": torch.ones(2)}, {"w": torch.zeros(2)}, id="state_dict"),
    pytest.param(TensorBundleDataset, "b.safetensors", {"x": torch.ones(2), "classes": ["a"]},
                 {"x": torch.zeros(2), "classes": ["b"]}, id="tensor_bundle"),
]


def _boom(*args, **kwargs):
    raise RuntimeError("serialiser failed")


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


@pytest.mark.parametrize(("cls", "name", "old", "new"), CASES)
def test_save_leaves_only_the_target(tmp_path, cls, name, old, new):
    ds = cls(filepath=str(tmp_path / "sub" / name), version=Version(None, None))
    ds.save(old)
    files = _files(tmp_path)
    assert len(files) == 1 and files[0].startswith("sub/" + name + "/") and files[0].endswith("/" + name)
    assert _same(cls(filepath=str(tmp_path / "sub" / name), version=Version(None, None)).load(), old)


@pytest.mark.parametrize(("cls", "name", "old", "new"), CASES)
def test_failing_serialiser_leaves_no_file(tmp_path, monkeypatch, cls, name, old, new):
    # the serialisers as the dataset modules call them
    monkeypatch.setattr(torch_state_dict.torch, "save", _boom)
    monkeypatch.setattr(tensor_bundle, "st_save", _boom)
    ds = cls(filepath=str(tmp_path / name), version=Version(None, None))
    with pytest.raises(DatasetError, match="serialiser failed"):
        ds.save(new)
    assert _files(tmp_path) == []


class _HalfWrite:
    """A file object that writes the first half of the data, then fails (a full disk, a lost mount)."""

    def __init__(self, f):
        self._f = f

    def write(self, raw):
        self._f.write(raw[: len(raw) // 2])
        raise OSError("disk full")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.mark.parametrize(("cls", "name", "old", "new"), CASES)
def test_failure_mid_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, cls, name, old, new):
    ds = cls(filepath=str(tmp_path / name))  # unversioned: the new save replaces the old file
    ds.save(old)
    before = (tmp_path / name).read_bytes()
    real_open = ds._fs.open
    monkeypatch.setattr(ds._fs, "open", lambda path, mode="rb", **kw: _HalfWrite(real_open(path, mode, **kw)))
    with pytest.raises(DatasetError, match="disk full"):
        ds.save(new)
    monkeypatch.undo()
    assert _files(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == before
    ds.save(new)
    assert _files(tmp_path) == [name] and _same(ds.load(), new)


@pytest.mark.parametrize(("cls", "name", "old", "new"), CASES)
def test_failing_rename_leaves_no_temporary(tmp_path, monkeypatch, cls, name, old, new):
    ds = cls(filepath=str(tmp_path / name), version=Version(None, None))

    def failing_mv(*args, **kwargs):
        raise OSError("rename failed")

    monkeypatch.setattr(ds._fs, "mv", failing_mv)
    with pytest.raises(DatasetError, match="rename failed"):
        ds.save(new)
    assert _files(tmp_path) == []
