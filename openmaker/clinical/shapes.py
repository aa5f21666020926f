"""Entities as Comprehend Medical's JSON: ``DetectEntitiesV2``, ``DetectEntities``, ``InferSNOMEDCT``,
``InferICD10CM`` and ``InferRxNorm``.

The shapes follow botocore's service model for ``comprehendmedical``
(2018-10-30): only its members, only its enum values (a trait or attribute an
operation's model does not know is left out of that answer); ``EndOffset`` is
exclusive. Every code comes from the loaded OMOP vocabulary, never from
elsewhere, so a vocabulary without ICD10CM or RxNorm concepts gives empty
concept lists:

- ``SNOMEDCTConcepts``: the entity's standard concept when it is a SNOMED one.
- ``ICD10CMConcepts``: the ICD10CM concept the mention itself names, then the
  ICD10CM concepts that ``Maps to`` the entity's standard concept (the OMOP
  direction is ICD10CM -> SNOMED, so this is the reverse lookup). A code that
  maps to that concept alone scores 0.95 of the entity, one that also maps to
  other concepts 0.8, and a category that cannot be billed 0.05 less.
- ``RxNormConcepts``: the RxNorm concept the mention names (a brand name), the
  ingredient it stands for (0.95 when a brand was named), RxNorm concepts that
  map to it, and -- when the note gives a strength -- the single-ingredient
  RxNorm products of that ingredient with that strength, less 0.1 for each of
  form and route the note does not state (a product contradicting a stated one
  is left out), 0.05 for a modified release (the detector reads none from the
  note) and 0.05 for a brand the mention does not name (another brand's
  products are left out).

Lists are best first: by score, then by how many words the concept's name
shares with what the note says (the mention, its concept's name, its
attributes: "warfarin 5 mg tablet PO" puts "Warfarin Sodium 5 MG Oral Tablet"
before "Warfarin"), then by code. ``omop_ids=True`` adds each concept's OMOP
``concept_id`` as ``OMOPConceptId``, a member outside the model (boto3 ignores
it; the AWS front end must not ask for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from openmaker.clinical.detect import Entity
from openmaker.clinical.index import Concept, ConceptIndex
from openmaker.clinical.textnorm import words

MODEL_VERSION = "openmaker-clinical-0.1.0"
#: Attribute types that DetectEntitiesV2 files under a category of their own.
_ATTR_CATEGORY = {"DIRECTION": "ANATOMY", "SYSTEM_ORGAN_SITE": "ANATOMY"}


def _traits(traits: dict[str, float], allowed: frozenset[str] | None = None) -> list[dict]:
    return [{"Name": name, "Score": round(score, 4)} for name, score in traits.items()
            if allowed is None or name in allowed]  # fmt: skip


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


# -- the ontology-linking operations ------------------------------------------------------------------
@dataclass(frozen=True)
class Ontology:
    """What one Infer* operation's model allows: its entities, traits and attribute members."""

    concepts_key: str
    categories: frozenset[str]
    types: frozenset[str]
    traits: frozenset[str]
    attribute_types: frozenset[str]
    relationship_types: frozenset[str] | None  # None: its attributes have no RelationshipType
    attribute_category: bool  # its attributes carry a Category (SNOMED's)
    attribute_concepts: bool  # its attributes carry a (here empty) concept list


