"""Linear Learner training data: CSV with the label in the first column and no header.

A channel is a directory (every file under it, sorted, hidden files skipped)
or one file. Errors name the file, the line (1-based, as an editor counts)
and the column (1-based; column 1 is the label).
``application/x-recordio-protobuf`` is not implemented.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from openmaker.training.linear_learner.model import DataError

CSV_TYPES = ("text/csv", "text/csv;label_size=1", "csv")
RECORDIO_TYPES = ("application/x-recordio-protobuf", "application/x-recordio")


def check_content_type(content_type: str | None) -> None:
    """Accept ``text/csv`` (``label_size=1``); recordio-protobuf raises ``NotImplementedError``."""
    if not content_type:
        return
    ctype = content_type.replace(" ", "").lower()
    base = ctype.split(";", 1)[0]
    if base in RECORDIO_TYPES:
        raise NotImplementedError(
            "application/x-recordio-protobuf training input is not implemented in openmaker's Linear Learner; "
            "convert the channel to text/csv (label in the first column, no header)"
        )
    if base not in ("text/csv", "csv"):
        raise DataError(f"unsupported ContentType {content_type!r} for Linear Learner; use text/csv")
    for param in ctype.split(";")[1:]:
        if param.startswith("label_size=") and param != "label_size=1":
            raise DataError(f"ContentType {content_type!r}: only label_size=1 is supported")


def channel_files(path: str | Path) -> list[Path]:
    """The data files of a channel: the file itself, or every non-hidden file under the directory."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"channel path {path} does not exist")
    files = sorted(p for p in path.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise DataError(f"channel {path} holds no files")
    return files


def read_csv_file(path: Path) -> np.ndarray:
    """One CSV file as a float32 ``[rows, columns]`` array (empty lines skipped)."""
    text = path.read_bytes()
    if not text.strip():
        return np.zeros((0, 0), dtype=np.float32)
    try:
        data = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32, ndmin=2, encoding="utf-8")
    except ValueError:
        _locate_error(path, text)
        raise  # pragma: no cover - _locate_error always raises for what loadtxt rejects
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{path}: row {_line_of(text, r)}, column {c + 1}: value is not finite")
    return data


def _line_of(text: bytes, data_row: int) -> int:
    """The file line of the ``data_row``-th non-empty line (both 0-based in, 1-based out)."""
    seen = -1
    for lineno, line in enumerate(text.decode("utf-8", "replace").splitlines(), start=1):
        if line.strip():
            seen += 1
            if seen == data_row:
                return lineno
    return data_row + 1


def _locate_error(path: Path, text: bytes) -> None:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    expected = None
    for lineno, row in enumerate(csv.reader(io.StringIO(decoded)), start=1):
        if not row or all(not v.strip() for v in row):
            continue
        if expected is None:
            expected = len(row)
        elif len(row) != expected:
            raise DataError(f"{path}: row {lineno} has {len(row)} columns, expected {expected} "
                            f"(label first, then the features)")
        for col, value in enumerate(row, start=1):
            try:
                float(value)
            except ValueError:
                what = "the label" if col == 1 else f"feature {col - 1}"
                raise DataError(f"{path}: row {lineno}, column {col} ({what}): {value.strip()!r} is not a number "
                                f"(Linear Learner CSV has no header and only numeric values)") from None
    raise DataError(f"{path}: cannot parse as CSV")


def read_csv_channel(path: str | Path, feature_dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a CSV channel: label from the first column, features from the rest."""
    parts = []
    columns = None
    first = None
    for file in channel_files(path):
        data = read_csv_file(file)
        if data.size == 0:
            continue
        if columns is None:
            columns, first = data.shape[1], file
            if columns < 2:
                raise DataError(f"{file}: rows have {columns} column; need the label and at least one feature")
            if feature_dim is not None and columns - 1 != feature_dim:
                raise DataError(f"{file}: rows have {columns - 1} features (after the label) but feature_dim is "
                                f"{feature_dim}")
        elif data.shape[1] != columns:
            raise DataError(f"{file}: rows have {data.shape[1]} columns but {first} has {columns}")
        parts.append(data)
    if not parts:
        raise DataError(f"channel {path} holds no data rows")
    data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return np.ascontiguousarray(data[:, 1:]), data[:, 0].astype(np.float64)
