"""MXNet RecordIO (``.rec`` / ``.idx``) in pure Python, read and write, as dmlc-core and ``im2rec`` lay it out.

Each part: uint32 magic ``0xced7230a``, uint32 ``lrecord = cflag << 29 | length``, ``length`` bytes, zero
padding to 4 bytes. The writer splits a payload at every 4-byte-aligned occurrence of the magic word
(cflag 1 start, 2 middle, 3 end, the magic itself dropped); the reader joins the parts, putting it back.
An image record starts with ``IRHeader`` ``<IfQQ`` (flag, label, id, id2); ``flag > 0`` means ``flag``
float32 labels follow (``pack_label``), then the encoded image.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from openmaker.vision.errors import DatasetError

__all__ = [
    "MAGIC", "IRHeader", "RecordReader", "RecordWriter", "detection_label", "pack", "parse_detection_label",
    "read_idx", "unpack",
]  # fmt: skip

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
MAX_LENGTH = (1 << 29) - 1
_PART = struct.Struct("<II")
_IR = struct.Struct("<IfQQ")


class IRHeader(NamedTuple):
    """MXNet's image record header; ``label`` is a float or, when ``flag > 0``, a float32 array."""

    flag: int
    label: float | np.ndarray
    id: int
    id2: int


def pack(header: IRHeader | Sequence, data: bytes) -> bytes:
    """Header plus ``data``; an array label is stored after the header with ``flag`` = its length."""
    flag, label, id_, id2 = header
    if np.ndim(label) == 0:
        return _IR.pack(int(flag), float(label), int(id_), int(id2)) + bytes(data)
    labels = np.asarray(label, dtype="<f4").ravel()
    return _IR.pack(labels.size, 0.0, int(id_), int(id2)) + labels.tobytes() + bytes(data)


def unpack(record: bytes, where: str = "record") -> tuple[IRHeader, bytes]:
    """``(IRHeader, payload)``; with ``flag > 0`` the header's label is the float32 label array."""
    if len(record) < _IR.size:
        raise DatasetError(f"{where}: {len(record)} bytes, too short for the {_IR.size}-byte image record header")
    flag, label, id_, id2 = _IR.unpack_from(record)
    if flag == 0:
        return IRHeader(0, label, id_, id2), record[_IR.size :]
    end = _IR.size + 4 * flag
    if end > len(record):
        raise DatasetError(f"{where}: header says {flag} labels but the record has only {len(record)} bytes")
    labels = np.frombuffer(record, dtype="<f4", count=flag, offset=_IR.size).astype(np.float32)
    return IRHeader(flag, labels, id_, id2), record[end:]


def detection_label(boxes: np.ndarray, extra_header: Sequence[float] = ()) -> np.ndarray:
    """im2rec ``--pack-label`` detection label: ``[header_len, 5, *extra, cls, xmin, ymin, xmax, ymax, ...]``."""
    rows = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
    head = np.array([2 + len(extra_header), 5, *extra_header], dtype=np.float32)
    return np.concatenate([head, rows.ravel()])


def parse_detection_label(label: np.ndarray | float, where: str) -> np.ndarray:
    """Boxes (n, 5) from a packed detection label; header_len and label_width are its first two values."""
    values = np.atleast_1d(np.asarray(label, dtype=np.float32))
    if values.size < 2:
        raise DatasetError(f"{where}: no packed detection label (pack with im2rec --pack-label)")
    header_len, width = float(values[0]), float(values[1])
    if header_len != int(header_len) or header_len < 2 or width != int(width) or width < 5:
        raise DatasetError(f"{where}: bad label header [{header_len:g}, {width:g}] (expected [2, 5, ...])")
    body = values[int(header_len) :]
    if header_len > values.size or body.size % int(width):
        raise DatasetError(
            f"{where}: {values.size} label values do not fit header_len {int(header_len)} + k * "
            f"label_width {int(width)}"
        )
    return body.reshape(-1, int(width))[:, :5].copy()


def read_idx(path: str | os.PathLike) -> dict[int, int]:
    """``{key: byte offset}`` from an ``.idx`` file (``key<TAB>offset`` lines)."""
    index: dict[int, int] = {}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                key, offset = (int(v) for v in fields)
            except ValueError:
                raise DatasetError(f"{path} line {number}: expected 'index<TAB>offset', got {line.strip()!r}") from None
            if offset < 0 or key in index:
                what = "negative offset" if offset < 0 else f"index {key} listed twice"
                raise DatasetError(f"{path} line {number}: {what}")
            index[key] = offset
    return index


