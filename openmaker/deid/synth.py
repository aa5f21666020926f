"""Labelled synthetic medical images with burned-in text, for evaluating de-identification.

:func:`generate` writes a dataset that the redaction pipeline is scored on
(see :mod:`openmaker.deid.scoring`). Everything is made here, procedurally:
no downloaded images, fonts from the system (DejaVu, Liberation) or
matplotlib's bundled DejaVu, fake PHI from Faker. The same seed gives the same
files, byte for byte, on the same machine (same fonts and library versions,
which ``dataset.json`` records).

Layout of ``out_dir``::

    images/<name>.png|.jpg|.dcm   the images (format chosen round-robin from ``formats``)
    masks/<name>.png              8-bit mask: 255 where a PHI word's glyph ink is, else 0
    ground_truth.json             {"<name>.<ext>": [word, ...]}
    dataset.json                  seed, n, size, versions, fonts, per-image metadata

Ground truth: one entry per word (whitespace-separated token), in drawing
order, in pixel coordinates of the image (frame 0 for DICOM)::

    {"label": "NAME", "text": "DOE,", "left": 12, "top": 3, "width": 51, "height": 14}

The keys are the ones Presidio's image-redactor evaluation uses. ``label`` is

* a PHI type, named as AWS Comprehend Medical DetectPHI names them: ``NAME``,
  ``DATE`` (times too), ``AGE``, ``ID`` (MRN, accession, SSN-like numbers),
  ``ADDRESS`` (street addresses *and* named facilities such as "ST. MARY'S
  HOSPITAL", as Comprehend Medical does), ``CONTACT_POINT`` (phone, e-mail),
  ``PROFESSION``; plus ``GENDER`` (sex markers such as "M", "F", "Male"),
  which Comprehend Medical does not return but which burned-in patient blocks
  carry and which we count as PHI;
* ``TECHNICAL``: acquisition text that must survive (``kVp 120``, ``W:400
  L:40``, ``MI 0.6``, ``PA ERECT``, orientation markers, scale labels ...),
  used to measure over-redaction;
* ``LABEL``: field captions and titles next to PHI (``Name:``, ``DOB:``,
  ``MRN:``, ``Acc:``, ``Dr.``, ``MD``). Neither PHI nor technical: the scorer
  ignores them, since removing them with the value next to them is harmless
  and keeping them is too.

A GT box is the bounding box of the word's ink (anti-aliasing alpha >= 16/255)
after any rotation, so it is tight: redactors are expected to pad. The mask
holds the word's ink pixels (alpha >= 128/255, i.e. at least half covered by
the glyph) for PHI words only, rendered on a separate layer (rotated the same
way), before blur and JPEG compression.

``dataset.json`` ``images[<name>]`` holds, per image: the background ``kind``
(ct, mr, xray, us, plain), size, colour, inversion, blur, JPEG quality, DICOM
encoding, ``header_phi`` (the PHI attributes written to the DICOM header,
keyword -> value; ``null`` for PNG/JPEG) and ``words``, aligned index by index
with the image's ground-truth list: font, font size, rotation angle,
contrast (|text luminance - background luminance under the glyphs| / 255),
whether the word touches the border (<= 2 px), the DICOM keyword the value
came from (``field``) and whether that value is in this image's header
(``in_header``), so that header-seeded matching can be evaluated separately.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["GENERATOR_VERSION", "LABEL", "PHI_LABELS", "TECHNICAL", "available_fonts", "generate"]

GENERATOR_VERSION = "1.0"
PHI_LABELS = ("NAME", "DATE", "AGE", "ID", "ADDRESS", "GENDER", "CONTACT_POINT", "PROFESSION")
TECHNICAL = "TECHNICAL"
LABEL = "LABEL"

BOX_ALPHA = 16  # ink at or above this alpha (of 255) is inside the GT box
MASK_ALPHA = 128  # ink at or above this alpha is a PHI pixel in the mask

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
_FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSerif.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSansNarrow-Regular.ttf",
    "LiberationMono-Regular.ttf",
    "LiberationMono-Bold.ttf",
    "LiberationSerif-Regular.ttf",
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# value lengths allowed by the attributes' VRs (SH 16, LO 64, PN 64 per component group)
_MAX_LEN = {"PatientTelephoneNumbers": 16, "Occupation": 16, "AccessionNumber": 16, "InstitutionAddress": 1024}

_SOP = {
    "sc": "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
    "us": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "ct": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "cr": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
}


def available_fonts() -> list[Path]:
    """The TrueType fonts the generator draws with, in a fixed order.

    System DejaVu and Liberation fonts where installed, else matplotlib's
    bundled DejaVu Sans. ``RuntimeError`` when there is none.
    """
    found: list[Path] = []
    for name in _FONT_FILES:
        for d in _FONT_DIRS:
            p = Path(d) / name
            if p.is_file():
                found.append(p)
                break
    if not found:
        try:
            import matplotlib

            mpl = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
            found = [p for n in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf") if (p := mpl / n).is_file()]
        except ImportError:
            pass
    if not found:
        raise RuntimeError("no TrueType font found: install fonts-dejavu-core (or matplotlib)")
    return found


@lru_cache(maxsize=512)
def _font(path: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px)


# --------------------------------------------------------------------------- content


@dataclass(frozen=True)
class _Tok:
    text: str
    label: str
    field: str | None = None
    gap: float = 1.0  # spaces before this token (ignored for a line's first token)


def _toks(text: str, label: str, field: str | None = None, gap: float = 1.0) -> list[_Tok]:
    return [_Tok(p, label, field, gap if i == 0 else 1.0) for i, p in enumerate(text.split())]


def _lab(text: str, gap: float = 1.0) -> list[_Tok]:
    return _toks(text, LABEL, None, gap)


def _tech(text: str, gap: float = 1.0) -> list[_Tok]:
    return _toks(text, TECHNICAL, None, gap)


def _pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _fmt_date(d: dt.date, rng: np.random.Generator) -> str:
    m, dd, y = d.month, d.day, d.year
    mon = _MONTHS[m - 1]
    styles = (
        f"{m:02d}/{dd:02d}/{y}",
        f"{dd:02d}.{m:02d}.{y}",
        f"{y}-{m:02d}-{dd:02d}",
        f"{dd:02d}-{mon}-{y}",
        f"{dd:02d}-{mon.upper()}-{y}",
        f"{mon} {dd} {y}",
        f"{mon} {dd}, {y}",
        f"{y}{m:02d}{dd:02d}",
        f"{m}/{dd}/{y % 100:02d}",
        f"{dd} {mon} {y}",
        f"{y}/{m:02d}/{dd:02d}",
        f"{m:02d}.{dd:02d}.{y}",
    )
    return _pick(rng, styles)


def _fmt_time(t: dt.time, rng: np.random.Generator) -> str:
    h12 = t.hour % 12 or 12
    ap = "AM" if t.hour < 12 else "PM"
    styles = (
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}",
        f"{h12:02d}:{t.minute:02d}:{t.second:02d} {ap}",
        f"{h12:02d}:{t.minute:02d}:{t.second:02d}{ap}",
        f"{h12}:{t.minute:02d} {ap}",
        f"{t.hour:02d}:{t.minute:02d}",
    )
    return _pick(rng, styles)


def _digits(rng: np.random.Generator, k: int) -> str:
    return "".join(str(int(x)) for x in rng.integers(0, 10, size=k))


@dataclass
class _Patient:
    last: str
    first: str
    middle: str
    sex: str
    dob: dt.date
    age: int  # years; 0 for infants (see months)
    months: int
    study: dt.datetime
    mrn: str
    accession: str
    institution: str
    inst_address: str
    phone: str
    address: str
    ref_last: str
    ref_first: str
    operator: str
    occupation: str
    email: str

    def pn(self) -> str:  # DICOM Person Name
        return f"{self.last.upper()}^{self.first.upper()}^{self.middle}"

    def dicom_age(self) -> str:
        return f"{self.months:03d}M" if self.age == 0 else f"{self.age:03d}Y"


def _make_patient(fake: Any, rng: np.random.Generator) -> _Patient:
    last = fake.last_name()
    if rng.random() < 0.05:
        last = f"{last}-{fake.last_name()}"
    sex = "F" if rng.random() < 0.5 else "M"
    first = fake.first_name_female() if sex == "F" else fake.first_name_male()
    middle = chr(ord("A") + int(rng.integers(26)))
    study_day = dt.date(2005, 1, 1) + dt.timedelta(days=int(rng.integers(0, 20 * 365)))
    secs = int(rng.integers(6 * 3600, 23 * 3600))
    study = dt.datetime.combine(study_day, dt.time(secs // 3600, secs // 60 % 60, secs % 60))
    if rng.random() < 0.05:
        months = int(rng.integers(1, 24))
        dob = study_day - dt.timedelta(days=int(months * 30.4 + rng.integers(0, 28)))
        age = 0
    else:
        age = int(np.clip(rng.normal(55, 20), 1, 99))
        months = 0
        dob = study_day - dt.timedelta(days=int(age * 365.25 + rng.integers(1, 360)))
    if dob.month == 2 and dob.day == 29:
        dob = dob.replace(day=28)

    city = fake.city()
    inst = _pick(
        rng,
        (
            f"ST. {fake.first_name().upper()}'S HOSPITAL",
            f"{city.upper()} MEDICAL CENTER",
            f"{fake.last_name().upper()} CLINIC",
            f"{city} General Hospital",
            f"UNIVERSITY OF {fake.state().upper()} HOSPITAL",
            f"{fake.last_name()} Imaging Center",
            f"{''.join(chr(ord('A') + int(x)) for x in rng.integers(0, 26, 4))} {city.upper()} CLINIC",
            f"{city} Children's Hospital",
        ),
    )
    inst_addr = f"{fake.street_address()}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"
    addr = f"{fake.street_address()}, {city}, {fake.state_abbr()} {fake.zipcode()}"

    k = int(rng.integers(0, 6))
    if k == 0:
        mrn = _digits(rng, int(rng.integers(6, 12)))
    elif k == 1:
        mrn = "000" + _digits(rng, int(rng.integers(5, 9)))
    elif k == 2:
        mrn = _pick(rng, ("E", "H", "MRN", "RAD", "P", "CH")) + _digits(rng, int(rng.integers(6, 9)))
    elif k == 3:
        mrn = f"{_digits(rng, 2)}-{_digits(rng, 3)}-{_digits(rng, 3)}"
    elif k == 4:
        mrn = f"{_pick(rng, ('RAD', 'MR', 'PT'))}-{_digits(rng, 6)}"
    else:
        mrn = f"{_digits(rng, 3)}-{_digits(rng, 2)}-{_digits(rng, 4)}"  # SSN-shaped

    k = int(rng.integers(0, 4))
    ymd = study.strftime("%Y%m%d")
    if k == 0:
        acc = f"{_pick(rng, ('A', 'E', 'X'))}{ymd}-{_digits(rng, 4)}"
    elif k == 1:
        acc = "ACC" + _digits(rng, int(rng.integers(6, 9)))
    elif k == 2:
        acc = _digits(rng, int(rng.integers(8, 11)))
    else:
        acc = f"{_pick(rng, ('US', 'CT', 'MR', 'CR'))}{ymd[2:]}{_digits(rng, 5)}"

    ref_sex_f = rng.random() < 0.5
    return _Patient(
        last=last,
        first=first,
        middle=middle,
        sex=sex,
        dob=dob,
        age=age,
        months=months,
        study=study,
        mrn=mrn,
        accession=acc,
        institution=inst,
        inst_address=inst_addr,
        phone=fake.phone_number(),
        address=addr,
        ref_last=fake.last_name(),
        ref_first=fake.first_name_female() if ref_sex_f else fake.first_name_male(),
        operator="".join(chr(ord("A") + int(x)) for x in rng.integers(0, 26, int(rng.integers(2, 4)))),
        occupation=fake.job(),
        email=fake.email(),
    )


def _name_tokens(p: _Patient, rng: np.random.Generator) -> list[_Tok]:
    L, F, M = p.last, p.first, p.middle
    text = _pick(
        rng,
        (
            f"{L.upper()}, {F.upper()}",
            f"{L.upper()}^{F.upper()}",
            f"{F} {L}",
            f"{F.upper()} {M} {L.upper()}",
            f"{L.upper()}^{F.upper()}^{M}",
            f"{L}, {F} {M}.",
            f"{L.upper()} {F.upper()}",
            f"{L.upper()},{F.upper()}",
        ),
    )
    return _toks(text, "NAME", "PatientName")


def _age_tokens(p: _Patient, rng: np.random.Generator) -> list[_Tok]:
    if p.age == 0:
        return _toks(_pick(rng, (f"{p.months}M", f"{p.months:03d}M", f"{p.months} mo")), "AGE", "PatientAge")
    a = p.age
    k = int(rng.integers(0, 6))
    if k == 0:
        return _toks(f"{a}Y", "AGE", "PatientAge")
    if k == 1:
        return _toks(f"{a:03d}Y", "AGE", "PatientAge")
    if k == 2:
        return _lab("Age:") + _toks(str(a), "AGE", "PatientAge")
    if k == 3:
        return _toks(f"{a} yrs", "AGE", "PatientAge")
    if k == 4:
        return _toks(f"({a}Y)", "AGE", "PatientAge")
    return _toks(f"{a}y", "AGE", "PatientAge")


def _sex_tokens(p: _Patient, rng: np.random.Generator) -> list[_Tok]:
    k = int(rng.integers(0, 5))
    if k == 0:
        return _lab("Sex:") + _toks(p.sex, "GENDER", "PatientSex")
    if k == 1:
        return _toks({"M": "Male", "F": "Female"}[p.sex], "GENDER", "PatientSex")
    if k == 2:
        return _toks(f"[{p.sex}]", "GENDER", "PatientSex")
    return _toks(p.sex, "GENDER", "PatientSex")


def _date_tokens(d: dt.date, field: str, rng: np.random.Generator, gap: float = 1.0) -> list[_Tok]:
    return _toks(_fmt_date(d, rng), "DATE", field, gap)


def _datetime_tokens(p: _Patient, rng: np.random.Generator) -> list[_Tok]:
    toks = _date_tokens(p.study.date(), "StudyDate", rng)
    if rng.random() < 0.65:
        toks += _toks(_fmt_time(p.study.time(), rng), "DATE", "StudyTime", gap=float(rng.integers(1, 3)))
    return toks


def _patient_lines(p: _Patient, rng: np.random.Generator) -> list[list[_Tok]]:
    lines: list[list[_Tok]] = []
    name = _name_tokens(p, rng)
    if rng.random() < 0.45:
        name = _lab(_pick(rng, ("Name:", "Pt:", "Patient:", "Patient Name:", "NAME:"))) + name
    lines.append(name)
    if rng.random() < 0.85:
        mrn = _toks(p.mrn, "ID", "PatientID")
        if rng.random() < 0.5:
            mrn = _lab(_pick(rng, ("ID:", "MRN:", "Pat ID:", "PID:", "MRN#", "Patient ID:"))) + mrn
        lines.append(mrn)
    if rng.random() < 0.8:
        k = int(rng.integers(0, 5))
        dob = _date_tokens(p.dob, "PatientBirthDate", rng)
        if k == 0:
            line = _lab(_pick(rng, ("DOB:", "Birth:", "DOB", "D.O.B."))) + dob
        elif k == 1:
            line = dob + [_Tok(t.text, t.label, t.field, 2.0) if i == 0 else t for i, t in enumerate(_age_tokens(p, rng))]
            line += _sex_tokens(p, rng)
        elif k == 2:
            line = _age_tokens(p, rng) + _sex_tokens(p, rng)
        elif k == 3:
            line = _sex_tokens(p, rng) + _age_tokens(p, rng)
        else:
            line = _lab("DOB:") + dob + _age_tokens(p, rng)
        lines.append(line)
    if rng.random() < 0.45:
        lines.append(_lab(_pick(rng, ("Acc:", "Acc#", "Accession:", "ACC:"))) + _toks(p.accession, "ID", "AccessionNumber"))
    if rng.random() < 0.18:
        k = int(rng.integers(0, 3))
        if k == 0:
            line = _lab("Ref: Dr.") + _toks(f"{p.ref_first} {p.ref_last}", "NAME", "ReferringPhysicianName")
        elif k == 1:
            line = _lab("Ref. Phys:") + _toks(f"{p.ref_last.upper()}, {p.ref_first.upper()}", "NAME", "ReferringPhysicianName")
        else:
            line = _toks(f"{p.ref_first[0]}. {p.ref_last.upper()}", "NAME", "ReferringPhysicianName") + _lab("MD")
        lines.append(line)
    if rng.random() < 0.08:
        lines.append(_toks(p.address, "ADDRESS", "PatientAddress"))
    if rng.random() < 0.12:
        lines.append(_lab(_pick(rng, ("Tel:", "Ph:", "Phone:"))) + _toks(p.phone, "CONTACT_POINT", "PatientTelephoneNumbers"))
    if rng.random() < 0.04:
        lines.append(_lab("Occupation:") + _toks(p.occupation, "PROFESSION", "Occupation"))
    if rng.random() < 0.02:
        lines.append(_toks(p.email, "CONTACT_POINT", None))
    return lines


def _institution_lines(p: _Patient, rng: np.random.Generator, kind: str) -> list[list[_Tok]]:
    lines: list[list[_Tok]] = []
    if rng.random() < 0.8:
        lines.append(_toks(p.institution, "ADDRESS", "InstitutionName"))
    if rng.random() < 0.9:
        line = _datetime_tokens(p, rng)
        if rng.random() < 0.3:
            line = _lab(_pick(rng, ("Study Date:", "Date:", "Exam:"))) + line
        lines.append(line)
    if rng.random() < 0.15:
        lines.append(_toks(p.inst_address, "ADDRESS", "InstitutionAddress"))
    if rng.random() < 0.2:
        lines.append(_lab(_pick(rng, ("Tel:", "Ph:", "Fax:"))) + _toks(p.phone, "CONTACT_POINT", None))
    if rng.random() < 0.3:
        lines.append(_tech(_pick(rng, _MANUFACTURERS[kind])))
    if rng.random() < 0.12:
        lines.append(_lab(_pick(rng, ("Op:", "Tech:", "Sono:"))) + _toks(p.operator, "NAME", "OperatorsName"))
    return lines


_MANUFACTURERS = {
    "ct": ("SIEMENS", "GE MEDICAL SYSTEMS", "TOSHIBA", "Philips", "SOMATOM Force", "LightSpeed VCT"),
    "mr": ("SIEMENS", "PHILIPS", "GE MEDICAL SYSTEMS", "Avanto", "Signa HDxt", "Ingenia"),
    "xray": ("AGFA", "FUJIFILM", "Carestream", "SIEMENS", "KONICA MINOLTA"),
    "us": ("SIEMENS", "ACUSON S2000", "PHILIPS", "LOGIQ E9", "iU22", "Voluson E8"),
    "plain": ("SIEMENS", "GE MEDICAL SYSTEMS", "Secondary Capture", "syngo.via"),
}


def _technical_lines(kind: str, rng: np.random.Generator, n: int) -> list[list[_Tok]]:
    r = rng
    pools: dict[str, list[Any]] = {
        "ct": [
            lambda: f"kVp {_pick(r, (80, 100, 120, 140))}",
            lambda: f"mAs {int(r.integers(40, 400))}",
            lambda: f"W:{_pick(r, (80, 350, 400, 1500, 2000))} L:{_pick(r, (40, 50, 35, 300, -600))}",
            lambda: f"WW {_pick(r, (80, 350, 400))} WL {_pick(r, (40, 50))}",
            lambda: f"{_pick(r, ('0.625', '1.25', '2.5', '5.0'))} mm",
            lambda: f"FOV {int(r.integers(200, 500))}",
            lambda: f"Tilt {_pick(r, ('0.0', '-12.0', '5.5'))}",
            lambda: f"Se {int(r.integers(1, 9))} Im {int(r.integers(1, 300))}",
            lambda: f"DFOV {r.uniform(18, 50):.1f}cm",
            lambda: f"{_pick(r, (120, 100))} kV {int(r.integers(100, 500))} mA",
            lambda: _pick(r, ("STND", "BONE", "LUNG", "SOFT", "HFS", "FFS", "C+", "W/O")),
            lambda: f"Pitch {_pick(r, ('0.984', '1.375', '0.6'))}",
            lambda: "512x512",
        ],
        "mr": [
            lambda: _pick(r, ("AX T2 FLAIR", "SAG T1", "COR STIR", "AX DWI b1000", "AX T1 POST", "SAG T2 FSE", "AX SWI")),
            lambda: f"TR {int(r.integers(400, 10000))}",
            lambda: f"TE {int(r.integers(8, 130))}",
            lambda: f"TI {int(r.integers(100, 2600))}",
            lambda: f"ET {int(r.integers(1, 32))}",
            lambda: f"{_pick(r, ('3.0', '4.0', '5.0'))} mm",
            lambda: f"FOV {_pick(r, (220, 240, 256, 380))}",
            lambda: f"W:{int(r.integers(300, 2000))} L:{int(r.integers(150, 1000))}",
            lambda: _pick(r, ("1.5T", "3T", "3.0T")),
            lambda: f"NEX {_pick(r, (1, 2, 4))}",
            lambda: _pick(r, ("256x192", "320x256", "512x512")),
            lambda: f"Se {int(r.integers(1, 20))} Im {int(r.integers(1, 40))}/{int(r.integers(40, 60))}",
        ],
        "xray": [
            lambda: _pick(r, ("PA ERECT", "AP SUPINE", "PORTABLE", "AP ERECT", "LAT", "CHEST PA", "PORTABLE AP SEMI-ERECT")),
            lambda: f"kVp {int(r.integers(60, 125))}",
            lambda: f"mAs {r.uniform(1, 20):.1f}",
            lambda: f"W:{_pick(r, (4095, 3000, 2048))} L:{_pick(r, (2048, 1500, 1024))}",
            lambda: f"SID {_pick(r, (100, 180))} cm",
            lambda: f"EI {int(r.integers(200, 1200))}",
            lambda: _pick(r, ("CHEST", "ABDOMEN", "L-SPINE", "HAND", "KNEE")),
        ],
        "us": [
            lambda: f"MI {r.uniform(0.2, 1.4):.1f}",
            lambda: f"TIS{r.uniform(0, 1.2):.1f}",
            lambda: f"TIB {r.uniform(0, 1.5):.1f}",
            lambda: _pick(r, ("L12-5", "C5-1", "C5-2", "L9", "9L4", "C1-6", "EC9-4")),
            lambda: _pick(r, ("2D", "CF", "PW", "M")),
            lambda: f"{int(r.integers(30, 100))}%",
            lambda: f"Gn {int(r.integers(20, 80))}",
            lambda: f"DR {int(r.integers(40, 80))}",
            lambda: f"{int(r.integers(8, 60))}fps",
            lambda: f"{r.uniform(2, 18):.1f}cm",
            lambda: f"{int(r.integers(10, 60))}Hz",
            lambda: _pick(r, ("Adv Breast", "Sag Liver", "Trans Thyroid", "RT KIDNEY", "LT KIDNEY", "Abd General", "OB 2/3")),
            lambda: _pick(r, ("Res", "Gen", "Pen", "HPen", "P Med", "C 52", "FR 32Hz", "THI")),
        ],
        "plain": [
            lambda: f"Page {int(r.integers(1, 3))}/{int(r.integers(3, 5))}",
            lambda: _pick(r, ("Screen Capture", "DOSE REPORT", "Series 1", "Key Image", "Summary")),
            lambda: f"CTDIvol {r.uniform(2, 60):.2f} mGy",
            lambda: f"DLP {r.uniform(50, 1500):.1f} mGy-cm",
            lambda: f"Total mAs {int(r.integers(300, 9000))}",
            lambda: f"Scan {int(r.integers(1, 5))}",
        ],
    }
    pool = pools[kind]
    idx = rng.permutation(len(pool))[: max(0, n)]
    lines = []
    for i in idx:
        toks = _tech(pool[int(i)]())
        if rng.random() < 0.35 and len(idx) > 1:  # two fields on one line, as consoles do
            toks += _tech(pool[int(rng.integers(len(pool)))](), gap=float(rng.integers(2, 4)))
        lines.append(toks)
    return lines


# --------------------------------------------------------------------------- backgrounds


def _smooth(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """A smooth random field, roughly N(0, 1), with features about ``cell`` px wide."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.ogrid[:h, :w]
    return yy.astype(np.float32), xx.astype(np.float32)


