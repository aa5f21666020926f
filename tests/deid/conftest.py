"""Fixtures of the de-identification tests: the example DICOMs, rendered test images, one OCR engine."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

IMAGES = Path(__file__).resolve().parents[2] / "examples" / "deid" / "images"
US_GREY = IMAGES / "us_greyscale_burned_in.dcm"
US_RGB = IMAGES / "us_rgb_burned_in.dcm"
CT_JPEG = IMAGES / "ct_brain1.dcm"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture(scope="session")
def detector():
    pytest.importorskip("rapidocr")
    from openmaker.deid.ocr import shared_detector

    return shared_detector()


def render(lines: list[tuple[str, tuple[int, int]]], size=(640, 480), fg=(255, 255, 255), bg=(0, 0, 0), font_size=28):
    """An RGB image with each ``(text, (x, y))`` drawn; returns the array."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), font_size) if FONT.is_file() else ImageFont.load_default(font_size)
    for text, xy in lines:
        draw.text(xy, text, fill=fg, font=font)
    return np.asarray(image)


def encode(array: np.ndarray, fmt: str = "PNG", **kwargs) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


#: A burned-in annotation block: PHI on the first two lines, technical text below.
PHI_LINES = [
    ("DOE, JOHN  MRN: 48213377", (10, 10)),
    ("DOB: 03/14/1962  Age: 61Y  M", (10, 50)),
    ("kVp 120  mAs 250", (10, 400)),
]


@pytest.fixture
def phi_png(tmp_path) -> Path:
    path = tmp_path / "scan.png"
    path.write_bytes(encode(render(PHI_LINES)))
    return path
