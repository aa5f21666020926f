"""The de-identification room as the platform sees it: its commands, console link and sample."""

from __future__ import annotations

from openmaker.rooms import LazyCommands, Page, Room

SAMPLE_MODEL = "deid"


def pages(server) -> list[Page]:
    return [
        Page(
            "De-identification",
            f"{server.url('inference')}/docs",
            f"model '{SAMPLE_MODEL}': POST a PNG, JPEG, TIFF or DICOM image to /predictions/{SAMPLE_MODEL}; "
            "it comes back with the burned-in PHI redacted (Accept: application/json for the detections)",
        )
    ]


async def samples(server) -> list[str]:
    """Serve the ``deid`` model (OCR + PHI detection, all local) and put a sample ultrasound in the home."""
    import asyncio

    from openmaker.serving.errors import InferenceError

    if any(m.name == SAMPLE_MODEL for m in server.registry.all_versions()):
        return []
    try:
        from openmaker.deid.ocr import ensure_bundled_models

        ensure_bundled_models()
    except Exception as exc:  # rapidocr missing: the rest of the platform still comes up
        return [f"deid sample skipped ({exc}); install it with: pip install 'openmaker[deid]'"]
    target = server.settings.resolved_model_store / SAMPLE_MODEL
    await asyncio.to_thread(build_archive_dir, target)
    try:
        await server.registry.register(SAMPLE_MODEL, initial_workers=1, synchronous=True)
    except InferenceError as exc:
        return [f"{SAMPLE_MODEL}: {exc.message}"]
    return []


def build_archive_dir(target) -> None:
    """The ``deid`` model archive: no weights of its own (RapidOCR's ship in its wheel), a manifest."""
    import tempfile
    from pathlib import Path

    from openmaker.serving.archive import build_archive

    if (Path(target) / "MAR-INF" / "MANIFEST.json").is_file():
        return
    with tempfile.TemporaryDirectory() as staging:
        source = Path(staging) / SAMPLE_MODEL
        source.mkdir()
        (source / "README.txt").write_text(
            "openmaker de-identification: RapidOCR text detection + PHI detection, redacted PNG out.\n"
        )
        build_archive(
            source, SAMPLE_MODEL, Path(target), handler="deid",
            extra={"description": "Burned-in PHI redaction (OCR + PHI detection, offline)", "color": "red", "dpi": 72},
        )  # fmt: skip


room = Room(
    name="deid",
    title="De-identification",
    description="Find PHI burned into medical images (PNG, JPEG, TIFF, DICOM), redact it, clean DICOM headers.",
    commands=LazyCommands("openmaker.deid.cli"),
    pages=pages,
    samples=samples,
)
