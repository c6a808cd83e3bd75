"""eligo's ConText rules (corpora/context/context.json) and the `eligo_assertion` component.

Sentences are synthetic. Each case names the rule it exercises; removing that rule from the
rules file (or the step from `eligo_assertion`) makes the case fail.
"""

import json
from pathlib import Path

import medspacy.context
import medspacy.section_detection  # noqa: F401
import pytest
from spacy.language import Language

from eligo.nlp import assertion, context, sections, sentences  # noqa: F401  (factories)
from eligo.nlp.assertion import Assertion, SectionRuleError, check_section_rules
from eligo.nlp.extract import to_entities
from eligo.nlp.resources import read_json
from eligo.nlp.rules import context_rules
from eligo.nlp.text import make_nlp

FLAGS = ("negated", "historical", "hypothetical", "family", "uncertain")


@pytest.fixture(scope="module")
def nlp() -> Language:
    """eligo's assertion parts alone: the target span is placed by `assess`."""
    nlp = make_nlp()
    nlp.add_pipe("eligo_context")
    nlp.add_pipe("eligo_sectionizer", first=True)
    nlp.add_pipe("eligo_sentences", first=True)
    nlp.add_pipe("eligo_assertion")
    return nlp


def assess(nlp: Language, text: str, target: str) -> set[str]:
    """The flags eligo sets on the first occurrence of `target` in `text`."""
    start = text.index(target)
    doc = nlp.make_doc(text)
    for name, proc in nlp.pipeline:
        if name == "eligo_context":
            span = doc.char_span(start, start + len(target), label="condition")
            assert span is not None, target
            doc.spans["eligo"] = [span]
        doc = proc(doc)
    span = doc.spans["eligo"][0]
    return {flag for flag in FLAGS if getattr(span._, f"is_{flag}")}


