"""Reading DICOM for OCR and writing the redacted, de-identified DICOM.

Real files only: the example images of the room and the test files bundled
in the pydicom wheel (offline).
"""

from __future__ import annotations

import copy
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from openmaker.deid.dicomio import is_dicom, read_dicom, write_deidentified
from openmaker.deid.errors import ImageReadError, WriteError
from openmaker.deid.profile import ProfileOptions

IMAGES = Path(__file__).resolve().parents[2] / "examples" / "deid" / "images"
US_GREY = IMAGES / "us_greyscale_burned_in.dcm"
US_RGB = IMAGES / "us_rgb_burned_in.dcm"
CT_BRAIN = IMAGES / "ct_brain1.dcm"

KEY = b"test-key-0123456789abcdef"

# pydicom warns about over-long values in the vendor files; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def bundled(name: str) -> Path:
    """A test file shipped inside the pydicom wheel (never downloaded)."""
    path = get_testdata_file(name, download=False)
    assert path is not None and os.path.exists(path), f"{name} is not bundled with pydicom"
    return Path(path)


def to_bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def reread(data: bytes) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data))


def stored(ds: pydicom.Dataset) -> np.ndarray:
    """Stored values with a frame axis, YBR converted to RGB like the writer does."""
    arr = ds.pixel_array
    samples = int(ds.get("SamplesPerPixel", 1))
    if (samples == 1 and arr.ndim == 2) or (samples == 3 and arr.ndim == 3):
        arr = arr[np.newaxis]
    return arr


def box_mask(shape: tuple[int, ...], boxes: list[list[tuple[int, int, int, int]]]) -> np.ndarray:
    mask = np.zeros(shape[:3], dtype=bool)
    for f, frame_boxes in enumerate(boxes):
        for x0, y0, x1, y1 in frame_boxes:
            mask[f, y0:y1, x0:x1] = True
    return mask


@pytest.fixture
def options() -> ProfileOptions:
    return ProfileOptions(key=KEY)


# --------------------------------------------------------------------------
# is_dicom


def test_is_dicom_recognises_files_with_and_without_preamble():
    assert is_dicom(US_GREY.read_bytes())
    assert not is_dicom(b"")
    assert not is_dicom(np.random.default_rng(0).bytes(4096))
    assert not is_dicom(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    # A bare dataset (no preamble, no file meta) as old ACR-NEMA style tools write it.
    ds = pydicom.Dataset()
    ds.update(pydicom.dcmread(bundled("CT_small.dcm")))
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True)
    raw = buf.getvalue()
    assert raw[128:132] != b"DICM"
    assert is_dicom(raw)
    image = read_dicom(raw)
    assert image.frames[0].shape == (128, 128, 3)
    assert image.dataset.file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian


# --------------------------------------------------------------------------
# Reading the example images


def test_read_greyscale_ultrasound_is_displayable():
    image = read_dicom(US_GREY.read_bytes(), name="us.dcm")
    assert image.n_frames == 1 and len(image.extra_views) == 1
    frame = image.frames[0]
    assert frame.shape == (768, 1024, 3) and frame.dtype == np.uint8
    # Grey image: the three channels are equal.
    assert np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 1], frame[..., 2])
    # A dark ultrasound but not black, and the burned-in header line is bright text.
    assert 5 < frame.mean() < 100
    band = frame[:22, :300, 0]
    assert (band > 180).sum() > 300 and (band < 60).sum() > 3000
    # The window (127/254) barely clips this 8-bit image, so no extra view is needed.
    assert image.extra_views == [[]]


def test_read_rgb_ultrasound_passes_colour_through():
    data = US_RGB.read_bytes()
    image = read_dicom(data)
    assert image.n_frames == 1
    assert image.frames[0].shape == (768, 1024, 3) and image.frames[0].dtype == np.uint8
    assert np.array_equal(image.frames[0], reread(data).pixel_array)


def test_read_jpeg_baseline_ybr_ct_is_converted_to_rgb():
    image = read_dicom(CT_BRAIN.read_bytes())
    assert str(image.dataset.PhotometricInterpretation) == "YBR_FULL_422"
    frame = image.frames[0]
    assert frame.shape == (456, 510, 3) and frame.dtype == np.uint8
    # pydicom's own YBR -> RGB conversion gives the same image.
    assert np.array_equal(frame, reread(CT_BRAIN.read_bytes()).pixel_array)
    # The drawing is dark lines on white.
    assert frame.mean() > 200 and frame.min() < 50


