"""DICOM header de-identification: PS3.15 Annex E Basic Application Level
Confidentiality Profile, with the Clean Pixel Data Option declared (the pixels
are cleaned elsewhere) and, optionally, the Retain Longitudinal Temporal
Information with Modified Dates Option.

Everything derived from identifiers (new UIDs, date offsets, pseudonyms) comes
from an HMAC keyed with the batch secret, so separate worker processes that
share the key agree on the mapping without sharing any state, and nobody
without the key can reverse or recompute it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

# Compound action codes resolve to their first action unless the attribute is
# required by the IOD (Table E.1-1 note). We do not carry the IOD tables, so:
# X/Z, Z/D and X/Z/D become Z (as private as X, and valid for Type 2 and 3
# attributes), X/D becomes X, except that the few attributes below, Type 1 in
# IODs we commonly meet, get a dummy (D) to keep the file valid.
_TYPE1_IN_ENHANCED = frozenset(
    {"ContentDate", "ContentTime", "AcquisitionDateTime", "DeviceSerialNumber"}
)
_TYPE1_IN_PET = frozenset({"SeriesDate", "SeriesTime"})

# Dummy values (action D) by VR; UIDs get a keyed replacement instead.
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY_BY_VR: dict[str, Any] = {
    "DA": "19000101",
    "TM": "000000.00",
    "DT": "19000101000000.000000",
    "AS": "000D",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "UV": 0,
    "SV": 0,
    "FL": 0.0,
    "FD": 0.0,
    "AT": 0,
    "OB": b"\x00\x00",
    "OW": b"\x00\x00",
    "OD": b"\x00" * 8,
    "OF": b"\x00" * 4,
    "OL": b"\x00" * 4,
    "OV": b"\x00" * 8,
    "UN": b"\x00\x00",
}

# Maximum value lengths, so that dummies and pseudonyms stay valid.
_MAX_LEN = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "UC": 64}

# CID 7050 codes for DeidentificationMethodCodeSequence.
CODE_BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
CODE_CLEAN_PIXEL_DATA = ("113101", "Clean Pixel Data Option")
CODE_RETAIN_MODIFIED_DATES = (
    "113107",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)

# Dates are shifted into the past by 1 to 10 years: far enough to hide the
# real date, never into the future, whole days so weekdays drift but
# intervals and times of day are kept.
_MIN_SHIFT_DAYS = 365
_MAX_SHIFT_DAYS = 3652


def _default_method() -> str:
    try:
        from importlib.metadata import version

        ver = version("openmaker")
    except Exception:  # not installed as a distribution (source checkout)
        ver = "dev"
    return (
        f"openmaker deid {ver}: PS3.15 Annex E Basic Profile; "
        "Clean Pixel Data Option (OCR + PHI detection)"
    )


@dataclass
class ProfileOptions:
    """How to de-identify the headers of one batch.

    ``key`` is the batch secret; UIDs, date offsets and default pseudonyms are
    HMACs of the original values under it, so the same key gives the same
    output in every worker. ``pseudonyms`` maps an original PatientID to the
    site's pseudonym (used as PatientID and PatientName).
    """

    key: bytes
    retain_longitudinal_dates: bool = False
    pseudonyms: Mapping[str, str] | None = None
    method_description: str = field(default_factory=_default_method)


# --------------------------------------------------------------------------
# The Annex E table


@dataclass(frozen=True)
class Rule:
    """One row of Table E.1-1."""

    keyword: str
    basic: str
    retain_dates: str


@functools.lru_cache(maxsize=1)
def annex_e_table() -> dict[int, Rule]:
    """Table E.1-1 as ``{tag: Rule}`` for the attributes with a fixed tag.

    The wildcard rows (curves 50xx, overlays 60xx, private groups) are applied
    in code by :func:`deidentify_header`.
    """
    text = resources.files("openmaker.deid").joinpath("data/annex_e.csv").read_text("utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    table: dict[int, Rule] = {}
    for row in csv.DictReader(lines):
        m = re.fullmatch(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)", row["tag"])
        if not m:
            continue  # wildcard rows
        tag = (int(m[1], 16) << 16) | int(m[2], 16)
        table[tag] = Rule(row["keyword"], row["basic_profile"], row["retain_long_modified_dates"])
    return table


# --------------------------------------------------------------------------
# Keyed derivations


def _hmac(key: bytes, purpose: str, value: str) -> bytes:
    # The purpose prefix keeps the derivations independent: knowing a new UID
    # tells nothing about a date offset derived from the same key.
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def new_uid(original: str, key: bytes) -> str:
    """The replacement for a UID: ``2.25.<decimal of a 128-bit HMAC>``.

    Deterministic in (``original``, ``key``); at most 44 characters, digits and
    dots only, as a 2.25 UUID-derived UID must be.
    """
    value = int.from_bytes(_hmac(key, "uid", original.strip())[:16], "big")
    return f"2.25.{value}"


def pseudonym_for(patient_id: str, options: ProfileOptions) -> str:
    """The pseudonym for a patient: the site's map when it has one, else keyed."""
    if options.pseudonyms and patient_id in options.pseudonyms:
        return str(options.pseudonyms[patient_id])
    return "ANON-" + _hmac(options.key, "patient", patient_id).hex()[:16].upper()


