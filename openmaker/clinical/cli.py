"""``openmaker omop``: CDM schema, vocabulary, the demo CDM, NOTE_NLP runs, the detector alone, evaluation.

Bad input exits with code 2 and one line naming the problem; a run in which
some notes were skipped exits 0 after listing them (the run goes on by design).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
BAD_INPUT = 2

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Clinical notes to the OMOP CDM: create the schema, load a vocabulary, fill NOTE_NLP, run the detector.",
)
vocab_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="OMOP vocabularies (Athena downloads).")
app.add_typer(vocab_app, name="vocab")

_DB = typer.Option(None, "--db", help="CDM database: a SQLAlchemy URL or a file path (default: omop.db in the openmaker home).")
_SCHEMA = typer.Option(None, "--schema", help="Schema holding the CDM tables (PostgreSQL, DuckDB, Redshift).")


def _bad_input(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(BAD_INPUT)


def _connect(db, schema):
    from openmaker.clinical.cdm import connect
    from openmaker.clinical.errors import ClinicalError

    try:
        return connect(db, schema)
    except ClinicalError as exc:
        _bad_input(str(exc))


@app.command("init")
def init(db: Optional[str] = _DB, schema: Optional[str] = _SCHEMA) -> None:
    """Create the OMOP CDM v5.4 tables the room uses (only those missing; nothing existing is changed)."""
    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.schema import init_schema

    cdm = _connect(db, schema)
    try:
        created = init_schema(cdm.engine, cdm.schema)
    except ClinicalError as exc:
        _bad_input(str(exc))
    except Exception as exc:  # the server refused (permissions, read-only file)
        _bad_input(f"cannot create the tables in {cdm.describe()}: {str(exc).splitlines()[0]}")
    if created:
        out.print(f"created {len(created)} table(s) in {escape(cdm.describe())}: {', '.join(created)}")
    else:
        out.print(f"{escape(cdm.describe())} already has every table the room uses; nothing changed")


@vocab_app.command("load")
def vocab_load(
    directory: Path = typer.Argument(..., help="An Athena download: CONCEPT.csv, CONCEPT_SYNONYM.csv, ... (tab-separated)."),
    db: Optional[str] = _DB,
    schema: Optional[str] = _SCHEMA,
    replace: bool = typer.Option(False, "--replace", help="Empty the vocabulary tables being loaded first."),
) -> None:
    """Load a vocabulary download into the CDM (PostgreSQL: bulk COPY; DuckDB: read_csv; SQLite: batched inserts)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.vocab import load_vocabulary

    cdm = _connect(db, schema)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:  # fmt: skip
        bars = {}

        def tick(table, done, total):
            if table not in bars:
                bars[table] = progress.add_task(table, total=max(total, 1))
            progress.update(bars[table], completed=done)

        try:
            report = load_vocabulary(cdm, directory, replace=replace, progress=tick)
        except ClinicalError as exc:
            _bad_input(str(exc))
    for table, rows in report.rows.items():
        out.print(f"{table}: {rows} rows")
    if report.skipped:
        out.print(f"not in the download (left as they were): {', '.join(report.skipped)}")


