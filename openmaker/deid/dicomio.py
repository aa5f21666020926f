"""DICOM in and out for the de-identification room.

Reading turns a DICOM file into display images (RGB uint8, one per frame) for
OCR. Writing paints the redaction boxes into the *stored* pixel values of
every frame, re-encodes the pixel data in a valid transfer syntax and cleans
the header with :func:`openmaker.deid.profile.deidentify_header`.

Error messages name the problem, never a header value, since those are PHI.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from openmaker.deid.errors import ImageReadError, WriteError
from openmaker.deid.profile import ProfileOptions, deidentify_header

# Real files break VR length rules all the time (a 122-character LO, say); reading them is fine and
# the warning, printed once per value, is noise. Writing still validates.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

__all__ = [
    "DicomImage",
    "ProfileOptions",
    "deidentify_header",
    "is_dicom",
    "read_dicom",
    "write_deidentified",
]

# A window that clips more than this share of the pixels may hide burned-in
# text (often stored at the maximum value), so a full-range view is added.
_CLIP_SHARE_FOR_EXTRA_VIEW = 0.005

_GREY = ("MONOCHROME1", "MONOCHROME2")


def is_dicom(data: bytes) -> bool:
    """True for a DICOM file: 'DICM' at offset 128, or a preamble-less dataset
    that starts with a group 0002 or 0008 element pydicom can parse."""
    if len(data) >= 132 and data[128:132] == b"DICM":
        return True
    if len(data) < 8 or data[:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    try:
        ds = pydicom.dcmread(io.BytesIO(data[:65536]), force=True, stop_before_pixels=True)
        # force=True accepts almost anything; require a couple of sane elements.
        return any(elem.tag in (0x00020010, 0x00080016, 0x00080018, 0x00080060) for elem in ds)
    except Exception:
        return False


@dataclass
class DicomImage:
    """A decoded DICOM file, ready for OCR.

    ``frames[i]`` is frame i as displayed (RGB uint8, H x W x 3).
    ``extra_views[i]`` holds other renderings of frame i worth OCR-ing too (a
    full-range view when the window clips much of the image); often empty.
    """

    dataset: Dataset
    frames: list[np.ndarray]
    extra_views: list[list[np.ndarray]] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return len(self.frames)


# --------------------------------------------------------------------------
# Reading


def _parse(data: bytes) -> Dataset:
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    if not is_dicom(data):
        raise ImageReadError("not a DICOM file (no 'DICM' marker at byte 128)")
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        # Element values are parsed lazily; touching them all surfaces a
        # truncated or corrupt file here rather than later.
        for _ in ds.iterall():
            pass
    except Exception as exc:
        raise ImageReadError(
            f"truncated or corrupt DICOM file ({type(exc).__name__} while parsing)"
        ) from None
    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise ImageReadError("float pixel data is not supported")
        raise ImageReadError(
            "DICOM file has no pixel data (no PixelData element; the file may be truncated)"
        )
    meta = ds.file_meta if hasattr(ds, "file_meta") else pydicom.dataset.FileMetaDataset()
    ds.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        # Preamble-less files carry no file meta: the encoding pydicom detected
        # is the transfer syntax.
        implicit, little = ds.original_encoding
        meta.TransferSyntaxUID = (
            pydicom.uid.ImplicitVRLittleEndian
            if implicit
            else pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian
        )
    return ds


def _check_transfer_syntax(ds: Dataset) -> UID:
    uid = UID(str(ds.file_meta.TransferSyntaxUID))
    label = f"{uid.name} ({uid})" if uid.is_transfer_syntax else f"'{uid}'"
    try:
        decoder = pydicom.pixels.get_decoder(uid)
    except NotImplementedError:
        raise ImageReadError(f"transfer syntax {label} is not supported") from None
    if not decoder.is_available:
        raise ImageReadError(
            f"transfer syntax {label} is not supported: no decoder for it is installed"
        )
    return uid


def _decode(ds: Dataset) -> np.ndarray:
    """All frames as stored values, shape (frames, rows, cols[, samples]), native byte order.

    YBR data comes back as RGB (pydicom's ``as_rgb``), and so do JPEG 2000
    files whose codec undoes the colour transform itself.
    """
    uid = _check_transfer_syntax(ds)
    if not uid.is_compressed:
        _check_native_length(ds)
    try:
        arr, _ = pydicom.pixels.get_decoder(uid).as_array(ds, as_rgb=True)
    except Exception as exc:
        raise ImageReadError(
            f"could not decode the pixel data ({uid.name}, {type(exc).__name__}): the "
            "installed codecs do not support this variant, or the data is corrupt"
        ) from None
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    # Add the frame axis for single-frame images.
    if (samples == 1 and arr.ndim == 2) or (samples > 1 and arr.ndim == 3):
        arr = arr[np.newaxis, ...]
    return arr


def _check_native_length(ds: Dataset) -> None:
    """Catch truncated uncompressed pixel data with a message that says so."""
    try:
        n = int(ds.get("NumberOfFrames", 1) or 1)
        bits = int(ds.BitsAllocated)
        count = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1) or 1) * n
    except (AttributeError, TypeError, ValueError):
        raise ImageReadError("the image pixel module is incomplete or invalid") from None
    expected = (count * bits + 7) // 8
    got = len(ds.PixelData)
    if got < expected:
        raise ImageReadError(
            f"pixel data is truncated: {got} bytes where {expected} are needed"
        )


def _to_uint8(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.zeros(x.shape, np.uint8)
    y = (x.astype(np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def _window(x: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """PS3.3 C.11.2.1.2 windowing, *unclipped*: values outside 0..1 are the
    ones the window clips (a sigmoid never clips)."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    if function == "LINEAR_EXACT":
        return (x - center) / width + 0.5
    # LINEAR (default): width 1 is a threshold at the centre.
    if width <= 1:
        return np.where(x > center - 0.5, 2.0, -1.0)
    return (x - (center - 0.5)) / (width - 1) + 0.5


def _first(value: object) -> float:
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        value = value[0]
    return float(value)


def _grey_views(ds: Dataset, frame: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Display one greyscale frame: modality LUT, then VOI (first window), to uint8."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    x = np.asarray(apply_modality_lut(frame, ds), dtype=np.float64)
    full = _to_uint8(x, float(x.min()), float(x.max()))
    display = full
    clipped_share = 0.0
    voi = ds.get("VOILUTSequence")
    if voi and "LUTData" in voi[0]:
        try:
            out = np.asarray(apply_voi_lut(x, ds, index=0, prefer_lut=True), dtype=np.float64)
            bits = int(voi[0].LUTDescriptor[2]) or 16
            display = _to_uint8(out, 0, 2**bits - 1)
            # A LUT clips where many input values share its first or last entry.
            low = (out <= out.min()) & (x > x.min())
            high = (out >= out.max()) & (x < x.max())
            clipped_share = float(np.mean(low | high))
        except Exception:
            display = full  # a broken LUT should not stop OCR
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        try:
            center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        except (TypeError, ValueError, IndexError):
            center = width = 0.0
        if width > 0:
            function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
            y = _window(x, center, width, function)
            display = np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)
            # Values within a couple of grey levels past the edges lose nothing visible.
            margin = 2.0 / 255.0
            clipped_share = float(np.mean((y < -margin) | (y > 1.0 + margin)))
    extras: list[np.ndarray] = []
    if display is not full and clipped_share > _CLIP_SHARE_FOR_EXTRA_VIEW:
        extras.append(full)
    if str(ds.PhotometricInterpretation).strip() == "MONOCHROME1":
        display = 255 - display
        extras = [255 - e for e in extras]
    return display, extras


def _palette_to_rgb(ds: Dataset, frame: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_color_lut

    rgb = np.asarray(apply_color_lut(frame, ds))
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    return _to_uint8(rgb, 0, 2**bits - 1)


def _rgb_to_uint8(ds: Dataset, frame: np.ndarray) -> np.ndarray:
    if frame.dtype == np.uint8:
        return frame
    bits = int(ds.get("BitsStored", frame.dtype.itemsize * 8))
    return _to_uint8(frame, 0, 2**bits - 1)


def _grey3(img: np.ndarray) -> np.ndarray:
    return np.repeat(img[..., np.newaxis], 3, axis=2)


def read_dicom(data: bytes, *, name: str = "") -> DicomImage:
    """Decode a DICOM file into display frames for OCR.

    Raises :class:`ImageReadError` for empty or non-DICOM input, a truncated or
    corrupt file, no pixel data, an unsupported transfer syntax or a decode
    failure. ``name`` is accepted for the caller's bookkeeping and is not put
    in error messages (file names can carry PHI).
    """
    del name
    ds = _parse(data)
    arr = _decode(ds)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    frames: list[np.ndarray] = []
    extra_views: list[list[np.ndarray]] = []
    try:
        for frame in arr:
            if frame.ndim == 3:  # RGB (YBR was converted while decoding)
                frames.append(_rgb_to_uint8(ds, frame))
                extra_views.append([])
            elif photometric == "PALETTE COLOR":
                frames.append(_palette_to_rgb(ds, frame))
                extra_views.append([])
            elif photometric in _GREY or not photometric:
                display, extras = _grey_views(ds, frame)
                frames.append(_grey3(display))
                extra_views.append([_grey3(e) for e in extras])
            else:
                raise ImageReadError(
                    f"photometric interpretation {photometric} is not supported"
                )
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(
            f"could not render the pixel data for display ({type(exc).__name__})"
        ) from None
    return DicomImage(dataset=ds, frames=frames, extra_views=extra_views)


# --------------------------------------------------------------------------
# Writing


def _grey_fill(arr: np.ndarray, ds: Dataset, color: tuple[int, int, int]) -> int:
    """The stored value that displays as the colour's luminance.

    The image's own min..max is used (not the representable range) so a fill
    never stretches the dynamic range a viewer auto-windows on.
    """
    luminance = (0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]) / 255.0
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    if hi <= lo:
        lo, hi = _representable(ds, arr)
    if str(ds.PhotometricInterpretation).strip() == "MONOCHROME1":
        luminance = 1.0 - luminance
    return int(round(lo + luminance * (hi - lo)))


def _representable(ds: Dataset, arr: np.ndarray) -> tuple[int, int]:
    bits = int(ds.get("BitsStored", arr.dtype.itemsize * 8))
    if int(ds.get("PixelRepresentation", 0)) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _palette_fill(ds: Dataset, arr: np.ndarray, color: tuple[int, int, int]) -> int:
    """The palette index whose colour is nearest to ``color``."""
    lo, hi = _representable(ds, arr)
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    n = int(ds.RedPaletteColorLookupTableDescriptor[0]) or 65536
    indices = np.arange(max(lo, first), min(hi, first + n - 1) + 1, dtype=arr.dtype)
    rgb = _palette_to_rgb(ds, indices).astype(np.int64)
    dist = ((rgb - np.asarray(color, dtype=np.int64)) ** 2).sum(axis=-1)
    return int(indices[int(np.argmin(dist))])


def _fill_value(arr: np.ndarray, ds: Dataset, color: tuple[int, int, int]) -> np.ndarray:
    if arr.ndim == 4:  # RGB
        bits = int(ds.get("BitsStored", 8))
        scale = (2**bits - 1) / 255.0
        return np.array([round(c * scale) for c in color], dtype=arr.dtype)
    if str(ds.PhotometricInterpretation).strip() == "PALETTE COLOR":
        return np.array(_palette_fill(ds, arr, color), dtype=arr.dtype)
    lo, hi = _representable(ds, arr)
    return np.array(min(max(_grey_fill(arr, ds, color), lo), hi), dtype=arr.dtype)


Boxes = Sequence[Sequence[tuple[int, int, int, int]]]


def _paint(arr: np.ndarray, boxes: Boxes, fill: np.ndarray) -> None:
    n, rows, cols = arr.shape[:3]
    if len(boxes) > n:
        raise WriteError(f"boxes given for {len(boxes)} frames but the image has {n}")
    for index, frame_boxes in enumerate(boxes):
        for box in frame_boxes:
            x0, y0, x1, y1 = (int(v) for v in box)
            x0, x1 = max(0, x0), min(cols, x1)
            y0, y1 = max(0, y0), min(rows, y1)
            if x1 > x0 and y1 > y0:
                arr[index, y0:y1, x0:x1] = fill


def _set_native_pixels(ds: Dataset, arr: np.ndarray, photometric: str) -> None:
    """Store ``arr`` uncompressed (Explicit VR Little Endian).

    Done by hand rather than with ``Dataset.set_pixel_data`` because that only
    takes 8/16-bit arrays and would change Bits Allocated to the dtype's size.
    """
    from pydicom.pixels import pack_bits

    n = arr.shape[0]
    if int(ds.BitsAllocated) == 1:
        payload = pack_bits(arr.reshape(-1), pad=True)
    else:
        payload = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        if len(payload) % 2:
            payload += b"\x00"
    for tag in (0x7FE00001, 0x7FE00002):  # extended offset table: only for encapsulated data
        if tag in ds:
            del ds[tag]
    ds.PixelData = payload
    ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
    ds["PixelData"].is_undefined_length = False
    ds.PhotometricInterpretation = photometric
    if arr.ndim == 4:
        ds.SamplesPerPixel = arr.shape[-1]
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    if n > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = n
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian


def _recompress(ds: Dataset, arr: np.ndarray, uid: UID) -> None:
    """Re-encode losslessly in ``uid`` if that round-trips exactly; else stay native."""
    native = copy.copy(ds.PixelData)
    try:
        ds.compress(uid, generate_instance_uid=False)
        back, _ = pydicom.pixels.get_decoder(uid).as_array(ds, as_rgb=False)
        if back.ndim == arr.ndim - 1:
            back = back[np.newaxis, ...]
        if back.shape == arr.shape and np.array_equal(back, arr):
            return
    except Exception:
        pass  # the encoder could not handle this data: keep it uncompressed
    ds.PixelData = native
    ds["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian


_LOSSLESS_REENCODE = {pydicom.uid.RLELossless, pydicom.uid.JPEG2000Lossless}
_LOSSY_METHOD = {
    pydicom.uid.JPEGBaseline8Bit: "ISO_10918_1",
    pydicom.uid.JPEGExtended12Bit: "ISO_10918_1",
    pydicom.uid.JPEG2000: "ISO_15444_1",
    pydicom.uid.JPEGLSNearLossless: "ISO_14495_1",
    pydicom.uid.HTJ2K: "ISO_15444_15",
}


def _swap_other_words(ds: Dataset) -> None:
    """Byte-swap OW/OL/OF/OD/OV values read from a big-endian file.

    pydicom decodes numbers and text on writing in another endianness but
    leaves these raw byte strings as they were.
    """
    sizes = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}
    for elem in ds.iterall():
        size = sizes.get(elem.VR)
        if not size or elem.tag == 0x7FE00010 or not isinstance(elem.value, bytes):
            continue
        if len(elem.value) % size == 0:
            elem.value = np.frombuffer(elem.value, dtype=f">u{size}").astype(f"<u{size}").tobytes()


def write_deidentified(
    image: DicomImage,
    boxes: Boxes,
    *,
    color: tuple[int, int, int],
    options: ProfileOptions,
) -> bytes:
    """Redact ``boxes`` in the stored pixels, de-identify the header, return the file.

    ``boxes[frame]`` lists ``(x0, y0, x1, y1)`` rectangles (x1/y1 exclusive).
    Lossless inputs stay lossless: RLE and JPEG 2000 lossless are re-encoded in
    their own syntax when that round-trips exactly, everything else is written
    as Explicit VR Little Endian; lossy inputs are written decompressed with
    Lossy Image Compression "01". ``image.dataset`` is not modified.
    """
    try:
        ds = copy.deepcopy(image.dataset)
        source = UID(str(ds.file_meta.TransferSyntaxUID))
        arr = _decode(ds).copy()
        photometric = str(ds.PhotometricInterpretation).strip()
        if arr.ndim == 4:
            photometric = "RGB"  # YBR and J2K colour transforms were undone while decoding
        _paint(arr, boxes, _fill_value(arr, ds, color))
        if not source.is_little_endian:
            _swap_other_words(ds)
        _set_native_pixels(ds, arr, photometric)
        if source in _LOSSLESS_REENCODE:
            _recompress(ds, arr, source)
        elif source.is_compressed and not _is_lossless(source):
            ds.LossyImageCompression = "01"
            if "LossyImageCompressionMethod" not in ds and source in _LOSSY_METHOD:
                ds.LossyImageCompressionMethod = _LOSSY_METHOD[source]
        deidentify_header(ds, options)
        out = io.BytesIO()
        target = ds.file_meta.TransferSyntaxUID
        pydicom.dcmwrite(
            out,
            ds,
            enforce_file_format=True,
            implicit_vr=target.is_implicit_VR,
            little_endian=True,
        )
        return out.getvalue()
    except WriteError:
        raise
    except ImageReadError as exc:
        raise WriteError(f"could not re-read the pixel data to redact it: {exc}") from None
    except Exception as exc:
        raise WriteError(
            f"could not write the de-identified DICOM ({type(exc).__name__})"
        ) from None


def _is_lossless(uid: UID) -> bool:
    return uid in {
        pydicom.uid.RLELossless,
        pydicom.uid.JPEG2000Lossless,
        pydicom.uid.JPEGLSLossless,
        pydicom.uid.JPEGLossless,
        pydicom.uid.JPEGLosslessSV1,
        pydicom.uid.HTJ2KLossless,
        pydicom.uid.HTJ2KLosslessRPCL,
    }
