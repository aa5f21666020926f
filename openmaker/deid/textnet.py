"""A small learned text-region detector: where burned-in text is, read or not.

RapidOCR's detector (DBNet, trained on photographs and documents) misses
small, faint annotation text -- 7-10 px glyphs at contrasts under about 0.15
-- and the classical detector in ``textlike`` finds such rows only in part.
This network is trained for exactly that job on ``openmaker deid synth``
images (never on the held-out evaluation seed): it marks every cell of a
quarter-resolution grid that text covers. ``process`` redacts the regions no
word the OCR read explains, as it does ``textlike``'s.

The network (about 12k weights) is a fully convolutional stack run with
ONNX Runtime, the runtime the OCR already uses:

* input: two channels at full resolution, the luminance and its local
  contrast (luminance minus a Gaussian local mean, over the local standard
  deviation) -- faint text on a bright or dark, flat or grainy background
  looks alike there;
* two stride-2 3x3 convolutions to a quarter of the resolution, then
  residual depthwise-separable blocks dilated 1, 2, 4, 8 and 1 (a receptive
  field of about 140 px: a few glyphs of context), and a 1x1 convolution to
  a logit per cell.

The weights ship in ``data/textnet.onnx``; ``textnet_train`` rebuilds them
(``python -m openmaker.deid.textnet_train``). About 30 ms for a 1024x1024
frame on one core, input included.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from openmaker.deid.textlike import TextRegion, luminance

MODEL = Path(__file__).resolve().parent / "data" / "textnet.onnx"
#: The grid the network answers on: one cell per STRIDE x STRIDE pixels.
STRIDE = 4
#: Local contrast: Gaussian sigma (px) of the local mean and deviation, and the deviation's floor.
LOCAL_SIGMA = 8.0
LOCAL_FLOOR = 0.02
#: A cell is text when the network's probability reaches this.
THRESHOLD = 0.5
#: ... or this, on the grid row of a run of GROW_FROM or more such cells, at most GROW_CELLS cells
#: past its end (the faint end of a line; see :func:`_along_rows`).
GROW = 0.04
GROW_CELLS = 12
GROW_FROM = 10
#: Regions: glyph rows this high (px) and at least this wide relative to their height.
MIN_HEIGHT = 4
MAX_HEIGHT = 48
MIN_ASPECT = 0.5
MIN_CELLS = 3
#: A region one cell high (the edge of a line whose rest a read box explains) must be this sure.
STRIP_PROB = 0.85
#: Read words explain this many of their heights beyond their boxes, left and right ...
EXPLAIN_PAD = 0.3
#: ... and this many up and down: less than their height, since an OCR line box spans more than its
#: glyphs and a faint line just under it is not to be hidden.
EXPLAIN_PAD_Y = -0.15
#: ... unless taller than this (px): no line of text is.
MAX_EXPLAIN_HEIGHT = 96


def features(gray: np.ndarray) -> np.ndarray:
    """The network's input for an 8-bit luminance image: ``(2, H, W)`` float32."""
    import cv2

    g = gray.astype(np.float32) / 255.0
    mean = cv2.GaussianBlur(g, (0, 0), LOCAL_SIGMA)
    d = g - mean
    sd = np.sqrt(cv2.GaussianBlur(d * d, (0, 0), LOCAL_SIGMA))
    local = np.clip(d / (sd + LOCAL_FLOOR), -4.0, 4.0) / 4.0
    return np.stack([g - 0.5, local]).astype(np.float32)


@lru_cache(maxsize=4)
def _session(path: str = str(MODEL)):
    import onnxruntime as ort

    if not Path(path).is_file():
        raise FileNotFoundError(f"the text-region model {path} is missing; rebuild it with python -m openmaker.deid.textnet_train")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def check_model(path: str | Path) -> None:
    """Raise ``ValueError`` naming the problem unless ``path`` is a text-region model ONNX Runtime can run."""
    if not Path(path).is_file():
        raise ValueError(f"text-region model {path} not found")
    try:
        probabilities(np.zeros((8, 8), np.uint8), Path(path))
    except Exception as exc:
        raise ValueError(f"text-region model {path} cannot be run: {type(exc).__name__}: {exc}") from None


def available() -> bool:
    """Whether the shipped model is there (it is, in every install of the package)."""
    return MODEL.is_file()


def probabilities(frame: np.ndarray, model: Path | None = None) -> np.ndarray:
    """Per-cell text probability of ``frame`` (uint8 ``(H, W)`` or ``(H, W, 3)``), shape ``(ceil(H/4), ceil(W/4))``."""
    gray = luminance(frame)
    h, w = gray.shape
    ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    x = features(gray)
    if (ph, pw) != (h, w):
        x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)), mode="edge")
    logits = _session(str(model or MODEL)).run(None, {"x": x[None]})[0][0, 0]
    return 1.0 / (1.0 + np.exp(-logits))


