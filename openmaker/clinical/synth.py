"""Synthetic clinical notes for the demo and the benchmarks, written from a person's own record.

Each note is a discharge summary, progress note, ED note or consult with the
usual headers, built from the person's conditions, drugs and procedures in the
CDM, named the way clinicians write them (synonyms, abbreviations, brand names),
with doses, lab values, negated findings, family and past history, and terms
outside the vocabulary. Notes are 1-2k characters. No real patient is described.
"""

from __future__ import annotations

import datetime as dt
import random
import re

from sqlalchemy import func, select

from openmaker.clinical.cdm import Cdm
from openmaker.clinical.lexicon import load_lexicon
from openmaker.clinical.schema import tables

NOTE_TYPE_EHR = 32817  # Type Concept "EHR"
ENCODING_UTF8 = 32678  # the CDM's only encoding concept
LANGUAGE_ENGLISH = 4180186  # "English language"
KINDS = ("Discharge summary", "Progress note", "ED note", "Consult note")
DISTRACTORS = ("HTN", "HLD", "DM2", "CHF", "COPD", "GERD", "OSA", "CKD stage 3", "BPH", "anxiety", "insomnia")
NEGATABLE = ("fever", "chills", "chest pain", "SOB", "N/V", "abd pain", "melena", "hematochezia", "dysuria",
             "headache", "syncope", "palpitations", "cough", "rash", "edema")  # fmt: skip
OTHER_DRUGS = ("metformin 500 mg PO BID", "lisinopril 10 mg daily", "furosemide 20 mg PO daily",
               "pantoprazole 40 mg daily", "tamsulosin 0.4 mg qhs", "sertraline 50 mg daily")  # fmt: skip
ROUTES = ("PO", "PO", "IV", "PO")
FREQS = ("daily", "BID", "TID", "q6h PRN", "qhs", "q8h")
LAB_VALUES = {"hemoglobin": ("g/dL", 8, 16), "hematocrit": ("%", 25, 48), "platelet": ("K/uL", 90, 400),
              "creatinine": ("mg/dL", 0.6, 2.4), "potassium": ("mEq/L", 3.1, 5.4), "sodium": ("mEq/L", 128, 146),
              "glucose": ("mg/dL", 70, 260), "urea nitrogen": ("mg/dL", 7, 40)}  # fmt: skip


class _Namer:
    """Surface forms for concepts: name, synonyms, abbreviations and brands the vocabulary or lexicon knows."""

    def __init__(self, concepts: dict[int, dict], synonyms: dict[int, list[str]]):
        self.concepts = concepts
        self.synonyms = synonyms
        lex = load_lexicon()
        self.abbrevs: dict[str, list[str]] = {}
        for ab in lex.abbreviations:
            self.abbrevs.setdefault(ab.expansion.lower(), []).append(ab.text)
        self.brands: dict[str, list[str]] = {}
        for brand, ingredients in lex.brands.items():
            if len(ingredients) == 1:
                self.brands.setdefault(ingredients[0].lower(), []).append(brand.title())

    def name(self, cid: int, rng: random.Random) -> str:
        c = self.concepts[cid]
        base = c["concept_name"]
        forms = [base, base.lower()]
        for s in self.synonyms.get(cid, []):
            if ";" in s or len(s) > 60 or c["domain_id"] == "Measurement":
                continue
            s = re.sub(r"\s*\([^)]*\)$", "", s)
            m = re.match(r"^([A-Za-z][A-Za-z0-9]{1,5}) - ", s)
            forms.append(m.group(1) if m else s.lower())
        forms += self.abbrevs.get(base.lower(), [])
        if c["domain_id"] == "Drug":
            forms += self.brands.get(base.lower(), [])
        return rng.choice(forms)


def _load(cdm: Cdm):
    t = tables(cdm.schema)
    with cdm.engine.connect() as conn:
        concepts = {
            int(r.concept_id): dict(r._mapping)
            for r in conn.execute(select(t["concept"]).where(t["concept"].c.standard_concept == "S"))
        }
        synonyms: dict[int, list[str]] = {}
        for cid, name in conn.execute(select(t["concept_synonym"].c.concept_id, t["concept_synonym"].c.concept_synonym_name)):
            synonyms.setdefault(int(cid), []).append(name)
        persons = [int(p) for (p,) in conn.execute(select(t["person"].c.person_id).order_by(t["person"].c.person_id))]
    return concepts, synonyms, persons


