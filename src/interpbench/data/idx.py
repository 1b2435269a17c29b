"""Reader (and a small writer) for the idx format of MNIST and Fashion-MNIST, gzipped or plain.

An idx file is: two zero bytes, a dtype code, the number of dimensions ``d``, then ``d`` big-endian
uint32 sizes, then the payload in big-endian order. Gzip is recognised by its magic bytes.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

GZIP_MAGIC = b"\x1f\x8b"

#: idx dtype code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> tuple[bytes, bool]:
    """The (decompressed) content of ``path`` and whether it was gzipped."""
    if not path.is_file():
        raise DataError(f"idx file {str(path)!r} does not exist or is not a file.")
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw, False
    try:
        return gzip.decompress(raw), True
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"idx file {str(path)!r} is gzip-compressed but cannot be decompressed "
            f"(truncated or corrupt download?): {exc}"
        ) from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (``.gz`` or plain, detected by magic bytes) into a native-endian array.

    Raises DataError naming the file when the magic number, dtype code, dimensions or payload
    length are wrong.
    """
    path = Path(path)
    data, zipped = _read_bytes(path)
    kind = "gzipped idx" if zipped else "idx"
    if len(data) < 4:
        raise DataError(
            f"{kind} file {str(path)!r} is too short: expected at least a 4-byte header, "
            f"found {len(data)} bytes."
        )
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{kind} file {str(path)!r} has a wrong magic number {data[:4].hex()}: an idx file "
            f"starts with bytes 00 00 <dtype> <ndim> (e.g. 00000803 for images)."
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(
            f"{kind} file {str(path)!r} has an unknown dtype code 0x{code:02X}; expected one of {known}."
        )
    if ndim == 0:
        raise DataError(f"{kind} file {str(path)!r} declares 0 dimensions; expected at least 1.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{kind} file {str(path)!r} is truncated in its header: expected {header} bytes for "
            f"{ndim} dimensions, found {len(data)}."
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{kind} file {str(path)!r} is {what}: shape {shape} of {dtype.name} needs "
            f"{expected} bytes (header included), found {len(data)} bytes."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an idx file; gzip when ``compress`` or (if None) when the name ends in .gz."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DataError(f"cannot write dtype {array.dtype} to idx file {str(path)!r}.")
    if array.ndim == 0 or array.ndim > 255:
        raise DataError(f"cannot write a {array.ndim}-dimensional array to idx file {str(path)!r}.")
    big = IDX_DTYPES[codes[native]]
    payload = (
        bytes([0, 0, codes[native], array.ndim])
        + np.asarray(array.shape, dtype=">u4").tobytes()
        + np.ascontiguousarray(array, dtype=big).tobytes()
    )
    if compress is None:
        compress = path.suffix == ".gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path