def text_regions(frame: np.ndarray, threshold: float = THRESHOLD, model: Path | None = None) -> list[TextRegion]:
    """Text rows the network finds in ``frame``, as ``textlike.TextRegion`` boxes in pixels."""
    return _regions(probabilities(frame, model) >= threshold, frame.shape[:2])


def unexplained_regions(
    frame: np.ndarray,
    explained: list[tuple[float, float, float, float]],
    threshold: float = THRESHOLD,
    model: Path | None = None,
    covered: Sequence[tuple[float, float, float, float]] = (),
) -> list[TextRegion]:
    """Text the network finds in ``frame`` that no box of ``explained`` or ``covered`` accounts for.

    ``explained``: boxes of words the OCR read (what it read, the PHI detector
    has decided on). Each takes its cells out
    of the text mask, widened by ``EXPLAIN_PAD`` of its height left and right
    and a little up and down (the network marks the cells a glyph touches, an
    OCR box can stop short of them) but ``EXPLAIN_PAD_Y`` less than its box
    up and down (an OCR line box spans more than its glyphs, and a faint line
    just under a read one must stay); a box much taller than a line of text
    (the detector's outline of an ultrasound sector) explains nothing. What
    is left is split into rows of glyphs.

    ``covered``: boxes already redacted (padded already). They take out only
    the columns of cells whose centres they cover (the end of a word the OCR
    cut short, "13:" of "13:55", sits just past such a box and must stay),
    and rows as ``explained`` boxes do.
    """
    h, w = frame.shape[:2]
    prob = probabilities(frame, model)
    free = np.ones(prob.shape, dtype=bool)  # cells no read word explains and no redaction covers
    gh, gw = free.shape
    for x0, y0, x1, y1 in explained:
        bh = y1 - y0
        if bh <= 0 or bh > MAX_EXPLAIN_HEIGHT:
            continue
        px = EXPLAIN_PAD * bh
        c0, c1 = max(int((x0 - px) // STRIDE), 0), min(int(-(-(x1 + px) // STRIDE)), gw)
        free[_rows(y0, y1, gh), c0:c1] = False
    for x0, y0, x1, y1 in covered:
        if 0 < y1 - y0 <= MAX_EXPLAIN_HEIGHT:
            c0, c1 = max(int(round(x0 / STRIDE)), 0), min(int(round(x1 / STRIDE)), gw)
            free[_rows(y0, y1, gh), c0:c1] = False
    return _regions(_along_rows((prob >= threshold) & free, (prob >= GROW) & free), (h, w), prob)


def _along_rows(strong: np.ndarray, weak: np.ndarray, reach: int = GROW_CELLS) -> np.ndarray:
    """``strong`` cells, and the ``weak`` ones joined sideways, within their grid row and up to
    ``reach`` cells on, to a run of strong cells at least :data:`GROW_FROM` cells long: a faint
    line's last letters, which the network is less sure of than its middle. Only along rows, so
    two lines of text do not run together; only from long runs, so an icon does not spread."""
    import cv2

    runs = cv2.morphologyEx(strong.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, GROW_FROM), np.uint8)).astype(bool)
    grown = runs
    for _ in range(reach):
        step = grown.copy()
        step[:, 1:] |= grown[:, :-1]
        step[:, :-1] |= grown[:, 1:]
        step &= weak
        if np.array_equal(step, grown):
            break
        grown = step
    return grown | strong


def _rows(y0: float, y1: float, grid_height: int) -> slice:
    """The grid rows a box explains: the cells mostly inside it, ``EXPLAIN_PAD_Y`` of its height
    less (a line's last row of cells may hold the next line's top)."""
    py = EXPLAIN_PAD_Y * (y1 - y0)
    return slice(max(int(round((y0 - py) / STRIDE)), 0), min(int(round((y1 + py) / STRIDE)), grid_height))


def _regions(mask: np.ndarray, shape: tuple[int, int], prob: np.ndarray | None = None) -> list[TextRegion]:
    import cv2

    h, w = shape
    mask = mask.astype(np.uint8)
    # Cells of one row of glyphs joined across the gap between two letters.
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((1, 3), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out: list[TextRegion] = []
    for k, (x, y, cw, ch, area) in enumerate(stats[1:], start=1):
        if ch == 1 and prob is not None and float(prob[labels == k].mean()) < STRIP_PROB:
            continue
        x0, y0 = int(x * STRIDE), int(y * STRIDE)
        x1, y1 = min(int((x + cw) * STRIDE), w), min(int((y + ch) * STRIDE), h)
        height = y1 - y0
        if area < MIN_CELLS or not MIN_HEIGHT <= height <= MAX_HEIGHT or (x1 - x0) < MIN_ASPECT * height:
            continue
        out.append(TextRegion((x0, y0, x1, y1), float(height)))
    return out