def _pool(concepts, domain, klass=None):
    return [cid for cid, c in concepts.items() if c["domain_id"] == domain and (klass is None or c["concept_class_id"] == klass)
            and not c["concept_name"].lower().startswith("history of")]  # fmt: skip


def generate_note(rng: random.Random, namer: _Namer, facts: dict[str, list[int]], pools, kind: str) -> str:
    cond = [c for c in facts.get("conditions", []) if c in namer.concepts] or rng.sample(pools["Condition"], 3)
    drugs = [d for d in facts.get("drugs", []) if d in namer.concepts] or rng.sample(pools["Drug"], 3)
    procs = [p for p in facts.get("procedures", []) if p in namer.concepts] or rng.sample(pools["Procedure"], 2)
    rng.shuffle(cond)
    age, sex = rng.randint(19, 92), rng.choice("MF")
    n = namer.name
    main = cond[0]
    past = cond[1:5]
    lines = [f"{kind.upper()}", ""]
    lines.append(f"CC: {n(main, rng)}" if rng.random() < 0.7 else f"CC: {rng.choice(NEGATABLE)}")
    hpi = (f"HPI: {age} yo {sex} w/ hx of {', '.join(n(c, rng) for c in past[:2]) or rng.choice(DISTRACTORS)}, "
           f"{rng.choice(DISTRACTORS)} who presents with {rng.choice(NEGATABLE)} x {rng.randint(1, 10)} days. "
           f"Found to have {n(main, rng)}. Denies {rng.choice(NEGATABLE)}, {rng.choice(NEGATABLE)} or "
           f"{n(rng.choice(pools['Condition']), rng)}. ")  # fmt: skip
    if rng.random() < 0.5:
        hpi += f"No e/o {n(rng.choice(pools['Condition']), rng)}. "
    lines.append(hpi)
    pmh = [n(c, rng) for c in past] + rng.sample(DISTRACTORS, 2)
    lines.append("PMH: " + "; ".join(pmh))
    if procs:
        lines.append("PSH: s/p " + ", ".join(n(p, rng) for p in procs[:2]))
    meds = []
    for d in drugs[:5]:
        dose = rng.choice((5, 10, 20, 25, 40, 50, 81, 100, 250, 500))
        meds.append(f"- {n(d, rng)} {dose} mg {rng.choice(ROUTES)} {rng.choice(FREQS)}")
    meds.append(f"- {rng.choice(OTHER_DRUGS)}")
    lines.append("Meds:\n" + "\n".join(meds))
    lines.append(f"Allergies: {rng.choice(('NKDA', 'PCN (rash)', 'sulfa', 'NKDA'))}")
    fam = rng.choice(pools["Condition"])
    lines.append(f"FHx: {rng.choice(('mother', 'father', 'brother', 'sister'))} with {n(fam, rng)}")
    lines.append(f"SHx: {rng.choice(('former smoker', 'never smoker', 'social EtOH', 'lives alone'))}")
    lines.append(f"ROS: neg for {', '.join(rng.sample(NEGATABLE, 3))}. Otherwise as per HPI.")
    lines.append(f"PE: T {rng.uniform(36.2, 38.9):.1f} HR {rng.randint(58, 118)} BP {rng.randint(98, 168)}/"
                 f"{rng.randint(55, 98)} SpO2 {rng.randint(88, 100)}% RA. NAD. RRR, no murmurs. CTAB. Abd soft NT/ND.")  # fmt: skip
    labs = []
    for name in rng.sample(sorted(LAB_VALUES), 4):
        unit, lo, hi = LAB_VALUES[name]
        cid = next((c for c in pools["Measurement"] if name in namer.concepts[c]["concept_name"].lower()), None)
        label = n(cid, rng) if cid else name
        value = rng.uniform(lo, hi)
        labs.append(f"{label} {value:.1f} {unit}" if hi < 50 else f"{label} {value:.0f} {unit}")
    lines.append("Labs: " + ", ".join(labs))
    plan = [f"1. {n(main, rng)}: {rng.choice(('continue current tx', 'start abx', 'GI consult', 'monitor', 'f/u in clinic'))}"]
    for i, c in enumerate(past[:2], start=2):
        plan.append(f"{i}. {n(c, rng)} - stable, cont home meds")
    plan.append(f"{len(plan) + 1}. r/o {n(rng.choice(pools['Condition']), rng)}")
    lines.append("A/P:\n" + "\n".join(plan))
    lines.append(f"Dispo: {rng.choice(('home', 'home w/ services', 'SNF', 'admit to medicine'))}")
    text = "\n".join(lines)
    target = rng.randint(1000, 2000)
    extras = (
        lambda: f"Addendum: pt seen and examined. {n(rng.choice(cond), rng)} discussed; questions answered.",
        lambda: f"Pt educated re: {n(rng.choice(drugs), rng)} side effects, agrees w/ plan.",
        lambda: f"Nursing: {rng.choice(NEGATABLE)} overnight, {rng.choice(('resolved', 'improving', 'unchanged'))}.",
        lambda: f"Discussed w/ attending; {rng.choice(DISTRACTORS)} stable, f/u {rng.randint(1, 6)} wks.",
    )
    while len(text) < target:
        text += "\n" + rng.choice(extras)()
    if len(text) > 2000:
        text = text[: text.rfind("\n", 0, 2000)]
    return text


