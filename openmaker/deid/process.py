"""De-identifying one image: read, OCR, detect PHI, redact, (verify), encode.

``deidentify_image`` is the unit every entry point runs -- the CLI's batch,
the watcher, the HTTP handler and the evaluation -- and it fails closed: any
error raises a ``DeidError`` and nothing is returned to write.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from openmaker.deid.blocks import block_entities, reading_rows, unread_row_parts
from openmaker.deid.errors import DeidError, DetectionError
from openmaker.deid.images import LoadedImage, load_image
from openmaker.deid.ocr import Line, TextDetector, detect_text_response, shared_detector
from openmaker.deid.redact import (
    Redaction,
    draw,
    encode_png,
    extra_entity,
    join_row_neighbours,
    ocr_text,
    pad_box,
    parse_color,
    redactions_for,
    with_entities,
)

MODES = ("default", "strict")
ENGINES = ("rapidocr", "tesseract")
#: OCR confidences (0..100) under which a word, or every word of a line, counts as unreadable.
#: Unreadable text cannot be shown not to be PHI, so it is redacted unless it reads as technical.
UNREADABLE_WORD = 60.0
UNREADABLE_LINE = 70.0
#: Score of text the detector found but the recogniser could not read at all (redacted: it may be PHI).
UNREAD_SCORE = 0.5


class VerifyError(DeidError):
    """PHI was still readable after redaction and the extra verification passes."""

    stage = "verify"


@dataclass
class DeidOptions:
    """How to de-identify; the defaults are the published workflow's (red boxes, 72 dpi, threshold 0.00)."""

    color: tuple[int, int, int] | str = "red"
    dpi: int = 72
    threshold: float = 0.0
    mode: str = "default"
    allow_list: tuple[str, ...] = ()
    verify: bool = False
    #: Extra OCR-and-redact passes ``verify`` may make before it gives up on an image.
    verify_passes: int = 2
    retain_dates: bool = False
    pseudonyms: Mapping[str, str] | None = None
    #: The batch secret from which new UIDs, pseudonyms and date offsets are derived.
    key: bytes = b""
    ocr_threads: int | None = None
    #: Also read a local-contrast-enhanced copy of each frame (CLAHE): finds faint and small text
    #: the plain frame hides, for about twice the OCR time.
    enhance: bool = True
    #: Also look for text the OCR never outlined (faint, small) with two text-region detectors, the
    #: classical ``textlike`` and the learned ``textnet``, and redact what of it no word the OCR read explains.
    faint_text: bool = True
    #: ``textnet``'s model: None for the one shipped in the package, or the path of one retrained
    #: with ``python -m openmaker.deid.textnet_train``.
    text_model: str | None = None
    #: OCR engines: RapidOCR always; Tesseract (Debian's tesseract-ocr) adds faint text, at about twice the time.
    engines: tuple[str, ...] = ("rapidocr",)

    def __post_init__(self) -> None:
        self.color = parse_color(self.color)
        self.engines = tuple(self.engines)
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown or "rapidocr" not in self.engines:
            raise ValueError(f"unknown OCR engines {unknown or list(self.engines)}: use rapidocr, optionally with tesseract")
        if "tesseract" in self.engines:
            from openmaker.deid.tesseract import available

            if not available():
                raise ValueError("the tesseract engine needs the tesseract program (Debian: apt-get install tesseract-ocr)")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; use one of: {', '.join(MODES)}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be between 0.0 and 1.0, got {self.threshold}")
        if not 1 <= int(self.dpi) <= 10000:
            raise ValueError(f"dpi must be between 1 and 10000, got {self.dpi}")
        self.allow_list = tuple(self.allow_list)
        if self.text_model is not None:
            from openmaker.deid.textnet import check_model

            self.text_model = str(self.text_model)
            check_model(self.text_model)


@dataclass
class FrameResult:
    width: int
    height: int
    lines: list[Line]
    phi: dict[str, Any]
    redactions: list[Redaction]
    redacted: np.ndarray
    verify_passes: int = 0
    verify_added: int = 0


@dataclass
class ImageResult:
    """What one input became: per-frame results, PNGs, and a de-identified DICOM for DICOM input."""

    kind: str
    frames: list[FrameResult]
    pngs: list[bytes]
    dicom: bytes | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """This image's report entry: types, scores and boxes -- never the text."""
        return {
            "kind": self.kind,
            "seconds": round(self.seconds, 4),
            "frames": [
                {
                    "frame": i,
                    "width": f.width,
                    "height": f.height,
                    "words": sum(len(line.words) for line in f.lines),
                    "redactions": [r.as_report() for r in f.redactions],
                    **({"verify": {"passes": f.verify_passes, "added": f.verify_added}} if f.verify_passes else {}),
                }
                for i, f in enumerate(self.frames)
            ],
        }


