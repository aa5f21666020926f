"""De-identification of medical images: the room's public Python API.

Burned-in PHI is found with offline OCR (RapidOCR's bundled ONNX models) and
a PHI detector (DICOM header values matched fuzzily, patterns, name lists, or
a strict redact-all-but-technical mode), covered with filled boxes, and
written as ``de-id-<name>.png`` -- plus, for DICOM input, a de-identified
DICOM (PS3.15 Annex E Basic Profile with the Clean Pixel Data Option)::

    from openmaker import deid

    result = deid.deidentify_image(open("us.dcm", "rb").read(), "us.dcm")
    run = deid.run(["scans/"], "s3://bucket/deid/", deid.RunOptions(mode="strict"))

Heavy dependencies (rapidocr, pydicom) load on first use.
"""

from __future__ import annotations

from openmaker.rooms import lazy_exports

__all__ = [
    "DeidError",
    "DeidOptions",
    "ImageReadError",
    "RunOptions",
    "RunResult",
    "deidentify_image",
    "detect_phi",
    "detect_text",
    "evaluate",
    "generate_synthetic",
    "run",
    "watch",
]

_EXPORTS = {
    "DeidError": "openmaker.deid.errors",
    "ImageReadError": "openmaker.deid.errors",
    "DeidOptions": "openmaker.deid.process",
    "deidentify_image": "openmaker.deid.process",
    "detect_text": "openmaker.deid.process",
    "detect_phi": "openmaker.deid.phi",
    "RunOptions": "openmaker.deid.batch",
    "RunResult": "openmaker.deid.batch",
    "run": "openmaker.deid.batch",
    "watch": "openmaker.deid.watch",
    "evaluate": "openmaker.deid.evaluate",
    "generate_synthetic": ("openmaker.deid.synth", "generate"),
}


__getattr__ = lazy_exports("openmaker.deid", _EXPORTS)