CASES = [
    # negation triggers
    ("He denies fever, chills, nausea, or vomiting.", "fever", {"negated"}),
    ("He denies fever, chills, nausea, or vomiting.", "vomiting", {"negated"}),  # list
    ("Lungs clear without wheezing or rales.", "rales", {"negated"}),
    ("Urinalysis negative for nitrites and leukocyte esterase.", "leukocyte esterase", {"negated"}),
    ("There is no evidence of pneumothorax.", "pneumothorax", {"negated"}),
    ("Pleural effusion is not seen.", "Pleural effusion", {"negated"}),
    ("She has never smoked and never had asthma.", "asthma", {"negated"}),
    ("MRSA nasal swab negative.", "MRSA", {"negated"}),
    ("No focal consolidation to suggest pneumonia.", "pneumonia", {"negated"}),
    ("Skin: no rash.", "rash", {"negated"}),
    ("No reported fever at home.", "fever", {"negated"}),
    ("He denies any history of seizures.", "seizures", {"negated"}),
    # "ruled out" is a negation; "rule out" / "r/o" / "not ruled out" are possibilities
    (
        "Myocardial infarction was ruled out by serial troponins.",
        "Myocardial infarction",
        {"negated"},
    ),
    ("Admitted to rule out myocardial infarction.", "myocardial infarction", {"uncertain"}),
    ("Will r/o PE with CT angiography.", "PE", {"uncertain"}),
    ("Sepsis has not been ruled out.", "Sepsis", {"uncertain"}),
    # termination
    ("She denies chest pain but reports dyspnea on exertion.", "dyspnea", set()),
    ("She denies chest pain but reports dyspnea on exertion.", "chest pain", {"negated"}),
    ("Denies fever; positive for cough.", "cough", set()),
    ("Denies headache, reports neck pain.", "neck pain", set()),
    ("No scarring despite recurrent urinary tract infection.", "urinary tract infection", set()),
    # pseudo-triggers negate nothing
    ("No increase in the size of the pleural effusion.", "pleural effusion", set()),
    ("No significant change in the nodule.", "nodule", set()),
    ("He has not only diabetes but also hypertension.", "diabetes", set()),
    ("Tolerated diet without difficulty and nausea improved.", "nausea", set()),
    ("No further transfusions were needed for the anemia.", "anemia", set()),
    ("Blood culture gram negative.", "Blood culture", set()),
    ("Symptoms not necessarily angina.", "angina", {"uncertain"}),
    # uncertainty
    ("Possible early appendicitis.", "appendicitis", {"uncertain"}),
    ("Atelectasis vs pneumonia at the left base.", "Atelectasis", {"uncertain"}),
    ("Osteomyelitis cannot be excluded.", "Osteomyelitis", {"uncertain"}),
    ("Leg swelling, concern for DVT.", "DVT", {"uncertain"}),
    ("Differential includes stroke and seizure.", "seizure", {"uncertain"}),
    ("Findings may represent lymphoma.", "lymphoma", {"uncertain"}),
    ("Stool sent to evaluate for C. difficile.", "C. difficile", {"uncertain"}),
    # the nearer trigger settles "possible ... no ..."
    ("Possible pneumonia, no effusion.", "effusion", {"negated"}),
    ("Possible pneumonia, no effusion.", "pneumonia", {"uncertain"}),
    # historical by cue, without "history of" too
    ("History of myocardial infarction.", "myocardial infarction", {"historical"}),
    ("Hx of asthma.", "asthma", {"historical"}),
    ("S/p appendectomy.", "appendectomy", {"historical"}),
    ("Status post CABG.", "CABG", {"historical"}),
    ("Prior stroke with residual weakness.", "stroke", {"historical"}),
    ("He had an MI in 2015.", "MI", {"historical"}),
    ("She had a hysterectomy 10 years ago.", "hysterectomy", {"historical"}),
    ("Recurrent UTIs in the past.", "UTIs", {"historical"}),
    ("Mononucleosis as a teenager.", "Mononucleosis", {"historical"}),
    # ... but a duration of the current illness is not history
    ("Three-day history of productive cough.", "cough", set()),
    ("Cough for the past 3 days.", "Cough", set()),
    ("History of hypertension, now presents with chest pain.", "chest pain", set()),
    ("No history of diabetes.", "diabetes", {"negated"}),
    ("History of MI, no heart failure.", "heart failure", {"negated"}),
    # hypothetical
    ("Return to the ED if she develops fever.", "fever", {"hypothetical"}),
    ("Should he develop chest pain, call 911.", "chest pain", {"hypothetical"}),
    ("Discussed the risk of bleeding.", "bleeding", {"hypothetical"}),
    ("Lactulose to prevent hepatic encephalopathy.", "hepatic encephalopathy", {"hypothetical"}),
    ("Symptoms of hypoglycemia to watch for were reviewed.", "hypoglycemia", {"hypothetical"}),
    ("Heparin for DVT prophylaxis.", "DVT", {"hypothetical"}),
    # family: by experiencer
    ("Mother had breast cancer.", "breast cancer", {"family"}),
    ("Family history of colon cancer.", "colon cancer", {"family"}),
    ("Glaucoma in her father.", "Glaucoma", {"family"}),
    ("Paternal uncle with sudden cardiac death.", "sudden cardiac death", {"family"}),
    ("FHx: diabetes.", "diabetes", {"family"}),
    ("No family history of ovarian cancer.", "ovarian cancer", {"negated", "family"}),
    ("Mother with a history of breast cancer.", "breast cancer", {"family"}),  # not historical
    ("Wife reports he has dementia.", "dementia", set()),
    ("Her sister tested positive for a BRCA mutation.", "BRCA mutation", {"family"}),
    # sections
    ("PAST MEDICAL HISTORY:\nType 2 diabetes.", "Type 2 diabetes", {"historical"}),
    ("PAST SURGICAL HISTORY\nCholecystectomy.", "Cholecystectomy", {"historical"}),
    ("PAST MEDICAL HISTORY:\nNo diabetes.", "diabetes", {"negated"}),
    ("FAMILY HISTORY:\nHypertension.", "Hypertension", {"family"}),
    ("HISTORY OF PRESENT ILLNESS\nWorsening asthma.", "asthma", set()),
    # plain mentions stay affirmed
    ("Presents with substernal chest pain.", "chest pain", set()),
    ("Atrial fibrillation with rapid ventricular response.", "Atrial fibrillation", set()),
    # found by the blind sentence set (benchmarks/data/assertion_sentences_blind.jsonl)
    ("Chest pain: denied.", "Chest pain", {"negated"}),
    ("Constitutional: Denies fever or chills.", "fever", {"negated"}),
    ("Her rash has resolved.", "rash", {"historical"}),  # resolved: past, not negated
    ("Interval resolution of the right lower lobe infiltrate.", "infiltrate", {"historical"}),
    (
        "Should symptoms of hypoglycemia occur, take glucose tablets.",
        "hypoglycemia",
        {"hypothetical"},
    ),
    ("Prophylaxis against PCP pneumonia with Bactrim.", "PCP pneumonia", {"hypothetical"}),
    ("Father brought pt in for evaluation of fever and rash.", "rash", set()),
    ("Denies any improvement in his shortness of breath.", "shortness of breath", set()),
    ("Concern for sepsis given hypotension and a lactate of 4.", "hypotension", set()),
    ("Probable UTI, will treat with nitrofurantoin.", "nitrofurantoin", set()),
    ("Had a stroke in 2018 with residual left hemiparesis.", "left hemiparesis", set()),
    ("Had a stroke in 2018 with residual left hemiparesis.", "stroke", {"historical"}),
    ("Patient denies family history of heart disease.", "heart disease", {"negated", "family"}),
    ("Father's side of the family with Huntington disease.", "Huntington disease", {"family"}),
    ("She has never smoked.", "smoked", {"negated"}),
    ("Mother at bedside states that the child has had diarrhea.", "diarrhea", set()),
    ("No side effects besides mild headaches.", "headaches", set()),
    ("No complaints except fatigue.", "fatigue", set()),
    # ", on <drug>" is the present: the past-time scope of "years ago" ends there
    ("Type 2 diabetes diagnosed 3 years ago, on metformin 1000 mg.", "metformin", set()),
    (
        "Type 2 diabetes diagnosed 3 years ago, on metformin 1000 mg.",
        "Type 2 diabetes",
        {"historical"},
    ),
    ("Stopped warfarin 2 years ago and now on apixaban.", "apixaban", set()),
]