def phi_context(image: LoadedImage):
    """Header values to look for in the pixels (DICOM only)."""
    if image.dicom is None:
        return None
    from openmaker.deid.phi import PhiContext

    return PhiContext.from_dataset(image.dicom.dataset)


def find_phi(
    lines: list[Line], width: int, height: int, options: DeidOptions, context, unreadable: bool = True
) -> tuple[dict, list[Redaction]]:
    """``DetectPHI`` on the OCR text of ``lines``, and the word boxes to redact.

    ``unreadable``: also redact what the OCR could barely read (RapidOCR's confidences
    mean that; Tesseract's low confidences are mostly texture read as letters).
    """
    text, spans = ocr_text(lines)
    phi = _detect_phi(text, options, context)
    rows = reading_rows(lines)
    phi["Entities"] = block_entities(phi["Entities"], rows, spans, text)
    max_height = max(64.0, 0.1 * height)
    if unreadable:
        phi["Entities"] = _with_unreadable(phi["Entities"], lines, spans, text, max_height=max_height)
    redactions = redactions_for(phi["Entities"], spans, width, height, options.threshold)
    if unreadable and options.threshold <= UNREAD_SCORE:
        redactions += [
            Redaction("ID", UNREAD_SCORE, pad_box(line.box, width, height))
            for line in lines
            if line.unread and _text_shaped(line.box, max_height, width)
        ]
        # The unread head or tail of a PHI row indented against the block above or below it.
        redactions += [
            Redaction("ID", UNREAD_SCORE, pad_box(box, width, height)) for box in unread_row_parts(phi["Entities"], rows, spans)
        ]
    return phi, redactions


def _detect_phi(text: str, options: DeidOptions, context) -> dict:
    """``detect_phi`` with the options' mode and allow-list; any failure is a ``DetectionError``."""
    from openmaker.deid.phi import detect_phi

    try:
        return detect_phi(text, context=context, mode=options.mode, allow_list=options.allow_list)
    except Exception as exc:
        raise DetectionError(f"PHI detection failed: {type(exc).__name__}: {exc}") from exc


def detect_phi_in_text(text: str, options: DeidOptions | None = None) -> dict:
    """Comprehend Medical ``DetectPHI`` on plain text: no image, no DICOM header to match.

    ``options.mode`` and ``options.allow_list`` apply; only entities with
    ``Score >= options.threshold`` are kept (their ``Id``s unchanged).
    Raises ``DetectionError`` if the detector fails.
    """
    options = options or DeidOptions()
    phi = _detect_phi(text, options, None)
    phi["Entities"] = [e for e in phi["Entities"] if e["Score"] >= options.threshold]
    return phi


def _text_shaped(box, max_height: float, width: int) -> bool:
    """A box that can be a line of text (the detector sometimes outlines a whole ultrasound sector)."""
    w, h = box[2] - box[0], box[3] - box[1]
    return 0 < h <= max_height and w <= 0.9 * width


def _with_unreadable(entities: list[dict], lines: list[Line], spans, text: str, max_height: float) -> list[dict]:
    """``entities`` plus every non-technical word the OCR could barely read (Score 0.5, LOW_CONFIDENCE).

    Only boxes shaped like text count: the detector sometimes takes a whole
    ultrasound sector for a letter, and that is not a word to redact.
    """
    from openmaker.deid.phi import is_technical

    line_confidence = {id(w): line.confidence for line in lines for w in line.words}
    taken = [(e["BeginOffset"], e["EndOffset"]) for e in entities]
    extra = []
    for begin, end, word in spans:
        garbled_line = line_confidence.get(id(word), 100.0) < UNREADABLE_LINE
        unreadable = (word.confidence < UNREADABLE_WORD or garbled_line) and word.box[3] - word.box[1] <= max_height
        # On a garbled line even a "technical" reading is a guess unless the word itself was read surely.
        trusted_technical = is_technical(word.text) and (not garbled_line or word.confidence >= 90.0)
        if not unreadable or trusted_technical or any(b < end and begin < e for b, e in taken):
            continue
        extra.append(extra_entity(begin, end, text, "ID", 0.5, low_confidence=True))
    return with_entities(entities, extra)


def enhanced(frame: np.ndarray) -> np.ndarray:
    """``frame`` with its lightness equalised locally (CLAHE, 8x8 tiles, clip 3): faint text stands out."""
    import cv2

    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