def iter_notes(cdm: Cdm, count: int, seed: int = 7, facts: dict | None = None):
    """``count`` notes as NOTE rows (dicts, without ``note_id``), for the persons in the CDM (round robin)."""
    concepts, synonyms, persons = _load(cdm)
    if not persons:
        persons = [1]
    namer = _Namer(concepts, synonyms)
    pools = {d: _pool(concepts, d, "Ingredient" if d == "Drug" else None) for d in ("Condition", "Drug", "Procedure", "Measurement")}
    for d, ids in pools.items():
        if not ids:
            raise ValueError(f"the CDM's vocabulary has no standard {d} concepts to write notes from")
    if facts is None:
        try:
            from openmaker.clinical.eunomia import person_facts

            facts = person_facts()
        except Exception:
            facts = {}
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    for i in range(count):
        person = persons[i % len(persons)]
        kind = KINDS[i % len(KINDS)]
        when = start + dt.timedelta(days=rng.randint(0, 600), minutes=rng.randint(0, 1439))
        text = generate_note(rng, namer, facts.get(person, {}), pools, kind)
        yield {
            "person_id": person, "note_date": when, "note_datetime": dt.datetime.combine(when, dt.time(rng.randint(6, 20), rng.randint(0, 59))),
            "note_type_concept_id": NOTE_TYPE_EHR, "note_class_concept_id": 0, "note_title": kind, "note_text": text,
            "encoding_concept_id": ENCODING_UTF8, "language_concept_id": LANGUAGE_ENGLISH, "provider_id": None,
            "visit_occurrence_id": None, "visit_detail_id": None, "note_source_value": "openmaker synth",
            "note_event_id": None, "note_event_field_concept_id": None,
        }  # fmt: skip


def write_notes(cdm: Cdm, count: int, seed: int = 7, facts: dict | None = None) -> int:
    """Append ``count`` generated notes to the NOTE table (ids after the highest present), 2,000 at a time."""
    if count <= 0:
        return 0
    note = tables(cdm.schema)["note"]
    with cdm.engine.begin() as conn:
        next_id = (conn.execute(select(func.max(note.c.note_id))).scalar() or 0) + 1
    batch: list[dict] = []
    written = 0
    for row in iter_notes(cdm, count, seed, facts):
        row["note_id"] = next_id
        next_id += 1
        batch.append(row)
        if len(batch) == 2000:
            written += _insert(cdm, note, batch)
            batch = []
    return written + (_insert(cdm, note, batch) if batch else 0)


def _insert(cdm: Cdm, note, rows: list[dict]) -> int:
    with cdm.engine.begin() as conn:
        conn.execute(note.insert(), rows)
    return len(rows)
