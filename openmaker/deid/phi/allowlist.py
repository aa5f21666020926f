"""The technical allow-list: annotation vocabulary that is never PHI.

Burned-in text on X-ray, CT, MR, US and NM images mixes PHI (names, dates, ids) with
acquisition annotations ("L12-5", "36Hz", "TIS0.0", "kVp 120", "W:400 L:40").
:func:`is_technical` tells whether one OCR word is such an annotation. It is used

* by the recognisers, so that a technical word is never swallowed into a PHI span
  (a name list will not take "Liver" or "General", the sex recogniser will not take the
  "M" of "L-M");
* by strict mode, which redacts every word that is *not* technical;
* by the lead's over-redaction reporting (technical words that were redacted anyway).

A word is technical when, after stripping edge punctuation ("*Renal", "TIS:"), it is

* in :data:`TECHNICAL_TERMS` (case-insensitive): units, modality acronyms, views,
  positions, sequences, vendor names, anatomy, ultrasound presets, and the labels of
  annotation fields ("DOB", "MRN", "Age") - labels are not PHI, their values are;
* a single letter ("L", "R", "P", "H");
* a plain number of up to 4 digits that is not a year 1900-2099 ("58", "0.6", "120");
* a number with a unit ("4.0cm", "36Hz", "60%", "19fps", "120kV", "2D", "x3");
* an acronym followed by a small number ("TIS0.0", "DR60", "TAC1", "H4.00", "T2", "H31s");
* a probe name ("L12-5", "C5-1", "6C1", "9L4");
* several technical parts joined by "/", ":", "-", "=", "," ("20dB/DR60", "MI:1.4",
  "2D--100%", "W:400", "L-M").

Never technical: a word holding a run of 5+ digits (ids), a date or a time
("4/14/20", "8:48:26"), or numeric groups like an SSN or phone number.
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNITS = (
    "%|cm|mm|um|\u00b5m|nm|m|km|hz|khz|mhz|db|dbs|fps|hz/s|kv|kvp|ma|mas|ms|s|sec|secs|min|mins|h|hr|hrs|"
    "mgy|msv|mgy\\*cm|mgycm|cgy|gy|bpm|mmhg|cm/s|m/s|mm/s|cm2|cm3|mm2|mm3|ml|ml/s|cc|l|g|kg|lb|lbs|"
    "deg|\u00b0|mci|mbq|kev|mev|hu|fr|mw|w|mw/cm2|t|mt|x|k"
)
#: Units that may follow a number as a separate word ("16 cm", "120 kV", "12000 Hz").
UNIT_WORDS: frozenset[str] = frozenset(
    "% cm mm um nm m km hz khz mhz db fps kv kvp ma mas ms s sec min h hr mgy msv cgy gy bpm mmhg cm/s m/s "
    "mm/s cm2 cm3 mm2 mm3 ml ml/s cc l g kg lb lbs deg mci mbq kev mev hu fr mw w t mt x".split()
)
_NUM = r"[-+]?(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_TECH_PATTERNS = [
    # plain small numbers and decimals (years are excluded separately)
    rf"{_NUM}",
    # number + unit: 4.0cm, 36Hz, 60%, 19fps, 120kV, 2D, 3D, 1.5x, 45deg
    rf"{_NUM}\s?(?:{_UNITS})",
    # unit/acronym + number: x3, TIS0.0, DR60, TAC1, ASC3, M3, ST2, T1, H4.00, MI1.4, b1000, H31s
    r"[a-z]{1,5}[-_]?(?:\d{1,3}(?:[.,]\d+)?|[.,]\d+)[a-z]{0,2}\*?",
    r"b\d{1,4}",
    # probe names: L12-5, C5-1, 6C1, 9L4, 18L6, 4V1c, VF13-5, C1-6-D
    r"\d{0,2}[a-z]{1,3}\d{1,2}(?:-\d{1,2}){0,2}[a-z]{0,2}(?:-[a-z])?",
    # Siemens/GE/Philips map and processing codes: MapE, MapF, SC3, DTCEM
    r"map\s?[a-z0-9]{1,2}",
    r"dtce[lmh]?",
    # matrix sizes: 512x512, 24x24
    r"\d{1,4}x\d{1,4}",
    # angles / plus-minus / arrows
    r"[-+]?\d{1,3}\u00b0",
    r"\+/-|\+-|-\+",
]
_TECH_RE = re.compile("|".join(f"(?:{p})" for p in _TECH_PATTERNS), re.IGNORECASE)

_LONG_DIGITS = re.compile(r"(?<![.,\d])\d{5,}|\d{7,}")  # also "0.40394284": OCR reading "O. 40394284"
_YEAR = re.compile(r"(?:19|20)\d\d")
#: Three number groups inside a word: an id or a date with something glued to it ("G.89-037-798").
_THREE_GROUPS = re.compile(r"\d+(?:[-/.:=;]\d+){2,}")
_NUMERIC_GROUPS = re.compile(r"\d+(?:[-/.:=;]\d+)+")  # "=" and ";": a dash or a colon misread
_TIME = re.compile(r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:[.,]\d+)?(?:[ap]\.?m\.?)?", re.IGNORECASE)
_SPLIT = re.compile(r"[/:=,+]|-+")
_EDGE = "\"'`*([{<>}]);:,.!?#|~_"

_TERMS_TEXT = """
kvp kv mas ma ms s sec cm mm m hz khz mhz db dbs fps mi tis tib tic tisb tisc prf wf gn gain dr dyn
2d 3d 4d m-mode mmode b-mode bmode cw pw doppler color colour cfm cpa pdi pd power thi hi harm harmonic
l r ap pa lat lao rao lpo rpo ll rl lr rr erect supine prone portable upright decub decubitus lateral
oblique obl semi-erect seated standing weight-bearing wb mobile cxr
w wl ww c slice thk thick thickness fov tr te ti fa nex se fse tse gre spgr t1 t2 t1w t2w pd flair dwi adc
ax sag cor coronal axial sagittal trans transverse trv long longitudinal obl mpr mip minip vr 3dr recon
siemens philips ge toshiba canon hitachi fuji fujifilm agfa carestream kodak hologic samsung medison esaote
mindray sonosite zonare aloka konica minolta shimadzu varian elekta acuson epiq iu22 affiniti logiq voluson
vivid aplio sequoia s2000 s3000 juniper healthineers
breast liver renal kidney kidneys thyroid chest abdomen abd head knee neck spine pelvis hip shoulder elbow
wrist ankle foot hand arm leg femur tibia fibula humerus radius ulna skull brain heart cardiac lung lungs
spleen pancreas gallbladder gb cbd bladder prostate uterus ovary ovaries testis testes scrotum scrotal
carotid aorta aortic venous arterial vein artery portal hepatic jugular ivc svc cca ica eca vert
vertebral thoracic lumbar cervical sacrum coccyx rib ribs clavicle sternum mandible sinus sinuses orbit
orbits soft tissue tissues wall muscle tendon nerve lymph node nodes axilla axillary groin inguinal
popliteal femoral thigh calf forearm upper lower lt rt left right bilat bilateral pole lobe isthmus
mid prox proximal dist distal med medial ant anterior post posterior sup superior inf inferior lat
body tail cortex fundus cervix endometrium placenta fetal fetus ob gyn obstetric pelvic transvaginal tv
tvs ta tas transabdominal small parts msk vascular venous arterial cardiac echo lv rv la ra mv tv av pv
ruq luq rlq llq epigastric umbilical periumbilical superficial deep
adv gen res pen med general std standard hd sharp smooth soft sm fast slow
pat patient name dob birth date time age sex gender id mrn acc accession no num number exam study series
image img im ser se acq acquisition ref referring phys physician dr operator op tech sonographer
institution site station page frame of fr total
cine zoom depth freq frequency focus focal persist persistence comp compression rej reject edge
dynamic range gray grey map chroma tint scale baseline angle steer sv gate wall filter vel velocity
pri pri2 sri crf spatial compounding speckle xres sono ct sonoct icomp clarity auto optimise optimize
us ct mr mri xr cr dx nm pet pt spect mg mammo fluoro rf xa ot sr io px
kernel pitch tilt gantry rot rotation mgy dlp ctdi ctdivol ssde mas/slice ref.mas eff effective
topogram scout localizer scanogram contrast iv wo w/o w/ non-con noncon pre postcontrast arterial phase
delay delayed bolus
hfs ffs hfp ffp hfdr hfdl ffdr ffdl
ei di exi dap sid sod grid aec
a p s i h f
low high medium normal off on auto pwr frq vol volume area circ dist ratio vel psv edv ri pi hr sd avg ave
max min mean tamax tamean vti ef lvef ivs lvpw lvid lvidd lvids tapse bpd crl efw ofd afi mvp fhr
ml mgy*cm somatom definition force flash drive go as+ ss arrow marker
systems signa hdxt avanto ingenia lightspeed vct logiq voluson acuson syngo syngo.via optima discovery revolution
aquilion skyra prisma verio trio achieva brilliance ingenuity biograph senographe selenia affiniti sonoline
md m.d phd rn rdms rvt rdcs rt(r) mbbs frcr dds np
scan scans report dose summary capture screen secondary bone stnd detail lung
comparison prior previous current ga edd lmp hc bpd fl ex mag et bw sl sp tm compressed lossy lossless not for
diagnostic use preliminary final mdp mci counts count k matrix length bpm cmfn flexion extension frog kub views
large sfov dfov omnipaque visipaque isovue gadavist dotarem magnevist contrast+ ir stir swi tof mra mrv cta
"""

#: Lower-cased technical words and acronyms (see the module docstring). Phrases are
#: matched word by word.
TECHNICAL_TERMS: frozenset[str] = frozenset(_TERMS_TEXT.split())


def _edge(ch: str) -> bool:
    """Punctuation or a stray symbol OCR left at a word's edge ("*Renal", "TIS:", "L-M_",
    "\u00a3X"); units such as "%" and "\u00b0" stay."""
    return ch in _EDGE or not (ch.isalnum() or ch in "%\u00b0+-/")


def _strip(word: str) -> str:
    w = word.strip()
    i, j = 0, len(w)
    while j > i and (_edge(w[j - 1]) or w[j - 1] == "-"):  # a trailing dash too: "4.0cm-"
        j -= 1
    while i < j and _edge(w[i]):
        i += 1
    return w[i:j]


def _capital_i_misread(w: str) -> bool:
    """A technical word with one capital I read as a small l: "CTDlvol" (CTDIvol)."""
    if len(w) < 4:
        return False
    return any(ch == "l" and (w[:i] + "i" + w[i + 1 :]).lower() in TECHNICAL_TERMS for i, ch in enumerate(w))


@lru_cache(maxsize=8192)
def is_technical(word: str) -> bool:
    """True when ``word`` (one OCR word) is acquisition/annotation vocabulary, not PHI.

    Words that are only punctuation are technical (there is nothing to redact).
    """
    if not isinstance(word, str):
        raise TypeError(f"is_technical() takes a str, got {type(word).__name__}")
    w = _strip(word)
    if not any(ch.isalnum() for ch in w):
        return True
    if any(ch.isspace() for ch in w):
        return all(is_technical(p) for p in w.split())
    if _LONG_DIGITS.search(w) or _THREE_GROUPS.search(w):
        return False
    if _TIME.fullmatch(w) and ":" in w:
        return False
    if _NUMERIC_GROUPS.fullmatch(w):
        groups = re.split(r"[-/.:=;]", w)
        decimal = len(groups) == 2 and "." in w
        if len(groups) >= 3 or (not decimal and sum(len(g) for g in groups) >= 6):
            return False
    lw = w.lower()
    if lw in TECHNICAL_TERMS or _capital_i_misread(w):
        return True
    if len(w) == 1 and w.isalpha():
        return True
    if _YEAR.fullmatch(w):
        return False
    if _TECH_RE.fullmatch(lw):
        # a bare integer longer than 4 digits was excluded above; keep small numbers only
        return True
    parts = [p for p in _SPLIT.split(w) if p]
    if len(parts) >= 2 or (parts and parts[0] != w):
        return all(is_technical(p) for p in parts)
    return False