def date_offset_days(patient_identity: str, key: bytes) -> int:
    """Days to add to every date of one patient (negative: into the past)."""
    n = int.from_bytes(_hmac(key, "date-shift", patient_identity)[:8], "big")
    return -(_MIN_SHIFT_DAYS + n % (_MAX_SHIFT_DAYS - _MIN_SHIFT_DAYS + 1))


def _shift_date(text: str, days: int) -> str | None:
    """Shift one DA value; None when it is not a full date we can shift."""
    digits = text.strip().replace(".", "")  # ACR-NEMA "YYYY.MM.DD"
    if not re.fullmatch(r"\d{8}", digits):
        return None
    try:
        day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        return (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    except (ValueError, OverflowError):
        return None


def _shift_da(value: str, days: int) -> str | None:
    """Shift a DA value, including ranges ("A-B", "-B", "A-")."""
    parts = value.split("-")
    if len(parts) > 2:
        return None
    out = []
    for part in parts:
        if part.strip() == "" and len(parts) == 2:
            out.append("")
            continue
        shifted = _shift_date(part, days)
        if shifted is None:
            return None
        out.append(shifted)
    return "-".join(out)


def _shift_dt(value: str, days: int) -> str | None:
    """Shift the date part of a DT value, keeping time and UTC offset."""
    v = value.strip()
    if len(v) < 8 or not v[:8].isdigit():
        return None  # a bare year or year-month cannot be shifted by days
    shifted = _shift_date(v[:8], days)
    return None if shifted is None else shifted + v[8:]


# --------------------------------------------------------------------------
# The walk


@dataclass
class _Context:
    options: ProfileOptions
    date_shift: int | None  # None: dates follow the Basic Profile
    enhanced: bool
    pet: bool


def _is_curve_or_overlay(tag: int) -> bool:
    group = tag >> 16
    # Repeating groups 5000-501E (curves) and 6000-601E (overlays), even only.
    return group % 2 == 0 and (0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF)


def _resolve(action: str, keyword: str, ctx: _Context) -> str:
    """Reduce a compound action code to a single one (X, Z, D, U or K)."""
    if action == "X/Z/U*":
        # Keep the reference sequences: their UIDs are replaced inside, which
        # keeps the references pointing at the de-identified instances.
        return "K"
    if action not in ("X/Z", "Z/D", "X/D", "X/Z/D"):
        return action
    type1 = (ctx.enhanced and keyword in _TYPE1_IN_ENHANCED) or (
        ctx.pet and keyword in _TYPE1_IN_PET
    )
    if type1 and action.endswith("D"):
        return "D"
    # Z is as private as X and keeps Type 2 attributes present.
    return "X" if action == "X/D" else "Z"


def _dummy(elem: pydicom.DataElement, ctx: _Context) -> Any:
    vr = str(elem.VR).split(" or ")[0]  # ambiguous VRs ("US or SS") of implicit files
    if vr == "UI":
        return _map_uids(elem.value, ctx.options.key)
    if vr in _DUMMY_BY_VR:
        return _DUMMY_BY_VR[vr]
    return _DUMMY_TEXT[: _MAX_LEN.get(vr, 64)]


def _values(value: Any) -> list[Any]:
    """The values of an element as a list (pydicom gives MultiValue for VM > 1)."""
    if isinstance(value, (list, tuple, MultiValue)):
        return list(value)
    return [value]


def _map_uids(value: Any, key: bytes) -> Any:
    if value is None or value == "":
        return value
    out = [new_uid(str(v), key) if str(v) else "" for v in _values(value)]
    return out if len(out) > 1 else out[0]


def _shift_value(elem: pydicom.DataElement, days: int) -> tuple[bool, Any]:
    """The shifted value of a date element; (False, None) when it cannot be shifted."""
    vr = elem.VR
    if vr == "TM" or elem.tag == 0x00080201:
        return True, elem.value  # whole-day shifts keep times of day and the UTC offset
    if vr not in ("DA", "DT"):
        return False, None
    out = []
    for v in _values(elem.value):
        if v is None or str(v) == "":
            out.append("")
            continue
        s = str(v) if not isinstance(v, (dt.date, dt.datetime)) else _format_date(v, vr)
        shifted = _shift_da(s, days) if vr == "DA" else _shift_dt(s, days)
        if shifted is None:
            return False, None
        out.append(shifted)
    return True, out if len(out) > 1 else out[0]


def _format_date(v: Any, vr: str) -> str:
    # pydicom may hand back datetime objects when config.datetime_conversion is on.
    if vr == "DA":
        return v.strftime("%Y%m%d")
    return v.strftime("%Y%m%d%H%M%S.%f")


def _clean_dataset(ds: Dataset, ctx: _Context) -> None:
    table = annex_e_table()
    for tag in list(ds.keys()):
        tag_int = int(tag)
        # Private attributes, curves, overlays and group lengths go, wherever they are.
        if tag.is_private or _is_curve_or_overlay(tag_int) or tag.element == 0:
            del ds[tag]
            continue
        elem = ds[tag]
        rule = table.get(tag_int)
        if rule is None:
            _clean_unlisted(ds, elem, ctx)
            continue
        if ctx.date_shift is not None and rule.retain_dates == "C":
            ok, value = _shift_value(elem, ctx.date_shift)
            if ok:
                elem.value = value
                continue
            action = "X"  # a date we cannot shift is not kept
        else:
            action = _resolve(rule.basic, rule.keyword, ctx)
        _apply(ds, elem, action, ctx)


def _clean_unlisted(ds: Dataset, elem: pydicom.DataElement, ctx: _Context) -> None:
    """Attributes outside Table E.1-1 are kept, with two safety nets."""
    if elem.VR == "SQ":
        for item in elem.value:
            _clean_dataset(item, ctx)
        return
    # Safety nets (fail closed): any other date is treated like a listed one
    # and any other person name is removed, since both are direct identifiers.
    if elem.VR in ("DA", "DT"):
        if ctx.date_shift is not None:
            ok, value = _shift_value(elem, ctx.date_shift)
            if ok:
                elem.value = value
                return
        del ds[elem.tag]
    elif elem.VR == "PN":
        del ds[elem.tag]


def _apply(ds: Dataset, elem: pydicom.DataElement, action: str, ctx: _Context) -> None:
    if action == "X":
        del ds[elem.tag]
    elif action == "K":
        if elem.VR == "SQ":
            for item in elem.value:
                _clean_dataset(item, ctx)
    elif action == "U":
        elem.value = _map_uids(elem.value, ctx.options.key)
    elif elem.VR == "SQ":
        # Z or D on a sequence: a dummy item could still hide free text
        # (Content Sequence text values), so the sequence is emptied.
        elem.value = Sequence([])
    elif action == "Z":
        elem.value = None
    elif action == "D":
        elem.value = _dummy(elem, ctx)
    else:  # C or an unknown code: fail closed
        del ds[elem.tag]


def _patient_identity(ds: Dataset) -> str:
    """What identifies the patient for the per-patient date offset."""
    pid = str(ds.get("PatientID", "") or "").strip()
    if pid:
        return "id:" + pid
    # No ID: name and birth date are the best remaining link between files.
    return f"name:{ds.get('PatientName', '')}|{ds.get('PatientBirthDate', '')}"


def _split_lo(text: str) -> list[str]:
    """DeidentificationMethod is LO (64 chars) with VM 1-n: one value per clause."""
    parts = [p.strip() for p in text.split(";") if p.strip()] or ["openmaker deid"]
    return [p[:64] for p in parts]


def _code_item(code: tuple[str, str]) -> Dataset:
    item = Dataset()
    item.CodeValue = code[0]
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = code[1]
    return item


def deidentify_header(ds: Dataset, options: ProfileOptions) -> None:
    """De-identify ``ds`` in place with the PS3.15 Annex E Basic Profile.

    Applies the table's actions (recursively inside sequences), replaces UIDs
    with keyed ``2.25`` UIDs, removes private attributes, curves, overlays and
    icon images, sets the patient's pseudonym as PatientID and PatientName,
    shifts dates per patient when ``options.retain_longitudinal_dates``, and
    records what was done (PatientIdentityRemoved, DeidentificationMethod and
    its code sequence, BurnedInAnnotation NO for the Clean Pixel Data Option).
    """
    if not isinstance(options.key, (bytes, bytearray)) or not options.key:
        raise ValueError("ProfileOptions.key must be non-empty bytes")
    original_pid = str(ds.get("PatientID", "") or "").strip()
    ctx = _Context(
        options=options,
        date_shift=(
            date_offset_days(_patient_identity(ds), options.key)
            if options.retain_longitudinal_dates
            else None
        ),
        enhanced="SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds,
        pet=str(ds.get("Modality", "")) == "PT",
    )
    # Without an ID, name and birth date keep different patients apart.
    pseudonym = pseudonym_for(original_pid or _patient_identity(ds), options)

    _clean_dataset(ds, ctx)

    ds.PatientID = pseudonym[:64]
    ds.PatientName = pseudonym[:64]
    ds.PatientIdentityRemoved = "YES"
    ds.BurnedInAnnotation = "NO"
    shifted = ctx.date_shift is not None
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if shifted else "REMOVED"
    method = options.method_description
    codes = [CODE_BASIC_PROFILE, CODE_CLEAN_PIXEL_DATA]
    if ctx.date_shift is not None:
        codes.append(CODE_RETAIN_MODIFIED_DATES)
        if "Modified Dates" not in method:
            method += "; Retain Longitudinal Temporal Information Modified Dates Option"
    values = _split_lo(method)
    ds.DeidentificationMethod = values if len(values) > 1 else values[0]
    ds.DeidentificationMethodCodeSequence = Sequence([_code_item(c) for c in codes])

    _clean_file_meta(ds)


def _clean_file_meta(ds: Dataset) -> None:
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    # AE titles name the sending and receiving devices; private meta info is vendor data.
    for tag in (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102):
        if tag in meta:
            del meta[tag]
    # This file is written by our software, not the original implementation.
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"PYDICOM {pydicom.__version__}"[:16]


__all__ = [
    "ProfileOptions",
    "Rule",
    "annex_e_table",
    "date_offset_days",
    "deidentify_header",
    "new_uid",
    "pseudonym_for",
]
