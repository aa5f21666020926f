"""Context and sections with medspaCy: ConText (negation, uncertainty, history, family) and the sectionizer.

medspaCy runs on a blank spaCy English pipeline (no model to download). Its
default rules are extended with the shorthand clinicians write ("neg for",
"no e/o", "r/o", "h/o", "s/p", "FHx:", "A/P:"). Sentences end at line breaks as
well as at full stops, so a negation on one line never reaches the next.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

_lock = threading.Lock()

NEGATION_SHORTHAND = (
    ("neg for", "FORWARD"), ("negative for", "FORWARD"), ("no e/o", "FORWARD"), ("no evidence of", "FORWARD"),
    ("no s/s of", "FORWARD"), ("no signs of", "FORWARD"), ("w/o", "FORWARD"), ("without", "FORWARD"),
    ("denies", "FORWARD"), ("denied", "FORWARD"), ("no hx of", "FORWARD"), ("no h/o", "FORWARD"),
    ("no history of", "FORWARD"), ("never had", "FORWARD"), ("not on", "FORWARD"), ("ruled out", "BACKWARD"),
    ("r/o'd", "BACKWARD"), ("neg", "BACKWARD"), ("negative", "BACKWARD"), ("unremarkable", "BACKWARD"),
    ("no", "FORWARD"), ("nor", "FORWARD"), ("not", "FORWARD"), ("free of", "FORWARD"),
    ("ruled out for", "FORWARD"), ("not required", "BACKWARD"), ("not needed", "BACKWARD"),
    ("not indicated", "BACKWARD"), ("not done", "BACKWARD"), ("not performed", "BACKWARD"), ("not given", "BACKWARD"),
    ("not obtained", "BACKWARD"), ("not started", "BACKWARD"), ("declined", "BIDIRECTIONAL"),
    ("not a candidate for", "FORWARD"), ("no need for", "FORWARD"), ("never", "FORWARD"),
)
UNCERTAIN_SHORTHAND = (
    ("r/o", "FORWARD"), ("rule out", "FORWARD"), ("to rule out", "FORWARD"), ("?", "FORWARD"),
    ("concern for", "FORWARD"), ("concerning for", "FORWARD"), ("possible", "FORWARD"), ("possibly", "FORWARD"),
    ("probable", "FORWARD"), ("questionable", "FORWARD"), ("suspect", "FORWARD"), ("suspected", "FORWARD"),
    ("vs", "BIDIRECTIONAL"), ("versus", "BIDIRECTIONAL"), ("c/f", "FORWARD"), ("eval for", "FORWARD"),
    ("evaluate for", "FORWARD"), ("if", "FORWARD"), ("return if", "FORWARD"), ("should", "FORWARD"),
    ("risk of", "FORWARD"), ("at risk for", "FORWARD"), ("screen for", "FORWARD"), ("screening for", "FORWARD"),
    ("monitor for", "FORWARD"), ("watch for", "FORWARD"), ("consider", "FORWARD"), ("may have", "FORWARD"),
    ("cannot exclude", "FORWARD"), ("can't r/o", "FORWARD"), ("ddx", "FORWARD"), ("differential", "FORWARD"),
)
HISTORY_SHORTHAND = (
    ("h/o", "FORWARD"), ("hx of", "FORWARD"), ("hx", "FORWARD"), ("history of", "FORWARD"), ("s/p", "FORWARD"),
    ("status post", "FORWARD"), ("prior", "FORWARD"), ("previous", "FORWARD"), ("remote", "FORWARD"),
    ("pmh", "FORWARD"), ("pmhx", "FORWARD"), ("psh", "FORWARD"), ("in the past", "BACKWARD"), ("years ago", "BACKWARD"),
    ("yrs ago", "BACKWARD"), ("as a child", "BACKWARD"), ("in childhood", "BACKWARD"), ("childhood", "FORWARD"),
)
FAMILY_SHORTHAND = (
    ("fhx", "FORWARD"), ("fh", "FORWARD"), ("family hx", "FORWARD"), ("family history", "FORWARD"),
    ("mother", "BIDIRECTIONAL"), ("father", "BIDIRECTIONAL"), ("mom", "BIDIRECTIONAL"), ("dad", "BIDIRECTIONAL"),
    ("brother", "BIDIRECTIONAL"), ("sister", "BIDIRECTIONAL"), ("sibling", "BIDIRECTIONAL"),
    ("maternal", "FORWARD"), ("paternal", "FORWARD"), ("grandmother", "BIDIRECTIONAL"),
    ("grandfather", "BIDIRECTIONAL"), ("uncle", "BIDIRECTIONAL"), ("aunt", "BIDIRECTIONAL"), ("son", "BIDIRECTIONAL"),
    ("daughter", "BIDIRECTIONAL"), ("parents", "BIDIRECTIONAL"), ("fam hx", "FORWARD"),
)
TERMINATE = (
    ("but", "TERMINATE"), ("however", "TERMINATE"), ("though", "TERMINATE"), ("although", "TERMINATE"),
    ("presents with", "TERMINATE"), ("presenting with", "TERMINATE"), ("now with", "TERMINATE"),
    ("c/o", "TERMINATE"), ("complains of", "TERMINATE"), ("admitted for", "TERMINATE"), ("here for", "TERMINATE"),
    ("which", "TERMINATE"), ("secondary to", "TERMINATE"), ("2/2", "TERMINATE"), ("due to", "TERMINATE"),
    ("and now", "TERMINATE"), ("on", "TERMINATE"), ("started", "TERMINATE"), (";", "TERMINATE"),
    (")", "TERMINATE"), ("(", "TERMINATE"), ("switch to", "TERMINATE"), ("then", "TERMINATE"),
)
#: Look like triggers, mean nothing: "no-scalpel vasectomy", "latex-free gloves", "no change".
PSEUDO = (
    ("no-", [{"LOWER": "no"}, {"TEXT": "-"}, {"IS_ALPHA": True}]),
    ("-free", [{"TEXT": "-"}, {"LOWER": "free"}]),
    ("no change", [{"LOWER": "no"}, {"LOWER": {"IN": ["change", "changes", "interval", "further"]}}]),
    ("not only", [{"LOWER": "not"}, {"LOWER": "only"}]),
)
SECTIONS = (
    ("history_of_present_illness", ("HPI", "History of present illness", "Hx of present illness", "Interval history",
                                    "Interval hx", "Subjective", "S")),
    ("past_medical_history", ("PMH", "PMHx", "Past medical history", "Past med hx", "Medical history", "PSH",
                              "Past surgical history", "Surgical history", "Past history", "Hx")),
    ("family_history", ("FHx", "FH", "Family history", "Family hx", "Fam hx")),
    ("social_history", ("SHx", "SH", "Social history", "Social hx", "Soc hx")),
    ("medications", ("Meds", "Medications", "Home meds", "Current meds", "Discharge meds", "Admission meds", "Rx")),
    ("allergies", ("Allergies", "All", "NKDA", "Allergy")),
    ("review_of_systems", ("ROS", "Review of systems")),
    ("physical_exam", ("PE", "Exam", "Physical exam", "O", "Objective")),
    ("labs_and_studies", ("Labs", "Lab", "Studies", "Imaging", "Results", "Data", "Micro")),
    ("observation_and_plan", ("A/P", "A&P", "Assessment and plan", "Assessment & plan", "Assessment", "Plan",
                              "Impression", "Impression/plan", "Dispo", "Disposition", "Recs", "Recommendations", "A",
                              "P")),
    ("hospital_course", ("Hospital course", "Hosp course", "ED course", "Course")),
    ("chief_complaint", ("CC", "Chief complaint", "Reason for visit", "RFV", "Reason for consult")),
    ("diagnoses", ("Dx", "Diagnoses", "Discharge dx", "Discharge diagnoses", "Admitting dx", "Final dx")),
)


#: Words a full stop follows without ending the sentence ("Dr. Lee", "vs. PNA").
_NOT_SENTENCE_END = frozenset("dr mr mrs ms st vs approx appt e.g i.e etc no fig pt sr jr".split())


@dataclass
class Context:
    negated: bool = False
    hypothetical: bool = False
    historical: bool = False
    family: bool = False
    section: str | None = None


def _import_medspacy() -> None:
    """Import spaCy and medspaCy without the weight the detector never uses.

    thinc imports torch when it is installed (about 200 MB per process) and
    medspaCy imports QuickUMLS, which imports NLTK and SciPy (about 130 MB),
    only to offer a component this room does not use. Both are kept out while
    importing; the entries are removed again afterwards, so the process can
    still import torch or QuickUMLS itself later.
    """
    import importlib.util
    import sys
    import types

    if "spacy" not in sys.modules and "torch" not in sys.modules and importlib.util.find_spec("torch"):
        sys.modules["torch"] = None  # thinc sees "no torch"
        try:
            import spacy  # noqa: F401
        finally:
            del sys.modules["torch"]
    if "medspacy" not in sys.modules and "quickumls" not in sys.modules:
        sys.modules["quickumls"] = types.ModuleType("quickumls")
        sys.modules["quickumls"].spacy_component = None
        try:
            import medspacy  # noqa: F401  (registers the components)
        finally:
            del sys.modules["quickumls"]
    import medspacy  # noqa: F401,F811


#: Section names in data/shorthand.tsv -> medspaCy categories.
_SECTION_MEANINGS = {
    "assessment and plan": "observation_and_plan", "chief complaint": "chief_complaint",
    "history of present illness": "history_of_present_illness", "impression": "observation_and_plan",
    "physical examination": "physical_exam", "review of systems": "review_of_systems",
    "social history": "social_history", "disposition": "observation_and_plan", "medications": "medications",
}  # fmt: skip


def shorthand_sections(present: set[str], rule_class) -> list:
    """Section headers ("Imp:", "PEx:") from the room's shorthand list, not already among the rules."""
    from openmaker.clinical.lexicon import load_lexicon

    rules = []
    for literal, meaning, kind in load_lexicon().shorthand:
        category = _SECTION_MEANINGS.get(meaning.lower())
        header = f"{literal}:"
        if kind == "section" and category and header.lower() not in present:
            rules.append(rule_class(header, category, pattern=None))
            present.add(header.lower())
    return rules


