"""Raster inputs (PNG, JPEG, TIFF pages, 16-bit, alpha) and the bad ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from openmaker.deid.errors import ImageReadError
from openmaker.deid.images import load_image
from tests.deid.conftest import encode, render


def test_png_jpeg_tiff_become_rgb_frames():
    array = render([("HELLO", (10, 10))], size=(120, 60))
    for fmt in ("PNG", "JPEG", "TIFF"):
        image = load_image(encode(array, fmt), f"x.{fmt.lower()}")
        assert image.kind == fmt and not image.is_dicom
        assert len(image.frames) == 1
        frame = image.frames[0]
        assert frame.shape == (60, 120, 3) and frame.dtype == np.uint8
        assert np.abs(frame.astype(int) - array).mean() < 8  # JPEG is lossy, the others exact


def test_every_tiff_page_is_a_frame():
    pages = [Image.fromarray(render([(f"PAGE {i}", (5, 5))], size=(100, 40))) for i in range(3)]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:])
    image = load_image(buffer.getvalue())
    assert len(image.frames) == 3
    assert not np.array_equal(image.frames[0], image.frames[1])


def test_16_bit_greyscale_is_stretched_to_8_bits():
    array = np.zeros((30, 40), dtype=np.uint16)
    array[10:20, 10:30] = 1200  # faint in 16 bits
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    frame = load_image(buffer.getvalue()).frames[0]
    assert frame.max() == 255 and frame.min() == 0


def test_alpha_is_composited_on_black():
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:5, :, 3] = 255  # top half opaque red, bottom transparent
    frame = load_image(encode(rgba)).frames[0]
    assert tuple(frame[0, 0]) == (255, 0, 0) and tuple(frame[9, 9]) == (0, 0, 0)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"hello, this is a text file\n", "not a supported image"),
        (encode(np.zeros((50, 50, 3), dtype=np.uint8))[:60], "truncated or corrupt"),
        (encode(np.zeros((8, 8, 3), dtype=np.uint8), "GIF"), "GIF images are not supported"),
    ],
    ids=["empty", "text", "truncated-png", "gif"],
)
def test_bad_inputs_name_the_problem(data, message):
    with pytest.raises(ImageReadError, match=message):
        load_image(data, "input.bin")
