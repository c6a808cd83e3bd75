"""Splitting eligibility sections into criteria (synthetic text written for these tests)."""

from __future__ import annotations

import pytest

from eligo.criteria.split import header_kind, split


def _texts(text: str) -> list[tuple[str, str, int | None]]:
    return [(c.kind, text[c.start : c.end], c.parent) for c in split(text)]


def test_headers_and_dash_bullets() -> None:
    text = (
        "Inclusion Criteria:\n\n-  Age 18 years or older\n\n-  Type 2 diabetes\n\n"
        "Exclusion Criteria:\n\n-  Pregnancy\n"
    )
    assert _texts(text) == [
        ("inclusion", "Age 18 years or older", None),
        ("inclusion", "Type 2 diabetes", None),
        ("exclusion", "Pregnancy", None),
    ]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Inclusion Criteria:", "inclusion"),
        ("Key Exclusion Criteria", "exclusion"),
        ("EXCLUSION CRITERIA:", "exclusion"),
        ("Exclusion:", "exclusion"),
        ("Main Inclusion Criteria :", "inclusion"),
        ("Registration - Exclusion Criteria", "exclusion"),
        ("Patients will be excluded if they have any of the following:", "exclusion"),
        ("You will not be eligible for this study if you:", "exclusion"),
        ("Patients may be eligible for this study if they:", "inclusion"),
    ],
)
def test_header_variants(line: str, kind: str) -> None:
    found = header_kind(line)
    assert found is not None and found[0] == kind


@pytest.mark.parametrize(
    "line",
    ["Failure to meet inclusion criteria.", "Other protocol-defined exclusion criteria may apply"],
)
def test_sentences_about_criteria_are_not_headers(line: str) -> None:
    assert header_kind(line) is None


def test_no_header_means_inclusion() -> None:
    text = "Adults with asthma\nFEV1 below 80% predicted\n"
    assert [k for k, _, _ in _texts(text)] == ["inclusion", "inclusion"]


def test_inline_header_content_and_sentence_header() -> None:
    text = "Inclusion Criteria: adults with gout\nPatients will be excluded if they smoke.\n"
    assert _texts(text) == [
        ("inclusion", "adults with gout", None),
        ("exclusion", "smoke.", None),
    ]


@pytest.mark.parametrize(
    "bullets",
    [("1. ", "2. "), ("1) ", "2) "), ("a. ", "b. "), ("* ", "* "), ("• ", "• "), ("(1) ", "(2) ")],
)
def test_bullet_styles(bullets: tuple[str, str]) -> None:
    text = f"Exclusion Criteria:\n{bullets[0]}Active hepatitis B\n{bullets[1]}Prior stroke\n"
    assert [t for _, t, _ in _texts(text)] == ["Active hepatitis B", "Prior stroke"]


def test_wrapped_lines_are_joined() -> None:
    text = (
        "Exclusion Criteria:\n\n-  Myocardial infarction, unstable angina or stroke within\n"
        "6 months before screening\n\n-  Seizure disorder requiring\nanticonvulsants\n"
    )
    texts = [t for _, t, _ in _texts(text)]
    assert texts == [
        "Myocardial infarction, unstable angina or stroke within\n6 months before screening",
        "Seizure disorder requiring\nanticonvulsants",
    ]


def test_unbulleted_lines_are_separate_criteria() -> None:
    text = "Women or men\n18 years of age\nMeasurable disease.\n"
    assert [t for _, t, _ in _texts(text)] == [
        "Women or men",
        "18 years of age",
        "Measurable disease.",
    ]


def test_nested_sub_bullets_by_style() -> None:
    text = (
        "Exclusion Criteria:\n1. Any of the following within 6 months:\n"
        "   a. myocardial infarction\n   b. stroke\n2. Pregnancy\n"
    )
    crits = split(text)
    assert [(text[c.start : c.end], c.parent) for c in crits] == [
        ("Any of the following within 6 months:", None),
        ("myocardial infarction", 0),
        ("stroke", 0),
        ("Pregnancy", None),
    ]
    assert crits[0].children == [1, 2] and crits[0].children_op == "or"


def test_flat_sub_bullets_end_at_next_parent() -> None:
    text = (
        "Inclusion Criteria:\n\n-  Adequate organ function, all of the following:\n\n"
        "-  Hemoglobin >= 9 g/dL\n\n-  Platelets >= 100,000/uL\n\n"
        "-  One of the following:\n\n-  Prior surgery\n"
    )
    crits = split(text)
    assert [c.parent for c in crits] == [None, 0, 0, None, 3]
    assert crits[0].children_op == "and" and crits[3].children_op == "or"


def test_allowed_and_excluded_sub_headers() -> None:
    text = "Inclusion Criteria:\nPrior therapy:\nAllowed:\n-  Aspirin\nExcluded:\n-  Warfarin\n"
    crits = {text[c.start : c.end]: c for c in split(text)}
    assert crits["Aspirin"].permitted and crits["Aspirin"].kind == "inclusion"
    assert crits["Warfarin"].kind == "exclusion" and not crits["Warfarin"].permitted


def test_offsets_index_the_input() -> None:
    text = "  Inclusion Criteria:\r\n\t-  Age >= 18\r\n  2) BMI 25 to 40 kg/m2  \r\n"
    for c in split(text):
        assert text[c.start : c.end] == text[c.start : c.end].strip()
    assert [text[c.start : c.end] for c in split(text)] == ["Age >= 18", "BMI 25 to 40 kg/m2"]
