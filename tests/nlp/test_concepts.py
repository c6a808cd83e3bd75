"""The lexicon concept matcher on a lexicon written here, and on eligo's shipped lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest
from spacy.language import Language

from eligo.nlp.concepts import ConceptMatcher, LexiconError
from eligo.nlp.text import make_nlp

HEADER = "key\tterm\tlabel\tsystem\tcode\tdisplay\tcase\n"


def lexicon(tmp_path: Path, name: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def small(tmp_path: Path) -> tuple[Language, ConceptMatcher]:
    nlp = make_nlp()
    nlp.add_pipe("sentencizer")
    specific = lexicon(
        tmp_path,
        "specific.tsv",
        [
            "\tlung cancer\tcondition\tTEST\tC1\tLung cancer\ti",
            "\tALL\tcondition\tTEST\tC2\tAcute lymphoblastic leukemia\ts",
            "\tpleural effusion\tcondition\tTEST\tC3\tPleural effusion\ti",
        ],
    )
    general = lexicon(
        tmp_path,
        "general.tsv",
        [
            "\tnon-small cell lung cancer\tcondition\tTEST\tC4\tNSCLC\ti",
            "\tlung cancer\tdrug\tTEST\tX1\tWrong label from a later lexicon\ti",
            "\tlung cancer\tcondition\tOTHER\tC5\tLung cancer (other vocabulary)\ti",
            "\tcancer\tcondition\tTEST\tC6\tCancer\ti",
            "\theart failure\tcondition\tTEST\tC7\tHeart failure\ti",
        ],
    )
    return nlp, ConceptMatcher(nlp, lexicons=[specific, general])


def ents(pair: tuple[Language, ConceptMatcher], text: str) -> list[tuple[str, str, list[str]]]:
    nlp, matcher = pair
    doc = matcher(nlp(text))
    return [(e.text, e.label_, [c.code for c in e._.codes]) for e in doc.ents]


def test_longest_match_wins_and_hyphens_are_ignored(small: tuple[Language, ConceptMatcher]) -> None:
    assert ents(small, "Stage IV non-small-cell lung cancer.") == [
        ("non-small-cell lung cancer", "condition", ["C4"])
    ]


def test_earlier_lexicon_sets_label_and_codes_merge(
    small: tuple[Language, ConceptMatcher],
) -> None:
    # The later lexicon's "drug" reading is dropped; its same-label code is kept.
    assert ents(small, "History of lung cancer.") == [("lung cancer", "condition", ["C1", "C5"])]


def test_case_insensitive_with_plurals(small: tuple[Language, ConceptMatcher]) -> None:
    assert ents(small, "Bilateral PLEURAL EFFUSIONS noted.") == [
        ("PLEURAL EFFUSIONS", "condition", ["C3"])
    ]


def test_case_sensitive_abbreviation(small: tuple[Language, ConceptMatcher]) -> None:
    assert ents(small, "Relapsed ALL in 2019.") == [("ALL", "condition", ["C2"])]
    assert ents(small, "All symptoms resolved.") == []


def test_terms_never_span_sentences_but_span_line_breaks(
    small: tuple[Language, ConceptMatcher],
) -> None:
    assert ents(small, "He has heart.  Failure to thrive.") == []
    assert ents(small, "Known heart\nfailure.") == [("heart\nfailure", "condition", ["C7"])]


def test_user_lexicon_errors_name_the_problem(tmp_path: Path) -> None:
    nlp = make_nlp()
    bad_label = lexicon(tmp_path, "a.tsv", ["\tfoo\tdisease\tT\t1\tFoo\ti"])
    with pytest.raises(LexiconError, match=r"a.tsv line 2: label 'disease' is not one of"):
        ConceptMatcher(nlp, lexicons=[bad_label])
    short = lexicon(tmp_path, "b.tsv", ["\tfoo\tcondition\tT"])
    with pytest.raises(LexiconError, match="expected 7 tab-separated fields"):
        ConceptMatcher(nlp, lexicons=[short])
    bad_case = lexicon(tmp_path, "c.tsv", ["\tfoo\tcondition\tT\t1\tFoo\tx"])
    with pytest.raises(LexiconError, match="case 'x' is not one of i, s"):
        ConceptMatcher(nlp, lexicons=[bad_case])
    with pytest.raises(LexiconError, match="cannot read lexicon"):
        ConceptMatcher(nlp, lexicons=[str(tmp_path / "missing.tsv")])


def test_unknown_shipped_lexicon_is_a_clear_error() -> None:
    from eligo.nlp.resources import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError, match=r"corpora/lexicons/snomed.tsv.gz is missing"):
        ConceptMatcher(make_nlp(), lexicons=["snomed"])


@pytest.mark.parametrize(
    ("text", "phrase", "label", "system"),
    [
        ("Hx of HTN and DM2.", "HTN", "condition", "ICD-10-CM"),
        ("Hx of HTN and DM2.", "DM2", "condition", "ICD-10-CM"),
        ("Known CHF, EF 35%.", "CHF", "condition", "ICD-10-CM"),
        ("Complains of SOB on exertion.", "SOB", "condition", None),
        (
            "Type 2 diabetes mellitus, poorly controlled.",
            "Type 2 diabetes mellitus",
            "condition",
            "ICD-10-CM",
        ),
        ("Started lisinopril 20 mg daily.", "lisinopril", "drug", "DrugBank"),
        ("Grade 2 nausea after cycle 1.", "nausea", "condition", "MedDRA"),
        ("HbA1c 8.2% today.", "HbA1c", "measurement", None),
        ("Scheduled for colonoscopy.", "colonoscopy", "procedure", None),
        ("Patient with seizures.", "seizures", "condition", "HPO"),
    ],
)
def test_shipped_lexicons(
    nlp: Language, text: str, phrase: str, label: str, system: str | None
) -> None:
    doc = nlp(text)
    found = {e.text: e for e in doc.ents}
    assert phrase in found, [e.text for e in doc.ents]
    ent = found[phrase]
    assert ent.label_ == label
    if system is not None:
        assert system in {c.system for c in ent._.codes}


def test_common_words_are_not_concepts(nlp: Language) -> None:
    doc = nlp("All of the patient's questions were answered today and she may return in two weeks.")
    assert [e.text for e in doc.ents] == []