def test_read_does_not_alter_the_dataset_pixels():
    data = US_GREY.read_bytes()
    image = read_dicom(data)
    assert image.dataset.PixelData == reread(data).PixelData


# --------------------------------------------------------------------------
# Display transforms


def test_monochrome1_is_inverted_to_display_like_monochrome2():
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    mono2 = read_dicom(to_bytes(ds)).frames[0]
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = read_dicom(to_bytes(ds)).frames[0]
    assert np.array_equal(mono1.astype(int), 255 - mono2.astype(int))


def test_signed_ct_window_is_rescaled_to_0_255():
    path = bundled("693_J2KI.dcm")  # JPEG 2000 lossy, signed 16-bit, window 40/100, intercept -1024
    ds = pydicom.dcmread(path)
    assert int(ds.PixelRepresentation) == 1
    image = read_dicom(path.read_bytes())
    frame = image.frames[0][..., 0]
    assert frame.dtype == np.uint8 and frame.min() == 0 and frame.max() == 255
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    # Linear window 40/100: at or below -10.5 HU is black, above 88.5 HU is white.
    assert (frame[hu <= -11] == 0).all()
    assert (frame[hu > 89] == 255).all()
    mid = (hu > 0) & (hu < 80)
    assert mid.any() and ((frame[mid] > 0) & (frame[mid] < 255)).all()
    # The narrow window clips most of the head, so the full range is offered too.
    assert len(image.extra_views[0]) == 1
    full = image.extra_views[0][0][..., 0]
    assert full.min() == 0 and full.max() == 255
    assert np.corrcoef(full[::4, ::4].ravel(), hu[::4, ::4].ravel())[0, 1] > 0.99


def test_signed_image_without_window_uses_min_max():
    image = read_dicom(bundled("CT_small.dcm").read_bytes())  # signed 16-bit, no window
    frame = image.frames[0]
    assert frame.min() == 0 and frame.max() == 255
    assert image.extra_views == [[]]


def test_voi_lut_sequence_is_applied():
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    hu = ds.pixel_array.astype(int) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    lo, hi = int(hu.min()), int(hu.max())
    lut = Dataset()
    # An inverting LUT over the used range: bright tissue must come out dark.
    lut.add_new(0x00283002, "SS", [hi - lo + 1, lo, 16])
    lut.add_new(0x00283006, "US", [int(v) for v in np.linspace(65535, 0, hi - lo + 1)])
    ds.VOILUTSequence = Sequence([lut])
    frame = read_dicom(to_bytes(ds)).frames[0][..., 0].astype(int)
    assert frame[hu == hi].max() <= 1 and frame[hu == lo].min() >= 254


def test_palette_colour_goes_through_its_lut():
    path = bundled("examples_palette.dcm")
    image = read_dicom(path.read_bytes())
    ds = pydicom.dcmread(path)
    expected = pydicom.pixels.apply_color_lut(ds.pixel_array, ds)
    frame = image.frames[0]
    assert frame.shape == expected.shape and frame.dtype == np.uint8
    assert np.abs(frame.astype(int) - expected.astype(int) / 257).max() <= 1


# --------------------------------------------------------------------------
# Codecs and multi-frame


def test_multiframe_jpeg_ybr_every_frame():
    path = bundled("examples_ybr_color.dcm")  # 30 frames, JPEG baseline YBR_FULL_422
    image = read_dicom(path.read_bytes())
    expected = pydicom.dcmread(path).pixel_array
    assert image.n_frames == 30 and len(image.extra_views) == 30
    for i, frame in enumerate(image.frames):
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        assert np.array_equal(frame, expected[i])
    assert not np.array_equal(image.frames[0], image.frames[-1])


def test_multiframe_greyscale_every_frame():
    image = read_dicom(bundled("rtdose.dcm").read_bytes())  # 15 frames, 32-bit unsigned
    assert image.n_frames == 15
    assert all(f.shape == (10, 10, 3) and f.dtype == np.uint8 for f in image.frames)
    assert len({f.tobytes() for f in image.frames}) > 1


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"])
def test_lossless_encodings_decode_to_the_same_display(name):
    reference = read_dicom(bundled("MR_small.dcm").read_bytes())
    image = read_dicom(bundled(name).read_bytes())
    assert np.array_equal(image.frames[0], reference.frames[0])


