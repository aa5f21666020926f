"""Loading an Athena vocabulary download (tab-separated ``CONCEPT.csv`` ...) into the CDM.

PostgreSQL gets a bulk ``COPY`` straight from the file, DuckDB its ``read_csv``,
SQLite (and anything else) batched inserts, all files in one transaction. Each
file's header is checked against the table's v5.4 columns first and a file in
the wrong encoding is reported with its line number; a bad download leaves the
vocabulary tables as they were.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select, text

from openmaker.clinical.cdm import Cdm
from openmaker.clinical.errors import VocabularyError
from openmaker.clinical.schema import require_tables, tables

#: Athena file → table, in load order (referenced tables first).
FILES = (
    ("VOCABULARY.csv", "vocabulary"),
    ("DOMAIN.csv", "domain"),
    ("CONCEPT_CLASS.csv", "concept_class"),
    ("RELATIONSHIP.csv", "relationship"),
    ("CONCEPT.csv", "concept"),
    ("CONCEPT_SYNONYM.csv", "concept_synonym"),
    ("CONCEPT_RELATIONSHIP.csv", "concept_relationship"),
    ("CONCEPT_ANCESTOR.csv", "concept_ancestor"),
)
REQUIRED = ("CONCEPT.csv",)
BATCH = 20_000
csv.field_size_limit(sys.maxsize)


@dataclass
class LoadReport:
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (name, name.lower(), name.replace(".csv", ".tsv"), name.lower().replace(".csv", ".tsv")):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def read_header(path: Path, table) -> list[str]:
    """The file's columns (lower-cased), checked against ``table``: a mismatch names both sides."""
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise VocabularyError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise VocabularyError(f"{path}: not UTF-8 text (line 1): Athena files are UTF-8") from exc
    if "\t" not in line:
        raise VocabularyError(f"{path}: not tab-separated (line 1 is {line[:60]!r}); Athena files use tabs")
    columns = [c.strip().strip('"').lower() for c in line.split("\t")]
    expected = [c.name for c in table.columns]
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise VocabularyError(f"{path}: wrong columns for table {table.name} ({'; '.join(parts)})")
    return columns


def _converters(table, columns: list[str]) -> list[Callable[[str], object]]:
    kinds = {c.name: c.type.python_type for c in table.columns}
    out = []
    for name in columns:
        kind = kinds[name]
        if kind is int:
            out.append(lambda v: int(v) if v != "" else None)
        elif kind is dt.date:
            out.append(_date)
        else:
            out.append(lambda v: v if v != "" else None)
    return out


def _date(value: str):
    if value == "":
        return None
    if len(value) == 8 and value.isdigit():
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    return dt.date.fromisoformat(value)


def iter_rows(path: Path, table, columns: list[str]):
    """Decoded, typed rows of an Athena file; bad encoding or a short row names the line."""
    convert = _converters(table, columns)
    width = len(columns)
    with path.open("rb") as fh:
        # Decoded a line at a time (no quoting: one line is one row), so bad bytes name their line.
        reader = csv.reader(_decoded_lines(fh, path), delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader, None)
        for line, row in enumerate(reader, start=2):
            if len(row) != width:
                if not row:
                    continue
                raise VocabularyError(f"{path}: line {line} has {len(row)} fields, the header {width}")
            try:
                yield tuple(f(v) for f, v in zip(convert, row))
            except ValueError as exc:
                raise VocabularyError(f"{path}: line {line}: {exc}") from exc


def _decoded_lines(fh, path: Path):
    for number, raw in enumerate(fh, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise VocabularyError(f"{path}: not UTF-8 text (line {number}): Athena files are UTF-8") from exc


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1)