_KIND_CATEGORY = {"negation": "NEGATED_EXISTENCE", "uncertainty": "POSSIBLE_EXISTENCE", "history": "HISTORICAL",
                  "family": "FAMILY"}  # fmt: skip
#: How the cues of data/shorthand.tsv act: after their target, on both sides, not at all, or as a scope end.
_BACKWARD = frozenset({"(-)", "-ve", "neg"})
_BOTH_SIDES = frozenset({"mom", "dad", "bro", "sis", "sib", "sibs", "mgf", "mgm", "pgf", "pgm", "fob"})
_NOT_CUES = frozenset({"nad", "nka", "nkda", "unk"})  # statements, not modifiers of a mention
_ENDS_SCOPE = frozenset({"2/2", "d/t", "c/o", "p/w", "a/w"})


def shorthand_rules(present: set[str], rule_class) -> list:
    """ConText rules for the room's shorthand list (``data/shorthand.tsv``) not already among the rules."""
    from openmaker.clinical.lexicon import load_lexicon

    rules = []
    for literal, _meaning, kind in load_lexicon().shorthand:
        lowered = literal.lower()
        if lowered in present or lowered in _NOT_CUES:
            continue
        if kind == "other" and lowered in _ENDS_SCOPE:
            rules.append(rule_class(literal, "TERMINATE", direction="TERMINATE"))
        elif kind in _KIND_CATEGORY:
            direction = "BACKWARD" if lowered in _BACKWARD else "BIDIRECTIONAL" if lowered in _BOTH_SIDES else "FORWARD"
            rules.append(rule_class(literal, _KIND_CATEGORY[kind], direction=direction))
        else:
            continue
        present.add(lowered)
    return rules


