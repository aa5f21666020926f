"""PHI known in advance for one image: the values of its DICOM header.

Burned-in text usually repeats header values (patient name, id, dates, institution),
often truncated or garbled by OCR. :class:`PhiContext` carries those values to the
header-seeded recogniser (``header.py``), which looks for them fuzzily in the OCR text.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydicom is only needed by from_dataset, and imported there
    import pydicom

# Keywords whose (non-PN) values identify the patient, the study or the device.
ID_KEYWORDS = frozenset(
    {
        "PatientID",
        "OtherPatientIDs",
        "AccessionNumber",
        "StudyID",
        "MedicalRecordLocator",
        "AdmissionID",
        "ServiceEpisodeID",
        "RequestedProcedureID",
        "ScheduledProcedureStepID",
        "PerformedProcedureStepID",
        "PlacerOrderNumberImagingServiceRequest",
        "FillerOrderNumberImagingServiceRequest",
        "PlacerOrderNumberProcedure",
        "FillerOrderNumberProcedure",
        "DeviceSerialNumber",
        "ClinicalTrialSubjectID",
        "ClinicalTrialSubjectReadingID",
        "ClinicalTrialProtocolID",
        "ClinicalTrialSiteID",
        "InsurancePlanIdentification",
        "DetectorID",
        "GantryID",
        "PlateID",
        "CassetteID",
    }
)
INSTITUTION_KEYWORDS = frozenset(
    {"InstitutionName", "IssuerOfPatientID", "RequestingService", "InstitutionalDepartmentName"}
)
ADDRESS_KEYWORDS = frozenset(
    {
        "InstitutionAddress",
        "PatientAddress",
        "ReferringPhysicianAddress",
        "CurrentPatientLocation",
        "RegionOfResidence",
        "CountryOfResidence",
        "PatientInstitutionResidence",
        "AssignedLocation",
    }
)
OTHER_KEYWORDS = frozenset(
    {
        "StationName",
        "PatientTelephoneNumbers",
        "ReferringPhysicianTelephoneNumbers",
        "PersonTelephoneNumbers",
        "Occupation",
        "PatientBirthName",
        "PatientMotherBirthName",
    }
)
AGE_KEYWORDS = frozenset({"PatientAge"})
# Department names that say nothing about the patient.
_GENERIC_DEPARTMENTS = frozenset({"radiology", "default", "imaging", "ultrasound", "us", "ct", "mr", "mri", "x-ray", "xray"})


_VRS = frozenset({"PN", "DA", "DT", "TM", "AS"})
_KEYWORDS = ID_KEYWORDS | INSTITUTION_KEYWORDS | ADDRESS_KEYWORDS | OTHER_KEYWORDS | AGE_KEYWORDS


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def _parse_da(value: str) -> _dt.date | None:
    digits = re.sub(r"\D", "", value or "")
    if len(digits) < 8:
        return None
    try:
        return _dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _clean_tm(value: str) -> str | None:
    """'172449.000000' or '17:24:49' -> '172449'; '0848' -> '0848'. None when not a time."""
    m = re.match(r"\s*(\d{2}):?(\d{2})?:?(\d{2})?", value or "")
    if not m or int(m.group(1)) > 23:
        return None
    return "".join(g for g in m.groups() if g)


def _dedupe(items: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        if item in seen or item in ("", None):
            continue
        seen.add(item)
        out.append(item)
    return out


@dataclass
class PhiContext:
    """Header values to look for in the OCR text.

    * ``names``: person names as in DICOM PN ("DOE^JOHN^Q", "ZZZ TEST PATIENTFIVE^NEW^P^")
      or plain ("John Doe");
    * ``ids``: patient ids, accession numbers, study ids, device serial numbers;
    * ``dates``: every DA/DT date of the header;
    * ``times``: TM/DT times as "HHMMSS" (or "HHMM");
    * ``ages``: DICOM AS ages ("061Y");
    * ``institutions``: institution names and issuer abbreviations;
    * ``addresses``: institution/patient addresses and locations;
    * ``other``: further identifying strings (station name, phone numbers, occupation).
    """

    names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    dates: list[_dt.date] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    ages: list[str] = field(default_factory=list)
    institutions: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (str, bytes, _dt.date)):
                raise TypeError(f"PhiContext.{f.name} must be a list, got a single {type(value).__name__}")
            setattr(self, f.name, list(value))
        for d in self.dates:
            if not isinstance(d, _dt.date):
                raise TypeError(f"PhiContext.dates holds datetime.date values, got {type(d).__name__}")
        for f in fields(self):
            if f.name == "dates":
                continue
            for v in getattr(self, f.name):
                if not isinstance(v, str):
                    raise TypeError(f"PhiContext.{f.name} holds str values, got {type(v).__name__}")

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def merge(self, other: PhiContext) -> PhiContext:
        """A new context with the values of both (order kept, duplicates dropped)."""
        if not isinstance(other, PhiContext):
            raise TypeError(f"PhiContext.merge() takes a PhiContext, got {type(other).__name__}")
        return PhiContext(**{f.name: _dedupe([*getattr(self, f.name), *getattr(other, f.name)]) for f in fields(self)})

    @classmethod
    def from_dataset(cls, ds: pydicom.Dataset) -> PhiContext:
        """Collect PHI from a pydicom Dataset, recursing into sequences.

        Every PN element (any tag, private ones included), the id elements, every DA/DT/TM
        value, PatientAge, institution name/address, station name and locations.
        """
        try:
            iterall = ds.iterall
        except AttributeError:
            raise TypeError(f"PhiContext.from_dataset() takes a pydicom Dataset, got {type(ds).__name__}") from None
        ctx = cls()
        for elem in iterall():
            vr = elem.VR
            if vr == "SQ":
                continue
            keyword = elem.keyword or ""
            if vr not in _VRS and keyword not in _KEYWORDS:
                continue  # never touch pixel data or other bulk values
            raw = elem.value
            values = _as_list(raw) if getattr(elem, "VM", 1) > 1 else [raw]
            values = [v for v in values if v is not None and str(v).strip() not in ("", "^", "^^")]
            if not values:
                continue
            if vr == "PN":
                for v in values:
                    # alphabetic=ideographic=phonetic groups
                    for group in str(v).split("="):
                        if group.strip("^ "):
                            ctx.names.append(group)
            elif vr == "DA":
                for v in values:
                    d = _parse_da(str(v))
                    if d:
                        ctx.dates.append(d)
            elif vr == "DT":
                for v in values:
                    s = str(v)
                    d = _parse_da(s[:8])
                    if d:
                        ctx.dates.append(d)
                    t = _clean_tm(s[8:14]) if len(s) > 8 else None
                    if t:
                        ctx.times.append(t)
            elif vr == "TM":
                for v in values:
                    t = _clean_tm(str(v))
                    if t:
                        ctx.times.append(t)
            elif vr == "AS" or keyword in AGE_KEYWORDS:
                ctx.ages.extend(str(v) for v in values)
            elif keyword in ID_KEYWORDS:
                ctx.ids.extend(str(v).strip() for v in values)
            elif keyword in INSTITUTION_KEYWORDS:
                for v in values:
                    s = str(v).strip()
                    if keyword == "InstitutionalDepartmentName" and s.lower() in _GENERIC_DEPARTMENTS:
                        continue
                    ctx.institutions.append(s)
            elif keyword in ADDRESS_KEYWORDS:
                ctx.addresses.extend(str(v).strip() for v in values)
            elif keyword in OTHER_KEYWORDS:
                ctx.other.extend(str(v).strip() for v in values)
        return cls(**{f.name: _dedupe(getattr(ctx, f.name)) for f in fields(ctx)})
