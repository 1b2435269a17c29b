import gzip

import numpy as np
import pytest

from interpbench.data import read_idx, write_idx
from interpbench.errors import DataError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_uint8(tmp_path, name):
    arr = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = write_idx(tmp_path / name, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64])
def test_round_trip_other_dtypes(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", arr))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_gzip_detected_by_magic_not_extension(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "labels-idx1-ubyte", arr, compress=True)  # no .gz suffix
    np.testing.assert_array_equal(read_idx(path), arr)


def test_truncated_file_names_path_and_sizes(tmp_path):
    path = write_idx(tmp_path / "t-idx3-ubyte", np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError) as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg and "truncated" in msg
    assert str(16 + 4 * 28 * 28) in msg and str(16 + 4 * 28 * 28 - 100) in msg


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(400))[:30])
    with pytest.raises(DataError, match="t.gz"):
        read_idx(path)


def test_wrong_magic_and_dtype(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"<html>not an idx file</html>")
    with pytest.raises(DataError, match="magic"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="dtype code 0x07"):
        read_idx(bad)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope")