def test_jpeg2000_colour_and_deflated_inputs():
    j2k = read_dicom(bundled("examples_jpeg2k.dcm").read_bytes())  # YBR_RCT lossless
    assert j2k.frames[0].shape == (480, 640, 3)
    assert np.ptp(j2k.frames[0].astype(int)[..., 0] - j2k.frames[0].astype(int)[..., 2]) > 0
    deflated = read_dicom(bundled("image_dfl.dcm").read_bytes())
    assert deflated.frames[0].shape == (512, 512, 3)


# --------------------------------------------------------------------------
# Bad inputs


def test_empty_input():
    with pytest.raises(ImageReadError, match="empty"):
        read_dicom(b"")


def test_random_bytes():
    with pytest.raises(ImageReadError, match="not a DICOM file"):
        read_dicom(np.random.default_rng(1).bytes(10_000))


def test_truncated_pixel_data():
    data = US_GREY.read_bytes()
    with pytest.raises(ImageReadError, match="truncated"):
        read_dicom(data[: len(data) // 2])


def test_truncated_header():
    data = US_GREY.read_bytes()
    with pytest.raises(ImageReadError, match="no pixel data.*truncated"):
        read_dicom(data[:1500])


def test_no_pixel_data():
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    del ds.PixelData
    with pytest.raises(ImageReadError, match="no pixel data"):
        read_dicom(to_bytes(ds))


def test_unsupported_transfer_syntax_without_decoder():
    with pytest.raises(ImageReadError, match=r"JPEG-LS Lossless.*not supported") as info:
        read_dicom(bundled("MR_small_jpeg_ls_lossless.dcm").read_bytes())
    assert "1.2.840.10008.1.2.4.80" in str(info.value)


def test_unknown_transfer_syntax_uid():
    ds = pydicom.dcmread(bundled("MR_small.dcm"))
    data = bytearray(to_bytes(ds))
    # Patch the UID in place so the dataset itself is still encoded as it says.
    old = str(ds.file_meta.TransferSyntaxUID).encode()
    new = b"1.2.3.4.5.6.7.8.9".ljust(len(old), b"\x00")[: len(old)]
    assert data.count(old) == 1
    data = data.replace(old, new)
    with pytest.raises(ImageReadError, match=r"1\.2\.3\.4\.5\.6\.7\.8\.9.*not supported"):
        read_dicom(bytes(data))


def test_corrupt_compressed_pixel_data():
    path = bundled("MR_small_RLE.dcm")
    ds = pydicom.dcmread(path)
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    data = bytearray(path.read_bytes())
    start = bytes(data).index(frame)
    data[start : start + 64] = b"\xff" * 64  # the RLE header: nonsense segment offsets
    with pytest.raises(ImageReadError, match="could not decode the pixel data"):
        read_dicom(bytes(data))


def test_error_messages_carry_no_header_values():
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    del ds.PixelData
    with pytest.raises(ImageReadError) as info:
        read_dicom(to_bytes(ds))
    message = str(info.value)
    for value in (str(ds.PatientName), str(ds.PatientID), str(ds.StudyDate)):
        assert value not in message


# --------------------------------------------------------------------------
# Writing


def check_deidentified_header(out: pydicom.Dataset, original: pydicom.Dataset) -> None:
    assert out.BurnedInAnnotation == "NO"
    assert out.PatientIdentityRemoved == "YES"
    codes = [(i.CodeValue, i.CodingSchemeDesignator) for i in out.DeidentificationMethodCodeSequence]
    assert ("113100", "DCM") in codes and ("113101", "DCM") in codes
    assert str(out.PatientName) != str(original.PatientName)
    assert out.PatientID != original.get("PatientID")
    assert not out.get("StudyDate")
    assert not out.get("InstitutionName")
    assert not any(e.tag.is_private for e in out.iterall())
    assert not any(0x6000 <= e.tag.group <= 0x60FF for e in out.iterall())
    assert "IconImageSequence" not in out
    assert out.SOPInstanceUID != original.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.SOPClassUID == original.SOPClassUID


def test_write_greyscale_ultrasound_round_trip(options):
    data = US_GREY.read_bytes()
    original = reread(data)
    image = read_dicom(data)
    boxes = [[(0, 0, 300, 22), (800, 0, 1024, 22)]]
    out_bytes = write_deidentified(image, boxes, color=(0, 0, 0), options=options)
    out = reread(out_bytes)
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    before, after = stored(original), stored(out)
    assert after.shape == before.shape and after.dtype == before.dtype
    mask = box_mask(before.shape, boxes)
    assert (after[mask] == before.min()).all()  # black: the darkest value in use
    assert np.array_equal(after[~mask], before[~mask])
    check_deidentified_header(out, original)
    # The header line really is gone from the pixels the OCR saw.
    assert (read_dicom(out_bytes).frames[0][:22, :300] == 0).all()
    # The caller's dataset is untouched.
    assert str(image.dataset.PatientName) == str(original.PatientName)
    assert image.dataset.PixelData == original.PixelData


def test_write_greyscale_white_fill_uses_brightest_value(options):
    data = US_GREY.read_bytes()
    image = read_dicom(data)
    out = reread(write_deidentified(image, [[(10, 10, 20, 20)]], color=(255, 255, 255), options=options))
    assert (out.pixel_array[10:20, 10:20] == reread(data).pixel_array.max()).all()


def test_write_monochrome1_fill_is_inverted(options):
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    image = read_dicom(to_bytes(ds))
    out = reread(write_deidentified(image, [[(0, 0, 16, 16)]], color=(0, 0, 0), options=options))
    # Black on MONOCHROME1 is the highest value in use.
    assert (out.pixel_array[:16, :16] == ds.pixel_array.max()).all()
    assert read_dicom(to_bytes(out)).frames[0][:16, :16].max() == 0


def test_write_rgb_fills_with_the_colour(options):
    data = US_RGB.read_bytes()
    original = reread(data)
    boxes = [[(0, 0, 400, 30)]]
    out = reread(write_deidentified(read_dicom(data), boxes, color=(255, 0, 0), options=options))
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert out.PhotometricInterpretation == "RGB"
    before, after = stored(original), stored(out)
    mask = box_mask(before.shape, boxes)
    assert (after[mask] == [255, 0, 0]).all()
    assert np.array_equal(after[~mask], before[~mask])
    check_deidentified_header(out, original)


def test_write_jpeg_baseline_ybr_is_written_decompressed_as_rgb(options):
    data = CT_BRAIN.read_bytes()
    original = reread(data)
    boxes = [[(0, 0, 100, 50)]]
    out = reread(write_deidentified(read_dicom(data), boxes, color=(0, 0, 0), options=options))
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert out.PhotometricInterpretation == "RGB"
    assert out.LossyImageCompression == "01"
    before, after = stored(original), stored(out)
    assert after.shape == before.shape and after.dtype == before.dtype
    mask = box_mask(before.shape, boxes)
    assert (after[mask] == 0).all()
    assert np.array_equal(after[~mask], before[~mask])
    check_deidentified_header(out, original)


@pytest.mark.parametrize(
    "name, syntax",
    [
        ("MR_small_RLE.dcm", pydicom.uid.RLELossless),
        ("MR_small_jp2klossless.dcm", pydicom.uid.JPEG2000Lossless),
        ("MR_small_implicit.dcm", pydicom.uid.ExplicitVRLittleEndian),
        ("MR_small_bigendian.dcm", pydicom.uid.ExplicitVRLittleEndian),
        ("image_dfl.dcm", pydicom.uid.ExplicitVRLittleEndian),
    ],
)
def test_write_lossless_inputs_stay_lossless(name, syntax, options):
    path = bundled(name)
    original = pydicom.dcmread(path)
    boxes = [[(2, 3, 20, 9)]]
    out = reread(write_deidentified(read_dicom(path.read_bytes()), boxes, color=(0, 0, 0), options=options))
    assert out.file_meta.TransferSyntaxUID == syntax
    before, after = stored(original), stored(out)
    assert after.shape == before.shape and after.dtype.kind == before.dtype.kind
    mask = box_mask(before.shape, boxes)
    assert (after[mask] == before.min()).all()
    assert np.array_equal(after[~mask], before[~mask])
    assert "LossyImageCompression" not in out or out.LossyImageCompression == original.get("LossyImageCompression")


def test_write_multiframe_redacts_only_the_given_frames(options):
    path = bundled("SC_rgb_rle_2frame.dcm")
    original = pydicom.dcmread(path)
    boxes = [[], [(10, 10, 40, 30)]]
    out = reread(write_deidentified(read_dicom(path.read_bytes()), boxes, color=(0, 255, 0), options=options))
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert int(out.NumberOfFrames) == 2
    before, after = stored(original), stored(out)
    assert np.array_equal(after[0], before[0])
    assert (after[1, 10:30, 10:40] == [0, 255, 0]).all()
    mask = box_mask(before.shape, boxes)
    assert np.array_equal(after[~mask], before[~mask])


def test_write_lossy_input_is_marked_lossy(options):
    ds = pydicom.dcmread(bundled("SC_rgb_jpeg_dcmtk.dcm"))  # JPEG baseline, YBR_FULL
    for keyword in ("LossyImageCompression", "LossyImageCompressionMethod"):
        if keyword in ds:
            delattr(ds, keyword)
    out = reread(write_deidentified(read_dicom(to_bytes(ds)), [[]], color=(0, 0, 0), options=options))
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert out.LossyImageCompression == "01"
    assert out.LossyImageCompressionMethod == "ISO_10918_1"
    assert out.PhotometricInterpretation == "RGB"


def test_write_multiframe_jpeg_every_frame(options):
    path = bundled("examples_ybr_color.dcm")
    image = read_dicom(path.read_bytes())
    boxes = [[(0, 0, 50, 20)] for _ in range(image.n_frames)]
    out = reread(write_deidentified(image, boxes, color=(0, 0, 0), options=options))
    after = stored(out)
    assert after.shape == (30, 240, 320, 3)
    assert (after[:, :20, :50] == 0).all()
    assert out.PhotometricInterpretation == "RGB" and out.LossyImageCompression == "01"


def test_write_32bit_rle_falls_back_to_uncompressed(options):
    path = bundled("rtdose_rle.dcm")  # pydicom's RLE encoder stops at 16 bits
    original = pydicom.dcmread(path)
    out = reread(write_deidentified(read_dicom(path.read_bytes()), [[(0, 0, 2, 2)]], color=(0, 0, 0), options=options))
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    before, after = stored(original), stored(out)
    assert after.dtype == before.dtype and after.shape == before.shape
    assert (after[0, :2, :2] == before.min()).all()
    assert np.array_equal(after[1:], before[1:])


def test_write_palette_fill_is_the_nearest_palette_colour(options):
    path = bundled("examples_palette.dcm")
    before = read_dicom(path.read_bytes()).frames[0].astype(int)
    out_bytes = write_deidentified(read_dicom(path.read_bytes()), [[(0, 0, 60, 40)]], color=(0, 0, 0), options=options)
    out = reread(out_bytes)
    assert out.PhotometricInterpretation == "PALETTE COLOR"
    shown = read_dicom(out_bytes).frames[0].astype(int)
    box = shown[:40, :60]
    assert (box == box[0, 0]).all()
    assert box[0, 0].sum() <= before.sum(axis=-1).min()  # as dark as the palette allows
    assert np.array_equal(shown[40:], before[40:])


def test_write_removes_overlays(options):
    path = bundled("examples_overlay.dcm")
    assert any(e.tag.group == 0x6000 for e in pydicom.dcmread(path))
    out = reread(write_deidentified(read_dicom(path.read_bytes()), [[]], color=(0, 0, 0), options=options))
    assert not any(0x6000 <= e.tag.group <= 0x60FF for e in out)
    assert np.array_equal(out.pixel_array, pydicom.dcmread(path).pixel_array)


def test_write_rejects_boxes_for_missing_frames(options):
    image = read_dicom(US_GREY.read_bytes())
    with pytest.raises(WriteError, match="frames"):
        write_deidentified(image, [[], [(0, 0, 1, 1)]], color=(0, 0, 0), options=options)


def test_written_file_holds_none_of_the_original_identifiers(options):
    data = US_GREY.read_bytes()
    original = reread(data)
    out_bytes = write_deidentified(read_dicom(data), [[]], color=(0, 0, 0), options=options)
    values = [
        str(original.PatientName),
        str(original.PatientID),
        str(original.PatientBirthDate),
        str(original.StudyDate),
        str(original.AccessionNumber),
        str(original.InstitutionName),
        str(original.StudyInstanceUID),
        str(original.SeriesInstanceUID),
        str(original.SOPInstanceUID),
    ]
    for value in values:
        assert value and value.encode() not in out_bytes, value


def test_write_is_deterministic_for_the_same_key(options):
    data = US_GREY.read_bytes()
    first = reread(write_deidentified(read_dicom(data), [[]], color=(0, 0, 0), options=options))
    second = reread(write_deidentified(read_dicom(data), [[]], color=(0, 0, 0), options=copy.copy(options)))
    assert first.SOPInstanceUID == second.SOPInstanceUID
    assert UID(first.SOPInstanceUID).is_valid