@lru_cache(maxsize=1)
def pipeline():
    """The spaCy pipeline (built once per process): tokenizer, line-aware sentences, ConText, sectionizer."""
    with _lock:
        import logging
        import warnings

        # medspaCy's sectionizer keeps an empty token matcher beside its phrase matcher: spaCy warns on every note.
        warnings.filterwarnings("ignore", message=r"\[W036\]")

        logging.getLogger("PyRuSH").setLevel(logging.WARNING)
        try:
            from loguru import logger

            logger.remove()
        except Exception:  # loguru is PyRuSH's; without it there is nothing to silence
            pass
        _import_medspacy()
        import spacy
        from medspacy.context import ConTextRule
        from medspacy.section_detection import SectionRule
        from spacy.language import Language

        if not Language.has_factory("openmaker_lines"):

            @Language.component("openmaker_lines")
            def _lines(doc):
                text = doc.text
                toks = list(doc)
                for i, token in enumerate(toks):
                    if i == 0:
                        token.is_sent_start = True
                        continue
                    # Only starts are marked (setting every token costs more than the rest of this step).
                    prev = toks[i - 1]
                    if "\n" in prev.text:
                        token.is_sent_start = True
                        continue
                    if prev.text not in (".", "!", "?"):
                        continue
                    before = toks[i - 2].lower_ if i >= 2 else ""
                    # "? PNA" is a question mark used as a prefix ("possible"), not the end of a question
                    prefix = prev.text == "?" and (prev.idx == 0 or text[prev.idx - 1].isspace())
                    if not prefix and not token.like_num and before not in _NOT_SENTENCE_END:
                        token.is_sent_start = True
                if len(toks) > 1 and toks[-1].is_sent_start is None:
                    toks[-1].is_sent_start = False  # spaCy needs one marked token after the first to see sentences
                return doc

        nlp = spacy.blank("en")
        nlp.add_pipe("openmaker_lines")
        context = nlp.add_pipe("medspacy_context", config={"input_span_type": "group", "span_group_name": "om"})
        rules = []
        for category, items in (
            ("NEGATED_EXISTENCE", NEGATION_SHORTHAND), ("POSSIBLE_EXISTENCE", UNCERTAIN_SHORTHAND),
            ("HISTORICAL", HISTORY_SHORTHAND), ("FAMILY", FAMILY_SHORTHAND),
        ):  # fmt: skip
            rules += [ConTextRule(literal, category, direction=direction) for literal, direction in items]
        rules += [ConTextRule(literal, "TERMINATE", direction="TERMINATE") for literal, _ in TERMINATE]
        rules += shorthand_rules({r.literal.lower() for r in rules}, ConTextRule)
        rules += [ConTextRule(literal, "PSEUDO", direction="PSEUDO", pattern=pattern) for literal, pattern in PSEUDO]
        context.add(rules)
        # span_attrs=None: the section's effect on a mention is decided in apply_context (same sentence or list).
        sectionizer = nlp.add_pipe(
            "medspacy_sectionizer", config={"input_span_type": "group", "span_group_name": "om", "span_attrs": None}
        )
        section_rules = []
        for category, literals in SECTIONS:
            for literal in literals:
                section_rules.append(SectionRule(f"{literal}:", category, pattern=None))
        section_rules += shorthand_sections({r.literal.lower() for r in section_rules}, SectionRule)
        sectionizer.add(section_rules)
        return nlp