def _ell(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    return np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)


def _soft(r: np.ndarray, edge: float = 0.03) -> np.ndarray:
    """1 inside r<1, 0 outside, with a soft edge."""
    return np.clip((1.0 - r) / edge, 0.0, 1.0)


def _bg_ct(rng: np.random.Generator, h: int, w: int, mr: bool = False) -> np.ndarray:
    yy, xx = _grid(h, w)
    img = np.full((h, w), rng.uniform(0, 10), np.float32)
    cx = w / 2 + rng.uniform(-0.04, 0.04) * w
    cy = h / 2 + rng.uniform(-0.03, 0.05) * h
    tex = _smooth(rng, h, w, h / 24) * 10 + _smooth(rng, h, w, h / 120) * 5
    head = rng.random() < 0.45
    if head:
        rx = rng.uniform(0.28, 0.36) * w
        ry = rx * rng.uniform(1.12, 1.28)
        r = _ell(yy, xx, cy, cx, ry, rx)
        if mr:
            img = np.where(r <= 1.03, 170 + tex, img)  # scalp fat
            img = np.where(r <= 0.97, 25 + tex * 0.3, img)  # skull (dark on MR)
            csf = rng.uniform(30, 230)
            img = np.where(r <= 0.92, 115 + tex * 1.6, img)
        else:
            img = np.where(r <= 1.03, 95 + tex * 0.4, img)
            img = np.where(r <= 0.99, 240 + tex * 0.3, img)  # skull
            csf = 40.0
            img = np.where(r <= 0.92, 100 + tex, img)
        for side in (-1, 1):  # ventricles
            rv = _ell(yy, xx, cy - 0.05 * ry, cx + side * 0.12 * rx, 0.22 * ry, 0.07 * rx)
            img = img * (1 - _soft(rv, 0.2)) + csf * _soft(rv, 0.2)
    else:
        rx = rng.uniform(0.36, 0.46) * w
        ry = rx * rng.uniform(0.62, 0.8)
        r = _ell(yy, xx, cy, cx, ry, rx)
        fat = 170.0 if mr else 70.0
        img = np.where(r <= 1.0, fat + tex * 0.5, img)
        img = np.where(r <= 0.9, (105 if mr else 115) + tex * 1.3, img)
        if rng.random() < 0.5:  # chest: lungs
            for side in (-1, 1):
                rl = _ell(yy, xx, cy - 0.05 * ry, cx + side * 0.45 * rx, 0.6 * ry, 0.33 * rx)
                img = img * (1 - _soft(rl, 0.08)) + (12 + tex * 0.4) * _soft(rl, 0.08)
        else:  # abdomen: liver, kidneys
            rl = _ell(yy, xx, cy - 0.1 * ry, cx - 0.35 * rx, 0.5 * ry, 0.45 * rx)
            img = img * (1 - _soft(rl, 0.1)) + (135 + tex) * _soft(rl, 0.1)
            for side in (-1, 1):
                rk = _ell(yy, xx, cy + 0.3 * ry, cx + side * 0.32 * rx, 0.2 * ry, 0.1 * rx)
                img = img * (1 - _soft(rk, 0.2)) + 150 * _soft(rk, 0.2)
        rs = _ell(yy, xx, cy + 0.62 * ry, cx, 0.12 * ry, 0.09 * rx)  # vertebra
        img = np.where(rs <= 1, (30 if mr else 235) + tex * 0.3, img)
        if not mr:  # table
            ty = cy + ry + 0.04 * h + 0.0004 * (xx - cx) ** 2 / max(1.0, w / 1024)
            img = np.where(np.abs(yy - ty) < max(2.0, h / 300), 170.0, img)
    if mr:
        img *= 1 + 0.18 * _smooth(rng, h, w, h / 2)  # coil bias field
        s = rng.uniform(3, 8)
        n1 = rng.standard_normal((h, w), dtype=np.float32) * s
        n2 = rng.standard_normal((h, w), dtype=np.float32) * s
        img = np.sqrt((img + n1) ** 2 + n2**2)  # Rician
    else:
        img += rng.standard_normal((h, w), dtype=np.float32) * rng.uniform(3, 10)
        if rng.random() < 0.5:  # reconstruction circle
            rr = _ell(yy, xx, h / 2, w / 2, min(h, w) * 0.5, min(h, w) * 0.5)
            img = np.where(rr > 1, rng.uniform(0, 25), img)
    return img


