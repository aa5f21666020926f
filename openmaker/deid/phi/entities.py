"""Entity types, candidate spans and the Comprehend Medical response shape.

The output of :func:`openmaker.deid.phi.detect_phi` is shaped like the response of
AWS Comprehend Medical ``DetectPHI`` (botocore shape ``DetectPHIResponse``), so that
code written against boto3 can read it unchanged.

Types follow the Comprehend Medical DetectPHI documentation ("Detect PHI" page of the
Comprehend Medical developer guide):

* ``NAME`` - people: patient, relatives, providers, operators.
* ``DATE`` - dates *and* times of day related to the patient or their care (DetectPHI
  has no separate time type; "03/02/2017 05:24:57PM" is DATE).
* ``AGE`` - ages.
* ``ID`` - MRNs, accession numbers, SSNs, device and station ids, any identifying number.
* ``ADDRESS`` - "all geographical subdivisions of an address of any facility, named
  medical facilities, or wards within a facility": institution / hospital names are
  ADDRESS, as in Comprehend Medical.
* ``PROFESSION`` - occupations of the patient or family.
* ``PHONE_OR_FAX`` - phone, fax and pager numbers (DetectPHI's documented type; the
  older ``CONTACT_POINT`` value is also in botocore's enum but DetectPHI documents
  ``PHONE_OR_FAX``).
* ``EMAIL``, ``URL``.
* ``GENDER`` - sex markers ("M", "[F]", "Female"); not a DetectPHI type but a value of
  botocore's ``EntitySubType`` enum, so responses still validate.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORY = "PROTECTED_HEALTH_INFORMATION"
MODEL_VERSION = "openmaker-deid-phi/1"

NAME = "NAME"
DATE = "DATE"
AGE = "AGE"
ID = "ID"
ADDRESS = "ADDRESS"
PROFESSION = "PROFESSION"
PHONE_OR_FAX = "PHONE_OR_FAX"
EMAIL = "EMAIL"
URL = "URL"
GENDER = "GENDER"

ENTITY_TYPES: tuple[str, ...] = (
    NAME,
    DATE,
    AGE,
    ID,
    ADDRESS,
    PROFESSION,
    PHONE_OR_FAX,
    EMAIL,
    URL,
    GENDER,
)

# When two candidates of equal score overlap, the type earlier here wins.
_TYPE_PRIORITY = {t: i for i, t in enumerate((ID, NAME, DATE, AGE, PHONE_OR_FAX, EMAIL, URL, ADDRESS, GENDER, PROFESSION))}

LOW_CONFIDENCE = "LOW_CONFIDENCE"


@dataclass(frozen=True, slots=True)
class Span:
    """A candidate PHI span: character offsets ``[begin, end)`` into the text."""

    begin: int
    end: int
    type: str
    score: float
    source: str = ""
    low_confidence: bool = False

    def __post_init__(self) -> None:
        if self.type not in ENTITY_TYPES:
            raise ValueError(f"unknown entity type {self.type!r}")
        if not 0 <= self.begin < self.end:
            raise ValueError(f"empty or negative span {self.begin}..{self.end}")

    def overlaps(self, other: Span) -> bool:
        return self.begin < other.end and other.begin < self.end

    def stronger_than(self, other: Span) -> bool:
        if self.score != other.score:
            return self.score > other.score
        return _TYPE_PRIORITY[self.type] < _TYPE_PRIORITY[other.type]


def merge_spans(spans: list[Span]) -> list[Span]:
    """Sorted, non-overlapping spans: overlapping candidates are joined into their union,
    which takes the type, score and source of the strongest candidate."""
    if not spans:
        return []
    ordered = sorted(spans, key=lambda s: (s.begin, -s.end))
    out: list[Span] = []
    begin, end, best = ordered[0].begin, ordered[0].end, ordered[0]
    for span in ordered[1:]:
        if span.begin < end:
            end = max(end, span.end)
            if span.stronger_than(best):
                best = span
        else:
            out.append(Span(begin, end, best.type, best.score, best.source, best.low_confidence))
            begin, end, best = span.begin, span.end, span
    out.append(Span(begin, end, best.type, best.score, best.source, best.low_confidence))
    return out


def to_response(text: str, spans: list[Span]) -> dict:
    """The ``DetectPHIResponse`` dict for merged spans."""
    entities = []
    for i, span in enumerate(spans):
        traits = []
        if span.low_confidence:
            traits.append({"Name": LOW_CONFIDENCE, "Score": float(span.score)})
        entities.append(
            {
                "Id": i,
                "BeginOffset": span.begin,
                "EndOffset": span.end,
                "Score": float(round(span.score, 4)),
                "Text": text[span.begin : span.end],
                "Category": CATEGORY,
                "Type": span.type,
                "Traits": traits,
            }
        )
    return {"Entities": entities, "ModelVersion": MODEL_VERSION}
