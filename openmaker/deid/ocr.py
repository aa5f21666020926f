"""Text detection offline: RapidOCR's ONNX models, shipped inside the ``rapidocr`` wheel.

``rapidocr==3.10.0`` is pinned because its default configuration is the only
one whose models come inside the wheel (any other language, size or engine
downloads at first use, which fails offline); ``ensure_bundled_models``
checks the files are there before anything runs.

Lines come with per-word boxes (estimated by RapidOCR from the CTC character
positions). Those sit a few pixels inside the glyphs, so ``redact`` pads them.
The image is given a small border of its own edge colour first: detectors
miss text that touches the image border.
"""

from __future__ import annotations

import re

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openmaker.deid.errors import OcrError

#: Added around the image before detection, in pixels (text touching the border is otherwise missed).
BORDER = 12
#: Recognised text below this score (0..1) is dropped by RapidOCR; low, because a missed word cannot be redacted.
TEXT_SCORE = 0.3
#: ``TextModelVersion`` of the DetectText answer: Rekognition's current text model version, so clients that
#: read it see a value they know (the engine really is RapidOCR 3.10.0's bundled PP-OCR models).
TEXT_MODEL_VERSION = "3.0"
#: RapidOCR's bundled models, relative to the package: their presence means no download is attempted.
BUNDLED_MODELS = (
    "models/PP-OCRv6_det_small.onnx",
    "models/PP-OCRv6_rec_small.onnx",
    "models/ch_ppocr_mobile_v2.0_cls_mobile.onnx",
)


@dataclass
class Word:
    """One recognised word; ``box`` is ``(x0, y0, x1, y1)`` in image pixels."""

    text: str
    confidence: float  # 0..100, like Rekognition
    box: tuple[float, float, float, float]


@dataclass
class Line:
    text: str
    confidence: float
    box: tuple[float, float, float, float]
    polygon: list[tuple[float, float]]
    words: list[Word] = field(default_factory=list)
    #: Found by the detector but not read (no text, or under the text score): faint or tiny text.
    unread: bool = False


def ensure_bundled_models() -> Path:
    """The folder of RapidOCR's bundled models; ``OcrError`` if a model file is missing."""
    try:
        import rapidocr
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise OcrError("text detection needs rapidocr: pip install 'openmaker[deid]'") from exc
    root = Path(rapidocr.__file__).parent
    missing = [m for m in BUNDLED_MODELS if not (root / m).is_file()]
    if missing:
        raise OcrError(
            f"rapidocr's bundled models are missing ({', '.join(missing)}); "
            "install exactly rapidocr==3.10.0, whose wheel ships them (other versions download models)"
        )
    return root


class TextDetector:
    """RapidOCR with word boxes; one instance per process (thread-safe by a lock)."""

    def __init__(self, threads: int | None = None, text_score: float = TEXT_SCORE):
        ensure_bundled_models()
        from rapidocr import RapidOCR

        n = -1 if not threads else int(threads)
        params = {
            "Global.return_word_box": True,
            "Global.text_score": text_score,
            "Global.log_level": "critical",
            # Lower than RapidOCR's defaults (0.3/0.5): on the tuning set this found more small, faint text.
            "Det.thresh": 0.2,
            "Det.box_thresh": 0.3,
            "EngineConfig.onnxruntime.intra_op_num_threads": n,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1 if n > 0 else -1,
        }
        _quiet_rapidocr_logger()
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, skip: list[Line] | None = None) -> list[Line]:
        """Lines and words of ``image`` (uint8, ``(H, W, 3)`` RGB or ``(H, W)``), in its pixel coordinates.

        ``skip``: lines already read on another rendering of the same image; text
        found again in their place is not recognised a second time (half the cost
        of a second rendering).
        """
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
            raise OcrError(f"OCR needs an 8-bit RGB image, got shape {image.shape} dtype {image.dtype}")
        image = image[..., :3]
        height, width = image.shape[:2]
        padded = _pad(image, BORDER)
        try:
            with self._lock:
                # RapidOCR takes BGR arrays (OpenCV's order).
                bgr = np.ascontiguousarray(padded[..., ::-1])
                result, unread = self._run_steps(bgr, skip or [])
        except Exception as exc:
            raise OcrError(f"text detection failed: {type(exc).__name__}: {exc}") from exc
        lines = _lines(result, BORDER, width, height)
        for points in unread:
            box = _clip_box(points, BORDER, width, height)
            if box[2] > box[0] and box[3] > box[1]:
                lines.append(Line("", 0.0, box, [], [], unread=True))
        return lines


    def _run_steps(self, bgr: np.ndarray, skip: list[Line]):
        """RapidOCR's own steps (rapidocr 3.10.0, pinned), leaving out detected boxes that ``skip`` covers.

        Returns RapidOCR's output and the boxes it detected but could not read,
        which RapidOCR itself would drop.
        """
        import copy

        from rapidocr.ch_ppocr_cls import TextClsOutput
        from rapidocr.utils.output import RapidOCROutput
        from rapidocr.utils.process_img import map_boxes_to_original

        engine = self._engine
        original = engine.load_img(bgr)
        img, record = engine.preprocess_img(original)
        try:
            crops, det = engine.detect_and_crop(img, record)
        except Exception:  # RapidOCRError: nothing detected
            return RapidOCROutput(), []
        height, width = original.shape[:2]
        mapped = map_boxes_to_original(copy.deepcopy(det.boxes), copy.deepcopy(record), height, width)
        known = [(l.box[0] + BORDER, l.box[1] + BORDER, l.box[2] + BORDER, l.box[3] + BORDER) for l in skip]
        keep = [i for i, box in enumerate(mapped) if not _mostly_inside(box, known)]
        if not keep:
            return RapidOCROutput(), []
        det.boxes = det.boxes[keep]
        det.scores = [det.scores[i] for i in keep]
        crops = [crops[i] for i in keep]
        mapped = [mapped[i] for i in keep]
        if engine.use_cls:
            cls_images, cls = engine.cls_and_rotate(crops)
        else:
            cls_images, cls = crops, TextClsOutput()
        rec = engine.recognize_txt(cls_images)
        unread = [
            mapped[i] for i, (text, score) in enumerate(zip(rec.txts, rec.scores))
            if not str(text).strip() or float(score) < engine.text_score
        ]  # fmt: skip
        return engine.build_final_output(original, det, cls, rec, crops, record), unread