SNOMEDCT = Ontology(
    "SNOMEDCTConcepts",
    frozenset({"MEDICAL_CONDITION", "ANATOMY", "TEST_TREATMENT_PROCEDURE"}),
    frozenset({"DX_NAME", "TEST_NAME", "PROCEDURE_NAME", "TREATMENT_NAME"}),
    frozenset({"NEGATION", "DIAGNOSIS", "SIGN", "SYMPTOM", "PERTAINS_TO_FAMILY", "HYPOTHETICAL", "LOW_CONFIDENCE",
               "PAST_HISTORY", "FUTURE"}),
    frozenset({"ACUITY", "QUALITY", "DIRECTION", "SYSTEM_ORGAN_SITE", "TEST_VALUE", "TEST_UNIT"}),
    frozenset({"ACUITY", "QUALITY", "TEST_VALUE", "TEST_UNITS", "DIRECTION", "SYSTEM_ORGAN_SITE", "TEST_UNIT"}),
    attribute_category=True,
    attribute_concepts=True,
)  # fmt: skip
ICD10CM = Ontology(
    "ICD10CMConcepts",
    frozenset({"MEDICAL_CONDITION"}),
    frozenset({"DX_NAME"}),
    frozenset({"NEGATION", "DIAGNOSIS", "SIGN", "SYMPTOM", "PERTAINS_TO_FAMILY", "HYPOTHETICAL", "LOW_CONFIDENCE"}),
    frozenset({"ACUITY", "DIRECTION", "SYSTEM_ORGAN_SITE", "QUALITY", "QUANTITY"}),
    frozenset({"OVERLAP", "SYSTEM_ORGAN_SITE", "QUALITY"}),
    attribute_category=False,  # the model's ICD10CMAttribute.Category is DX_NAME | TIME_EXPRESSION, not a category
    attribute_concepts=False,
)  # fmt: skip
RXNORM = Ontology(
    "RxNormConcepts",
    frozenset({"MEDICATION"}),
    frozenset({"GENERIC_NAME", "BRAND_NAME"}),
    frozenset({"NEGATION", "PAST_HISTORY"}),
    frozenset({"DOSAGE", "DURATION", "FORM", "FREQUENCY", "RATE", "ROUTE_OR_MODE", "STRENGTH"}),
    None,
    attribute_category=False,
    attribute_concepts=False,
)  # fmt: skip


class Link(NamedTuple):
    """A concept offered for an entity, with how sure the link is."""

    concept: Concept
    score: float


def _ontology_attribute(ontology: Ontology, entity: Entity, attr, attr_id: int) -> dict:
    item = {
        "Type": attr.type, "Score": round(attr.score, 4), "RelationshipScore": round(min(attr.score, entity.score), 4),
        "Id": attr_id, "BeginOffset": attr.begin, "EndOffset": attr.end, "Text": attr.text, "Traits": [],
    }  # fmt: skip
    if ontology.relationship_types is not None and attr.type in ontology.relationship_types:
        item["RelationshipType"] = attr.type
    if ontology.attribute_category:
        item["Category"] = _ATTR_CATEGORY.get(attr.type, entity.category)
    if ontology.attribute_concepts:
        item[ontology.concepts_key] = []
    return item


def _concept_list(links: list[Link], e: Entity, omop_ids: bool) -> list[dict]:
    """Links best first, one per concept: score, then how much of the note's wording for ``e`` the name shares."""
    near = set(words(" ".join([e.concept_name or "", e.text, *(a.text for a in e.attributes)])))

    def closeness(concept: Concept) -> float:
        named = set(words(concept.name))
        return len(named & near) / len(named | near) if named | near else 0.0

    ranked = sorted(links, key=lambda k: (-round(k.score, 4), -closeness(k.concept), k.concept.concept_code))
    out, seen = [], set()
    for link in ranked:
        if link.concept.concept_id in seen:
            continue
        seen.add(link.concept.concept_id)
        item = {"Description": link.concept.name, "Code": link.concept.concept_code, "Score": round(link.score, 4)}
        if omop_ids:
            item["OMOPConceptId"] = link.concept.concept_id
        out.append(item)
    return out


def _infer(entities: list[Entity], ontology: Ontology, links, omop_ids: bool) -> list[dict]:
    """The entities ``ontology`` reports, each with its attributes and ``links(entity)`` as its concept list."""
    next_id = _counter(entities)
    out = []
    for e in entities:
        if e.category not in ontology.categories or e.type not in ontology.types:
            continue
        item = {
            "Id": e.id, "Text": e.text, "Category": e.category, "Type": e.type, "Score": round(e.score, 4),
            "BeginOffset": e.begin, "EndOffset": e.end, "Traits": _traits(e.traits, ontology.traits),
            ontology.concepts_key: _concept_list(links(e), e, omop_ids),
        }  # fmt: skip
        attrs = [a for a in e.attributes if a.type in ontology.attribute_types]
        if attrs:
            item["Attributes"] = [_ontology_attribute(ontology, e, a, next_id()) for a in attrs]
        out.append(item)
    return out


def _snomed_links(e: Entity) -> list[Link]:
    if not e.concept_id or e.vocabulary_id != "SNOMED":
        return []
    concept = Concept(e.concept_id, e.concept_name or "", "", "SNOMED", "", e.concept_code or "", True)
    return [Link(concept, e.score)]


_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_EDITION = re.compile(r"SNOMED CT ([\w ]+?) Edition", re.I)


