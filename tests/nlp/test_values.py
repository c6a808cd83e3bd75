"""eligo_values: values of measurement concepts. All text is synthetic."""

from typing import Any

import pytest
from spacy.language import Language

import eligo.nlp.sentences  # noqa: F401  (registers eligo_sentences)
from eligo.nlp.text import make_nlp
from eligo.nlp.types import Measurement
from eligo.nlp.values import UnitTable, UnitTableError, default_units, normalize_unit

LABS = [
    "HbA1c", "creatinine", "BP", "blood pressure", "platelets", "platelet count", "eGFR",
    "ANC", "weight", "temp", "temperature", "WBC", "potassium", "heart rate", "systolic BP",
    "hemoglobin",
]  # fmt: skip


@pytest.fixture(scope="module")
def vnlp() -> Language:
    """Tokenizer + sentences + a lab-name EntityRuler + eligo_values."""
    nlp = make_nlp()
    nlp.add_pipe("eligo_sentences")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": "measurement", "pattern": lab} for lab in LABS])
    nlp.add_pipe("eligo_values")
    return nlp


def value_of(nlp: Language, text: str, lab: str | None = None) -> Measurement | None:
    doc = nlp(text)
    ents = [e for e in doc.ents if lab is None or e.text == lab]
    assert ents, f"no measurement entity in {text!r}"
    value = ents[0]._.value
    assert value is None or isinstance(value, Measurement)
    return value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HbA1c 8.2%", {"value": 8.2, "unit": "%", "text": "8.2%"}),
        ("creatinine 1.4 mg/dL", {"value": 1.4, "unit": "mg/dL", "text": "1.4 mg/dL"}),
        ("Creatinine was 1.4mg/dl", {"value": 1.4, "unit": "mg/dL", "text": "1.4mg/dl"}),
        ("platelets 65,000/uL", {"value": 65000.0, "unit": "/uL", "text": "65,000/uL"}),
        ("eGFR 38", {"value": 38.0, "unit": None, "text": "38"}),
        (
            "eGFR<45 mL/min/1.73 m2",
            {"value": 45.0, "comparator": "<", "unit": "mL/min/{1.73_m2}"},
        ),
        ("ANC >= 1,500/mm3", {"value": 1500.0, "comparator": ">=", "unit": "/uL"}),
        ("weight 82 kg", {"value": 82.0, "unit": "kg"}),
        ("weight 180 lbs", {"value": 180.0, "unit": "[lb_av]"}),
        ("temp 38.5 C", {"value": 38.5, "unit": "Cel"}),
        ("temperature 101.2 degrees F", {"value": 101.2, "unit": "[degF]"}),
        ("WBC 12.3 x10^9/L", {"value": 12.3, "unit": "10*9/L"}),
        ("WBC 4.5 x 10^3/uL", {"value": 4.5, "unit": "10*9/L"}),
        ("platelets 150 K/uL", {"value": 150.0, "unit": "10*9/L"}),
        ("platelets 65K", {"value": 65.0, "unit": "10*9/L"}),
        ("potassium 2.9", {"value": 2.9, "unit": None, "comparator": None}),
        ("heart rate 104 bpm", {"value": 104.0, "unit": "/min"}),
        ("hemoglobin 9.8 g/dL", {"value": 9.8, "unit": "g/dL"}),
        ("systolic BP 150", {"value": 150.0, "systolic": None}),
    ],
)
def test_single_values(vnlp: Language, text: str, expected: dict[str, Any]) -> None:
    value = value_of(vnlp, text)
    assert value is not None
    for field, want in expected.items():
        assert getattr(value, field) == want, field


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HbA1c between 7.0 and 10.5%", (7.0, 10.5, "%", "between 7.0 and 10.5%")),
        ("HbA1c 7.0-10.5%", (7.0, 10.5, "%", "7.0-10.5%")),
        ("HbA1c 7 to 10", (7.0, 10.0, None, "7 to 10")),
    ],
)
def test_ranges(vnlp: Language, text: str, expected: tuple[Any, ...]) -> None:
    value = value_of(vnlp, text)
    assert value is not None
    assert (value.low, value.high, value.unit, value.text) == expected
    assert value.value is None


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("BP 142/90", "142/90"),
        ("BP: 142/90 mmHg", "142/90 mmHg"),
        ("BP of 142/90 mm Hg today", "142/90 mm Hg"),
        ("Blood pressure was 142/90.", "142/90"),
    ],
)
def test_blood_pressure(vnlp: Language, text: str, written: str) -> None:
    value = value_of(vnlp, text)
    assert value is not None
    assert (value.systolic, value.diastolic, value.unit) == (142.0, 90.0, "mm[Hg]")
    assert value.value is None
    assert value.text == written
    assert text[value.start : value.end] == written


def test_offsets_index_the_text(vnlp: Language) -> None:
    text = "Labs today: creatinine was noted to be 2.1 mg/dL and potassium 3.2."
    doc = vnlp(text)
    got = {e.text: e._.value for e in doc.ents}
    assert got["creatinine"].text == "2.1 mg/dL"
    assert text[got["creatinine"].start : got["creatinine"].end] == "2.1 mg/dL"
    assert got["potassium"].value == 3.2


@pytest.mark.parametrize(
    ("text", "comparator", "number"),
    [
        ("eGFR is less than 30 mL/min/1.73m2", "<", 30.0),
        ("creatinine at least 1.5", ">=", 1.5),
        ("platelets above 100,000", ">", 100000.0),
        ("ANC ≥ 1500", ">=", 1500.0),
        ("HbA1c up to 9%", "<=", 9.0),
        ("creatinine = 1.2", None, 1.2),
    ],
)
def test_comparators(vnlp: Language, text: str, comparator: str | None, number: float) -> None:
    value = value_of(vnlp, text)
    assert value is not None
    assert (value.comparator, value.value) == (comparator, number)