class RecordWriter:
    """Writes records to ``path`` and, when ``idx_path`` is given, ``key<TAB>offset`` lines to it."""

    def __init__(self, path: str | os.PathLike, idx_path: str | os.PathLike | None = None):
        self.path = Path(path)
        self._out = open(self.path, "wb", buffering=1 << 20)
        self._idx = open(idx_path, "w", encoding="utf-8") if idx_path is not None else None
        self._offset = 0
        self._count = 0

    def write(self, data: bytes, key: int | None = None) -> int:
        """Append one record (split where the magic word occurs); returns its byte offset."""
        if len(data) > MAX_LENGTH:
            raise ValueError(f"{self.path}: a record holds at most {MAX_LENGTH} bytes, not {len(data)}")
        start = self._offset
        parts = []
        begin = pos = 0
        while (pos := data.find(MAGIC_BYTES, pos, len(data) - len(data) % 4)) >= 0:
            if pos % 4:
                pos += 1
                continue
            parts.append((1 if begin == 0 else 2, data[begin:pos]))
            begin = pos = pos + 4
        parts.append((3 if begin else 0, data[begin:]))
        for cflag, chunk in parts:
            pad = -len(chunk) % 4
            self._out.write(_PART.pack(MAGIC, cflag << 29 | len(chunk)))
            self._out.write(chunk)
            if pad:
                self._out.write(b"\0" * pad)
            self._offset += 8 + len(chunk) + pad
        if self._idx is not None:
            self._idx.write(f"{self._count if key is None else int(key)}\t{start}\n")
        self._count += 1
        return start

    def close(self) -> None:
        self._out.close()
        if self._idx is not None:
            self._idx.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RecordReader:
    """A ``.rec`` read through mmap: ``scan()`` in file order, ``read_at(offset)``, ``reader[key]`` via the ``.idx``."""

    def __init__(self, path: str | os.PathLike, idx_path: str | os.PathLike | None = None):
        self.path = Path(path)
        self.index = read_idx(idx_path) if idx_path is not None else None
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.size = size

    def read_at(self, offset: int) -> tuple[bytes, int]:
        """The record starting at byte ``offset`` and the offset just after it."""
        buf, size, pieces = self._buf, self.size, []
        pos = offset
        while True:
            if pos + 8 > size:
                raise DatasetError(f"{self.path}: truncated record at byte {pos} ({size - pos} bytes left, 8 needed)")
            magic, lrec = _PART.unpack_from(buf, pos)
            if magic != MAGIC:
                raise DatasetError(
                    f"{self.path}: bad magic number 0x{magic:08x} at byte {pos} (expected 0x{MAGIC:08x})"
                )
            cflag, length = lrec >> 29, lrec & MAX_LENGTH
            end = pos + 8 + length
            if end + (-length % 4) > size:
                raise DatasetError(
                    f"{self.path}: truncated record at byte {pos}: {length} bytes announced "
                    f"(padded to {length + (-length % 4)}), {size - pos - 8} left"
                )
            if (cflag in (2, 3)) != bool(pieces) or cflag > 3:
                raise DatasetError(f"{self.path}: unexpected continuation flag {cflag} at byte {pos}")
            pieces.append(buf[pos + 8 : end])
            pos = end + (-length % 4)
            if cflag in (0, 3):
                return (pieces[0] if len(pieces) == 1 else MAGIC_BYTES.join(pieces)), pos

    def scan(self) -> Iterator[tuple[int, bytes]]:
        """``(offset, record)`` for every record, in file order."""
        pos = 0
        while pos < self.size:
            record, after = self.read_at(pos)
            yield pos, record
            pos = after

    def keys(self) -> list[int]:
        if self.index is None:
            raise DatasetError(f"{self.path}: no .idx file given; keys need one")
        return list(self.index)

    def __getitem__(self, key: int) -> bytes:
        if self.index is None:
            raise DatasetError(f"{self.path}: no .idx file given; random access needs one")
        if key not in self.index:
            raise KeyError(key)
        offset = self.index[key]
        if offset >= self.size:
            raise DatasetError(f"{self.path}: index {key} points at byte {offset}, past the end ({self.size} bytes)")
        return self.read_at(offset)[0]

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else sum(1 for _ in self.scan())

    def close(self) -> None:
        if isinstance(self._buf, mmap.mmap):
            self._buf.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