#: The dark view stretches luminance 0..DARK_CAP to 0..255 (brighter saturates).
DARK_CAP = 64
#: ... when at least this share of the frame is that dark (CT, MR and ultrasound backgrounds).
DARK_SHARE = 0.2


def dark_view(frame: np.ndarray) -> np.ndarray | None:
    """``frame`` with its darkest levels stretched (0..:data:`DARK_CAP` to 0..255), or None when
    little of it is dark: text a few levels above or below a black background becomes plain."""
    lum = frame.mean(axis=2) if frame.ndim == 3 else frame
    if (lum < DARK_CAP).mean() < DARK_SHARE:
        return None
    return np.clip(frame.astype(np.float32) * (255.0 / DARK_CAP), 0, 255).astype(np.uint8)


def bright_view(frame: np.ndarray) -> np.ndarray | None:
    """The mirror of :func:`dark_view`: ``frame`` with its brightest levels stretched
    (255 - :data:`DARK_CAP`..255 to 0..255), or None when little of it is that bright. Pale grey
    text on a white background (an X-ray's saturated field, a blank page) becomes plain."""
    inverse = dark_view(255 - np.asarray(frame, dtype=np.uint8))
    return None if inverse is None else 255 - inverse


def _redact_frame(
    frame: np.ndarray, views: list[np.ndarray], options: DeidOptions, detector: TextDetector, context, timings
) -> FrameResult:
    height, width = frame.shape[:2]
    if options.enhance:
        views = [*views, enhanced(frame)]
    t0 = time.perf_counter()
    lines = detector.detect(frame)
    timings["ocr"] = timings.get("ocr", 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    phi, redactions = find_phi(lines, width, height, options, context)
    timings["phi"] = timings.get("phi", 0.0) + time.perf_counter() - t0
    # Other renderings of a DICOM frame (e.g. the full range when the window clips text).
    read = list(lines)
    for view in views:
        t0 = time.perf_counter()
        # Lines read surely on the frame are not read again; doubtful ones are (another rendering may read them).
        view_lines = detector.detect(view, skip=[line for line in lines if line.confidence >= 90.0])
        timings["ocr"] += time.perf_counter() - t0
        redactions += find_phi(view_lines, width, height, options, context)[1]
        read += view_lines
    if "tesseract" in options.engines:
        t0 = time.perf_counter()
        extra_lines = _tesseract().detect(frame)
        timings["ocr"] += time.perf_counter() - t0
        redactions += find_phi(extra_lines, width, height, options, context, unreadable=False)[1]
        read += extra_lines
    if options.faint_text and options.threshold <= UNREAD_SCORE:
        t0 = time.perf_counter()
        faint, to_read = _faint_text(frame, read, redactions, width, height, options.text_model)
        redactions += faint
        timings["faint"] = timings.get("faint", 0.0) + time.perf_counter() - t0
        for extreme in to_read:
            # Text found on the dark view only: read that view too (a date half of which sits a few
            # levels above black). Lines read surely already are not read again.
            t0 = time.perf_counter()
            extreme_lines = detector.detect(extreme, skip=[line for line in read if line.confidence >= 90.0])
            timings["ocr"] += time.perf_counter() - t0
            redactions += find_phi(extreme_lines, width, height, options, context, unreadable=False)[1]
            read += extreme_lines
    redactions = join_row_neighbours(redactions)
    result = FrameResult(width, height, lines, phi, redactions, draw(frame, [r.box for r in redactions], options.color))
    if options.verify:
        _verify(result, frame, views, options, detector, context, timings)
    return result


def _faint_text(
    frame: np.ndarray, read: list[Line], redactions: list[Redaction], width: int, height: int, model: str | None = None
) -> tuple[list[Redaction], list[np.ndarray]]:
    """Text no word read on any view explains, redacted as unread text; and the :func:`dark_view`
    of ``frame`` when text was found on it that nothing else found (to be read).

    The :func:`bright_view` is looked at too, but not read: reading it cost a fifth more time per
    image on the tuning sets, and its regions alone cover the pale text found there.

    Two detectors look: the classical ``textlike`` (rows of stroke energy) and the learned ``textnet``
    (trained on synthetic annotation text); each finds faint rows the other misses in part.
    """
    from openmaker.deid import textlike, textnet

    explained = [w.box for line in read if not line.unread for w in line.words]
    explained += [line.box for line in read if line.unread]
    covered = [r.box for r in redactions]
    try:
        boxes = textlike.unexplained(textlike.text_regions(frame), explained + covered)
        boxes += [r.box for r in textnet.unexplained_regions(frame, explained, model=model, covered=covered)]
        to_read = []
        # Text a few levels from a black or white background: the learned detector looks again, stretched.
        for extreme, read_it in ((dark_view(frame), True), (bright_view(frame), False)):
            if extreme is None:
                continue
            found = [r.box for r in textnet.unexplained_regions(extreme, explained, model=model, covered=covered + boxes)]
            if found:
                boxes += found
                if read_it:
                    to_read.append(extreme)
    except Exception as exc:
        raise DetectionError(f"text-region detection failed: {type(exc).__name__}: {exc}") from exc
    faint = [Redaction("ID", UNREAD_SCORE, pad_box(_taller(box), width, height)) for box in boxes]
    return faint, to_read


#: Extra height, each side, of a text region found without reading it, as a fraction of its height:
#: both detectors find rows on a coarse grid and can stop short of the tallest glyphs.
FAINT_PAD_Y = 0.12


def _taller(box):
    x0, y0, x1, y1 = box
    grow = FAINT_PAD_Y * (y1 - y0)
    return (x0, y0 - grow, x1, y1 + grow)


_tesseract_detector = None


def _tesseract():
    global _tesseract_detector
    if _tesseract_detector is None:
        from openmaker.deid.tesseract import TesseractDetector

        _tesseract_detector = TesseractDetector()
    return _tesseract_detector


def _verify(result: FrameResult, frame, views, options: DeidOptions, detector: TextDetector, context, timings) -> None:
    """OCR the redacted frame again; redact what PHI is still readable, or fail if it will not go."""
    for attempt in range(1, options.verify_passes + 2):
        t0 = time.perf_counter()
        residual: list[Redaction] = []
        for source in [frame, *views]:
            redacted = draw(source, [r.box for r in result.redactions], options.color)
            found = find_phi(detector.detect(redacted), result.width, result.height, options, context)[1]
            # A "word" lying mostly under a box already drawn is the box's own edge read as a glyph.
            residual += [r for r in found if _share_covered(r.box, result.redactions) < 0.5]
        timings["verify"] = timings.get("verify", 0.0) + time.perf_counter() - t0
        result.verify_passes = attempt
        if not residual:
            return
        if attempt > options.verify_passes:
            raise VerifyError(
                f"{len(residual)} PHI word(s) still readable after {options.verify_passes} extra redaction pass(es)"
            )
        result.verify_added += len(residual)
        result.redactions += residual
        result.redacted = draw(frame, [r.box for r in result.redactions], options.color)


def _share_covered(box, redactions: list[Redaction]) -> float:
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return 1.0
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for r in redactions:
        a, b, c, d = r.box
        mask[max(b - y0, 0) : max(d - y0, 0), max(a - x0, 0) : max(c - x0, 0)] = True
    return float(mask.mean())


def deidentify_image(
    data: bytes, name: str = "", options: DeidOptions | None = None, detector: TextDetector | None = None
) -> ImageResult:
    """Redact the PHI in one image (any supported format); raises ``DeidError`` on any failure."""
    options = options or DeidOptions()
    detector = detector or shared_detector(options.ocr_threads)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    image = load_image(data, name)
    timings["read"] = time.perf_counter() - t0
    context = phi_context(image)
    frames = [
        _redact_frame(frame, image.extra_views[i] if i < len(image.extra_views) else [], options, detector, context, timings)
        for i, frame in enumerate(image.frames)
    ]
    t0 = time.perf_counter()
    pngs = [encode_png(f.redacted, options.dpi) for f in frames]
    dicom = None
    if image.dicom is not None:
        from openmaker.deid.dicomio import write_deidentified
        from openmaker.deid.profile import ProfileOptions

        profile = ProfileOptions(
            # No batch key: a random one, so nothing can be linked back (UIDs are then not shared across files).
            key=options.key or os.urandom(32),
            retain_longitudinal_dates=options.retain_dates,
            pseudonyms=options.pseudonyms,
        )
        dicom = write_deidentified(
            image.dicom, [[r.box for r in f.redactions] for f in frames], color=options.color, options=profile
        )
    timings["write"] = time.perf_counter() - t0
    return ImageResult(image.kind, frames, pngs, dicom, time.perf_counter() - started, timings)


def detect_text(data: bytes, name: str = "", detector: TextDetector | None = None) -> dict:
    """Rekognition ``DetectText`` on the first frame of an image."""
    image = load_image(data, name)
    frame = image.frames[0]
    lines = (detector or shared_detector()).detect(frame)
    return detect_text_response(lines, frame.shape[1], frame.shape[0])
