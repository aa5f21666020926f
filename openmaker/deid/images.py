"""Reading an input into the frames OCR sees: PNG, JPEG, TIFF (every page) and DICOM.

Everything becomes a list of 8-bit RGB frames. DICOM goes through
``dicomio`` (windowing, MONOCHROME1 inversion, YBR, every frame); raster
images through Pillow, with 16-bit greyscale stretched to the full 8-bit range
so faint text stays readable.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from openmaker.deid.errors import ImageReadError

if TYPE_CHECKING:
    from openmaker.deid.dicomio import DicomImage

RASTER_FORMATS = ("PNG", "JPEG", "TIFF")


@dataclass
class LoadedImage:
    """An input as frames for OCR, and (for DICOM) the parsed file to write back."""

    kind: str  # "dicom" or the raster format ("PNG", "JPEG", "TIFF")
    frames: list[np.ndarray]
    extra_views: list[list[np.ndarray]] = field(default_factory=list)
    dicom: "DicomImage | None" = None

    @property
    def is_dicom(self) -> bool:
        return self.dicom is not None


def load_image(data: bytes, name: str = "") -> LoadedImage:
    """Decode ``data`` (any supported format); ``ImageReadError`` names what is wrong."""
    label = f"{name}: " if name else ""
    if not data:
        raise ImageReadError(f"{label}the file is empty (0 bytes)")
    from openmaker.deid.dicomio import is_dicom, read_dicom

    if is_dicom(data):
        image = read_dicom(data, name=name)
        views = image.extra_views or [[] for _ in image.frames]
        return LoadedImage("dicom", list(image.frames), views, image)
    return _load_raster(data, label)


def _load_raster(data: bytes, label: str) -> LoadedImage:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        # Never quote the content: a mislabelled text file can hold PHI, and this goes in the report.
        looks = "text" if _looks_like_text(data[:512]) else "binary data of an unknown format"
        raise ImageReadError(f"{label}not a supported image (PNG, JPEG, TIFF or DICOM): the file holds {looks}") from None
    except Exception as exc:
        raise ImageReadError(f"{label}cannot open the image: {exc}") from None
    if image.format not in RASTER_FORMATS:
        raise ImageReadError(f"{label}{image.format} images are not supported; use PNG, JPEG, TIFF or DICOM")
    frames = []
    try:
        for page in ImageSequence.Iterator(image):
            page.load()  # decode now: a truncated file fails here
            frames.append(to_rgb8(page))
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{label}the {image.format} file is truncated or corrupt ({exc})") from None
    if not frames:
        raise ImageReadError(f"{label}the {image.format} file holds no image")
    return LoadedImage(image.format, frames, [[] for _ in frames])


def to_rgb8(image) -> np.ndarray:
    """A PIL image of any mode as an ``(H, W, 3)`` uint8 array; 16/32-bit greyscale is min-max stretched."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) * (255.0 / (high - low)) if high > low else np.zeros_like(array)
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.stack([grey] * 3, axis=-1)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        from PIL import Image

        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode == "1":
        image = image.convert("L")
    return np.asarray(image.convert("RGB"))


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