def _bg_xray(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = _grid(h, w)
    img = 95 + _smooth(rng, h, w, h / 3) * 18 + (yy / h) * rng.uniform(-30, 30)
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    if rng.random() < 0.6:  # chest
        cx = w / 2 + rng.uniform(-0.03, 0.03) * w
        for side in (-1, 1):
            rl = _ell(yy, xx, h * 0.47, cx + side * 0.2 * w, 0.3 * h, 0.16 * w)
            img = img * (1 - _soft(rl, 0.25)) + (45 + _smooth(rng, h, w, h / 40) * 8) * _soft(rl, 0.25)
        img = img + 60 * np.exp(-(((xx - cx) / (0.05 * w)) ** 2))  # mediastinum/spine
        lw = max(2, int(h * 0.012))
        for k in range(9):  # ribs
            y0 = h * (0.2 + 0.065 * k)
            for side in (-1, 1):
                x0, x1 = (cx, cx + 0.36 * w) if side > 0 else (cx - 0.36 * w, cx)
                d.arc([x0 - 0.05 * w, y0, x1 + 0.05 * w, y0 + 0.18 * h], 180 if side < 0 else 270, 360 if side > 0 else 270, fill=110, width=lw)
        d.line([cx - 0.25 * w, h * 0.16, cx - 0.02 * w, h * 0.2], fill=130, width=lw * 2)  # clavicles
        d.line([cx + 0.02 * w, h * 0.2, cx + 0.25 * w, h * 0.16], fill=130, width=lw * 2)
    else:  # extremity
        cx = w / 2 + rng.uniform(-0.1, 0.1) * w
        rt = _ell(yy, xx, h / 2, cx, 0.55 * h, 0.2 * w)
        img = img * (1 - _soft(rt, 0.1)) + (150 + _smooth(rng, h, w, h / 20) * 6) * _soft(rt, 0.1)
        bw = w * rng.uniform(0.05, 0.08)
        joint = rng.uniform(0.35, 0.65) * h  # two long bones meeting at a joint
        cort = max(2, int(bw / 5))
        for off in ((-0.035, 0.045) if rng.random() < 0.5 else (0.0,)):
            x = cx + off * w
            d.rounded_rectangle([x - bw / 2, -bw, x + bw / 2, joint - 0.02 * h], radius=bw / 2, fill=70, outline=125, width=cort)
            d.ellipse([x - bw * 0.9, joint - 0.02 * h - bw * 0.9, x + bw * 0.9, joint - 0.02 * h], fill=85, outline=125, width=cort)
            d.ellipse([x - bw * 0.9, joint + 0.02 * h, x + bw * 0.9, joint + 0.02 * h + bw * 0.9], fill=85, outline=125, width=cort)
            d.rounded_rectangle([x - bw / 2, joint + 0.02 * h + bw * 0.4, x + bw / 2, h + bw], radius=bw / 2, fill=70, outline=125, width=cort)
        layer = layer.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BILINEAR, center=(cx, joint))
        d = ImageDraw.Draw(layer)
    img += np.asarray(layer.filter(ImageFilter.GaussianBlur(max(1.0, h / 300))), np.float32)
    if rng.random() < 0.5:  # collimation: unexposed border shows white
        m = [int(rng.uniform(0.03, 0.12) * s) for s in (w, h, w, h)]
        inside = (xx >= m[0]) & (xx < w - m[2]) & (yy >= m[1]) & (yy < h - m[3])
        img = np.where(inside, img, rng.uniform(215, 250))
    img += rng.standard_normal((h, w), dtype=np.float32) * rng.uniform(2, 6)
    return img


