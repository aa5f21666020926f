"""Entities as Comprehend Medical's JSON: ``DetectEntitiesV2``, the older ``DetectEntities``, ``InferSNOMEDCT``.

The shapes follow botocore's service model for ``comprehendmedical``
(2018-10-30); ``EndOffset`` is exclusive. ``InferSNOMEDCT`` concepts carry the
SNOMED code and description from the loaded vocabulary plus the OMOP
``concept_id`` (``OMOPConceptId``) -- an extra member a boto3 client ignores.
"""

from __future__ import annotations

from openmaker.clinical.detect import Entity

MODEL_VERSION = "openmaker-clinical-0.1.0"
#: Attribute types that DetectEntitiesV2 files under a category of their own.
_ATTR_CATEGORY = {"DIRECTION": "ANATOMY", "SYSTEM_ORGAN_SITE": "ANATOMY"}


def _traits(traits: dict[str, float]) -> list[dict]:
    return [{"Name": name, "Score": round(score, 4)} for name, score in traits.items()]


def _attribute(entity: Entity, attr, attr_id: int) -> dict:
    return {
        "Type": attr.type,
        "Score": round(attr.score, 4),
        "RelationshipScore": round(min(attr.score, entity.score), 4),
        "RelationshipType": attr.type,
        "Id": attr_id,
        "BeginOffset": attr.begin,
        "EndOffset": attr.end,
        "Text": attr.text,
        "Category": _ATTR_CATEGORY.get(attr.type, entity.category),
        "Traits": [],
    }


def _entity(entity: Entity, next_id) -> dict:
    out = {
        "Id": entity.id,
        "BeginOffset": entity.begin,
        "EndOffset": entity.end,
        "Score": round(entity.score, 4),
        "Text": entity.text,
        "Category": entity.category,
        "Type": entity.type,
        "Traits": _traits(entity.traits),
    }
    if entity.attributes:
        out["Attributes"] = [_attribute(entity, a, next_id()) for a in entity.attributes]
    return out


def _counter(entities: list[Entity]):
    state = {"next": max((e.id for e in entities), default=-1) + 1}

    def next_id() -> int:
        state["next"] += 1
        return state["next"] - 1

    return next_id


def detect_entities_v2(entities: list[Entity]) -> dict:
    """``DetectEntitiesV2Response``: directions and sites are entities of their own and attributes of their condition."""
    next_id = _counter(entities)
    return {"Entities": [_entity(e, next_id) for e in entities], "UnmappedAttributes": [], "ModelVersion": MODEL_VERSION}


def detect_entities_v1(entities: list[Entity]) -> dict:
    """``DetectEntitiesResponse`` (the deprecated V1 the published workflow called): DIRECTION/ACUITY as entity types."""
    next_id = _counter(entities)
    out = []
    for e in entities:
        item = _entity(e, next_id)
        if "Attributes" in item:
            item["Attributes"] = [a for a in item["Attributes"] if a["Type"] not in _ATTR_CATEGORY]
            if not item["Attributes"]:
                del item["Attributes"]
        out.append(item)
    return {"Entities": out, "UnmappedAttributes": [], "ModelVersion": MODEL_VERSION}


SNOMED_CATEGORIES = {"MEDICAL_CONDITION", "ANATOMY", "TEST_TREATMENT_PROCEDURE"}
SNOMED_TYPES = {"DX_NAME", "TEST_NAME", "PROCEDURE_NAME", "TREATMENT_NAME"}


def _concepts(e: Entity) -> list[dict]:
    if not e.concept_id:
        return []
    return [
        {
            "Description": e.concept_name or "",
            "Code": e.concept_code or "",
            "Score": round(e.score, 4),
            "OMOPConceptId": e.concept_id,
        }
    ]


def infer_snomedct(entities: list[Entity], text: str, vocabulary_version: str | None = None) -> dict:
    """``InferSNOMEDCTResponse``: conditions, tests, procedures and anatomy linked to the loaded vocabulary."""
    next_id = _counter(entities)
    out = []
    for e in entities:
        if e.category not in SNOMED_CATEGORIES or e.type not in SNOMED_TYPES:
            continue
        item = {
            "Id": e.id, "Text": e.text, "Category": e.category, "Type": e.type, "Score": round(e.score, 4),
            "BeginOffset": e.begin, "EndOffset": e.end, "Traits": _traits(e.traits),
            "SNOMEDCTConcepts": _concepts(e),
        }  # fmt: skip
        attrs = [a for a in e.attributes if a.type in ("DIRECTION", "SYSTEM_ORGAN_SITE", "TEST_VALUE", "TEST_UNIT")]
        if attrs:
            item["Attributes"] = [
                {
                    "Category": _ATTR_CATEGORY.get(a.type, e.category), "Type": a.type, "Score": round(a.score, 4),
                    "RelationshipScore": round(min(a.score, e.score), 4), "RelationshipType": a.type,
                    "Id": next_id(), "BeginOffset": a.begin, "EndOffset": a.end, "Text": a.text,
                    "Traits": [], "SNOMEDCTConcepts": [],
                }  # fmt: skip
                for a in attrs
            ]
        out.append(item)
    return {
        "Entities": out,
        "ModelVersion": MODEL_VERSION,
        "SNOMEDCTDetails": {"Edition": "OMOP vocabulary", "Language": "en", "VersionDate": vocabulary_version or ""},
        "Characters": {"OriginalTextCharacters": len(text)},
    }