def _mostly_inside(points, boxes) -> bool:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    area = max((x1 - x0) * (y1 - y0), 1.0)
    for a, b, c, d in boxes:
        overlap = max(0.0, min(x1, c) - max(x0, a)) * max(0.0, min(y1, d) - max(y0, b))
        if overlap >= 0.8 * area:
            return True
    return False


def _quiet_rapidocr_logger() -> None:
    import logging

    logging.getLogger("RapidOCR").setLevel(logging.ERROR)


def _pad(image: np.ndarray, border: int) -> np.ndarray:
    """Surround ``image`` with ``border`` pixels of its most common edge colour."""
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    colours, counts = np.unique(edges.reshape(-1, 3), axis=0, return_counts=True)
    fill = colours[int(np.argmax(counts))]
    out = np.empty((image.shape[0] + 2 * border, image.shape[1] + 2 * border, 3), dtype=np.uint8)
    out[...] = fill
    out[border:-border, border:-border] = image
    return out


def _clip_box(points, offset: int, width: int, height: int) -> tuple[float, float, float, float]:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) - offset
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return (
        float(min(max(x0, 0), width)),
        float(min(max(y0, 0), height)),
        float(min(max(x1, 0), width)),
        float(min(max(y1, 0), height)),
    )


def _split_line(text: str, box, confidence: float) -> list[Word]:
    """Words of a line RapidOCR gave no word boxes for, placed by character count."""
    x0, y0, x1, y1 = box
    n = max(len(text), 1)
    words, pos = [], 0
    for token in text.split(" "):
        if token:
            a = x0 + (x1 - x0) * pos / n
            b = x0 + (x1 - x0) * (pos + len(token)) / n
            words.append(Word(token, confidence, (a, y0, b, y1)))
        pos += len(token) + 1
    return words


def _lines(result, offset: int, width: int, height: int) -> list[Line]:
    if result is None or getattr(result, "boxes", None) is None or result.txts is None:
        return []
    word_results = getattr(result, "word_results", None) or ()
    lines: list[Line] = []
    for i, (points, text, score) in enumerate(zip(result.boxes, result.txts, result.scores)):
        text = " ".join(str(text).split())
        if not text:
            continue
        box = _clip_box(points, offset, width, height)
        polygon = [
            (float(min(max(x - offset, 0), width)), float(min(max(y - offset, 0), height)))
            for x, y in np.asarray(points).reshape(-1, 2)
        ]
        confidence = float(score) * 100.0
        words: list[Word] = []
        if i < len(word_results) and word_results[i]:
            for item in word_results[i]:
                token, wscore, wpoints = item[0], item[1], item[2]
                token = str(token).strip()
                if not token:
                    continue
                for part in _split_spaces(token, _clip_box(wpoints, offset, width, height)):
                    words.append(Word(part[0], float(wscore) * 100.0, part[1]))
        if not words or " ".join(w.text for w in words).replace(" ", "") != text.replace(" ", ""):
            # Word boxes that do not spell the line are not trusted: place words by character count.
            words = _split_line(text, box, confidence)
        else:
            _reach_line_ends(words, box)
        words = _join_spaced_letters([Word(_normalise(w.text), w.confidence, w.box) for w in words])
        words = [part for w in words for part in _split_glued_bracket(w)]
        words = [w for w in words if w.text]
        if words:
            lines.append(Line(" ".join(w.text for w in words), confidence, box, polygon, words))
    return lines


