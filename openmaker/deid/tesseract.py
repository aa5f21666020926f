"""A second OCR engine: Debian's Tesseract 5, for faint and small text RapidOCR does not outline.

Optional (``DeidOptions(engines=("rapidocr", "tesseract"))``, ``--ocr
rapidocr,tesseract``): it needs the ``tesseract`` program (Debian package
``tesseract-ocr`` with ``tesseract-ocr-eng``) and roughly doubles the time
per image. It is run as a subprocess with TSV output (page segmentation mode
11, sparse text: annotation text is scattered, not paragraphs); its words
become the same ``Line``/``Word`` objects as RapidOCR's, so PHI detection and
redaction treat both alike.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from openmaker.deid.errors import OcrError
from openmaker.deid.ocr import BORDER, Line, Word, _pad

#: Tesseract's own time limit per image, in seconds.
TIMEOUT = 60


def available() -> bool:
    return shutil.which("tesseract") is not None


class TesseractDetector:
    """Words and lines from the ``tesseract`` command (``OcrError`` if it is missing or fails)."""

    def __init__(self, threads: int | None = 1, language: str = "eng"):
        self.program = shutil.which("tesseract")
        if self.program is None:
            raise OcrError("the tesseract OCR engine is not installed (Debian: apt-get install tesseract-ocr)")
        self.language = language
        self.threads = threads

    def detect(self, image: np.ndarray, skip: list[Line] | None = None) -> list[Line]:
        from PIL import Image

        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        height, width = image.shape[:2]
        padded = _pad(image[..., :3], BORDER)  # Tesseract misses text touching the border without it
        with tempfile.TemporaryDirectory(prefix="openmaker-tesseract-") as tmp:
            path = Path(tmp) / "frame.png"
            Image.fromarray(padded).save(path, compress_level=1)
            env = {**os.environ, "OMP_THREAD_LIMIT": str(self.threads or 1)}  # keeps TESSDATA_PREFIX
            try:
                done = subprocess.run(
                    [self.program, str(path), "-", "-l", self.language, "--psm", "11", "tsv"],
                    capture_output=True, text=True, timeout=TIMEOUT, env=env,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise OcrError(f"tesseract took longer than {TIMEOUT}s") from None
        if done.returncode != 0:
            raise OcrError(f"tesseract failed: {done.stderr.strip()[-300:]}")
        return parse_tsv(done.stdout, BORDER, width, height)


def parse_tsv(text: str, offset: int, width: int, height: int) -> list[Line]:
    """Tesseract's TSV (level 5 rows are words) grouped into lines, in image coordinates."""
    groups: dict[tuple, list[Word]] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5" or not (row.get("text") or "").strip():
            continue
        confidence = float(row["conf"])
        if confidence < 0:
            continue
        left, top = int(row["left"]) - offset, int(row["top"]) - offset
        box = (
            float(max(left, 0)), float(max(top, 0)),
            float(min(left + int(row["width"]), width)), float(min(top + int(row["height"]), height)),
        )  # fmt: skip
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        key = (row["block_num"], row["par_num"], row["line_num"])
        groups.setdefault(key, []).append(Word(row["text"].strip(), confidence, box))
    lines = []
    for words in groups.values():
        box = (min(w.box[0] for w in words), min(w.box[1] for w in words), max(w.box[2] for w in words), max(w.box[3] for w in words))
        polygon = [(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])]
        confidence = sum(w.confidence for w in words) / len(words)
        lines.append(Line(" ".join(w.text for w in words), confidence, box, polygon, words))
    return lines
