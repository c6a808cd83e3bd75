"""eligo_sentences: clinical sentence boundaries. All text is synthetic."""

import json
from pathlib import Path

import pytest
from spacy.language import Language

from eligo.nlp.sentences import (
    EligoSentences,
    SentenceRules,
    SentenceRulesError,
    default_splitter,
    split,
)
from eligo.nlp.text import make_nlp

CASES = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "sentence_cases.jsonl"


@pytest.fixture(scope="module")
def snlp() -> Language:
    nlp = make_nlp()
    nlp.add_pipe("eligo_sentences")
    return nlp


def sents(nlp: Language, text: str) -> list[str]:
    return [s.text.strip() for s in nlp(text).sents]


@pytest.mark.parametrize(
    "expected",
    [
        ["Seen with Dr. Patel and Mrs. Lee today.", "She is well."],
        ["Avoid NSAIDs, e.g. naproxen, i.e. all of them.", "Use acetaminophen."],
        ["Insulin vs. pills was discussed.", "He chose pills."],
        ["Walks approx. 2 miles daily.", "No dyspnea."],
        ["Lisinopril 10 mg p.o. q.d. for BP.", "Metformin 500 mg b.i.d. with meals."],
        ["Continue metformin 500 mg p.o. b.i.d.", "Return in 3 months."],
        ["Pain began at 6 a.m. on Monday.", "It peaked at 9 p.m.", "She took ibuprofen."],
        ["Fatigue, nausea, etc. but no fever.", "Appetite is fine."],
        ["Creatinine 1.4 mg/dL, up from 1.1.", "Potassium 3.8 today."],
        ["Taking No. 5 tablets as directed.", "No bleeding."],
        ["Pt. is a 64 yo man with CHF.", "He denies orthopnea."],
        ["Referred by J. R. Smith for evaluation.", "Imaging reviewed."],
        ["S/p CABG 2015; s/p PCI 2019; no angina since.", "On aspirin."],
        ["Any chest pain?", "No.", "Any dyspnea?", "With stairs."],
        ["pt denies cp.", "no sob.", "tolerating diet."],
        ["History of MS.", "She uses a cane."],
        ["The plan was discussed: she will start insulin.", "Follow up in 2 weeks."],
        ["BP: 142/90 mmHg, HR: 88.", "Temp: 98.6 F."],
        ["Pain is much better!", "Ambulating well."],
    ],
)
def test_inline_boundaries(snlp: Language, expected: list[str]) -> None:
    assert sents(snlp, " ".join(expected)) == expected


def test_headers_on_their_own_line(snlp: Language) -> None:
    text = (
        "HISTORY OF PRESENT ILLNESS\n"
        "Cough for 3 days. No fever.\n\n"
        "PMH:\n"
        "hypertension, diabetes\n"
        "Assessment and Plan:\n"
        "Stable."
    )
    assert sents(snlp, text) == [
        "HISTORY OF PRESENT ILLNESS",
        "Cough for 3 days.",
        "No fever.",
        "PMH:",
        "hypertension, diabetes",
        "Assessment and Plan:",
        "Stable.",
    ]


def test_inline_header_splits_after_colon(snlp: Language) -> None:
    text = "Allergies: NKDA\nMedications: lisinopril 10 mg daily\nHPI: Seen for cough."
    assert sents(snlp, text) == [
        "Allergies:",
        "NKDA",
        "Medications:",
        "lisinopril 10 mg daily",
        "HPI:",
        "Seen for cough.",
    ]


def test_colon_after_a_lab_does_not_split(snlp: Language) -> None:
    assert sents(snlp, "HbA1c: 8.2% today") == ["HbA1c: 8.2% today"]


