"""The deid handler on a real model server: PNG, JSON and DICOM answers, options, bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.deid.conftest import PHI_LINES, US_GREY, encode, render
from tests.serving.conftest import RunningServer, home_for_module, server_settings

pytest.importorskip("rapidocr")


@pytest.fixture(scope="module")
def deid_server(tmp_path_factory):
    from openmaker.deid.room import build_archive_dir

    with home_for_module(tmp_path_factory.mktemp("deid-home")):
        settings = server_settings()
        build_archive_dir(settings.resolved_model_store / "deid")
        server = RunningServer(settings)
        try:
            response = server.register("deid")
            assert response.status_code == 200, response.text
            yield server
        finally:
            server.stop()


def test_post_image_get_redacted_png(deid_server, detector):
    from PIL import Image

    body = encode(render(PHI_LINES))
    response = deid_server.inference.post("/predictions/deid", content=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    words = [w.text for line in detector.detect(pixels) for w in line.words]
    assert "48213377" not in words and "JOHN" not in words
    assert (pixels == (255, 0, 0)).all(axis=-1).any()  # the manifest's red


def test_json_answer_has_detecttext_and_detectphi(deid_server):
    body = encode(render(PHI_LINES))
    response = deid_server.inference.post("/predictions/deid", content=body, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert {"TextDetections", "Entities", "Redactions"} <= set(answer)
    assert any(d["Type"] == "WORD" and d["DetectedText"] == "48213377" for d in answer["TextDetections"])
    assert {"NAME", "ID", "DATE"} <= {e["Type"] for e in answer["Entities"]}
    assert all(set(r["box"]) == {"left", "top", "width", "height"} for r in answer["Redactions"])


def test_dicom_in_dicom_out_through_invocations(deid_server):
    import pydicom

    response = deid_server.inference.post(
        "/invocations",
        content=US_GREY.read_bytes(),
        headers={"Accept": "application/dicom", "X-Amzn-SageMaker-Target-Model": "deid", "Content-Type": "application/dicom"},
    )
    if response.status_code == 404:  # single-model /invocations: the only model answers
        response = deid_server.inference.post("/predictions/deid", content=US_GREY.read_bytes(), headers={"Accept": "application/dicom"})
    assert response.status_code == 200, response.text
    ds = pydicom.dcmread(io.BytesIO(response.content))
    assert ds.BurnedInAnnotation == "NO" and ds.PatientIdentityRemoved == "YES"
    assert "ZZZ" not in str(ds.get("PatientName", ""))


def test_custom_attributes_choose_options(deid_server):
    # Words that are neither PHI nor technical: strict mode covers them, the default keeps them.
    body = encode(render(PHI_LINES + [("Report pending review", (10, 300))]))
    headers = {"Accept": "application/json", "X-Amzn-SageMaker-Custom-Attributes": "mode=strict,color=black"}
    strict = deid_server.inference.post("/predictions/deid", content=body, headers=headers).json()
    default = deid_server.inference.post("/predictions/deid", content=body, headers={"Accept": "application/json"}).json()
    area = lambda answer: sum(r["box"]["width"] * r["box"]["height"] for r in answer["Redactions"])  # noqa: E731
    assert area(strict) > area(default)  # strict also covers the labels and the technical line's non-terms


@pytest.mark.parametrize(
    "body, headers, status, message",
    [
        (b"", {}, 400, "empty"),
        (b"just some text", {}, 400, "not a supported image"),
        (b"x", {"Accept": "text/csv"}, 406, "cannot produce"),
        (b"x", {"X-Amzn-SageMaker-Custom-Attributes": "mood=happy"}, 400, "mood=happy"),
        (b"x", {"X-Amzn-SageMaker-Custom-Attributes": "mode=lenient"}, 400, "unknown mode"),
    ],
    ids=["empty", "not-image", "accept", "attribute", "mode"],
)
def test_bad_requests(deid_server, body, headers, status, message):
    response = deid_server.inference.post("/predictions/deid", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_png_input_cannot_answer_dicom(deid_server):
    body = encode(render(PHI_LINES))
    response = deid_server.inference.post("/predictions/deid", content=body, headers={"Accept": "application/dicom"})
    assert response.status_code == 406
    assert "only produced for DICOM input" in json.loads(response.content)["message"]