def load_vocabulary(cdm: Cdm, directory: str | Path, replace: bool = False, progress=None) -> LoadReport:
    """Load every Athena file found in ``directory`` into the CDM's vocabulary tables.

    A table that already holds rows is refused unless ``replace`` (its rows are
    deleted first, in the same transaction as the load; the table itself is
    never dropped or altered). ``progress(table, done, total)`` is called as
    rows go in.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise VocabularyError(f"{directory}: not a directory (expected an Athena download with CONCEPT.csv)")
    found = [(name, table, _find(directory, name)) for name, table in FILES]
    for name in REQUIRED:
        if not any(n == name and p for n, _, p in found):
            raise VocabularyError(f"{directory}: no {name} (an Athena download has CONCEPT.csv, CONCEPT_SYNONYM.csv, ...)")
    require_tables(cdm.engine, cdm.schema, [t for _, t, p in found if p])
    defs = tables(cdm.schema)
    report = LoadReport()
    headers = {}
    for name, table, path in found:  # check every header before writing anything
        if path is None:
            report.skipped.append(name)
            continue
        headers[table] = read_header(path, defs[table])
    with cdm.engine.begin() as conn:  # one transaction: a file that fails leaves every table as it was
        for name, table, path in found:
            if path is None:
                continue
            existing = conn.execute(select(func.count()).select_from(defs[table])).scalar_one()
            if existing and not replace:
                raise VocabularyError(
                    f"table {table} already holds {existing} rows: pass --replace to reload it from {path.name}"
                )
            if existing:
                conn.execute(defs[table].delete())
            total = count_lines(path)
            tick = (lambda done, t=table, n=total: progress(t, done, n)) if progress else (lambda done: None)
            loader = {"postgresql": _copy_postgres, "duckdb": _copy_duckdb}.get(cdm.dialect, _insert_batches)
            report.rows[table] = loader(conn, defs[table], path, headers[table], tick)
    return report


def _insert_batches(conn, table, path: Path, columns: list[str], tick) -> int:
    statement = table.insert()
    batch, done = [], 0
    for row in iter_rows(path, table, columns):
        batch.append(dict(zip(columns, row)))
        if len(batch) >= BATCH:
            conn.execute(statement, batch)
            done += len(batch)
            batch = []
            tick(done)
    if batch:
        conn.execute(statement, batch)
        done += len(batch)
    tick(done)
    return done


def _copy_postgres(conn, table, path: Path, columns: list[str], tick) -> int:
    """COPY from the file as it is (tab-separated, no quoting, empty = NULL, YYYYMMDD dates PostgreSQL reads)."""
    target = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01', NULL '', HEADER true)"
    raw = conn.connection.dbapi_connection
    done = 0
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy, path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                copy.write(chunk)
                done += chunk.count(b"\n")
                tick(max(0, done - 1))
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == "22021":  # character_not_in_repertoire: bytes that are not UTF-8
            line = re.search(r"line (\d+)", getattr(getattr(exc, "diag", None), "context", None) or "")
            where = f" (line {line.group(1)})" if line else ""
            raise VocabularyError(f"{path}: not UTF-8 text{where}: Athena files are UTF-8") from exc
        message = str(exc).strip().replace("\n", " ")
        raise VocabularyError(f"{path}: PostgreSQL refused the COPY into {table.name}: {message}") from exc
    result = conn.execute(select(func.count()).select_from(table)).scalar_one()
    tick(result)
    return result


def _copy_duckdb(conn, table, path: Path, columns: list[str], tick) -> int:
    """DuckDB reads the file itself; dates in YYYYMMDD are parsed with strptime."""
    select_list = []
    for column in columns:
        kind = table.columns[column].type.python_type
        ref = f'NULLIF("{column}", \'\')'
        if kind is int:
            select_list.append(f"CAST({ref} AS BIGINT)")
        elif kind is dt.date:
            select_list.append(f"CAST(strptime({ref}, '%Y%m%d') AS DATE)")
        else:
            select_list.append(ref)
    target = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
    cols = ", ".join(f'"{c}"' for c in columns)
    source = str(path).replace("'", "''")
    # The columns are given (in the file's order) and nothing is sniffed: a short row is
    # then reported with its line, not as a file whose dialect cannot be detected.
    types = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
    sql = (
        f"INSERT INTO {target} ({cols}) SELECT {', '.join(select_list)} FROM read_csv('{source}', delim='\\t', "
        f"header=true, quote='', escape='', auto_detect=false, columns={{{types}}})"
    )
    try:
        conn.execute(text(sql.replace(":", "\\:")))
    except Exception as exc:
        full = str(exc)
        line = re.search(r"CSV Error on Line: (\d+)", full)
        if "not utf-8 encoded" in full.lower():
            where = f" (line {line.group(1)})" if line else ""
            raise VocabularyError(f"{path}: not UTF-8 text{where}: Athena files are UTF-8") from exc
        found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", full)
        if line and found:
            raise VocabularyError(
                f"{path}: line {line.group(1)} has {found.group(2)} fields, the header {found.group(1)}"
            ) from exc
        message = full.strip().splitlines()[0]
        raise VocabularyError(f"{path}: DuckDB could not load {table.name}: {message}") from exc
    result = conn.execute(select(func.count()).select_from(table)).scalar_one()
    tick(result)
    return result


def write_athena(directory: str | Path, rows_by_file: dict[str, list[dict]]) -> None:
    """Write rows as Athena files (tab-separated, YYYYMMDD dates): for fixtures and exports."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    defs = tables()
    for name, table in FILES:
        if name not in rows_by_file:
            continue
        columns = [c.name for c in defs[table].columns]
        buf = io.StringIO()
        buf.write("\t".join(columns) + "\n")
        for row in rows_by_file[name]:
            buf.write("\t".join(_athena_value(row.get(c)) for c in columns) + "\n")
        (directory / name).write_text(buf.getvalue(), encoding="utf-8")


def _athena_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    return str(value)
