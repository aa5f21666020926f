"""``openmaker omop nlp``: read notes from the CDM, detect entities, write NOTE_NLP rows.

Incremental by default: only notes with no rows from this ``nlp_system``
(name and version) are read. ``--all`` or ``--note-id`` reprocess notes,
replacing this system's rows for them. Each batch of notes is one transaction
(its old rows deleted, its new rows inserted, ids allocated), so a crash loses
at most the batch in flight and a rerun adds no duplicates. Detection runs in
this process, in ``workers`` processes, or on a Ray cluster; writing always
happens here, one writer.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlalchemy import and_, delete, exists, func, select, text

from openmaker.clinical.cdm import Cdm
from openmaker.clinical.errors import ClinicalError
from openmaker.clinical.rows import NLP_SYSTEM, note_nlp_rows
from openmaker.clinical.schema import require_tables, tables

ENGINES = ("local", "ray")


@dataclass
class NlpOptions:
    min_score: float = 0.8
    workers: int = 1
    engine: str = "local"
    all_notes: bool = False
    note_ids: tuple[int, ...] = ()
    batch_size: int = 200
    include_phi: bool = False
    limit: int | None = None

    def check(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"--min-score must be between 0 and 1, not {self.min_score}")
        if self.workers < 1:
            raise ValueError(f"--workers must be at least 1, not {self.workers}")
        if self.engine not in ENGINES:
            raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, not {self.batch_size}")


@dataclass
class NlpReport:
    notes: int = 0
    rows: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    nlp_system: str = NLP_SYSTEM

    @property
    def notes_per_second(self) -> float:
        return self.notes / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "notes": self.notes, "rows": self.rows, "skipped": [{"note_id": n, "error": m} for n, m in self.skipped],
            "seconds": round(self.seconds, 3), "notes_per_second": round(self.notes_per_second, 1),
            "nlp_system": self.nlp_system,
        }  # fmt: skip


# --- detection, wherever it runs ----------------------------------------------------------------

_DETECTOR = None


def _init_worker(index_bytes: bytes) -> None:
    global _DETECTOR
    from openmaker.clinical.detect import Detector

    _DETECTOR = Detector(pickle.loads(index_bytes))


def _detect_batch(batch: list[tuple[int, str]], min_score: float, include_phi: bool, sections: dict[str, int]):
    """``(note_id, rows or None, error or None)`` per note; a bad note is reported, never raised."""
    from openmaker.clinical.errors import NoteError

    out = []
    for note_id, note_text in batch:
        try:
            entities = _DETECTOR.detect(note_text, note_id=note_id)
            out.append((note_id, note_nlp_rows(note_id, note_text, entities, min_score, sections, include_phi), None))
        except NoteError as exc:
            out.append((note_id, None, str(exc)))
        except Exception as exc:  # a bug must not stop the other notes; the note is reported with the cause
            out.append((note_id, None, f"note {note_id}: {type(exc).__name__}: {exc}"))
    return out


class _RayDetector:
    def __init__(self, index_bytes: bytes):
        _init_worker(index_bytes)

    def run(self, batch, min_score, include_phi, sections):
        return _detect_batch(batch, min_score, include_phi, sections)


def _local(batches: Iterator, index_bytes: bytes, options: NlpOptions, sections):
    if options.workers == 1:
        _init_worker(index_bytes)
        for batch in batches:
            yield _detect_batch(batch, options.min_score, options.include_phi, sections)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(options.workers, mp_context=ctx, initializer=_init_worker, initargs=(index_bytes,)) as pool:
        pending = []
        for batch in batches:
            pending.append(pool.submit(_detect_batch, batch, options.min_score, options.include_phi, sections))
            if len(pending) >= options.workers * 2:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _ray(batches: Iterator, index_bytes: bytes, options: NlpOptions, sections):
    try:
        import ray
    except ImportError as exc:
        raise ClinicalError("the ray engine needs ray: pip install 'openmaker[ray]'") from exc
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address) if address else ray.init(include_dashboard=False)
    actor = ray.remote(num_cpus=1)(_RayDetector)
    index_ref = ray.put(index_bytes)
    actors = [actor.remote(index_ref) for _ in range(options.workers)]
    pending = []
    for i, batch in enumerate(batches):
        pending.append(actors[i % len(actors)].run.remote(batch, options.min_score, options.include_phi, sections))
        if len(pending) >= len(actors) * 2:
            yield ray.get(pending.pop(0))
    for ref in pending:
        yield ray.get(ref)
    for a in actors:
        ray.kill(a)


# --- the run ------------------------------------------------------------------------------------


def pending_note_ids(cdm: Cdm, options: NlpOptions) -> list[int]:
    t = tables(cdm.schema)
    note, nlp = t["note"], t["note_nlp"]
    query = select(note.c.note_id).order_by(note.c.note_id)
    if options.note_ids:
        query = query.where(note.c.note_id.in_(list(options.note_ids)))
    elif not options.all_notes:
        done = exists().where(and_(nlp.c.note_id == note.c.note_id, nlp.c.nlp_system == NLP_SYSTEM))
        query = query.where(~done)
    if options.limit:
        query = query.limit(options.limit)
    with cdm.engine.connect() as conn:
        ids = [int(i) for (i,) in conn.execute(query)]
    if options.note_ids:
        missing = sorted(set(options.note_ids) - set(ids))
        if missing:
            raise ClinicalError(f"no note with note_id {', '.join(map(str, missing))} in the NOTE table")
    return ids


def _batches(cdm: Cdm, ids: list[int], size: int) -> Iterator[list[tuple[int, str]]]:
    note = tables(cdm.schema)["note"]
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        with cdm.engine.connect() as conn:
            rows = conn.execute(select(note.c.note_id, note.c.note_text).where(note.c.note_id.in_(chunk))).all()
        by_id = {int(i): t for i, t in rows}
        yield [(i, by_id.get(i)) for i in chunk]


def write_batch(cdm: Cdm, results, replace: bool) -> list[dict]:
    """One transaction: drop this system's old rows for the batch's notes (when replacing), insert the new rows."""
    nlp = tables(cdm.schema)["note_nlp"]
    rows = [r for _, note_rows, _ in results if note_rows for r in note_rows]
    with cdm.engine.begin() as conn:
        if cdm.dialect == "postgresql":  # two runs at once must not hand out the same ids
            target = f'"{cdm.schema}".note_nlp' if cdm.schema else "note_nlp"
            conn.execute(text(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"))
        if replace:
            ids = [note_id for note_id, _, _ in results]
            conn.execute(delete(nlp).where(and_(nlp.c.note_id.in_(ids), nlp.c.nlp_system == NLP_SYSTEM)))
        first = (conn.execute(select(func.max(nlp.c.note_nlp_id))).scalar() or 0) + 1
        for i, row in enumerate(rows):
            row["note_nlp_id"] = first + i
        if rows:
            conn.execute(nlp.insert(), rows)
    return rows


def section_concepts(index) -> dict[str, int]:
    """medspaCy section category -> the LOINC section concept in the loaded vocabulary (absent: not listed)."""
    from openmaker.clinical.lexicon import load_lexicon

    out = {}
    for category, (code, _name) in load_lexicon().sections.items():
        cid = index.lookup_code("LOINC", code)
        if cid:
            out[category] = cid
    return out


def run_nlp(cdm: Cdm, options: NlpOptions | None = None, index=None,
            on_row: Callable[[dict], None] | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> NlpReport:  # fmt: skip
    """Process the CDM's notes (see the module docstring); ``on_row`` sees each row as it is written."""
    from openmaker.clinical.index import build_index

    options = options or NlpOptions()
    options.check()
    require_tables(cdm.engine, cdm.schema)
    started = time.perf_counter()
    index = index or build_index(cdm)
    sections = section_concepts(index)
    index_bytes = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    ids = pending_note_ids(cdm, options)
    report = NlpReport()
    replace = options.all_notes or bool(options.note_ids)
    run = _ray if options.engine == "ray" else _local
    if on_progress:
        on_progress(0, len(ids))
    for results in run(_batches(cdm, ids, options.batch_size), index_bytes, options, sections):
        written = write_batch(cdm, results, replace)
        report.rows += len(written)
        for note_id, note_rows, error in results:
            if error is not None:
                report.skipped.append((note_id, error))
            else:
                report.notes += 1
        if on_row:
            for row in written:
                on_row(row)
        if on_progress:
            on_progress(report.notes + len(report.skipped), len(ids))
    report.seconds = time.perf_counter() - started
    return report

