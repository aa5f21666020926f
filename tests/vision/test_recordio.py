"""Pure-Python MXNet RecordIO: the exact byte layout of dmlc-core's writer (multi-part records where the
magic word occurs), round trips, .idx random access, image record headers and packed detection labels,
and the bad inputs (bad magic, truncated record, bad .idx line)."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from openmaker.vision.errors import DatasetError
from openmaker.vision.recordio import (
    MAGIC, IRHeader, RecordReader, RecordWriter, detection_label, pack, parse_detection_label, read_idx, unpack,
)  # fmt: skip

M = struct.pack("<I", 0xCED7230A)


def part(cflag: int, data: bytes) -> bytes:
    """One part as dmlc-core writes it: magic, lrecord, data, zero padding to 4 bytes."""
    return M + struct.pack("<I", cflag << 29 | len(data)) + data + b"\0" * (-len(data) % 4)


def write(path, records: list[bytes]) -> None:
    with RecordWriter(path, path.with_suffix(".idx")) as writer:
        for record in records:
            writer.write(record)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"abcd", part(0, b"abcd")),
        (b"hello", part(0, b"hello")),
        (b"", part(0, b"")),
        (b"ABCD" + M + b"EF", part(1, b"ABCD") + part(3, b"EF")),  # magic at an aligned offset: split
        (M + b"xy", part(1, b"") + part(3, b"xy")),
        (b"abcd" + M, part(1, b"abcd") + part(3, b"")),
        (b"ab" + M + b"cd", part(0, b"ab" + M + b"cd")),  # unaligned magic stays in the data
        (M + b"1234" + M + M + b"z", part(1, b"") + part(2, b"1234") + part(2, b"") + part(3, b"z")),
    ],
)  # fmt: skip
def test_writer_bytes_match_dmlc_layout_and_read_back(tmp_path, data, expected):
    path = tmp_path / "a.rec"
    write(path, [data])
    assert path.read_bytes() == expected
    with RecordReader(path) as reader:
        assert [record for _, record in reader.scan()] == [data]


def test_round_trip_many_records_and_idx_random_access(tmp_path):
    rng = np.random.default_rng(1)
    records = [os.urandom(int(n)) for n in rng.integers(0, 3000, 40)]
    records[5] = b"x" * 7 + M + b"y" * 9 + M  # unaligned and aligned magic together
    records[9] = M * 5
    path = tmp_path / "many.rec"
    offsets = []
    with RecordWriter(path, tmp_path / "many.idx") as writer:
        for key, record in enumerate(records):
            offsets.append(writer.write(record, key=100 + key))
    assert read_idx(tmp_path / "many.idx") == {100 + k: off for k, off in enumerate(offsets)}
    with RecordReader(path, tmp_path / "many.idx") as reader:
        assert [off for off, _ in reader.scan()] == offsets
        assert [rec for _, rec in reader.scan()] == records
        assert len(reader) == 40 and reader.keys()[:2] == [100, 101]
        for key in rng.permutation(40).tolist():
            assert reader[100 + key] == records[key]
        assert reader.read_at(offsets[9]) == (records[9], offsets[10])
        with pytest.raises(KeyError):
            reader[5]
    with RecordReader(path) as reader:
        assert len(reader) == 40
        with pytest.raises(DatasetError, match="no .idx file given"):
            reader[100]


def test_empty_file_has_no_records(tmp_path):
    (tmp_path / "e.rec").write_bytes(b"")
    with RecordReader(tmp_path / "e.rec") as reader:
        assert list(reader.scan()) == [] and len(reader) == 0


def test_bad_magic_names_file_and_offset(tmp_path):
    path = tmp_path / "bad.rec"
    write(path, [b"abcd", b"efgh"])
    data = bytearray(path.read_bytes())
    data[12:16] = b"\xde\xad\xbe\xef"  # the second record's magic, at byte 12
    path.write_bytes(bytes(data))
    with RecordReader(path) as reader, pytest.raises(DatasetError) as err:
        list(reader.scan())
    assert f"{path}: bad magic number 0xefbeadde at byte 12" in str(err.value)
    with RecordReader(path) as reader, pytest.raises(DatasetError, match="bad magic number .* at byte 4"):
        reader.read_at(4)  # an offset inside a record


@pytest.mark.parametrize(
    "cut, message",
    [(-3, r"truncated record at byte 12: 6 bytes announced \(padded to 8\), 5 left"),
     (-1, r"truncated record at byte 12: 6 bytes announced \(padded to 8\), 7 left"),
     (-14, r"truncated record at byte 12 \(2 bytes left, 8 needed\)")],
)  # fmt: skip
def test_truncated_record_names_file_and_offset(tmp_path, cut, message):
    path = tmp_path / "cut.rec"
    write(path, [b"abcd", b"efghij"])
    path.write_bytes(path.read_bytes()[:cut])
    with RecordReader(path) as reader, pytest.raises(DatasetError, match=message) as err:
        list(reader.scan())
    assert str(path) in str(err.value)


def test_split_record_missing_its_end_is_an_error(tmp_path):
    path = tmp_path / "open.rec"
    path.write_bytes(part(1, b"abcd") + part(0, b"efgh"))
    with RecordReader(path) as reader, pytest.raises(DatasetError, match="unexpected continuation flag 0 at byte 12"):
        list(reader.scan())
    path.write_bytes(part(3, b"abcd"))
    with RecordReader(path) as reader, pytest.raises(DatasetError, match="unexpected continuation flag 3 at byte 0"):
        list(reader.scan())


@pytest.mark.parametrize("line, message", [("0\t12\n1 x\n", "line 2: expected 'index<TAB>offset'"),
                                           ("0\t0\n0\t16\n", "line 2: index 0 listed twice"),
                                           ("0\t-4\n", "line 1: negative offset"),
                                           ("1\t2\t3\n", "line 1: expected")])  # fmt: skip
def test_bad_idx_line_names_file_and_line(tmp_path, line, message):
    (tmp_path / "x.idx").write_text(line)
    with pytest.raises(DatasetError, match=message) as err:
        read_idx(tmp_path / "x.idx")
    assert "x.idx" in str(err.value)


def test_idx_offset_past_the_end(tmp_path):
    write(tmp_path / "a.rec", [b"abcd"])
    (tmp_path / "b.idx").write_text("0\t0\n1\t400\n")
    with RecordReader(tmp_path / "a.rec", tmp_path / "b.idx") as reader:
        assert reader[0] == b"abcd"
        with pytest.raises(DatasetError, match="index 1 points at byte 400, past the end"):
            reader[1]


def test_pack_unpack_scalar_and_array_labels():
    scalar = pack(IRHeader(0, 3.0, 7, 9), b"JPEG")
    assert scalar == struct.pack("<IfQQ", 0, 3.0, 7, 9) + b"JPEG"
    header, payload = unpack(scalar)
    assert header == IRHeader(0, 3.0, 7, 9) and payload == b"JPEG"
    packed = pack(IRHeader(0, [2, 5, 1, 0.1, 0.2, 0.3, 0.4], 11, 0), b"img")
    assert packed[:24] == struct.pack("<IfQQ", 7, 0.0, 11, 0)
    assert packed[24:52] == np.array([2, 5, 1, 0.1, 0.2, 0.3, 0.4], dtype="<f4").tobytes()
    header, payload = unpack(packed)
    assert header.flag == 7 and header.id == 11 and payload == b"img"
    np.testing.assert_allclose(header.label, [2, 5, 1, 0.1, 0.2, 0.3, 0.4], rtol=1e-6)


def test_unpack_rejects_short_records():
    with pytest.raises(DatasetError, match="too short"):
        unpack(b"\0" * 10, "r.rec record 3")
    with pytest.raises(DatasetError, match="r.rec record 3: header says 5 labels"):
        unpack(struct.pack("<IfQQ", 5, 0, 0, 0) + b"\0" * 8, "r.rec record 3")


def test_detection_labels():
    boxes = np.array([[0, 0.1, 0.2, 0.3, 0.4], [2, 0.5, 0.5, 1.0, 1.0]], dtype=np.float32)
    label = detection_label(boxes)
    np.testing.assert_array_equal(label[:2], [2, 5])
    np.testing.assert_allclose(parse_detection_label(label, "w"), boxes)
    assert parse_detection_label(detection_label(np.zeros((0, 5))), "w").shape == (0, 5)
    # an extra header value and a wider label: read header_len and label_width, ignore extra columns
    wide = np.array([3, 6, 99, 1, 0.1, 0.1, 0.9, 0.9, -1, 0, 0, 0, 0.5, 0.5, 7], dtype=np.float32)
    np.testing.assert_allclose(parse_detection_label(wide, "w"), [[1, 0.1, 0.1, 0.9, 0.9], [0, 0, 0, 0.5, 0.5]])
    np.testing.assert_array_equal(detection_label(boxes[:1], [99])[:3], [3, 5, 99])


@pytest.mark.parametrize("label, message", [(4.0, "no packed detection label"), ([2, 4, 0, 0, 0, 1], "bad label header"),
                                            ([2, 5, 0, 0.1, 0.1, 0.5], "do not fit"), ([1.5, 5], "bad label header")])  # fmt: skip
def test_bad_detection_labels(label, message):
    with pytest.raises(DatasetError, match=f"t.rec record 0: .*{message}"):
        parse_detection_label(np.asarray(label, dtype=np.float32), "t.rec record 0")


def test_writer_rejects_oversized_records(tmp_path):
    class Huge(bytes):
        def __len__(self):
            return 1 << 29

    with RecordWriter(tmp_path / "h.rec") as writer, pytest.raises(ValueError, match="at most"):
        writer.write(Huge(b"x"))
    assert MAGIC == 0xCED7230A
