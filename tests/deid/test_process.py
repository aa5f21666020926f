"""One image end to end: multi-frame and MONOCHROME1 DICOM with burned-in text, the ultrasounds, verify."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

from openmaker.deid.process import DeidOptions, FrameResult, VerifyError, _verify, deidentify_image
from tests.deid.conftest import US_GREY, US_RGB, render

pytest.importorskip("rapidocr")

OPTIONS = DeidOptions(key=b"k" * 32)


def _words(detector, frame) -> list[str]:
    return [w.text for line in detector.detect(frame) for w in line.words]


def _dicom(frames: np.ndarray, photometric: str = "MONOCHROME2", syntax=ExplicitVRLittleEndian) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "ROE^JANE", "55512345", "19700102"
    ds.Modality = "OT"
    ds.set_pixel_data(frames, photometric, 8, generate_instance_uid=False)
    if syntax != ExplicitVRLittleEndian:
        ds.compress(syntax, generate_instance_uid=False)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_every_frame_of_a_multiframe_rle_dicom_is_redacted(detector):
    first = render([("ROE, JANE", (20, 20)), ("kVp 120", (20, 400))])[..., 0]
    second = render([("DOB: 01/02/1970", (20, 60)), ("kVp 120", (20, 400))])[..., 0]
    data = _dicom(np.stack([first, second]), syntax=RLELossless)
    result = deidentify_image(data, "cine.dcm", OPTIONS, detector)
    assert result.kind == "dicom" and len(result.frames) == 2 and len(result.pngs) == 2
    assert {r.type for r in result.frames[0].redactions} >= {"NAME"}
    assert {r.type for r in result.frames[1].redactions} >= {"DATE"}
    out = pydicom.dcmread(io.BytesIO(result.dicom))
    assert out.file_meta.TransferSyntaxUID == RLELossless  # lossless stays lossless
    pixels = out.pixel_array
    assert pixels.shape == (2, 480, 640)
    for i, frame in enumerate(result.frames):
        words = _words(detector, np.stack([pixels[i]] * 3, axis=-1))
        assert "JANE" not in words and "01/02/1970" not in words, words
        assert "kVp" in words
        x0, y0, x1, y1 = frame.redactions[0].box
        assert (pixels[i, y0:y1, x0:x1] == pixels[i, y0, x0]).all()  # filled with one value
    assert "ROE" not in str(out.get("PatientName", "")) and out.PatientID != "55512345"


def test_monochrome1_text_is_read_and_redacted(detector):
    display = render([("MRN: 48213377", (30, 30))])[..., 0]
    data = _dicom(255 - display, photometric="MONOCHROME1")  # stored inverted
    result = deidentify_image(data, "cr.dcm", OPTIONS, detector)
    assert "ID" in {r.type for r in result.frames[0].redactions}
    out = pydicom.dcmread(io.BytesIO(result.dicom))
    assert out.PhotometricInterpretation == "MONOCHROME1"
    shown = 255 - out.pixel_array.astype(np.uint8)
    assert "48213377" not in _words(detector, np.stack([shown] * 3, axis=-1))


@pytest.mark.parametrize(
    "path, phi, technical",
    [
        (US_GREY, ["ZZZ", "00079241539", "08/29/1951", "03/02/2017", "05:24:57PM", "CCHS"], ["Adv", "Breast", "L12-5", "36Hz", "TIS0.0"]),
        (US_RGB, ["00047431395", "120907058", "4/14/2020", "CLEVELAND", "CLINIC"], ["SIEMENS", "6C1", "19fps", "Liver", "16cm"]),
    ],
    ids=["greyscale", "rgb"],
)
def test_real_ultrasounds_lose_their_phi_and_keep_technical_text(detector, path, phi, technical):
    original = [w for line in detector.detect(deidentify_image.__globals__["load_image"](path.read_bytes()).frames[0]) for w in line.words]
    boxes = {w.text: w.box for w in original}
    assert set(phi) <= set(boxes) and set(technical) <= set(boxes)  # OCR reads them all on the original
    result = deidentify_image(path.read_bytes(), path.name, OPTIONS, detector)
    rectangles = [r.box for r in result.frames[0].redactions]
    for word in phi:
        assert _covered(boxes[word], rectangles) >= 0.95, word
    for word in technical:
        assert _covered(boxes[word], rectangles) < 0.5, word
    after = _words(detector, result.frames[0].redacted)
    assert not [w for w in phi if w in after], after
    out = pydicom.dcmread(io.BytesIO(result.dicom))
    assert out.BurnedInAnnotation == "NO" and out.PatientIdentityRemoved == "YES"
    assert "ZZZ" not in str(out.get("PatientName", ""))


def _covered(box, rectangles) -> float:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    mask = np.zeros((y1, x1), dtype=bool)
    for a, b, c, d in rectangles:
        mask[b:d, a:c] = True
    return float(mask[y0:y1, x0:x1].mean())


def test_verify_redacts_what_a_first_pass_left_or_fails_closed(detector):
    frame = render([("DOE, JOHN  MRN: 48213377", (10, 10))])
    # A first pass that found nothing: verification must catch the PHI.
    missed = FrameResult(640, 480, [], {"Entities": []}, [], frame.copy())
    timings: dict = {}
    _verify(missed, frame, [], DeidOptions(verify=True, verify_passes=1), detector, None, timings)
    assert missed.verify_added > 0 and missed.verify_passes == 2
    assert "48213377" not in _words(detector, missed.redacted)
    # With no extra pass allowed, the same image fails instead of leaking.
    again = FrameResult(640, 480, [], {"Entities": []}, [], frame.copy())
    with pytest.raises(VerifyError, match="still readable"):
        _verify(again, frame, [], DeidOptions(verify=True, verify_passes=0), detector, None, timings)


def test_verify_option_reports_its_passes(detector):
    data = io.BytesIO()
    from PIL import Image

    Image.fromarray(render([("DOE, JOHN  MRN: 48213377", (10, 10))])).save(data, format="PNG")
    result = deidentify_image(data.getvalue(), "a.png", DeidOptions(verify=True), detector)
    report = result.report()
    assert report["frames"][0]["verify"]["passes"] >= 1