@pytest.mark.parametrize(("text", "target", "expected"), CASES)
def test_assertion(nlp: Language, text: str, target: str, expected: set[str]) -> None:
    assert assess(nlp, text, target) == expected


def test_context_rules_schema() -> None:
    data = read_json("context", "context.json")
    categories = {
        "NEGATED_EXISTENCE",
        "POSSIBLE_EXISTENCE",
        "HISTORICAL",
        "HYPOTHETICAL",
        "FAMILY",
        "PSEUDO",
        "TERMINATE",
        "CURRENT",  # current-status words that end a HISTORICAL scope (terminated_by)
    }
    literals = [rule["literal"] for rule in data["context_rules"]]
    assert len(literals) == len(set(literals)), "literals must be unique"
    for rule in data["context_rules"]:
        assert rule["category"] in categories, rule
        assert (rule["category"] in ("PSEUDO", "TERMINATE", "CURRENT")) == (
            rule["direction"] in ("PSEUDO", "TERMINATE")
        ), rule
    # medspaCy accepts every record, as eligo loads them (patterns compiled to phrases)
    assert len(list(context_rules())) > len(data["context_rules"])


def test_section_rules_file_is_valid() -> None:
    rules = check_section_rules(read_json("sections", "section_assertions.json"))
    assert rules["family_history"]["set"] == {"is_family": True}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "must be a JSON object"),
        ({"family_history": {"set": {"is_relative": True}}}, "valid attributes: is_negated"),
        ({"family_history": {"sett": {}}}, "needs a 'set' object"),
        ({"family_history": {"set": {}, "when": []}}, "valid keys: set, unless, unless_value"),
        ({"family_history": {"set": {}, "unless_value": "yes"}}, "'unless_value' must be"),
        ({"family_history": {"set": {"is_family": "yes"}}}, "true/false"),
    ],
)
def test_bad_section_rules(rules: object, message: str) -> None:
    with pytest.raises(SectionRuleError, match=message):
        check_section_rules(rules)


def test_to_disk_round_trip(tmp_path: Path) -> None:
    nlp = make_nlp()
    custom = {"problem_list": {"set": {"is_historical": True}}}
    component = Assertion(nlp, section_rules=custom)
    component.to_disk(tmp_path)
    restored = Assertion(nlp).from_disk(tmp_path)
    assert restored.section_rules == custom
    assert json.loads((tmp_path / "section_assertions.json").read_text())


def test_factory_is_registered() -> None:
    assert assertion.make_assertion is not None
    assert "eligo_assertion" in Language.factories


def test_result_with_value_under_family_history_is_the_patients() -> None:
    # the section runs on past the line break; a lab written with its value is not family
    import eligo.nlp

    text = "Family history: mother with breast cancer.\nHbA1c 8.1% on 2026-10-01."
    found = {e.text: e for e in to_entities(eligo.nlp.load(model=None)(text))}
    assert found["breast cancer"].family
    assert found["HbA1c"].value is not None and not found["HbA1c"].family
