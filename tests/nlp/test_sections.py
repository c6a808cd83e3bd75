"""Section header rules (corpora/sections/sections.json) with medspaCy's sectionizer.

Configured as eligo's pipeline does: require_start_line=True, so a header only opens a
section at the start of a line. Notes are synthetic.
"""

import re

import medspacy.section_detection  # noqa: F401
import pytest
from medspacy.section_detection import SectionRule
from spacy.language import Language
from spacy.tokens import Doc

from eligo.nlp.resources import path, read_json
from eligo.nlp.text import make_nlp

NOTE = """CHIEF COMPLAINT

Cough.

HPI: 45-year-old woman with a week of productive cough.

PAST MEDICAL HISTORY:
Asthma.

PSH: Appendectomy.

Family History:
Mother with COPD.

SOCIAL HISTORY
Never smoker.

MEDICATIONS
Albuterol as needed.

ALLERGIES
Penicillin.

ROS: Negative except as above.

VITALS
Temperature 37.9 C.

PHYSICAL EXAM
Scattered wheezes.

RESULTS
Chest x-ray without consolidation.

A/P:
1. Acute bronchitis.
"""

EXPECTED = [
    "chief_complaint",
    "history_of_present_illness",
    "past_medical_history",
    "past_surgical_history",
    "family_history",
    "social_history",
    "medications",
    "allergies",
    "review_of_systems",
    "vital_signs",
    "physical_exam",
    "labs_and_studies",
    "assessment_and_plan",
]


@pytest.fixture(scope="module")
def nlp() -> Language:
    nlp = make_nlp()
    nlp.add_pipe(
        "medspacy_sectionizer",
        config={
            "rules": path("sections", "sections.json"),
            "require_start_line": True,
            "span_attrs": None,
        },
    )
    return nlp


def categories(doc: Doc) -> list[str]:
    return [s.category for s in doc._.sections if s.category is not None]


def test_note_sections(nlp: Language) -> None:
    assert categories(nlp(NOTE)) == EXPECTED


def test_concept_section(nlp: Language) -> None:
    doc = nlp(NOTE)
    start = NOTE.index("COPD")
    span = doc.char_span(start, start + 4)
    assert span is not None
    assert span._.section.category == "family_history"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ASSESSMENT AND PLAN\nRest.", ["assessment_and_plan"]),
        ("Assessment and Plan:\nRest.", ["assessment_and_plan"]),
        ("IMPRESSION\nNo acute disease.", ["impression"]),
        ("HOSPITAL COURSE:\nUneventful.", ["hospital_course"]),
        ("DISCHARGE INSTRUCTIONS:\nReturn if fever.", ["patient_instructions"]),
        ("PROBLEM LIST:\n1. Diabetes.", ["problem_list"]),
        ("SURGICAL HISTORY\nCholecystectomy.", ["past_surgical_history"]),
        ("MEDICAL HISTORY\nHypertension.", ["past_medical_history"]),
        ("FH: diabetes in father.", ["family_history"]),
        ("SH: lives alone.", ["social_history"]),
        ("Hx: asthma.", ["past_medical_history"]),
        ("PMH: asthma.", ["past_medical_history"]),
        # a header word inside a line opens nothing (require_start_line)
        ("Discussed the plan: rest and fluids.", []),
        ("She has a family history: none known.", []),
        # without a colon a header must stand alone on its line
        ("Plan is to start metformin.", []),
        ("Exam was limited by pain.", []),
        ("Plan\nStart metformin.", ["plan"]),
    ],
)
def test_header_forms(nlp: Language, text: str, expected: list[str]) -> None:
    assert categories(nlp(text)) == expected


def test_section_rules_schema() -> None:
    rules = read_json("sections", "sections.json")["section_rules"]
    assert len(rules) > 100
    for rule in rules:
        assert re.fullmatch(r"[a-z_]+", rule["category"]), rule
        SectionRule.from_dict(rule)  # medspaCy accepts every record


def test_section_assertion_categories_exist() -> None:
    categories = {r["category"] for r in read_json("sections", "sections.json")["section_rules"]}
    for category in read_json("sections", "section_assertions.json"):
        assert category in categories
