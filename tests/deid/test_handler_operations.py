"""The deid handler's operations on a real model server: redact, detect-text (DetectText), detect-phi (DetectPHI)."""

from __future__ import annotations

import json

import pytest

from openmaker.awsapi.shapes import check_output
from tests.deid.conftest import PHI_LINES, US_GREY, encode, render
from tests.deid.test_handler import deid_server  # noqa: F401  (the module's own server with the sample model)

pytest.importorskip("rapidocr")

ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
NOTE = "Patient John Smith, MRN 12345678, seen 03/14/2024 at 555-123-4567"


def post(server, body: bytes, operation: str | None = None, model: str = "deid", **headers):
    if operation:
        headers[ATTRIBUTES] = f"operation={operation}"
    return server.inference.post(f"/predictions/{model}", content=body, headers=headers)


def words(answer: dict) -> dict[str, dict]:
    return {d["DetectedText"]: d for d in answer["TextDetections"] if d["Type"] == "WORD"}


def inside_unit_square(geometry: dict) -> bool:
    box = geometry["BoundingBox"]
    return (
        0 <= box["Left"] <= box["Left"] + box["Width"] <= 1
        and 0 <= box["Top"] <= box["Top"] + box["Height"] <= 1
        and box["Width"] > 0 < box["Height"]
        and len(geometry["Polygon"]) == 4
        and all(0 <= p["X"] <= 1 and 0 <= p["Y"] <= 1 for p in geometry["Polygon"])
    )


# -- detect-text ---------------------------------------------------------------


def test_detect_text_on_the_burned_in_ultrasound_is_rekognition_detecttext(deid_server):
    response = post(deid_server, US_GREY.read_bytes(), "detect-text")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert check_output("rekognition", "DetectText", answer) == []
    assert set(answer) == {"TextDetections", "TextModelVersion"} and answer["TextModelVersion"] == "3.0"
    detections = answer["TextDetections"]
    kinds = [d["Type"] for d in detections]
    assert kinds == sorted(kinds)  # every LINE before every WORD
    assert [d["Id"] for d in detections] == list(range(len(detections)))
    lines = {d["Id"]: d for d in detections if d["Type"] == "LINE"}
    probe = words(answer)["L12-5"]
    assert "L12-5" in lines[probe["ParentId"]]["DetectedText"].split()
    assert probe["Confidence"] > 90  # a percentage, like Rekognition's
    assert all(0 <= d["Confidence"] <= 100 and inside_unit_square(d["Geometry"]) for d in detections)
    assert all(("ParentId" in d) == (d["Type"] == "WORD") for d in detections)


def test_detect_text_reads_a_jpeg_and_keeps_every_word(deid_server):
    # Rekognition stops at 100 words; de-identification needs all of them.
    vocabulary = "alpha beta gamma delta omega sigma kappa theta".split()
    image = render([(" ".join(vocabulary), (20, 20 + 40 * i)) for i in range(16)], size=(900, 700), font_size=26)
    response = post(deid_server, encode(image, "JPEG", quality=95), "detect-text")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert check_output("rekognition", "DetectText", answer) == []
    found = [d["DetectedText"] for d in answer["TextDetections"] if d["Type"] == "WORD"]
    assert sum(word in vocabulary for word in found) > 100  # of the 128 drawn


def test_detect_text_only_reads(deid_server):
    # OCR alone: the PHI in the image is reported as text, nothing is redacted or classified.
    answer = post(deid_server, encode(render(PHI_LINES)), "detect-text", Accept="application/json").json()
    assert {"48213377", "03/14/1962"} <= set(words(answer))
    assert "Entities" not in answer and "Redactions" not in answer


# -- detect-phi ----------------------------------------------------------------