def _bg_us(rng: np.random.Generator, h: int, w: int, chrome: list[tuple[int, int, int, int]]) -> np.ndarray:
    yy, xx = _grid(h, w)
    cx = w * rng.uniform(0.42, 0.58)
    y0 = h * rng.uniform(0.06, 0.12)
    r1 = h * rng.uniform(0.72, 0.86)
    dx, dy = xx - cx, yy - y0
    rr = np.sqrt(dx**2 + dy**2)
    if rng.random() < 0.7:  # curvilinear / phased: sector
        half = math.radians(rng.uniform(28, 42))
        r0 = h * rng.uniform(0.02, 0.08)
        th = np.arctan2(dx, np.maximum(dy, 1e-3))
        inside = (rr >= r0) & (rr <= r1) & (np.abs(th) <= half) & (dy > 0)
        depth = rr
    else:  # linear: rectangle
        hw = w * rng.uniform(0.22, 0.32)
        inside = (np.abs(dx) <= hw) & (dy >= 0) & (dy <= r1 * 0.95)
        depth = np.broadcast_to(dy, (h, w))
    hh, hw2 = max(2, h // 2), max(2, w // 2)
    n1 = rng.standard_normal((hh, hw2), dtype=np.float32)
    n2 = rng.standard_normal((hh, hw2), dtype=np.float32)
    speckle = np.asarray(Image.fromarray(np.sqrt(n1**2 + n2**2)).resize((w, h), Image.Resampling.BILINEAR))
    tissue = 80 + _smooth(rng, h, w, h / 10) * 25 + 12 * np.sin(depth / (h / rng.uniform(8, 20)))
    for _ in range(int(rng.integers(0, 3))):  # cysts / vessels
        rc = _ell(yy, xx, y0 + rng.uniform(0.2, 0.7) * r1, cx + rng.uniform(-0.15, 0.15) * w, rng.uniform(0.03, 0.08) * h, rng.uniform(0.04, 0.1) * w)
        tissue = tissue * (1 - 0.85 * _soft(rc, 0.15))
    img = np.where(inside, tissue * speckle * 0.85 * np.exp(-depth / (r1 * rng.uniform(1.2, 3.0))), 0.0).astype(np.float32)
    # UI chrome: grey-scale bar, depth ticks, focus marker
    bx = int(w * rng.uniform(0.86, 0.94))
    by = int(h * rng.uniform(0.12, 0.2))
    bh = int(h * 0.18)
    bw = max(4, w // 100)
    img[by : by + bh, bx : bx + bw] = np.linspace(255, 0, bh, dtype=np.float32)[:, None]
    chrome.append((bx, by, bw, bh))
    tx = int(min(w - 6, cx + w * 0.38))
    step = max(6, int(r1 / 12))
    for y in range(int(y0), int(y0 + r1), step):
        img[y : y + 3, tx : tx + 3] = 200
    fy = int(y0 + r1 * rng.uniform(0.3, 0.7))
    for k in range(6):
        img[fy - k : fy + k + 1, tx - 10 + k] = 220
    chrome.append((tx - 10, int(y0), 13, int(r1) + 3))
    return img


def _bg_plain(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = _grid(h, w)
    img = rng.uniform(0, 35) + (yy / h) * rng.uniform(-10, 25) + (xx / w) * rng.uniform(-10, 10)
    img = img + rng.standard_normal((h, w), dtype=np.float32) * rng.uniform(0.5, 3)
    if rng.random() < 0.5:  # screen capture: viewport frames
        layer = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(layer)
        g = int(rng.uniform(50, 110))
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.uniform(0.05, 0.5) * w, rng.uniform(0.1, 0.5) * h
            d.rectangle([x0, y0, x0 + rng.uniform(0.2, 0.45) * w, y0 + rng.uniform(0.2, 0.4) * h], outline=g, width=2)
        img = np.maximum(img, np.asarray(layer, np.float32))
    return img


_KINDS = ("ct", "mr", "xray", "us", "plain")
_KIND_P = (0.25, 0.15, 0.25, 0.2, 0.15)


def _background(kind: str, rng: np.random.Generator, h: int, w: int, chrome: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The display image (float32, 0-255); graphics that text must not overlap are appended to ``chrome``."""
    if kind == "ct":
        return _bg_ct(rng, h, w)
    if kind == "mr":
        return _bg_ct(rng, h, w, mr=True)
    if kind == "xray":
        return _bg_xray(rng, h, w)
    if kind == "us":
        return _bg_us(rng, h, w, chrome)
    return _bg_plain(rng, h, w)


def _scale_bar(img: np.ndarray, rng: np.random.Generator, x: int, y0: int, length: int, vertical: bool, level: float) -> tuple[int, int, int, int]:
    """A ruler with ticks (graphics, not text); -> its rectangle."""
    ticks = int(rng.integers(5, 11))
    if vertical:
        img[y0 : y0 + length, x : x + 2] = level
        for k in range(ticks + 1):
            y = y0 + k * (length - 1) // ticks
            img[y : y + 2, x - (6 if k % 5 == 0 else 3) : x] = level
    else:
        img[y0 : y0 + 2, x : x + length] = level
        for k in range(ticks + 1):
            xx = x + k * (length - 1) // ticks
            img[y0 - (6 if k % 5 == 0 else 3) : y0, xx : xx + 2] = level
    return (x - 6, y0, 8, length + 2) if vertical else (x, y0 - 6, length + 2, 8)


# --------------------------------------------------------------------------- text layout and rendering


def _render_line(toks: list[_Tok], font: ImageFont.FreeTypeFont, angle: float) -> tuple[int, int, list[tuple[_Tok, int, int, np.ndarray]]] | None:
    """Render tokens on one baseline; -> (width, height, [(tok, dx, dy, alpha)]) relative to the line's ink bbox."""
    if not toks:
        return None
    ascent, descent = font.getmetrics()
    space = font.getlength(" ")
    pad = 4
    xs = []
    x = float(pad)
    for i, t in enumerate(toks):
        if i:
            x += space * t.gap
        xs.append(x)
        x += font.getlength(t.text)
    cw, ch = int(math.ceil(x)) + 2 * pad, ascent + descent + 2 * pad
    arrays = []
    for t, x0 in zip(toks, xs):
        canvas = Image.new("L", (cw, ch), 0)
        ImageDraw.Draw(canvas).text((round(x0), pad + ascent), t.text, font=font, fill=255, anchor="ls")
        if angle:
            canvas = canvas.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0)
        arrays.append(np.asarray(canvas))
    line = np.maximum.reduce(arrays) if len(arrays) > 1 else arrays[0]
    ys, xs_ = np.nonzero(line)
    if ys.size == 0:
        return None
    ly0, lx0 = int(ys.min()), int(xs_.min())
    lh, lw = int(ys.max()) + 1 - ly0, int(xs_.max()) + 1 - lx0
    out = []
    for t, a in zip(toks, arrays):
        wy, wx = np.nonzero(a)
        if wy.size == 0:
            continue
        y0, y1, x0, x1 = int(wy.min()), int(wy.max()) + 1, int(wx.min()), int(wx.max()) + 1
        out.append((t, x0 - lx0, y0 - ly0, a[y0:y1, x0:x1]))
    return lw, lh, out


@dataclass
class _Block:
    lines: list[list[_Tok]]
    anchor: str  # tl tr bl br tc bc ml mr, or "at" (x, y given)
    px: int
    font: str
    margin: int
    max_w: float  # fraction of image width a line may take
    at: tuple[int, int] | None = None
    rotate_p: float = 0.15
    top: int | None = None  # a top-anchored block whose first line starts here instead of at the margin
    at_right: bool = False  # with anchor "at": ``at`` is the line's top-right corner


class _Canvas:
    """The image being drawn (float32, H x W or H x W x 3), the PHI mask and the placed words."""

    def __init__(self, img: np.ndarray, rng: np.random.Generator, color: bool, min_px: int) -> None:
        self.img = img
        self.h, self.w = img.shape[:2]
        self.rng = rng
        self.color = color
        self.min_px = min_px
        self.mask = np.zeros((self.h, self.w), np.uint8)
        self.placed: list[tuple[int, int, int, int]] = []
        self.entries: list[dict[str, Any]] = []
        self.attrs: list[dict[str, Any]] = []
        self.fonts_used: set[str] = set()

    def _lum(self) -> np.ndarray:
        if self.color:
            return self.img[..., 0] * 0.299 + self.img[..., 1] * 0.587 + self.img[..., 2] * 0.114
        return self.img

    def _free(self, x: int, y: int, w: int, h: int) -> bool:
        if x < 0 or y < 0 or x + w > self.w or y + h > self.h:
            return False
        p = 3
        for px, py, pw, ph in self.placed:
            if x < px + pw + p and px < x + w + p and y < py + ph + p and py < y + h + p:
                return False
        return True

    def _text_color(self, style: str, bg: float) -> tuple[np.ndarray, float]:
        rng = self.rng
        if style == "low":
            delta = rng.uniform(0.08, 0.2) * 255
            lvl = bg + delta if bg + delta <= 255 else bg - delta
            rgb = np.array([lvl, lvl, lvl], np.float32)
        elif style == "grey":
            lvl = rng.uniform(140, 225)
            rgb = np.array([lvl, lvl, lvl], np.float32)
        elif style == "yellow":
            rgb = np.array(_pick(rng, ((255, 255, 0), (240, 230, 90), (255, 220, 60))), np.float32)
        elif style == "green":
            rgb = np.array(_pick(rng, ((0, 255, 0), (100, 230, 100), (60, 200, 60))), np.float32)
        elif style == "cyan":
            rgb = np.array((0, 230, 255), np.float32)
        else:
            lvl = rng.uniform(235, 255)
            rgb = np.array([lvl, lvl, lvl], np.float32)
        lum = float(rgb[0] * 0.299 + rgb[1] * 0.587 + rgb[2] * 0.114)
        return rgb, lum

    def draw_block(self, b: _Block, style: str) -> None:
        rng = self.rng
        cursor_top = b.margin if b.top is None else b.top
        cursor_bottom = self.h - b.margin
        lines = b.lines if b.anchor[0] != "b" else list(reversed(b.lines))
        gap = max(1, int(b.px * rng.uniform(0.12, 0.6)))
        for toks in lines:
            angle = 0.0
            if rng.random() < b.rotate_p:
                angle = float(rng.uniform(0.3, 3.0) * (1 if rng.random() < 0.5 else -1))
            px = b.px
            rendered = None
            while True:
                rendered = _render_line(toks, _font(b.font, px), angle)
                if rendered is None:
                    break
                if rendered[0] <= b.max_w * self.w or px <= self.min_px:
                    break
                px = max(self.min_px, int(px * 0.85))
            if rendered is None:
                continue
            lw, lh, words = rendered
            while lw > self.w - 2 * b.margin and len(words) > 1:  # still too wide: drop trailing tokens
                words = words[:-1]
                lw = max(dx + a.shape[1] for _, dx, _, a in words)
            a0 = b.anchor
            if a0 == "at":
                assert b.at is not None
                x, y = b.at
                if b.at_right:
                    x -= lw
            else:
                if a0[1] == "l":
                    x = b.margin
                elif a0[1] == "r":
                    x = self.w - b.margin - lw
                else:
                    x = (self.w - lw) // 2
                if a0[0] == "t":
                    y = cursor_top
                elif a0[0] == "b":
                    y = cursor_bottom - lh
                else:
                    y = (self.h - lh) // 2
            if not self._free(x, y, lw, lh):
                continue
            self.placed.append((x, y, lw, lh))
            if a0[0] == "t":
                cursor_top = y + lh + gap
            elif a0[0] == "b":
                cursor_bottom = y - gap
            self._draw_words(words, x, y, style, b.font, px, angle)

    def _draw_words(self, words: list[tuple[_Tok, int, int, np.ndarray]], x: int, y: int, style: str, font: str, px: int, angle: float) -> None:
        lum = self._lum()
        lo_hi = []  # per word: the 10th and 90th percentile of the background under its ink
        for _, dx, dy, a in words:
            reg = lum[y + dy : y + dy + a.shape[0], x + dx : x + dx + a.shape[1]]
            sel = reg[a > 64]
            if sel.size == 0:
                sel = reg.ravel()
            q = np.percentile(sel, (10, 90))
            lo_hi.append((float(q[0]), float(q[1])))
        bg_arr = np.array(lo_hi, np.float32)  # (words, 2)

        def worst(v: float) -> np.ndarray:  # per word, contrast of the least readable part
            return np.abs(v - bg_arr).min(axis=1) / 255.0

        rgb, tlum = self._text_color(style, float(bg_arr.mean()))
        floor = 0.05 if style == "low" else 0.12
        if float(worst(tlum).min()) < floor:
            # a colour no one could read here (white text on a collimated white border, or a word
            # across a dark/white edge): vendors switch to dark text; take whichever reads best
            best = max((16.0, 245.0), key=lambda v: float(worst(v).min()))
            rgb, tlum = np.array([best, best, best], np.float32), best
        contrasts = worst(tlum)
        self.fonts_used.add(Path(font).name)
        for (t, dx, dy, a), contrast in zip(words, contrasts):
            x0, y0 = x + dx, y + dy
            h, w = a.shape
            al = a.astype(np.float32) / 255.0
            if self.color:
                reg = self.img[y0 : y0 + h, x0 : x0 + w, :]
                reg *= 1.0 - al[..., None]
                reg += al[..., None] * rgb
            else:
                reg = self.img[y0 : y0 + h, x0 : x0 + w]
                reg *= 1.0 - al
                reg += al * float(tlum)
            ys, xs = np.nonzero(a >= BOX_ALPHA)
            if ys.size == 0:
                ys, xs = np.nonzero(a)
            bl, bt = x0 + int(xs.min()), y0 + int(ys.min())
            bw, bh = int(xs.max()) + 1 - int(xs.min()), int(ys.max()) + 1 - int(ys.min())
            if t.label in PHI_LABELS:
                m = self.mask[y0 : y0 + h, x0 : x0 + w]
                m[a >= MASK_ALPHA] = 255
            self.entries.append({"label": t.label, "text": t.text, "left": bl, "top": bt, "width": bw, "height": bh})
            border = bl <= 2 or bt <= 2 or bl + bw >= self.w - 2 or bt + bh >= self.h - 2
            self.attrs.append(
                {
                    "font": Path(font).name,
                    "font_px": px,
                    "angle": round(angle, 3),
                    "contrast": round(float(contrast), 4),
                    "border": bool(border),
                    "field": t.field,
                }
            )


# --------------------------------------------------------------------------- one image


def _layout(kind: str, p: _Patient, rng: np.random.Generator, fonts: list[Path], size_px: tuple[int, int], w: int, h: int) -> list[_Block]:
    lo, hi = size_px
    one_font = rng.random() < 0.6
    base_font = str(_pick(rng, fonts))

    def font() -> str:
        return base_font if one_font else str(_pick(rng, fonts))

    def px(scale: float = 1.0) -> int:
        v = math.exp(rng.uniform(math.log(lo), math.log(hi + 1))) * scale
        return int(np.clip(v, lo, hi))

    def margin() -> int:
        if rng.random() < 0.25:
            return int(rng.integers(0, 3))  # touching the border
        return int(rng.integers(3, max(4, int(0.035 * max(w, h)))))

    base = px()
    blocks: list[_Block] = []

    def blk(lines: list[list[_Tok]], anchor: str, scale: float = 1.0, max_w: float = 0.6, **kw: Any) -> None:
        if lines:
            s = int(np.clip(base * scale * rng.uniform(0.85, 1.15), lo, hi))
            blocks.append(_Block(lines, anchor, s, font(), margin(), max_w, **kw))

    if kind == "us":
        # header band: institution + patient across the top, date/time on the right
        head: list[_Tok] = []
        if rng.random() < 0.7:
            head += _toks(p.institution, "ADDRESS", "InstitutionName")
        name = _name_tokens(p, rng)
        head += [_Tok(t.text, t.label, t.field, 3.0) if i == 0 else t for i, t in enumerate(name)]
        if rng.random() < 0.7:
            head += _toks(p.mrn, "ID", "PatientID", gap=3.0)
        lines = [head]
        if rng.random() < 0.5:
            lines = [head[: len(head) // 2], head[len(head) // 2 :]]
            lines[1] = [_Tok(t.text, t.label, t.field, 1.0) for t in lines[1]]
        blk(lines, "tl", max_w=0.68)
        right = [_datetime_tokens(p, rng)]
        if rng.random() < 0.4:
            right.append(_sex_tokens(p, rng) + _age_tokens(p, rng))
        if rng.random() < 0.3:
            right.append(_lab("DOB:") + _date_tokens(p.dob, "PatientBirthDate", rng))
        blk(right, "tr", max_w=0.4)
        # parameter column on the side, probe/preset at the bottom
        side = _technical_lines("us", rng, int(rng.integers(3, 7)))
        top = int(h * rng.uniform(0.15, 0.3))
        s = int(np.clip(base * 0.85, lo, hi))
        blocks.append(_Block(side, "tl" if rng.random() < 0.5 else "tr", s, font(), margin(), 0.22, rotate_p=0.0, top=top))
        blk(_technical_lines("us", rng, int(rng.integers(1, 3))), "bl" if rng.random() < 0.5 else "br", scale=0.9)
        if rng.random() < 0.3:
            blk([_lab(_pick(rng, ("Sono:", "Op:"))) + _toks(p.operator, "NAME", "OperatorsName")], "br" if rng.random() < 0.5 else "bl", scale=0.8)
        return blocks

    if kind == "plain" and rng.random() < 0.5:
        # report / dose-sheet page: labelled fields down the left, figures below
        lines = [
            _lab("Patient Name:") + _name_tokens(p, rng),
            _lab("Patient ID:") + _toks(p.mrn, "ID", "PatientID"),
            _lab(_pick(rng, ("Birth Date:", "DOB:"))) + _date_tokens(p.dob, "PatientBirthDate", rng),
            _lab("Accession:") + _toks(p.accession, "ID", "AccessionNumber"),
            _lab("Exam Date:") + _datetime_tokens(p, rng),
        ]
        if rng.random() < 0.5:
            lines.append(_lab("Institution:") + _toks(p.institution, "ADDRESS", "InstitutionName"))
        if rng.random() < 0.3:
            lines.append(_lab("Physician:") + _toks(f"{p.ref_first} {p.ref_last}", "NAME", "ReferringPhysicianName"))
        lines += _technical_lines("plain", rng, int(rng.integers(2, 5)))
        blocks.append(_Block(lines, "tl", int(np.clip(base, lo, hi)), font(), margin(), 0.9, top=int(h * rng.uniform(0.03, 0.25))))
        return blocks

    # corners: patient top-left, institution/date top-right, technical at the bottom
    pat = _patient_lines(p, rng)
    inst = _institution_lines(p, rng, kind)
    a, b2 = ("tl", "tr") if rng.random() < 0.8 else ("tr", "tl")
    blk(pat, a)
    blk(inst, b2)
    blk(_technical_lines(kind, rng, int(rng.integers(1, 4))), "bl", scale=0.9)
    br = _technical_lines(kind, rng, int(rng.integers(0, 3)))
    if rng.random() < 0.15:
        br.append(_date_tokens(p.study.date(), "StudyDate", rng))
    blk(br, "br", scale=0.9)
    if kind in ("ct", "mr") and rng.random() < 0.6:
        mk = int(np.clip(base * 1.2, lo, hi))
        for t, anc in (("A", "tc"), ("P", "bc"), ("R", "ml"), ("L", "mr")):
            if rng.random() < 0.8:
                blocks.append(_Block([_tech(t)], anc, mk, font(), margin(), 0.2, rotate_p=0.0))
    if kind == "xray":
        mk = int(np.clip(hi * rng.uniform(1.0, 1.6), lo, max(hi, 2 * lo)))
        blocks.append(_Block([_tech(_pick(rng, ("L", "R")))], "ml" if rng.random() < 0.5 else "mr", mk, font(), int(rng.integers(10, 60)), 0.2, rotate_p=0.0))
    return blocks


def _draw_layout(cv: _Canvas, blocks: list[_Block], rng: np.random.Generator) -> None:
    styles = ("white", "white", "grey", "low") if not cv.color else ("white", "yellow", "green", "grey", "low", "cyan")
    weights = (0.4, 0.25, 0.2, 0.15) if not cv.color else (0.3, 0.25, 0.15, 0.12, 0.13, 0.05)
    image_style = styles[int(rng.choice(len(styles), p=weights))]
    for b in blocks:
        style = image_style if rng.random() < 0.7 else styles[int(rng.choice(len(styles), p=weights))]
        cv.draw_block(b, style)


def _encode_dicom(path: Path, display: np.ndarray, kind: str, p: _Patient, rng: np.random.Generator, seed: int, index: int) -> tuple[dict[str, str], dict[str, Any]]:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    color = display.ndim == 3
    if kind == "us":
        sop = _SOP["us"]
    elif kind == "ct" and not color:
        sop = _SOP["ct"] if rng.random() < 0.7 else _SOP["sc"]
    elif kind == "xray" and not color:
        sop = _SOP["cr"] if rng.random() < 0.7 else _SOP["sc"]
    else:
        sop = _SOP["sc"]
    modality = {"ct": "CT", "mr": "MR", "xray": "CR", "us": "US", "plain": "OT"}[kind]

    def uid(what: str) -> str:
        return generate_uid(entropy_srcs=[f"openmaker-deid-synth-{GENERATOR_VERSION}", str(seed), str(index), what])

    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop
    meta.MediaStorageSOPInstanceUID = uid("sop")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = sop
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = modality
    ds.SeriesNumber = int(rng.integers(1, 20))
    ds.InstanceNumber = int(rng.integers(1, 200))
    ds.StudyID = str(int(rng.integers(1, 9999)))
    ds.Manufacturer = _pick(rng, _MANUFACTURERS[kind])
    ds.ImageType = ["DERIVED", "SECONDARY"] if sop == _SOP["sc"] else ["ORIGINAL", "PRIMARY"] + (["AXIAL"] if kind == "ct" else [])
    if sop == _SOP["sc"]:
        ds.ConversionType = "WSD"
    if rng.random() < 0.7:  # often absent in the wild (do not trust it)
        ds.BurnedInAnnotation = "YES"

    study_date = p.study.strftime("%Y%m%d")
    candidates: list[tuple[str, str, float]] = [
        ("PatientName", p.pn(), 1.0),
        ("PatientID", p.mrn, 1.0),
        ("PatientBirthDate", p.dob.strftime("%Y%m%d"), 0.9),
        ("PatientSex", p.sex, 0.9),
        ("PatientAge", p.dicom_age(), 0.7),
        ("StudyDate", study_date, 0.95),
        ("SeriesDate", study_date, 0.7),
        ("ContentDate", study_date, 0.7),
        ("StudyTime", p.study.strftime("%H%M%S"), 0.9),
        ("AccessionNumber", p.accession, 0.85),
        ("InstitutionName", p.institution, 0.8),
        ("InstitutionAddress", p.inst_address, 0.3),
        ("ReferringPhysicianName", f"{p.ref_last.upper()}^{p.ref_first.upper()}", 0.6),
        ("OperatorsName", p.operator, 0.4),
        ("PatientAddress", p.address, 0.2),
        ("PatientTelephoneNumbers", p.phone, 0.15),
        ("Occupation", p.occupation, 0.1),
    ]
    header: dict[str, str] = {}
    for kw, value, prob in candidates:
        if rng.random() < prob and len(value) <= _MAX_LEN.get(kw, 64):
            setattr(ds, kw, value)
            header[kw] = value
    ds.StudyDescription = {"ct": "CT HEAD W/O CONTRAST", "mr": "MRI BRAIN", "xray": "XR CHEST 2 VIEWS", "us": "US ABDOMEN", "plain": "DOSE REPORT"}[kind]

    if color:
        arr = np.ascontiguousarray(display)
        photometric, bits = "RGB", 8
    else:
        wide = kind in ("ct", "mr", "xray") and rng.random() < 0.65
        mono1 = kind == "xray" and rng.random() < 0.5
        photometric = "MONOCHROME1" if mono1 else "MONOCHROME2"
        if wide:
            bits = 12
            stored = display.astype(np.uint16) * 16 + rng.integers(0, 16, size=display.shape, dtype=np.uint16)
            if mono1:
                stored = 4095 - stored
            arr = stored
            intercept = -1024 if kind == "ct" else 0
            ds.RescaleIntercept = intercept
            ds.RescaleSlope = 1
            ds.WindowCenter = 2048 + intercept
            ds.WindowWidth = 4096
        else:
            bits = 8
            arr = (255 - display) if mono1 else display
            arr = np.ascontiguousarray(arr)
    if kind == "ct" and sop == _SOP["ct"]:
        ds.FrameOfReferenceUID = uid("for")
        ds.ImagePositionPatient = [0, 0, float(rng.integers(-200, 200))]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = 5.0
        ds.KVP = 120
        if "RescaleIntercept" not in ds:
            ds.RescaleIntercept = 0
            ds.RescaleSlope = 1
    ds.set_pixel_data(arr, photometric, bits, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)
    info = {"sop_class_uid": sop, "modality": modality, "photometric": photometric, "bits_stored": bits, "transfer_syntax": str(ExplicitVRLittleEndian)}
    return header, info


def _one_image(i: int, seed: int, size: int, fmt: str, fonts: list[Path], fake: Any, out: Path) -> tuple[str, list[dict[str, Any]], dict[str, Any], set[str]]:
    ss = np.random.SeedSequence([seed, i])
    rng = np.random.default_rng(ss)
    fake.seed_instance(int(ss.generate_state(1)[0]))
    kind = _KINDS[int(rng.choice(len(_KINDS), p=_KIND_P))]
    if kind == "us":
        w, h = size, int(round(size * 0.75))
    elif kind == "xray":
        w, h = (int(round(size * 0.82)), size) if rng.random() < 0.7 else (size, int(round(size * 0.82)))
    else:
        w = h = size
    p = _make_patient(fake, rng)
    color = rng.random() < (0.6 if kind == "us" else 0.15)
    chrome: list[tuple[int, int, int, int]] = []
    bg = _background(kind, rng, h, w, chrome)
    np.clip(bg, 0, 255, out=bg)
    bar = None
    if kind in ("ct", "mr", "us") and rng.random() < 0.3:
        bar_len = int(h * rng.uniform(0.1, 0.2))
        bar_x, bar_y = w - int(w * rng.uniform(0.03, 0.08)), int(h * rng.uniform(0.3, 0.55))
        bar = _scale_bar(bg, rng, bar_x, bar_y, bar_len, True, float(rng.uniform(150, 230)))
        chrome.append(bar)
    img = np.repeat(bg[..., None], 3, axis=2) if color else bg
    if color and kind == "us" and rng.random() < 0.35:  # colour Doppler box
        yy, xx = _grid(h, w)
        cy, cx = h * rng.uniform(0.35, 0.6), w * rng.uniform(0.4, 0.6)
        box = (np.abs(yy - cy) < h * 0.1) & (np.abs(xx - cx) < w * 0.08)
        f = _smooth(rng, h, w, h / 30)
        red, blue = box & (f > 0.8), box & (f < -0.8)
        img[red] = (220, 40, 30)
        img[blue] = (30, 60, 230)
    img = np.ascontiguousarray(img, dtype=np.float32)

    lo = 10
    hi = int(np.clip(round(40 * size / 1024), lo, 40))
    cv = _Canvas(img, rng, color, lo)
    cv.placed.extend(chrome)
    blocks = _layout(kind, p, rng, fonts, (lo, hi), w, h)
    if bar is not None:  # the ruler's label, right-aligned under it
        label = _tech(_pick(rng, ("5cm", "5 cm", "10 mm", "1cm", "50mm", "2.0cm")))
        blocks.insert(0, _Block([label], "at", lo + 2, str(_pick(rng, fonts)), 0, 0.2, at=(bar[0] + bar[2], bar[1] + bar[3] + 4), rotate_p=0.0, at_right=True))
    _draw_layout(cv, blocks, rng)

    out_img = cv.img
    inverted = rng.random() < 0.12
    if inverted:
        out_img = 255.0 - out_img
    u8 = np.clip(np.rint(out_img), 0, 255).astype(np.uint8)
    blur = 0.0
    if rng.random() < 0.15:
        blur = round(float(rng.uniform(0.5, 1.2)), 2)
        u8 = np.asarray(Image.fromarray(u8).filter(ImageFilter.GaussianBlur(blur)))

    stem = f"synth_{i:05d}"
    name = f"{stem}.{fmt}"
    path = out / "images" / name
    quality = None
    header: dict[str, str] | None = None
    dicom_info = None
    if fmt == "png":
        Image.fromarray(u8).save(path, format="PNG", compress_level=3)
    elif fmt == "jpg":
        quality = int(rng.integers(30, 96))
        Image.fromarray(u8).save(path, format="JPEG", quality=quality)
    elif fmt == "dcm":
        header, dicom_info = _encode_dicom(path, u8, kind, p, rng, seed, i)
    else:
        raise ValueError(f"unknown format {fmt!r}; known: png, jpg, dcm")
    Image.fromarray(cv.mask).save(out / "masks" / f"{stem}.png", format="PNG", compress_level=6)

    for a in cv.attrs:
        a["in_header"] = bool(header is not None and a["field"] is not None and a["field"] in header)
    meta = {
        "kind": kind,
        "width": w,
        "height": h,
        "mode": "RGB" if color else "L",
        "inverted": inverted,
        "blur": blur,
        "jpeg_quality": quality,
        "dicom": dicom_info,
        "header_phi": header,
        "mask": f"masks/{stem}.png",
        "words": cv.attrs,
    }
    return name, cv.entries, meta, cv.fonts_used


def generate(
    out_dir: Path,
    n: int,
    *,
    seed: int,
    size: int = 1024,
    formats: Sequence[str] = ("png", "jpg", "dcm"),
    progress: bool = False,
    only: Sequence[int] | None = None,
) -> Path:
    """Write ``n`` labelled synthetic images into ``out_dir`` (see the module doc); returns ``out_dir``.

    ``size`` is the longer side in pixels (CT, MR and plain pages are square,
    ultrasound 4:3, radiographs portrait or landscape). Image ``i`` uses format
    ``formats[i % len(formats)]``. ``out_dir`` must be absent or empty.
    ``only``: write just these images of the set (each image depends only on the
    seed and its index): one image of a large evaluation, again, to look at.
    """
    from faker import Faker

    out = Path(out_dir)
    if n < 0:
        raise ValueError("n must be >= 0")
    if size < 64:
        raise ValueError("size must be at least 64 px")
    formats = tuple(formats)
    if not formats or any(f not in ("png", "jpg", "dcm") for f in formats):
        raise ValueError(f"formats must be a non-empty subset of png, jpg, dcm, not {formats!r}")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; generate into a new directory")
    chosen = range(n) if only is None else sorted(set(only))
    if any(not 0 <= i < n for i in chosen):
        raise ValueError(f"only: image indices must lie in 0..{n - 1}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    fonts = available_fonts()
    fake = Faker("en_US")

    gt: dict[str, list[dict[str, Any]]] = {}
    images: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    indices: Any = chosen
    if progress:
        from rich.progress import track

        indices = track(indices, description="Generating synthetic images", total=len(chosen))
    for i in indices:
        name, entries, meta, fonts_used = _one_image(i, seed, size, formats[i % len(formats)], fonts, fake, out)
        gt[name] = entries
        images[name] = meta
        used |= fonts_used

    import faker as faker_mod
    import PIL
    import pydicom

    dataset = {
        "generator": "openmaker.deid.synth",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "n": n,
        "only": None if only is None else list(chosen),
        "size": size,
        "formats": list(formats),
        "fonts": sorted(used),
        "fonts_available": [p.name for p in fonts],
        "libraries": {"faker": faker_mod.VERSION, "pillow": PIL.__version__, "numpy": np.__version__, "pydicom": pydicom.__version__},
        "labels": {
            "phi": list(PHI_LABELS),
            "technical": TECHNICAL,
            "label": LABEL,
            "note": "LABEL words are field captions (Name:, DOB:, MRN:, Dr.): neither PHI nor technical, ignored by the scorer.",
        },
        "box_alpha": BOX_ALPHA,
        "mask_alpha": MASK_ALPHA,
        "synthetic_phi": True,
        "images": images,
    }
    (out / "ground_truth.json").write_text(json.dumps(gt, indent=1, sort_keys=True) + "\n")
    (out / "dataset.json").write_text(json.dumps(dataset, indent=1, sort_keys=True) + "\n")
    return out
