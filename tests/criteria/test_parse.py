"""`eligo.criteria.parse`: criteria, entities, constraints and rule trees (synthetic text)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from spacy.language import Language

from eligo.criteria import (
    Criteria,
    CriteriaError,
    criteria_schema,
    demographics_from_fields,
    parse,
)
from eligo.criteria.types import (
    AndNode,
    ConceptNode,
    Criterion,
    DemographicNode,
    MeasurementNode,
    MedicationNode,
    NotNode,
    OrNode,
    Rule,
    UnstructuredNode,
)
from eligo.nlp.resources import read_json
from tests.conftest import needs_shared

SECTION = """Inclusion Criteria:

-  Male or female, aged 18 to 75 years
-  HbA1c 7.0-10.5% within 3 months prior to screening
-  ANC >= 1,500/uL; platelets ≥ 100 x 10^9/L
-  AST and ALT <= 2.5 x ULN
-  Stage IIIB or IV non-small cell lung cancer
-  Adequate organ function, defined as all of the following:
   a. Hemoglobin ≥ 9 g/dL
   b. Total bilirubin ≤ 1.5 x ULN
-  Signed informed consent
-  Women of childbearing potential must have a negative pregnancy test

Exclusion Criteria:

1. History of myocardial infarction or stroke within 6 months prior to randomization
2. Prior malignancy other than basal cell carcinoma of the skin
3. Current use of warfarin or other anticoagulants
4. Pregnant or lactating women
5. Any of the following:
   - uncontrolled hypertension
   - active hepatitis B infection