def _reach_line_ends(words: list[Word], box) -> None:
    """Stretch the first and last word to the line's ends (sideways only). RapidOCR places word
    boxes from character positions and may stop short of a wide last glyph (the "M" of "AM");
    the line box, the detector's outline, holds the ink."""
    first, last = words[0], words[-1]
    first.box = (min(first.box[0], box[0]), *first.box[1:])
    last.box = (*last.box[:2], max(last.box[2], box[2]), last.box[3])


def _normalise(text: str) -> str:
    """Full-width forms to ASCII ("，" -> ","): the recogniser also reads Chinese and may answer in them."""
    import unicodedata

    return unicodedata.normalize("NFKC", text).strip()


def _join_spaced_letters(words: list[Word]) -> list[Word]:
    """Undo letter spacing: wide monospace text can come back as "H U G H E S , B R Y A N".

    Runs of three or more one-character words that sit close together become
    one word; a lone punctuation mark ends the word it follows.
    """
    out: list[Word] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and _close_letters(words[j], words[j + 1]):
            j += 1
        if j - i + 1 < 3:
            out.append(words[i])
            i += 1
            continue
        current: list[Word] = []
        for w in words[i : j + 1]:
            current.append(w)
            if not w.text.isalnum():  # "HUGHES," then "BRYAN"
                out.append(_merge(current))
                current = []
        if current:
            out.append(_merge(current))
        i = j + 1
    return out


def _close_letters(a: Word, b: Word) -> bool:
    height = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1.0)
    return len(a.text) == 1 and len(b.text) == 1 and b.box[0] - a.box[2] < 0.8 * height


def _merge(words: list[Word]) -> Word:
    return Word(
        "".join(w.text for w in words),
        min(w.confidence for w in words),
        (min(w.box[0] for w in words), min(w.box[1] for w in words), max(w.box[2] for w in words), max(w.box[3] for w in words)),
    )


_GLUED_BRACKET = re.compile(r"(\[[^\]\s]{1,6}\]|\([^)\s]{1,6}\))(?=[A-Za-z])")


def _split_glued_bracket(word: Word) -> list[Word]:
    """A bracketed marker OCR glued to the word after it, split off: "[M]Age:" is "[M]" "Age:"."""
    m = _GLUED_BRACKET.match(word.text)
    if m is None:
        return [word]
    return _split_line(m.group(1) + " " + word.text[m.end() :], word.box, word.confidence)


def _split_spaces(token: str, box) -> list[tuple[str, tuple[float, float, float, float]]]:
    if " " not in token:
        return [(token, box)]
    return [(w.text, w.box) for w in _split_line(token, box, 0.0)]


def detect_text_response(lines: list[Line], width: int, height: int) -> dict:
    """Lines and words in the shape of Rekognition's ``DetectText`` response.

    LINE detections come first (``Id`` 0..n-1), then WORD detections whose
    ``ParentId`` is their line's ``Id``; ``Confidence`` is a percentage (0..100),
    geometry is relative to the image size (a 4-point ``Polygon`` for lines and
    words). Unlike Rekognition, words are not capped at 100.
    """
    detections: list[dict] = []
    lines = [line for line in lines if not line.unread]
    for i, line in enumerate(lines):
        detections.append(
            {
                "DetectedText": line.text,
                "Type": "LINE",
                "Id": i,
                "Confidence": round(line.confidence, 4),
                "Geometry": _geometry(line.box, width, height, line.polygon),
            }
        )
    next_id = len(lines)
    for i, line in enumerate(lines):
        for word in line.words:
            detections.append(
                {
                    "DetectedText": word.text,
                    "Type": "WORD",
                    "Id": next_id,
                    "ParentId": i,
                    "Confidence": round(word.confidence, 4),
                    "Geometry": _geometry(word.box, width, height),
                }
            )
            next_id += 1
    return {"TextDetections": detections, "TextModelVersion": TEXT_MODEL_VERSION}


def _geometry(box, width: int, height: int, polygon=None) -> dict:
    x0, y0, x1, y1 = box
    w, h = float(max(width, 1)), float(max(height, 1))
    points = polygon or [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return {
        "BoundingBox": {"Width": (x1 - x0) / w, "Height": (y1 - y0) / h, "Left": x0 / w, "Top": y0 / h},
        "Polygon": [{"X": x / w, "Y": y / h} for x, y in points],
    }


_detectors: dict[int | None, TextDetector] = {}
_detectors_lock = threading.Lock()


def shared_detector(threads: int | None = None) -> TextDetector:
    """One detector per process and thread setting: loading the models takes a second or two."""
    with _detectors_lock:
        if threads not in _detectors:
            _detectors[threads] = TextDetector(threads=threads)
        return _detectors[threads]
