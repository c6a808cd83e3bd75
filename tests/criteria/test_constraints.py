"""Values, windows, ages, qualifiers and scopes in criterion text (synthetic sentences)."""

from __future__ import annotations

import pytest

from eligo.criteria import constraints as cons
from eligo.nlp.resources import read_json


def _value(text: str) -> tuple[object, ...]:
    found = cons.find_values(text)
    assert found, f"no value in {text!r}"
    vc = found[0].constraint
    assert text[vc.start or 0 : vc.end or 0] == vc.text
    return (vc.comparator, vc.value, vc.low, vc.high, vc.unit, vc.reference)


def test_patterns_file_validates() -> None:
    cons.Patterns.model_validate(read_json(*cons.PATTERNS_FILE))
    with pytest.raises(ValueError, match="unknown"):
        cons.Patterns.model_validate({**read_json(*cons.PATTERNS_FILE), "unknown": []})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ANC >= 1,500/uL", (">=", 1500.0, None, None, "/uL", None)),
        ("ANC ≥ 1500 cells/mm3", (">=", 1500.0, None, None, "/uL", None)),
        ("HbA1c 7.0-10.5%", ("between", None, 7.0, 10.5, "%", None)),
        ("eGFR < 45 mL/min/1.73 m2", ("<", 45.0, None, None, "mL/min/{1.73_m2}", None)),
        ("AST <= 1.5 x ULN", ("<=", 1.5, None, None, None, "ULN")),
        (
            "bilirubin no more than 2 times the upper limit of normal",
            ("<=", 2.0, None, None, None, "ULN"),
        ),
        ("BMI 25 to 40 kg/m2", ("between", None, 25.0, 40.0, "kg/m2", None)),
        ("creatinine between 1.0 and 2.0 mg/dL", ("between", None, 1.0, 2.0, "mg/dL", None)),
        ("platelets at least 100 x 10^9/L", (">=", 100.0, None, None, "10*9/L", None)),
        ("hemoglobin greater than or equal to 9 g/dL", (">=", 9.0, None, None, "g/dL", None)),
        ("weight less than 110 pounds", ("<", 110.0, None, None, "[lb_av]", None)),
        ("FEV1 below 80%", ("<", 80.0, None, None, "%", None)),
        ("2 or more hospitalizations", (">=", 2.0, None, None, None, None)),
        ("PC20 less than 12.5 mg/ml", ("<", 12.5, None, None, "mg/ml", None)),
    ],
)
def test_values(text: str, expected: tuple[object, ...]) -> None:
    assert _value(text) == expected


@pytest.mark.parametrize("text", ["stage 3 disease", "type 2 diabetes", "CD4 count", "on 3/4/2021"])
def test_numbers_that_are_not_values(text: str) -> None:
    assert cons.find_values(text) == []


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("myocardial infarction within 6 months prior to screening", None, 182.6),
        ("stroke in the past 2 years", None, 730.5),
        ("chemotherapy during the last 4 weeks", None, 28.0),
        ("surgery at least 3 months ago", 91.3, None),
        ("radiotherapy within 14 days before the first dose of study drug", None, 14.0),
        ("diabetes for at least 1 year", 365.2, None),
        ("hospitalization within the past year", None, 365.25),
        ("steroids within twelve weeks of randomization", None, 84.0),
        ("stroke more than 6 months before enrollment", 182.6, None),
    ],
)
def test_windows(text: str, low: float | None, high: float | None) -> None:
    (window,) = cons.find_windows(text)
    assert (window.min_days_before, window.max_days_before) == (low, high)
    assert text[window.start or 0 : window.end or 0] == window.text


def test_window_after_an_event_is_not_relative_to_the_index_date() -> None:
    assert cons.find_windows("readmission within 30 days after surgery") == []


@pytest.mark.parametrize(
    ("text", "comparator", "value", "low", "high"),
    [
        ("aged 18 to 75 years", "between", None, 18.0, 75.0),
        ("≥ 18 years of age", ">=", 18.0, None, None),
        ("18 years or older", ">=", 18.0, None, None),
        ("age < 65", "<", 65.0, None, None),
        ("children aged 6 months to 5 years", "between", None, 0.5, 5.0),
        ("Age: 40-80", "between", None, 40.0, 80.0),
    ],
)
def test_ages(
    text: str, comparator: str, value: float | None, low: float | None, high: float | None
) -> None:
    (age,) = cons.find_ages(text, cons.find_values(text))
    assert age.constraint is not None
    got = age.constraint
    assert (got.comparator, got.value, got.low, got.high, got.unit) == (
        comparator, value, low, high, "a",
    )  # fmt: skip


def test_durations_are_not_ages() -> None:
    text = "life expectancy of at least 3 months"
    assert cons.find_ages(text, cons.find_values(text)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Male or female", [("sex", "all", True)]),
        ("Women aged 40-75", [("sex", "female", True)]),
        ("Pregnant or lactating women", [("pregnant", None, True), ("breastfeeding", None, True)]),
        ("Negative pregnancy test", [("pregnant", None, False)]),
        ("not breastfeeding", [("breastfeeding", None, False)]),
        ("Women of childbearing potential", [("childbearing", None, True)]),
        ("History of stroke in men", []),
    ],
)
def test_demographics(text: str, expected: list[tuple[object, ...]]) -> None:
    got = [(d.attribute, d.sex, d.present) for d in cons.find_demographics(text)]
    assert got == expected


def test_qualifiers() -> None:
    labels = [
        q.label for q in cons.find_qualifiers("Stage IIIB or IV untreated, symptomatic disease")
    ]
    assert labels == ["stage IIIB", "stage IV", "untreated", "symptomatic"]
    assert [q.label for q in cons.find_qualifiers("grade ≥ 2 neuropathy")] == ["grade >= 2"]
    assert [q.label for q in cons.find_qualifiers("NYHA class III-IV heart failure")] == [
        "NYHA class III-IV"
    ]
    labels = [q.label for q in cons.find_qualifiers("severe, active, uncontrolled, metastatic")]
    assert labels == ["severe", "active", "uncontrolled", "metastatic"]


def test_timing_cues() -> None:
    text = "history of asthma, prior chemotherapy, currently taking aspirin"
    assert [t.label for t in cons.find_timing(text)] == ["ever", "prior", "current", "current"]
    assert cons.find_timing("within 4 weeks prior to screening") == []


def test_exception_and_negation_scopes() -> None:
    text = "Prior malignancy other than basal cell carcinoma; no history of stroke, but asthma"
    (exc,) = cons.find_exceptions(text)
    assert text[exc.start : exc.end] == "other than basal cell carcinoma"
    (neg,) = cons.find_negations(text)
    assert text[neg.start : neg.end] == "no history of stroke"
    assert cons.find_negations("no more than 2 drinks a day") == []
    assert cons.find_negations("diabetes with or without insulin") == []


def test_clauses() -> None:
    text = "ANC >= 1500/uL; platelets >= 100,000/uL. Hemoglobin (e.g. Hb. value) >= 9 g/dL"
    assert [text[s:e] for s, e in cons.clauses(text)] == [
        "ANC >= 1500/uL",
        "platelets >= 100,000/uL.",
        "Hemoglobin (e.g. Hb. value) >= 9 g/dL",
    ]