@pytest.mark.parametrize(
    "lines",
    [
        ["• Lungs clear.", "• No edema.", "· Pulses intact"],
        ["- start metformin", "- recheck HbA1c in 3 months", "* diet counseling"],
        ["1. Type 2 diabetes", "2. Hypertension", "3. Gout"],
        ["1) CHF", "2) AKI on CKD"],
        ["a. obtain CBC", "b. obtain BMP"],
    ],
)
def test_list_items_are_sentences(snlp: Language, lines: list[str]) -> None:
    assert sents(snlp, "\n".join(lines)) == lines


def test_wrapped_prose_stays_one_sentence(snlp: Language) -> None:
    text = (
        "The patient is a 67-year-old woman with poorly\n"
        "controlled diabetes who was seen by\n"
        "Dr. Okafor and\n"
        "Endocrinology last week. She is stable."
    )
    assert sents(snlp, text) == [
        "The patient is a 67-year-old woman with poorly\ncontrolled diabetes who was seen by\n"
        "Dr. Okafor and\nEndocrinology last week.",
        "She is stable.",
    ]


def test_line_entries_are_sentences(snlp: Language) -> None:
    assert sents(snlp, "Sodium 138\nPotassium 4.1\nDenies chest pain") == [
        "Sodium 138",
        "Potassium 4.1",
        "Denies chest pain",
    ]


def test_every_token_is_marked(snlp: Language) -> None:
    doc = snlp("\n\n  SOCIAL HISTORY\n  Never smoker.  Drinks socially.\n")
    assert all(t.is_sent_start is not None for t in doc)
    assert doc[0].is_sent_start
    starts = [t.text for t in doc if t.is_sent_start]
    # leading whitespace joins the first sentence; no whitespace-only sentences
    assert starts == ["\n\n  ", "Never", "Drinks"]


def test_empty_and_blank_docs(snlp: Language) -> None:
    assert len(snlp("")) == 0
    doc = snlp("\n\n")
    assert [s.text for s in doc.sents] == ["\n\n"]


def test_split_function_matches_component(snlp: Language) -> None:
    text = "CHIEF COMPLAINT\nFollow-up.\nPlan: recheck BMP. Return in 3 mos."
    assert split(text) == sents(snlp, text)


def test_benchmark_cases_all_pass() -> None:
    """The benchmark's gold cases (benchmarks/data/sentence_cases.jsonl)."""
    splitter = default_splitter()
    with CASES.open(encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    assert len(cases) >= 40
    failures = [c["id"] for c in cases if splitter.split(c["text"]) != c["sentences"]]
    assert failures == []


def test_rules_round_trip_to_disk(tmp_path: Path) -> None:
    nlp = make_nlp()
    nlp.add_pipe("eligo_sentences")
    nlp.to_disk(tmp_path / "model")
    component = nlp.get_pipe("eligo_sentences")
    assert isinstance(component, EligoSentences)
    saved = (tmp_path / "model" / "eligo_sentences" / "abbreviations.txt").read_text()
    assert "[title]" in saved
    assert "dr" in saved.split()
    # Load the saved rules into a fresh component, edited to prove they come from disk.
    (tmp_path / "model" / "eligo_sentences" / "abbreviations.txt").write_text(
        saved.replace("[title]\n", "[title]\nzzq\n")
    )
    fresh = EligoSentences(make_nlp()).from_disk(tmp_path / "model" / "eligo_sentences")
    assert "zzq" in fresh.rules.title
    assert fresh.rules.headers == component.rules.headers


def test_packaged_rules_parse() -> None:
    rules = SentenceRules.default()
    assert {"dr", "e.g", "vs"} <= rules.title
    assert "allergies" in rules.headers
    assert "b.i.d" in rules.common


def test_unknown_section_is_reported() -> None:
    with pytest.raises(SentenceRulesError, match=r"unknown section \[titles\].*valid sections"):
        SentenceRules.parse("[titles]\ndr\n", source="x.txt")


def test_word_before_section_is_reported() -> None:
    with pytest.raises(SentenceRulesError, match=r"x.txt line 1: 'dr' comes before any"):
        SentenceRules.parse("dr\n", source="x.txt")