6. Life expectancy of less than 3 months
"""


@pytest.fixture(scope="module")
def nlp() -> Language:
    import eligo.nlp

    return eligo.nlp.load(model=None)


@pytest.fixture(scope="module")
def section(nlp: Language) -> Criteria:
    return parse(SECTION, id="T1", nlp=nlp)


def _one(nlp: Language, text: str, kind: str = "Inclusion") -> Criterion:
    result = parse(f"{kind} Criteria:\n- {text}\n", nlp=nlp)
    assert len(result.criteria) == 1
    return result.criteria[0]


def _nodes(rule: Rule) -> Iterator[Rule]:
    yield rule
    if isinstance(rule, AndNode | OrNode):
        for c in rule.children:
            yield from _nodes(c)
    elif isinstance(rule, NotNode):
        yield from _nodes(rule.child)


def _find(section: Criteria, start: str) -> Criterion:
    return next(c for c in section.criteria if c.text.startswith(start))


def test_offsets_point_into_the_input(section: Criteria) -> None:
    assert len(section.criteria) == 18
    for c in section.criteria:
        assert SECTION[c.start : c.end] == c.text
        for e in c.entities:
            assert SECTION[e.start : e.end] == e.text
            for part in (e.value, e.window):
                if part is not None and part.start is not None:
                    assert SECTION[part.start : part.end] == part.text


def test_kinds_and_parents(section: Criteria) -> None:
    kinds = [c.kind for c in section.criteria]
    assert kinds == ["inclusion"] * 10 + ["exclusion"] * 8
    parent = _find(section, "Adequate organ function")
    index = section.criteria.index(parent)
    children = [c for c in section.criteria if c.parent == index]
    assert [c.text for c in children] == ["Hemoglobin ≥ 9 g/dL", "Total bilirubin ≤ 1.5 x ULN"]
    assert isinstance(parent.rule, AndNode) and len(parent.rule.children) == 2
    any_of = _find(section, "Any of the following")
    assert isinstance(any_of.rule, OrNode) and len(any_of.rule.children) == 2


def test_measurements_with_values(section: Criteria) -> None:
    hba1c = _find(section, "HbA1c").rule
    assert isinstance(hba1c, MeasurementNode)
    assert (hba1c.constraint.comparator, hba1c.constraint.low, hba1c.constraint.high) == (
        "between", 7.0, 10.5,
    )  # fmt: skip
    assert hba1c.constraint.unit == "%"
    assert hba1c.window is not None and hba1c.window.max_days_before == 91.3
    anc = _find(section, "ANC").rule
    assert isinstance(anc, AndNode)
    units = [n.constraint.unit for n in anc.children if isinstance(n, MeasurementNode)]
    assert units == ["/uL", "10*9/L"]
    liver = _find(section, "AST and ALT").rule
    assert isinstance(liver, AndNode)
    for node in liver.children:
        assert isinstance(node, MeasurementNode) and node.constraint.reference == "ULN"
        assert node.constraint.value == 2.5 and node.constraint.unit is None


def test_demographics_from_text(section: Criteria) -> None:
    d = section.demographics
    assert (d.min_age, d.max_age, d.sex) == (18.0, 75.0, "all")
    assert d.pregnancy_excluded and d.breastfeeding_excluded
    rule = _find(section, "Male or female").rule
    assert isinstance(rule, AndNode)
    attrs = [n.attribute for n in rule.children if isinstance(n, DemographicNode)]
    assert attrs == ["sex", "age"]


def test_fields_override_text(nlp: Language) -> None:
    result = parse("- Age 18 to 75 years", nlp=nlp, min_age="21 Years", max_age="N/A", sex="Female")
    assert (result.demographics.min_age, result.demographics.max_age) == (21.0, 75.0)
    assert result.demographics.sex == "female"


def test_demographics_from_fields() -> None:
    d = demographics_from_fields("6 Months", "65 Years", "Male")
    assert (d.min_age, d.max_age, d.sex) == (0.5, 65.0, "male")
    assert demographics_from_fields("N/A", None, "All").min_age is None
    with pytest.raises(CriteriaError, match="min_age 'eighteen' is not an age") as err:
        demographics_from_fields("eighteen", None, None)
    assert err.value.code == "bad_field"
    with pytest.raises(CriteriaError, match="sex 'X' is not one of"):
        demographics_from_fields(None, None, "X")


def test_stage_qualifiers(section: Criteria) -> None:
    rule = _find(section, "Stage IIIB").rule
    assert isinstance(rule, ConceptNode)
    assert rule.qualifiers == ["stage IIIB", "stage IV"]


def test_temporal_window_and_timing(section: Criteria) -> None:
    rule = _find(section, "History of myocardial").rule
    assert isinstance(rule, OrNode)
    for node in rule.children:
        assert isinstance(node, ConceptNode) and node.timing == "ever"
        assert node.window is not None and node.window.max_days_before == 182.6
        assert "randomization" in node.window.text


def test_exception_becomes_not(section: Criteria) -> None:
    rule = _find(section, "Prior malignancy").rule
    assert isinstance(rule, AndNode)
    main, exc = rule.children
    assert isinstance(main, ConceptNode) and main.text == "malignancy" and main.timing == "prior"
    assert isinstance(exc, NotNode) and isinstance(exc.child, ConceptNode)
    assert exc.child.text == "basal cell carcinoma"


def test_medications_current(section: Criteria) -> None:
    rule = _find(section, "Current use of warfarin").rule
    assert isinstance(rule, OrNode)
    assert all(isinstance(n, MedicationNode) and n.timing == "current" for n in rule.children)


def test_pregnancy_and_childbearing(section: Criteria) -> None:
    rule = _find(section, "Pregnant or lactating").rule
    assert isinstance(rule, OrNode)
    assert [n.attribute for n in rule.children if isinstance(n, DemographicNode)] == [
        "pregnant",
        "breastfeeding",
    ]
    wocbp = _find(section, "Women of childbearing").rule
    # inclusion as written: men meet it; women must not be pregnant
    assert isinstance(wocbp, OrNode)
    sex, rest = wocbp.children
    assert isinstance(sex, DemographicNode) and sex.sex == "male"
    assert isinstance(rest, DemographicNode) and rest.attribute == "pregnant" and not rest.present


def test_unstructured_is_kept_with_a_reason(section: Criteria) -> None:
    rule = _find(section, "Signed informed consent").rule
    assert isinstance(rule, UnstructuredNode) and rule.reason.startswith("administrative")


@pytest.mark.parametrize(
    ("text", "administrative"),
    [
        ("Unwilling or unable to comply with the study visit schedule", True),
        ("Judged by the investigator to be unlikely to comply with study procedures", True),
        ("Any condition that, in the opinion of the investigator, would interfere", True),
        ("Participation in another interventional study within 30 days", True),
        # a coded concept keeps the criterion computable
        ("Uncontrolled hypertension in the opinion of the investigator", False),
        ("Life expectancy of less than 3 months", False),
    ],
)
def test_administrative_criteria(nlp: Language, text: str, administrative: bool) -> None:
    rule = _one(nlp, text, "Exclusion").rule
    is_admin = isinstance(rule, UnstructuredNode) and rule.reason.startswith("administrative")
    assert is_admin == administrative


def test_observation_value(section: Criteria) -> None:
    rule = _find(section, "Life expectancy").rule
    assert isinstance(rule, MeasurementNode)
    assert (rule.constraint.comparator, rule.constraint.value, rule.constraint.unit) == (
        "<", 3.0, "mo",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "op", "n"),
    [
        ("Either asthma or COPD", OrNode, 2),
        ("Hypertension and diabetes", AndNode, 2),
        ("Asthma, COPD, or bronchiectasis", OrNode, 3),
        ("Asthma, COPD and bronchiectasis", AndNode, 3),
    ],
)
def test_logic(nlp: Language, text: str, op: type, n: int) -> None:
    rule = _one(nlp, text).rule
    assert isinstance(rule, AndNode | OrNode) and isinstance(rule, op)
    assert len(rule.children) == n


def test_no_x_or_y_means_neither(nlp: Language) -> None:
    rule = _one(nlp, "No diabetes or hypertension").rule
    assert isinstance(rule, AndNode)
    assert [isinstance(n, ConceptNode) and not n.present for n in rule.children] == [True, True]


def test_comma_list_defaults_to_or_under_exclusion(nlp: Language) -> None:
    rule = _one(nlp, "Asthma, COPD, bronchiectasis", "Exclusion").rule
    assert isinstance(rule, OrNode) and len(rule.children) == 3


@pytest.mark.parametrize(
    ("text", "present"),
    [("No history of stroke", False), ("Without diabetes", False), ("Stroke", True)],
)
def test_negation(nlp: Language, text: str, present: bool) -> None:
    rule = _one(nlp, text).rule
    assert isinstance(rule, ConceptNode) and rule.present is present


@pytest.mark.parametrize(
    ("text", "comparator", "value"),
    [
        ("Age ≥ 18 years", ">=", 18.0),
        ("18 years of age or older", ">=", 18.0),
        ("Younger than 65 years", "<", 65.0),
    ],
)
def test_age_nodes(nlp: Language, text: str, comparator: str, value: float) -> None:
    rule = _one(nlp, text).rule
    assert isinstance(rule, DemographicNode) and rule.attribute == "age"
    assert rule.constraint is not None
    assert (rule.constraint.comparator, rule.constraint.value) == (comparator, value)


def test_exclusion_age_sets_trial_limits(nlp: Language) -> None:
    result = parse("Exclusion Criteria:\n- Age < 18 years\n- Age > 80 years\n", nlp=nlp)
    assert (result.demographics.min_age, result.demographics.max_age) == (18.0, 80.0)


def test_two_bounds_make_a_range(nlp: Language) -> None:
    c = _one(nlp, "HbA1c >= 7.0% and <= 10.5%")
    assert isinstance(c.rule, MeasurementNode)
    got = c.rule.constraint
    assert (got.comparator, got.low, got.high, got.unit) == ("between", 7.0, 10.5, "%")
    assert got.text == ">= 7.0% and <= 10.5%"


def test_value_without_a_known_concept(nlp: Language) -> None:
    c = _one(nlp, "ECOG performance status 0-1")
    rule = c.rule
    assert isinstance(rule, MeasurementNode)
    assert (rule.constraint.low, rule.constraint.high) == (0.0, 1.0)
    assert "ECOG" in rule.text


def test_parent_window_applies_to_children(nlp: Language) -> None:
    text = (
        "Exclusion Criteria:\n1. Within 6 months before screening, any of the following:\n"
        "  a. stroke\n  b. myocardial infarction\n"
    )
    result = parse(text, nlp=nlp)
    for c in result.criteria[1:]:
        assert isinstance(c.rule, ConceptNode)
        assert c.rule.window is not None and c.rule.window.max_days_before == 182.6


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("", "empty", "criteria text is empty"),
        ("  \n\t ", "empty", "criteria text is empty"),
        ("Inclusion Criteria:\n\nExclusion Criteria:\n- \n", "no_criteria", "no criteria found"),
        ("None", "no_criteria", "no criteria found"),
        (b"Inclusion Criteria: age 18", "not_text", r"criteria must be text \(str\), got bytes"),
        (None, "not_text", "got NoneType"),
    ],
)
def test_errors(nlp: Language, text: Any, code: str, message: str) -> None:
    with pytest.raises(CriteriaError, match=message) as err:
        parse(text, nlp=nlp)
    assert err.value.code == code
    assert isinstance(err.value, ValueError)


def test_json_round_trip(section: Criteria) -> None:
    data = json.loads(section.model_dump_json())
    again = Criteria.model_validate(data)
    assert again == section
    assert data["id"] == "T1" and data["provenance"]["lexicons"]["criteria_patterns"]


def test_published_schema_is_in_sync() -> None:
    assert read_json("criteria", "criteria.schema.json") == criteria_schema(), (
        "corpora/criteria/criteria.schema.json is stale; regenerate it (see SOURCE.md there)"
    )


@pytest.mark.slow
def test_real_trials_parse_without_failures(nlp: Language) -> None:
    path = needs_shared("ctgov_trials", "trials.jsonl")
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][:60]
    for row in rows:
        text = row["eligibility_text"]
        try:
            result = parse(text, nlp=nlp, min_age=row["min_age"], max_age=row["max_age"],
                           sex=row["gender"])  # fmt: skip
        except CriteriaError:
            continue
        for c in result.criteria:
            assert text[c.start : c.end] == c.text


@pytest.mark.parametrize(
    ("text", "op"),
    [
        # the "/" of a unit is not "or"
        ("ANC >= 1,500/uL and platelets >= 100,000/uL", AndNode),
        ("eGFR >= 30 mL/min/1.73 m2 or creatinine <= 1.5 mg/dL", OrNode),
        ("Diabetes/hypertension", OrNode),
    ],
)
def test_units_do_not_decide_the_connective(nlp: Language, text: str, op: type) -> None:
    rule = _one(nlp, text).rule
    assert isinstance(rule, op) and len(rule.children) == 2


@pytest.mark.parametrize(
    ("text", "kind", "node", "name"),
    [
        ("Current treatment with metformin", "Inclusion", MedicationNode, "metformin"),
        ("Prior therapy with pembrolizumab", "Exclusion", MedicationNode, "pembrolizumab"),
        ("Active hepatitis B infection", "Exclusion", ConceptNode, "hepatitis B"),
    ],
)
def test_generic_head_is_not_a_second_concept(
    nlp: Language, text: str, kind: str, node: type, name: str
) -> None:
    rule = _one(nlp, text, kind).rule
    assert isinstance(rule, node) and rule.text == name


def test_window_before_a_colon_bounds_the_whole_list(nlp: Language) -> None:
    text = "Any of the following within 6 months: myocardial infarction, unstable angina, stroke"
    rule = _one(nlp, text, "Exclusion").rule
    assert isinstance(rule, OrNode) and len(rule.children) == 3
    for child in rule.children:
        assert isinstance(child, ConceptNode) and child.window is not None
        assert child.window.max_days_before == pytest.approx(182.6, abs=1)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Prior biologic DMARD therapy", "biologic DMARD"),
        ("Current use of an ACE inhibitor", "ACE inhibitor"),
    ],
)
def test_drug_class_is_one_medication(text: str, name: str) -> None:
    import eligo.nlp

    rule = _one(eligo.nlp.load(), text, "Exclusion").rule
    assert isinstance(rule, MedicationNode) and rule.text == name


def test_rule_json_keeps_its_type_without_defaults(section: Criteria) -> None:
    # the discriminator survives exclude_defaults, so such JSON reads back
    for criterion in section.criteria:
        data = criterion.model_dump(mode="json", exclude_defaults=True)
        assert "type" in data["rule"]
        assert Criterion.model_validate(data).rule == criterion.rule


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_age": True}, "max_age must be an age"),
        ({"min_age": ["18"]}, "min_age must be an age"),
        ({"sex": 1}, "sex must be"),
    ],
)
def test_structured_fields_of_the_wrong_type(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(CriteriaError, match=message) as err:
        demographics_from_fields(fields.get("min_age"), fields.get("max_age"), fields.get("sex"))
    assert err.value.code == "bad_field"
