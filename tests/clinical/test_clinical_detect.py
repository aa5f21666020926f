"""The detector: shorthand, brands, lay terms, misspellings, context, attributes, anatomy, PHI, bad notes, shapes."""

from __future__ import annotations

import pytest

from openmaker.clinical.detect import MAX_CHARS, chunks
from openmaker.clinical.errors import NoteError



def _find(entities, text):
    hits = [e for e in entities if e.text == text]
    assert hits, f"{text!r} not found in {[e.text for e in entities]}"
    return hits[0]


@pytest.mark.parametrize(
    "note, surface, concept",
    [
        ("Pt w/ hx of afib.", "afib", 313217),  # abbreviation (the room's list)
        ("a-fib, rate controlled", "a-fib", 313217),  # hyphenated abbreviation
        ("CAD s/p CABG", "CAD", 317576),  # SNOMED's own "CAD - Coronary artery disease"
        ("CAD s/p CABG", "CABG", 4336464),
        ("on Coumadin", "Coumadin", 1310149),  # brand -> ingredient
        ("Lipitor 40 mg", "Lipitor", 1545958),
        ("Heart attack in 2015", "Heart attack", 4329847),  # lay term
        ("seasonal hay fever", "hay fever", 4280726),
        ("Gallstones on US", "Gallstones", 196456),  # plural
        ("rib fracture", "rib fracture", 4142905),  # word order
        ("fracture of the left rib", "fracture of the left rib", 4142905),
        ("c/w pnuemonia", "pnuemonia", 255848),  # misspelling, one transposition
        ("atrial fibrilation", "atrial fibrilation", 313217),  # misspelling, one deletion
        ("L ankle fx", "ankle fx", 4059173),  # word-level abbreviation
        ("Hgb 9.8", "Hgb", 3000963),  # lab abbreviation
        ("Alzheimer's disease", "Alzheimer's disease", 378419),
        ("2nd degree burn", "2nd degree burn", 4296205),  # ordinal
    ],
)
def test_shorthand_maps_to_the_eunomia_concept(eunomia_detector, note, surface, concept):
    entity = _find(eunomia_detector.detect(note), surface)
    assert entity.concept_id == concept
    assert note[entity.begin : entity.end] == surface
    assert entity.score >= 0.8


@pytest.mark.parametrize(
    "note, surface, trait",
    [
        ("Denies pneumonia.", "pneumonia", "NEGATION"),
        ("neg for PNA", "PNA", "NEGATION"),
        ("no e/o GIB", "GIB", "NEGATION"),
        ("CXR negative; no hx of seizure disorder", "seizure disorder", "NEGATION"),
        ("r/o MI", "MI", "HYPOTHETICAL"),
        ("? PNA", "PNA", "HYPOTHETICAL"),
        ("Return if asthma flares", "asthma", "HYPOTHETICAL"),
        ("h/o CVA", "CVA", "PAST_HISTORY"),
        ("s/p appendectomy", "appendectomy", "PAST_HISTORY"),
        ("Mother with Alzheimer's disease", "Alzheimer's disease", "PERTAINS_TO_FAMILY"),
        ("FHx: osteoporosis", "osteoporosis", "PERTAINS_TO_FAMILY"),
        # cues from the room's shorthand list (data/shorthand.tsv)
        ("mom w/ osteoporosis", "osteoporosis", "PERTAINS_TO_FAMILY"),
        ("susp PNA", "PNA", "HYPOTHETICAL"),
        ("PHx asthma", "asthma", "PAST_HISTORY"),
        ("CXR: pneumonia (-)", "pneumonia", "NEGATION"),
    ],
)
def test_context_in_shorthand(eunomia_detector, note, surface, trait):
    assert trait in _find(eunomia_detector.detect(note), surface).traits


def test_shorthand_section_headers(eunomia_detector):
    assert _find(eunomia_detector.detect("Imp: pneumonia"), "pneumonia").section == "observation_and_plan"
    assert _find(eunomia_detector.detect("PEx: asthma"), "asthma").section == "physical_exam"


def test_context_stays_in_its_sentence_and_line(eunomia_detector):
    note = "Denies fever.\nPneumonia on CXR. PMH: asthma, afib. Now with gallstones.\nNo-scalpel vasectomy planned."
    found = eunomia_detector.detect(note)
    assert "NEGATION" not in _find(found, "Pneumonia").traits
    assert "PAST_HISTORY" in _find(found, "asthma").traits
    assert "PAST_HISTORY" not in _find(found, "gallstones").traits
    assert "NEGATION" not in _find(found, "vasectomy").traits
    cxr = _find(eunomia_detector.detect("CXR: no infiltrate."), "CXR")  # a test done, its finding negative
    assert "NEGATION" not in cxr.traits


def test_medication_attributes_and_test_values(eunomia_detector):
    note = "warfarin 5 mg PO daily x 30 days\nHgb 9.8 g/dL, Cr 1.4"
    found = eunomia_detector.detect(note)
    attrs = {a.type: a.text for a in _find(found, "warfarin").attributes}
    assert attrs == {"STRENGTH": "5 mg", "ROUTE_OR_MODE": "PO", "FREQUENCY": "daily", "DURATION": "x 30 days"}
    hgb = {a.type: a.text for a in _find(found, "Hgb").attributes}
    assert hgb == {"TEST_VALUE": "9.8", "TEST_UNIT": "g/dL"}
    for e in found:
        for a in e.attributes:
            assert note[a.begin : a.end] == a.text


