"""Header de-identification: PS3.15 Annex E Basic Profile, UIDs, dates, pseudonyms."""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from openmaker.deid.profile import (
    ProfileOptions,
    annex_e_table,
    date_offset_days,
    deidentify_header,
    new_uid,
    pseudonym_for,
)

IMAGES = Path(__file__).resolve().parents[2] / "examples" / "deid" / "images"
KEY = b"batch-secret-1"
OTHER_KEY = b"batch-secret-2"
UID_RE = re.compile(r"^2\.25\.(0|[1-9][0-9]*)$")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def bundled(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    assert path is not None and os.path.exists(path), f"{name} is not bundled with pydicom"
    return Path(path)


def load(path: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def deid(ds: Dataset, **kwargs) -> Dataset:
    out = copy.deepcopy(ds)
    deidentify_header(out, ProfileOptions(key=kwargs.pop("key", KEY), **kwargs))
    return out


def days_between(a: str, b: str) -> int:
    return (dt.datetime.strptime(b, "%Y%m%d") - dt.datetime.strptime(a, "%Y%m%d")).days


def code_values(ds: Dataset) -> list[str]:
    return [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]


# --------------------------------------------------------------------------
# The vendored table


def test_table_covers_the_identifying_attributes():
    table = annex_e_table()
    assert len(table) > 600
    expected = {
        "PatientName": "Z",
        "PatientBirthDate": "Z",
        "StudyInstanceUID": "U",
        "SeriesInstanceUID": "U",
        "SOPInstanceUID": "U",
        "FrameOfReferenceUID": "U",
        "AccessionNumber": "Z",
        "StudyDate": "Z",
        "InstitutionName": "X/Z/D",
        "InstitutionAddress": "X",
        "OperatorsName": "X/Z/D",
        "ReferringPhysicianName": "Z",
        "StationName": "X/Z/D",
        "DeviceSerialNumber": "X/Z/D",
        "OtherPatientIDs": "X",
        "IconImageSequence": "X",
        "ReferencedImageSequence": "X/Z/U*",
    }
    by_keyword = {rule.keyword: rule for rule in table.values()}
    for keyword, action in expected.items():
        assert by_keyword[keyword].basic == action, keyword
    # The retain-dates option column: study dates are kept (shifted), birth date is not.
    assert by_keyword["StudyDate"].retain_dates == "C"
    assert by_keyword["AcquisitionDateTime"].retain_dates == "C"
    assert by_keyword["PatientBirthDate"].retain_dates == ""
    assert all(rule.basic for rule in table.values())


# --------------------------------------------------------------------------
# UIDs


def test_new_uid_is_valid_deterministic_and_keyed():
    original = "1.2.840.113619.2.55.3.604688119.969.1268071029.320"
    uid = new_uid(original, KEY)
    assert UID_RE.match(uid) and len(uid) <= 64
    assert pydicom.uid.UID(uid).is_valid
    assert new_uid(original, KEY) == uid
    assert new_uid(original, OTHER_KEY) != uid
    assert new_uid(original + "1", KEY) != uid


def second_instance(ds: Dataset) -> Dataset:
    """Another image of the same study and series, as a separate file would be."""
    other = copy.deepcopy(ds)
    other.SOPInstanceUID = ds.SOPInstanceUID + ".2"
    other.file_meta.MediaStorageSOPInstanceUID = other.SOPInstanceUID
    other.InstanceNumber = 2
    return other


def test_uids_are_consistent_across_files_processed_separately():
    first = load(IMAGES / "us_greyscale_burned_in.dcm")
    second = second_instance(first)
    a, b = deid(first), deid(second)  # as two workers would, sharing only the key
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
        assert a[keyword].value == b[keyword].value
        assert a[keyword].value != first[keyword].value
        assert UID_RE.match(a[keyword].value) and len(a[keyword].value) <= 64
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    assert b.file_meta.MediaStorageSOPInstanceUID == b.SOPInstanceUID
    # Another batch key gives other UIDs.
    c = deid(first, key=OTHER_KEY)
    assert c.StudyInstanceUID != a.StudyInstanceUID
    # Every UID in the output that identifies an instance was replaced.
    for elem in a.iterall():
        if elem.VR == "UI" and elem.keyword not in ("SOPClassUID", "ReferencedSOPClassUID"):
            for value in elem.value if elem.VM > 1 else [elem.value]:
                assert UID_RE.match(str(value)), elem.keyword


def test_references_point_at_the_new_instance_uids():
    ct = load(IMAGES / "ct_brain1.dcm")
    referenced = ct.ReferencedImageSequence[0].ReferencedSOPInstanceUID
    out = deid(ct)
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == new_uid(referenced, KEY)
    # The class UID of the reference is not an identifier: kept.
    assert out.ReferencedImageSequence[0].ReferencedSOPClassUID == ct.ReferencedImageSequence[0].ReferencedSOPClassUID


# --------------------------------------------------------------------------
# Basic Profile actions


def test_basic_profile_on_a_real_ultrasound_header():
    original = load(IMAGES / "us_greyscale_burned_in.dcm")
    out = deid(original)
    # Type 2 identifiers stay present but empty (Z) or get the pseudonym.
    assert "StudyDate" in out and not out.StudyDate
    assert "AccessionNumber" in out and not out.AccessionNumber
    assert "PatientBirthDate" in out and not out.PatientBirthDate
    assert str(out.PatientName) == out.PatientID and out.PatientID.startswith("ANON-")
    # X/Z -> emptied; X/Z/D -> emptied; X -> removed.
    assert not out.get("InstitutionName")
    assert "PatientAge" not in out and "OtherPatientIDs" not in out
    assert "RequestAttributesSequence" not in out
    assert "StudyDescription" not in out
    # No private tags anywhere, no dates left.
    assert not any(e.tag.is_private for e in out.iterall())
    assert not any(e.VR in ("DA", "DT") and e.value for e in out.iterall())
    # What the image needs stays.
    for keyword in ("SOPClassUID", "Modality", "Rows", "Columns", "PhotometricInterpretation", "PixelData", "WindowCenter"):
        assert out[keyword].value == original[keyword].value, keyword
    assert "SequenceOfUltrasoundRegions" in out
    # The record of what was done.
    assert out.PatientIdentityRemoved == "YES"
    assert out.BurnedInAnnotation == "NO"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert code_values(out) == ["113100", "113101"]
    assert all(item.CodingSchemeDesignator == "DCM" for item in out.DeidentificationMethodCodeSequence)
    methods = out.DeidentificationMethod if out["DeidentificationMethod"].VM > 1 else [out.DeidentificationMethod]
    assert all(len(m) <= 64 for m in methods) and "Annex E" in " ".join(methods)


def test_private_overlay_curve_icon_and_group_length_removed_recursively():
    ds = load(bundled("nested_priv_SQ.dcm"))  # private sequence with private items
    assert any(e.tag.is_private for e in ds.iterall())
    icon = Dataset()
    icon.Rows = 2
    icon.Columns = 2
    ds.IconImageSequence = Sequence([icon])
    item = Dataset()
    item.IconImageSequence = Sequence([copy.deepcopy(icon)])
    item.add_new(0x00091001, "LO", "vendor secret")
    item.PatientName = "Nested^Name"
    item.EvaluatorName = "Other^Name"  # a person name Table E.1-1 does not list
    ds.ReferencedImageSequence = Sequence([item])
    ds.add_new(0x60000010, "US", 2)  # overlay rows
    ds.add_new(0x60003000, "OW", b"\x00\x01")  # overlay data
    ds.add_new(0x50000005, "US", 1)  # curve dimensions
    ds.add_new(0x00080000, "UL", 100)  # group length
    out = deid(ds)
    assert not any(e.tag.is_private for e in out.iterall())
    assert not any(e.keyword == "IconImageSequence" for e in out.iterall())
    assert not any(e.tag.group in (0x5000, 0x6000) for e in out.iterall())
    assert 0x00080000 not in out
    nested = out.ReferencedImageSequence[0]
    assert not nested.PatientName  # Z inside sequences too
    assert "EvaluatorName" not in nested  # unlisted person names are removed (safety net)


def test_compound_codes_keep_type1_attributes_of_enhanced_images():
    ds = load(bundled("CT_small.dcm"))
    ds.ContentDate = "20200102"
    ds.DeviceSerialNumber = "SN-123"
    plain = deid(ds)
    assert "ContentDate" in plain and not plain.ContentDate  # Z/D -> Z
    assert "DeviceSerialNumber" in plain and not plain.DeviceSerialNumber
    ds.SharedFunctionalGroupsSequence = Sequence([Dataset()])
    enhanced = deid(ds)  # Type 1 in the enhanced IODs: a dummy, not empty
    assert enhanced.ContentDate == "19000101"
    assert enhanced.DeviceSerialNumber == "ANONYMIZED"


def test_file_meta_is_cleaned():
    ds = load(bundled("CT_small.dcm"))
    ds.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
    out = deid(ds)
    assert "SourceApplicationEntityTitle" not in out.file_meta
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID != ds.SOPInstanceUID


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        deidentify_header(Dataset(), ProfileOptions(key=b""))


# --------------------------------------------------------------------------
# Dates


def dated(patient_id: str) -> Dataset:
    ds = load(bundled("CT_small.dcm"))
    ds.PatientID = patient_id
    ds.StudyDate = "20200101"
    ds.SeriesDate = "20200103"
    ds.AcquisitionDate = "20200315"
    ds.StudyTime = "101500"
    ds.AcquisitionDateTime = "20200315083000.5+0100"
    ds.PatientBirthDate = "19700101"
    return ds


def test_retained_dates_are_shifted_keeping_intervals():
    original = dated("PAT-1")
    out = deid(original, retain_longitudinal_dates=True)
    assert out.StudyDate != original.StudyDate
    shift = days_between(original.StudyDate, out.StudyDate)
    assert shift == date_offset_days("id:PAT-1", KEY) and -3652 <= shift <= -365
    assert days_between(out.StudyDate, out.AcquisitionDate) == days_between(original.StudyDate, original.AcquisitionDate)
    assert days_between(out.StudyDate, out.SeriesDate) == 2
    assert out.StudyTime == original.StudyTime  # whole-day shifts keep times of day
    assert out.AcquisitionDateTime[8:] == original.AcquisitionDateTime[8:]
    assert days_between(original.AcquisitionDateTime[:8], out.AcquisitionDateTime[:8]) == shift
    assert not out.PatientBirthDate  # not covered by the option
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert code_values(out) == ["113100", "113101", "113107"]


def test_date_offset_is_per_patient_and_shared_across_files():
    a1 = deid(dated("PAT-1"), retain_longitudinal_dates=True)
    later = dated("PAT-1")
    later.StudyDate = "20210101"
    a2 = deid(later, retain_longitudinal_dates=True)  # another study of the same patient
    assert days_between(a1.StudyDate, a2.StudyDate) == 366
    offsets = {date_offset_days(f"id:PAT-{i}", KEY) for i in range(20)}
    assert len(offsets) > 10  # patients do not share one offset
    assert date_offset_days("id:PAT-1", OTHER_KEY) != date_offset_days("id:PAT-1", KEY) or date_offset_days(
        "id:PAT-2", OTHER_KEY
    ) != date_offset_days("id:PAT-2", KEY)


def test_dates_are_removed_without_the_option():
    out = deid(dated("PAT-1"))
    assert not out.StudyDate  # Z
    assert not out.AcquisitionDate  # X/Z -> Z
    assert "SeriesDate" not in out  # X/D -> X
    assert not out.get("AcquisitionDateTime")
    assert "113107" not in code_values(out)


def test_dates_outside_the_table_are_handled_like_listed_ones():
    ds = dated("PAT-1")
    ds.DateOfGainCalibration = "20191201"  # (0014,3076) is not in Table E.1-1
    assert "DateOfGainCalibration" not in deid(ds)
    shifted = deid(ds, retain_longitudinal_dates=True)
    assert days_between(ds.DateOfGainCalibration, shifted.DateOfGainCalibration) == date_offset_days("id:PAT-1", KEY)


def test_unshiftable_date_is_not_kept():
    ds = dated("PAT-1")
    ds.AcquisitionDate = "2020"  # not a full date
    out = deid(ds, retain_longitudinal_dates=True)
    assert "AcquisitionDate" not in out


# --------------------------------------------------------------------------
# Pseudonyms


def test_site_pseudonym_map_is_applied():
    ds = dated("MRN-0042")
    out = deid(ds, pseudonyms={"MRN-0042": "SUBJ-007"})
    assert out.PatientID == "SUBJ-007" and str(out.PatientName) == "SUBJ-007"


def test_patients_missing_from_the_map_get_a_keyed_pseudonym():
    options = ProfileOptions(key=KEY, pseudonyms={"someone-else": "SUBJ-001"})
    out = deid(dated("MRN-0042"), pseudonyms={"someone-else": "SUBJ-001"})
    assert out.PatientID == pseudonym_for("MRN-0042", options)
    assert out.PatientID.startswith("ANON-") and "0042" not in out.PatientID
    assert deid(dated("MRN-0042")).PatientID == out.PatientID  # stable across files
    assert deid(dated("MRN-0043")).PatientID != out.PatientID
    assert deid(dated("MRN-0042"), key=OTHER_KEY).PatientID != out.PatientID


def test_patients_without_an_id_do_not_share_a_pseudonym():
    first, second = dated(""), dated("")
    first.PatientName, second.PatientName = "Doe^Jane", "Roe^Richard"
    a, b = deid(first), deid(second)
    assert a.PatientID != b.PatientID
    assert a.PatientID == deid(first).PatientID
    assert "Doe" not in a.PatientID