def test_detect_phi_on_plain_text_is_comprehend_medical_detectphi(deid_server):
    response = post(deid_server, NOTE.encode(), "detect-phi", **{"Content-Type": "text/plain; charset=utf-8"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert check_output("comprehendmedical", "DetectPHI", answer) == []
    entities = answer["Entities"]
    by_text = {e["Text"]: e["Type"] for e in entities}
    assert by_text == {"John": "NAME", "Smith": "NAME", "12345678": "ID", "03/14/2024": "DATE", "555-123-4567": "PHONE_OR_FAX"}
    assert all(NOTE[e["BeginOffset"] : e["EndOffset"]] == e["Text"] for e in entities)
    assert all(e["Category"] == "PROTECTED_HEALTH_INFORMATION" and 0 < e["Score"] <= 1 for e in entities)
    assert len({e["Id"] for e in entities}) == len(entities)


def test_detect_phi_reads_comprehend_medicals_request_json(deid_server):
    plain = post(deid_server, NOTE.encode(), "detect-phi").json()
    as_json = post(deid_server, json.dumps({"Text": NOTE}).encode(), "detect-phi", **{"Content-Type": "application/json"})
    assert as_json.status_code == 200, as_json.text
    assert as_json.json() == plain


def test_detect_phi_honours_threshold_and_strict_mode(deid_server):
    everything = post(deid_server, NOTE.encode(), "detect-phi").json()["Entities"]
    headers = {ATTRIBUTES: "operation=detect-phi,threshold=0.9"}
    sure = deid_server.inference.post("/predictions/deid", content=NOTE.encode(), headers=headers).json()["Entities"]
    assert sure == [e for e in everything if e["Score"] >= 0.9]
    assert 0 < len(sure) < len(everything)
    headers = {ATTRIBUTES: "operation=detect-phi;mode=strict"}
    strict = deid_server.inference.post("/predictions/deid", content=b"Patient seen in clinic", headers=headers).json()
    default = post(deid_server, b"Patient seen in clinic", "detect-phi").json()
    assert check_output("comprehendmedical", "DetectPHI", strict) == []
    assert len(strict["Entities"]) > len(default["Entities"])


def test_detect_phi_in_text_applies_the_options():
    from openmaker.deid.process import DeidOptions, detect_phi_in_text

    everything = detect_phi_in_text(NOTE)["Entities"]
    allowed = detect_phi_in_text(NOTE, DeidOptions(allow_list=("Smith",), threshold=0.85))
    assert check_output("comprehendmedical", "DetectPHI", allowed) == []
    spans = lambda entities: [(e["BeginOffset"], e["EndOffset"], e["Type"], e["Score"]) for e in entities]  # noqa: E731
    assert spans(allowed["Entities"]) == spans(e for e in everything if e["Score"] >= 0.85 and e["Text"] != "Smith")
    assert [e["Text"] for e in allowed["Entities"]] == ["12345678", "03/14/2024", "555-123-4567"]


def test_detect_phi_takes_twenty_thousand_characters(deid_server):
    text = ((NOTE + ". ") * 300)[:20_000]
    response = post(deid_server, text.encode(), "detect-phi")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert check_output("comprehendmedical", "DetectPHI", answer) == []
    assert answer["Entities"][-1]["EndOffset"] > 19_000
    assert all(text[e["BeginOffset"] : e["EndOffset"]] == e["Text"] for e in answer["Entities"])


# -- redact stays as it was, and agrees with detect-text -----------------------


def test_redact_is_the_default_and_named_explicitly(deid_server):
    body = encode(render(PHI_LINES))
    named = post(deid_server, body, "redact")
    assert named.status_code == 200 and named.headers["content-type"] == "image/png"
    assert named.content == post(deid_server, body).content
    answer = post(deid_server, body, "redact", Accept="application/json").json()
    # The redact answer's DetectText part is the same reading, on the same scale, as detect-text's.
    text_part = {k: answer[k] for k in ("TextDetections", "TextModelVersion")}
    assert text_part == post(deid_server, body, "detect-text").json()
    assert check_output("rekognition", "DetectText", text_part) == []


# -- the operation from the archive manifest -----------------------------------


@pytest.fixture(scope="module")
def manifest_models(deid_server):
    """Two more archives of the handler: ``model.operation`` detect-phi, and an unknown operation."""
    import tempfile
    from pathlib import Path

    from openmaker.serving.archive import build_archive

    store = deid_server.server.settings.resolved_model_store
    with tempfile.TemporaryDirectory() as staging:
        for name, operation in (("deid-phi", "detect-phi"), ("deid-bad", "transcribe")):
            source = Path(staging) / name
            source.mkdir()
            (source / "README.txt").write_text("a deid archive for the tests\n")
            build_archive(source, name, store / name, handler="deid", extra={"operation": operation})
    return deid_server


def test_manifest_operation_is_the_models_default(manifest_models):
    response = manifest_models.register("deid-phi")
    assert response.status_code == 200, response.text
    answer = post(manifest_models, NOTE.encode(), model="deid-phi").json()
    assert check_output("comprehendmedical", "DetectPHI", answer) == []
    assert {"NAME", "ID", "DATE"} <= {e["Type"] for e in answer["Entities"]}
    # The header still chooses per request.
    read = post(manifest_models, encode(render(PHI_LINES)), "detect-text", model="deid-phi").json()
    assert "48213377" in words(read)


def test_manifest_with_an_unknown_operation_fails_to_load(manifest_models):
    response = manifest_models.register("deid-bad")
    assert response.status_code == 500
    assert "'transcribe' is not one of redact, detect-text, detect-phi" in response.json()["message"]


# -- bad requests --------------------------------------------------------------


@pytest.mark.parametrize(
    "body, operation, headers, status, message",
    [
        (b"x", "transcribe", {}, 400, "operation 'transcribe' is not one of redact, detect-text, detect-phi"),
        (NOTE.encode(), "detect-text", {}, 400, "operation detect-text takes an image: not a supported image"),
        (b"", "detect-text", {}, 400, "the body is empty: POST an image"),
        (encode(render(PHI_LINES)), "detect-phi", {}, 400, "operation detect-phi takes text"),
        (US_GREY.read_bytes(), "detect-phi", {}, 400, "the body is a DICOM image"),
        (b"", "detect-phi", {}, 400, "the body is empty"),
        (b'{"Text": ""}', "detect-phi", {"Content-Type": "application/json"}, 400, "the text is empty"),
        (b'{"text": "John"}', "detect-phi", {"Content-Type": "application/json"}, 400, 'no "Text" string'),
        (b'{"Text": "John"', "detect-phi", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (b"MRN \xff\xfe 123", "detect-phi", {}, 400, "not valid UTF-8 (byte 4)"),
        (b"John", "detect-phi", {"Accept": "image/png"}, 406, "supported: application/json"),
        (b"x", "detect-text", {"Accept": "application/dicom"}, 406, "supported: application/json"),
    ],
    ids=[
        "unknown-operation", "text-to-detect-text", "empty-image", "png-to-detect-phi", "dicom-to-detect-phi",
        "empty-text", "empty-json-text", "json-without-text", "broken-json", "not-utf8", "phi-accept", "text-accept",
    ],
)  # fmt: skip
def test_bad_requests_name_the_problem(deid_server, body, operation, headers, status, message):
    response = post(deid_server, body, operation, **headers)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_text_over_the_handlers_limit_is_refused(deid_server):
    from openmaker.deid.handler import MAX_TEXT

    response = post(deid_server, b"a" * (MAX_TEXT + 1), "detect-phi")
    assert response.status_code == 400
    assert f"at most {MAX_TEXT}" in response.json()["message"]