def apply_context(text: str, spans: list[tuple[int, int]], tests: list[bool] | None = None) -> list[Context]:
    """ConText flags and the section of each ``(begin, end)`` character span of ``text``.

    For a test (``tests[i]``) only a negation written before it counts: "CXR: no infiltrate" is a
    CXR that was done and found nothing, "no CXR" one that was not done.
    """
    nlp = pipeline()
    doc = nlp.make_doc(text)
    group, where = [], []
    for i, (b, e) in enumerate(spans):
        span = doc.char_span(b, e, alignment_mode="expand")
        if span is not None and len(span):
            group.append(span)
            where.append(i)
    doc.spans["om"] = group
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W036\]")
        for _, proc in nlp.pipeline:
            doc = proc(doc)
    results = [Context() for _ in spans]
    for span, i in zip(doc.spans["om"], where):
        c = results[i]
        c.negated = bool(span._.is_negated)
        if c.negated and tests and tests[i]:
            c.negated = any(
                m.category == "NEGATED_EXISTENCE" and m.modifier_span[0] < span.start for m in span._.modifiers
            )
        c.hypothetical = bool(span._.is_hypothetical or span._.is_uncertain)
        c.historical = bool(span._.is_historical)
        c.family = bool(span._.is_family)
        section = span[0]._.section
        if section is not None and _section_governs(doc, section, span):
            c.section = section.category
    return results


def _section_governs(doc, section, span) -> bool:
    """A section header speaks for a mention in its own sentence, or for its lines when it stands alone.

    "PMH: CAD, afib. Now with PNA": CAD and afib are history, PNA is not. "Family history:" on a line of
    its own, then a list: every line of the list is about the family.
    """
    title_end = section.title_span[1] if hasattr(section, "title_span") else section.title_end
    title_end = min(max(title_end, 0), len(doc))
    if title_end < len(doc) and doc[min(title_end, len(doc) - 1)].sent == span[0].sent:
        return True
    following = doc[title_end : min(len(doc), title_end + 3)]
    return not following or "\n" in following[0].text or (len(following) > 1 and following[0].is_space)