def snomedct_details(version: str | None) -> dict:
    """``SNOMEDCTDetails`` from the SNOMED row of ``VOCABULARY``: its editions and latest date, when it names them."""
    details = {"Language": "en"}  # the concept names the detector reads are the vocabulary's English ones
    if version:
        editions = _EDITION.findall(version)
        details["Edition"] = ", ".join(dict.fromkeys(editions)) if editions else version
        dates = ["".join(d) for d in _DATE.findall(version)]
        if dates:
            details["VersionDate"] = max(dates)
    return details


def infer_snomedct(entities: list[Entity], text: str, snomed_version: str | None = None,
                   omop_ids: bool = False) -> dict:  # fmt: skip
    """``InferSNOMEDCTResponse``: conditions, tests, procedures and treatments with their SNOMED concept.

    ``snomed_version`` is the SNOMED row's ``vocabulary_version`` (``ConceptIndex.versions["SNOMED"]``).
    """
    return {
        "Entities": _infer(entities, SNOMEDCT, _snomed_links, omop_ids),
        "ModelVersion": MODEL_VERSION,
        "SNOMEDCTDetails": snomedct_details(snomed_version),
        "Characters": {"OriginalTextCharacters": len(text)},
    }


def _vocabulary_links(e: Entity, index: ConceptIndex, vocabulary: str) -> list[Link]:
    """The ``vocabulary`` concept the mention names, the standard concept if in it, and those mapping to it.

    Scores: the entity's for the concept the mention names (and for the standard concept when the mention
    names no other concept of ``vocabulary``, else 0.95 of it); 0.95 for a concept mapping to the entity's
    concept alone, 0.8 for one that also maps to other concepts (it says more than the mention).
    """
    named, standard = index.concepts.get(e.source_concept_id), index.concepts.get(e.concept_id)
    links = [Link(named, e.score)] if named is not None and named.vocabulary_id == vocabulary else []
    if standard is not None and standard.vocabulary_id == vocabulary and standard is not named:
        links.append(Link(standard, e.score * (0.95 if links else 1.0)))  # below the brand the mention names
    for concept in index.mapped_to(e.concept_id, vocabulary):
        links.append(Link(concept, e.score * (0.95 if index.map_targets.get(concept.concept_id, 1) == 1 else 0.8)))
    return links


def _icd10cm_links(index: ConceptIndex):
    def links(e: Entity) -> list[Link]:
        return [Link(link.concept, link.score - 0.05) if "nonbill" in link.concept.concept_class_id.lower() else link
                for link in _vocabulary_links(e, index, "ICD10CM")]  # fmt: skip

    return links


def infer_icd10cm(entities: list[Entity], index: ConceptIndex, omop_ids: bool = False) -> dict:
    """``InferICD10CMResponse``: conditions with the ICD10CM concepts ``index`` holds for them."""
    return {"Entities": _infer(entities, ICD10CM, _icd10cm_links(index), omop_ids), "ModelVersion": MODEL_VERSION}


# -- RxNorm products ------------------------------------------------------------------------------------
_STRENGTH = re.compile(r"^(\d+)(?:([.,])(\d+))?\s?(mg|mcg|µg|ug|gm|g|meq|units?|iu)(?:/(ml|hr|h))?$", re.I)
#: A strength's unit as RxNorm writes it, and the factor to that unit.
_RXNORM_UNITS = {"mg": ("MG", 1), "mcg": ("MG", Decimal("0.001")), "µg": ("MG", Decimal("0.001")),
                 "ug": ("MG", Decimal("0.001")), "g": ("MG", 1000), "gm": ("MG", 1000), "meq": ("MEQ", 1),
                 "unit": ("UNT", 1), "units": ("UNT", 1), "iu": ("UNT", 1)}  # fmt: skip