@app.command("demo")
def demo(
    db: Optional[str] = _DB,
    schema: Optional[str] = _SCHEMA,
    notes: int = typer.Option(300, "--notes", help="Notes to generate from the Eunomia persons' records."),
    nlp: bool = typer.Option(True, "--nlp/--no-nlp", help="Fill NOTE_NLP afterwards."),
    seed: int = typer.Option(7, "--seed"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each NOTE_NLP row as it is written."),
) -> None:
    """Build the demo CDM: Eunomia GiBleed's vocabulary, persons and visits, plus generated notes -- then fill NOTE_NLP."""
    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.eunomia import load_demo

    if notes < 0:
        _bad_input(f"--notes must be 0 or more, not {notes}")
    cdm = _connect(db, schema)
    try:
        copied = load_demo(cdm, notes=notes, seed=seed)
    except (ClinicalError, ValueError) as exc:
        _bad_input(str(exc))
    out.print(
        f"demo CDM in {escape(cdm.describe())}: "
        + ", ".join(f"{table} +{rows}" for table, rows in copied.items() if rows)
    )
    if nlp:
        from openmaker.clinical.writer import NlpOptions

        _run_nlp(cdm, NlpOptions(), verbose, False)


@app.command("nlp")
def nlp(
    db: Optional[str] = _DB,
    schema: Optional[str] = _SCHEMA,
    min_score: float = typer.Option(0.8, "--min-score", help="Keep entities scoring at least this (0-1)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Processes (or Ray actors) detecting entities."),
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or ray (RAY_ADDRESS or a local cluster)."),
    all_notes: bool = typer.Option(False, "--all", help="Reprocess every note, replacing this system's rows."),
    note_id: List[int] = typer.Option([], "--note-id", help="Reprocess these notes only (repeatable)."),
    batch_size: int = typer.Option(200, "--batch-size", help="Notes per transaction."),
    include_phi: bool = typer.Option(False, "--include-phi", help="Also write PROTECTED_HEALTH_INFORMATION entities."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Process at most this many notes."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print each row as it is written."),
    as_json: bool = typer.Option(False, "--json", help="Print the run report as JSON."),
) -> None:
    """Detect entities in the CDM's notes and write NOTE_NLP rows (incremental: notes without rows from this version)."""
    from openmaker.clinical.writer import NlpOptions

    options = NlpOptions(min_score=min_score, workers=workers, engine=engine, all_notes=all_notes,
                         note_ids=tuple(note_id), batch_size=batch_size, include_phi=include_phi, limit=limit)  # fmt: skip
    try:
        options.check()
    except ValueError as exc:
        _bad_input(str(exc))
    _run_nlp(_connect(db, schema), options, verbose, as_json)


def _run_nlp(cdm, options, verbose: bool, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.writer import run_nlp

    with Progress(TextColumn("notes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True, disable=as_json) as progress:  # fmt: skip
        task = progress.add_task("notes", total=None)

        def on_progress(done, total):
            progress.update(task, completed=done, total=total)

        def on_row(row):
            progress.console.print(
                f"note_id={row['note_id']} offset={row['offset']} lexical_variant={escape(row['lexical_variant'])!r} "
                f"note_nlp_concept_id={row['note_nlp_concept_id']} term_exists={row['term_exists']} "
                f"term_modifiers={escape(row['term_modifiers'])!r}",
                soft_wrap=True,
            )

        try:
            report = run_nlp(cdm, options, on_row=on_row if verbose else None, on_progress=on_progress)
        except ClinicalError as exc:
            _bad_input(str(exc))
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
        return
    for note_id, message in report.skipped:
        err.print(f"[yellow]skipped[/yellow] {escape(message)}", soft_wrap=True)
    out.print(f"{report.notes} note(s) processed, {report.rows} NOTE_NLP row(s) written, {len(report.skipped)} skipped "
              f"in {report.seconds:.1f}s ({report.notes_per_second:.0f} notes/s) by {report.nlp_system}")  # fmt: skip


def _detector(db, schema):
    from openmaker.clinical.detect import Detector
    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.handler import vocabulary_detector

    try:
        if db is None:
            return vocabulary_detector(None)
        cdm = _connect(db, schema)
        return Detector.from_cdm(cdm)
    except ClinicalError as exc:
        _bad_input(str(exc))


@app.command("entities")
def entities(
    source: str = typer.Argument(..., help="A text file, or - for standard input."),
    db: Optional[str] = typer.Option(None, "--db", help="Match against this CDM's vocabulary (default: the bundled Eunomia vocabulary)."),
    schema: Optional[str] = _SCHEMA,
    shape: str = typer.Option("v2", "--shape", help="v2 (DetectEntitiesV2), v1 (DetectEntities) or snomed (InferSNOMEDCT)."),
    min_score: float = typer.Option(0.0, "--min-score", help="Leave out entities scoring below this."),
) -> None:
    """Print the entities of a text as Comprehend Medical JSON; no database needed."""
    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.shapes import detect_entities_v1, detect_entities_v2, infer_snomedct

    shapes = {"v2": detect_entities_v2, "v1": detect_entities_v1, "snomed": None}
    if shape not in shapes:
        _bad_input(f"--shape must be v2, v1 or snomed, not {shape!r}")
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        _bad_input(f"{source}: cannot read: {exc.strerror}")
    detector = _detector(db, schema)
    try:
        found = [e for e in detector.detect(raw, note_id=source) if e.score >= min_score]
    except ClinicalError as exc:
        _bad_input(str(exc))
    text = raw.decode("utf-8")
    result = infer_snomedct(found, text) if shape == "snomed" else shapes[shape](found)
    out.print_json(json.dumps(result))


@app.command("eval")
def eval_(
    gold: Path = typer.Argument(..., help="JSON Lines: one note per line with text and gold entities."),
    db: Optional[str] = typer.Option(None, "--db", help="Match against this CDM's vocabulary (default: the bundled Eunomia vocabulary)."),
    schema: Optional[str] = _SCHEMA,
    min_score: float = typer.Option(0.8, "--min-score"),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    errors: bool = typer.Option(False, "--errors", help="List missed, spurious and mismatched entities."),
) -> None:
    """Precision/recall/F1 (exact and overlapping spans), concept-id accuracy and negation accuracy on a gold set."""
    from rich.table import Table

    from openmaker.clinical.errors import ClinicalError
    from openmaker.clinical.evaluate import evaluate

    detector = _detector(db, schema)
    try:
        result = evaluate(gold, detector, min_score=min_score, keep_errors=errors)
    except ClinicalError as exc:
        _bad_input(str(exc))
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    table = Table(title=f"{gold.name}: {result.notes} notes, min score {min_score} (P/R/F1 on overlapping spans)")
    for column in ("category", "gold", "found", "P", "R", "F1", "F1 exact", "concept", "negation"):
        table.add_column(column, justify="left" if column == "category" else "right")
    short = {"MEDICAL_CONDITION": "condition", "MEDICATION": "medication", "TEST_TREATMENT_PROCEDURE": "test/procedure"}
    for name, m in [*result.by_category.items(), ("all", result.overall)]:
        o = m["overlap"]
        table.add_row(short.get(name, name), str(m["gold"]), str(m["predicted"]), f"{o['precision']:.3f}",
                      f"{o['recall']:.3f}", f"{o['f1']:.3f}", f"{m['exact']['f1']:.3f}",
                      f"{m['concept_accuracy']:.3f}", f"{m['negation_accuracy']:.3f}")  # fmt: skip
    out.print(table)
    for e in result.errors:
        out.print(escape(json.dumps(e)), soft_wrap=True)


def commands():
    return [("omop", app)]