def test_directions_and_sites_get_entities_of_their_own(fixture_detector):
    note = "Left breast cancer."
    found = fixture_detector.detect(note)
    cancer = _find(found, "breast cancer")
    assert cancer.concept_id == 4112853
    left, breast = _find(found, "Left"), _find(found, "breast")
    assert (left.category, left.type, left.concept_id) == ("ANATOMY", "DIRECTION", 90000010)
    assert (breast.category, breast.type, breast.concept_id) == ("ANATOMY", "SYSTEM_ORGAN_SITE", 90000009)
    assert {(a.type, a.text) for a in cancer.attributes} == {("DIRECTION", "Left"), ("SYSTEM_ORGAN_SITE", "breast")}


def test_false_friends_of_short_abbreviations_are_left_alone(eunomia_detector):
    note = "SpO2 96% RA. R CVA tenderness. ASA class II. FEV1 68% pred. Bicillin IM x1. calcium carbonate 600 mg."
    texts = {e.text for e in eunomia_detector.detect(note) if e.category != "PROTECTED_HEALTH_INFORMATION"}
    assert not texts & {"RA", "CVA", "ASA", "pred", "IM", "calcium"}


def test_phi_is_its_own_category(eunomia_detector):
    note = "Seen by Dr. Smith on 03/04/2024, MRN: 4471123, 67 yo M, call (555) 123-4567."
    phi = {e.type: e.text for e in eunomia_detector.detect(note) if e.category == "PROTECTED_HEALTH_INFORMATION"}
    assert phi == {"NAME": "Smith", "DATE": "03/04/2024", "ID": "4471123", "AGE": "67", "PHONE_OR_FAX": "(555) 123-4567"}


def test_non_standard_names_follow_maps_to(fixture_detector):
    entity = _find(fixture_detector.detect("Unspecified atrial fibrillation"), "Unspecified atrial fibrillation")
    assert (entity.concept_id, entity.source_concept_id) == (313217, 90000006)
    retired = fixture_detector.detect("Retired pneumonia concept")  # invalid_reason D: never matched
    assert [e.text for e in retired if e.category != "ANATOMY"] == ["pneumonia"]
    assert all(e.source_concept_id != 90000012 for e in retired)


def test_long_notes_are_chunked_and_offsets_stay_right(eunomia_detector):
    line = "Pt with afib on warfarin 5 mg daily. Denies pneumonia.\n"
    note = line * (MAX_CHARS // len(line) * 3 + 7)
    assert len(chunks(note)) >= 3
    found = eunomia_detector.detect(note)
    afib = [e for e in found if e.text == "afib"]
    assert len(afib) == note.count("afib")
    for e in found:
        assert note[e.begin : e.end] == e.text
    assert all("NEGATION" in e.traits for e in found if e.text == "pneumonia")
    assert [e.id for e in found] == list(range(len(found)))


@pytest.mark.parametrize(
    "note, message",
    [
        (b"bad \xff byte", "not valid UTF-8 (byte 4)"),
        ("", "empty note"),
        (" \n\t ", "empty note"),
        ("ok\x00then", "control character U+0000 at offset 2 (line 1)"),
        ("line\nbell\x07", "control character U+0007 at offset 9 (line 2)"),
    ],
)
def test_bad_notes_raise_a_note_error_naming_the_note(eunomia_detector, note, message):
    with pytest.raises(NoteError) as info:
        eunomia_detector.detect(note, note_id=42)
    assert str(info.value) == f"note 42: {message}"


def test_bytes_in_utf8_are_accepted_and_offsets_count_characters(eunomia_detector):
    note = "Café patient — afib"
    found = eunomia_detector.detect(note.encode("utf-8"))
    afib = _find(found, "afib")
    assert note[afib.begin : afib.end] == "afib"


def test_scores_mean_something(eunomia_detector):
    note = "Atrial fibrillation. afib. atrial fibrilation. AF."
    scores = {e.text: e.score for e in eunomia_detector.detect(note)}
    assert scores["Atrial fibrillation"] > scores["atrial fibrilation"]  # the exact name beats a misspelling
    assert scores["Atrial fibrillation"] > scores["afib"] > scores["AF"]  # and an abbreviation, and a 2-letter one


def test_shapes_match_botocore(eunomia_detector):
    from openmaker.clinical.shapes import detect_entities_v1, detect_entities_v2, infer_snomedct
    from tests.clinical.test_clinical_handler import _validate

    note = "Pt w/ L ankle fx, afib on Coumadin 5 mg PO daily. Hgb 9.8 g/dL. Denies pneumonia. Dr. Lee 03/04/2024."
    found = eunomia_detector.detect(note)
    v2 = detect_entities_v2(found)
    _validate("DetectEntitiesV2", v2)
    _validate("DetectEntities", detect_entities_v1(found))
    snomed = infer_snomedct(found, note)
    _validate("InferSNOMEDCT", snomed)
    ids = [e["Id"] for e in v2["Entities"]] + [a["Id"] for e in v2["Entities"] for a in e.get("Attributes", [])]
    assert len(ids) == len(set(ids))
    for e in v2["Entities"]:
        assert note[e["BeginOffset"] : e["EndOffset"]] == e["Text"]
    assert all(e["Category"] != "MEDICATION" for e in snomed["Entities"])