@pytest.mark.parametrize(
    "text",
    [
        "HbA1c (3/4) 8.2%",
        "HbA1c on 3/4/2021 was 8.2%",
        "HbA1c increased to 8.2%",
        "HbA1c level of 8.2% in March.",
        "8.2% HbA1c",
        "HbA1c\n8.2%",  # a wrapped line: still one sentence
    ],
)
def test_fillers_dates_and_value_before(vnlp: Language, text: str) -> None:
    value = value_of(vnlp, text)
    assert value is not None
    assert (value.value, value.unit, value.text) == (8.2, "%", "8.2%")


@pytest.mark.parametrize(
    "text",
    [
        "check creatinine tomorrow",
        "BP was controlled",
        "platelets on 3/4/2021",
        "platelets 3-4-2021",
        "potassium 2 tabs daily",
        "creatinine x3 days",
        "creatinine for 3 days",
        "BP 3/4",  # not a plausible reading
        "BP 140",  # one number after BP is not a reading
        "weight loss of 5 pounds over 3 years",
        "HbA1c in a 45-year-old",
        "creatinine 3rd time",
        "HbA1c.\n\n8.2%",  # another sentence
        "HbA1c. 8.2% was the goal",  # another sentence
    ],
)
def test_no_value(vnlp: Language, text: str) -> None:
    assert value_of(vnlp, text) is None


def test_value_not_shared_between_concepts(vnlp: Language) -> None:
    doc = vnlp("HbA1c 8.2% hemoglobin")
    values = {e.text: e._.value for e in doc.ents}
    assert values["HbA1c"] is not None
    assert values["hemoglobin"] is None


def test_works_without_sentences() -> None:
    nlp = make_nlp()
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "measurement", "pattern": "creatinine"}])
    nlp.add_pipe("eligo_values")
    doc = nlp("creatinine 1.4 mg/dL")
    assert doc.ents[0]._.value.value == 1.4


def test_other_labels_are_ignored(vnlp: Language) -> None:
    nlp = make_nlp()
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "drug", "pattern": "metformin"}])
    nlp.add_pipe("eligo_values")
    assert nlp("metformin 500 mg").ents[0]._.value is None


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("mg/dl", "mg/dL"),
        ("MG/DL", "mg/dL"),
        ("mmol/l", "mmol/L"),
        ("/ul", "/uL"),
        ("cells/mm3", "/uL"),
        ("K/uL", "10*9/L"),
        ("x 10^3/uL", "10*9/L"),
        ("x10^9/L", "10*9/L"),
        ("G/L", "10*9/L"),
        ("g/L", "g/L"),
        ("mm Hg", "mm[Hg]"),
        ("mmHg", "mm[Hg]"),
        ("beats per minute", "/min"),
        ("lbs", "[lb_av]"),
        ("°F", "[degF]"),
        ("mL/min/1.73 m2", "mL/min/{1.73_m2}"),
        ("mEq/L", "meq/L"),
        ("IU/L", "[IU]/L"),
        ("furlongs", None),
    ],
)
def test_normalize_unit(written: str, canonical: str | None) -> None:
    assert normalize_unit(written) == canonical


def test_unit_table_has_no_unknown_canonicals() -> None:
    table = default_units()
    # every canonical code is itself a written variant or a UCUM code we chose deliberately
    assert set(table.exact.values()) >= {"mg/dL", "/uL", "10*9/L", "mm[Hg]", "%"}


def test_unit_table_errors_name_the_row() -> None:
    with pytest.raises(UnitTableError, match=r"units.tsv row 2: expected 'written<TAB>canonical"):
        UnitTable.from_rows([["mg/dl"]])
    with pytest.raises(UnitTableError, match=r"row 3: unit 'mm Hg' is listed twice"):
        UnitTable.from_rows([["mmHg", "mm[Hg]"], ["mm Hg", "mm[Hg]"]])


def test_end_to_end_values(nlp: Language) -> None:
    """Through eligo.nlp.load(): the real concept matcher finds the labs."""
    from eligo.nlp import to_entities

    text = "Labs: HbA1c 8.2% and creatinine 1.4 mg/dL.\nBP: 142/90 mmHg. Recheck creatinine soon."
    found = [(e.text, e.value) for e in to_entities(nlp(text)) if e.label == "measurement"]
    values = {name: value for name, value in found if value is not None}
    assert values["HbA1c"].value == 8.2 and values["HbA1c"].unit == "%"
    assert values["creatinine"].value == 1.4 and values["creatinine"].unit == "mg/dL"
    assert (values["BP"].systolic, values["BP"].diastolic) == (142.0, 90.0)
    assert ("creatinine", None) in found  # "Recheck creatinine soon": no value


def test_end_to_end_comparator_and_count(nlp: Language) -> None:
    from eligo.nlp import to_entities

    text = "ANC >= 1,500/mm3 and eGFR<45 mL/min/1.73 m2 on 3/4/2021."
    values = {e.text: e.value for e in to_entities(nlp(text)) if e.value is not None}
    assert values["ANC"].comparator == ">=" and values["ANC"].unit == "/uL"
    assert values["eGFR"].value == 45.0 and values["eGFR"].unit == "mL/min/{1.73_m2}"