_PER = {"ml": "/ML", "hr": "/HR", "h": "/HR"}
#: What a note's form (FORM, or DOSAGE's unit) or route says, as words a product's name must hold.
_FORM_WORDS = tuple((re.compile(p, re.I), w) for p, w in (
    (r"tab", ("tablet",)), (r"cap", ("capsule",)), (r"solution", ("solution",)), (r"suspension", ("suspension",)),
    (r"inhaler|puff", ("inhal",)), (r"cream", ("cream",)), (r"ointment", ("ointment",)),
    (r"patch", ("patch", "transdermal")), (r"injection", ("inject", "syringe")), (r"syrup", ("syrup",)),
    (r"elixir", ("elixir",)), (r"suppositor", ("suppositor",)), (r"drop", ("drop", "ophthalmic", "otic")),
    (r"spray", ("spray",)), (r"lozenge", ("lozenge",)),
))  # fmt: skip
_ROUTE_WORDS = tuple((re.compile(p, re.I), w) for p, w in (
    (r"\b(?:po|oral|orally|by mouth)\b|p\.o\.", ("oral", "chewable")),
    (r"\b(?:iv|im|sc|sq|subq|subcut|intravenous(?:ly)?|intramuscular(?:ly)?)\b|i\.v\.",
     ("inject", "syringe", "injector", "cartridge")),
    (r"topical", ("topical", "cream", "ointment", "lotion", "gel")), (r"inhaled|nebulized", ("inhal",)),
    (r"transdermal", ("transdermal", "patch")), (r"\bsl\b", ("sublingual",)),
    (r"\bpr\b|rectum", ("rectal", "suppositor")),
))  # fmt: skip
_MODIFIED_RELEASE = re.compile(r"extended release|delayed release|^\d+ hr ", re.I)
_BRACKET = re.compile(r"\[([^\]]+)\]")


def rxnorm_strength(text: str) -> re.Pattern | None:
    """A pattern finding the strength ``text`` ("500 mg", "75 mcg", "5 mg/mL") as RxNorm writes it in a product name.

    None when it has no RxNorm spelling (a percentage, a dose per kilogram).
    """
    m = _STRENGTH.match(text.strip())
    if m is None:
        return None
    whole, sep, fraction, unit, per = m.groups()
    if sep == "," and len(fraction) == 3:  # "1,000 mg": a thousands separator
        whole, fraction = whole + fraction, None
    unit_name, factor = _RXNORM_UNITS[unit.lower()]
    amount = Decimal(f"{whole}.{fraction}" if fraction else whole) * factor
    number = format(amount.normalize(), "f")
    tail = _PER[per.lower()] if per else ""
    return re.compile(rf"(?<![\d.]){re.escape(number)} {unit_name}{re.escape(tail)}(?![\w/])")


def _stated(e: Entity, kinds: tuple[str, ...], table) -> tuple[str, ...] | None:
    """The name words the note's attributes of ``kinds`` require of a product (None: the note does not say)."""
    for attr in e.attributes:
        if attr.type in kinds:
            for pattern, name_words in table:
                if pattern.search(attr.text):
                    return name_words
    return None


def _product_links(e: Entity, standard: Concept | None, index: ConceptIndex) -> list[Link]:
    """The ingredient's single-ingredient products with the note's strength (none when it gives no strength)."""
    strengths = [a.text for a in e.attributes if a.type == "STRENGTH"]
    pattern = rxnorm_strength(strengths[0]) if strengths else None
    if pattern is None or standard is None or standard.concept_class_id != "Ingredient":
        return []
    facets = (_stated(e, ("FORM", "DOSAGE"), _FORM_WORDS), _stated(e, ("ROUTE_OR_MODE",), _ROUTE_WORDS))
    brand = e.text.lower() if e.type == "BRAND_NAME" else None
    links = []
    for product in index.drug_products(standard.name):
        name = product.name.lower()
        named_brand = next(iter(_BRACKET.findall(name)), None)
        if not pattern.search(product.name) or (named_brand and brand and named_brand != brand):
            continue
        if any(required and not any(w in name for w in required) for required in facets):
            continue  # the product contradicts what the note says
        penalty = 0.1 * sum(required is None for required in facets)
        penalty += 0.05 * bool(_MODIFIED_RELEASE.search(product.name)) + 0.05 * (named_brand != brand)
        links.append(Link(product, e.score - penalty))
    return links


def _rxnorm_links(index: ConceptIndex):
    def links(e: Entity) -> list[Link]:
        return _vocabulary_links(e, index, "RxNorm") + _product_links(e, index.concepts.get(e.concept_id), index)

    return links


def infer_rxnorm(entities: list[Entity], index: ConceptIndex, omop_ids: bool = False) -> dict:
    """``InferRxNormResponse``: medications with their attributes and the RxNorm concepts ``index`` holds for them."""
    return {"Entities": _infer(entities, RXNORM, _rxnorm_links(index), omop_ids), "ModelVersion": MODEL_VERSION}
