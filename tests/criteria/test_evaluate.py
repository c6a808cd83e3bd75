"""Evaluation of hand-built rule trees against hand-built patient facts (synthetic)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eligo.criteria.evaluate import (
    InvalidIndexDateError,
    age_at,
    convert,
    evaluate,
    event_date,
    parse_date,
    satisfies,
    status_and_score,
)
from eligo.criteria.match import ConceptMatcher
from eligo.criteria.types import (
    AndNode,
    ConceptNode,
    Criteria,
    Criterion,
    CriterionResult,
    DemographicNode,
    Demographics,
    Fact,
    FactSource,
    Kind,
    MeasurementNode,
    MedicationNode,
    NotNode,
    OrNode,
    PatientFacts,
    Rule,
    TimeWindow,
    UnstructuredNode,
    ValueConstraint,
)
from eligo.nlp.types import Code

INDEX = date(2026, 6, 15)
NOTE = FactSource(kind="note", id="n1", start=0, end=5)
FHIR = FactSource(kind="fhir", id="r1", resource="Condition")

STROKE = [Code(system="ICD-10-CM", code="I63", display="Cerebral infarction")]
T2DM = [Code(system="ICD-10-CM", code="E11", display="Type 2 diabetes mellitus")]
METFORMIN = [Code(system="DrugBank", code="DB00331", display="Metformin")]
METHOTREXATE = [Code(system="DrugBank", code="DB00563", display="Methotrexate")]
HBA1C = [Code(system="LOINC", code="4548-4", display="Hemoglobin A1c")]


@pytest.fixture(scope="module")
def matcher() -> ConceptMatcher:
    """Code and text matching only: fast and independent of the lexicons and the model."""
    return ConceptMatcher(lexicon=False, semantic=False)


def fact(text: str, kind: Any = "condition", **kw: Any) -> Fact:
    kw.setdefault("source", NOTE)
    return Fact(kind=kind, text=text, **kw)


def patient(*facts: Fact, **kw: Any) -> PatientFacts:
    return PatientFacts(id="p1", facts=list(facts), **kw)


def one(rule: Rule, kind: Kind = "inclusion", **demo: Any) -> Criteria:
    return Criteria(
        id="T1",
        demographics=Demographics(**demo),
        criteria=[Criterion(kind=kind, text="criterion", start=0, end=9, rule=rule)],
    )


def verdict(rule: Rule, chart: PatientFacts, m: ConceptMatcher, kind: Kind = "inclusion") -> str:
    result = evaluate(one(rule, kind), chart, index_date=INDEX, matcher=m)
    return result.criteria[-1].verdict


def stroke(**kw: Any) -> ConceptNode:
    return ConceptNode(domain="condition", text="stroke", codes=STROKE, **kw)


# --- concepts and assertions ---------------------------------------------------------------


def test_asserted_fact_is_met_with_evidence(matcher: ConceptMatcher) -> None:
    chart = patient(
        fact(
            "ischemic stroke",
            codes=[Code(system="ICD-10-CM", code="I63.9", display="x")],
            date="2024-01-02",
        )
    )
    result = evaluate(one(stroke()), chart, index_date=INDEX, matcher=matcher)
    crit = result.criteria[0]
    assert crit.verdict == "met"
    assert crit.evidence[0].matched_by == "code"  # ICD-10-CM hierarchy: I63 covers I63.9
    assert crit.evidence[0].date == "2024-01-02"
    assert crit.evidence[0].source == NOTE
    assert result.status == "eligible" and result.score == 1.0
    assert result.index_date == "2026-06-15" and result.trial == "T1"


@pytest.mark.parametrize("flag", ["family", "hypothetical"])
def test_family_and_hypothetical_mentions_are_not_presence(
    matcher: ConceptMatcher, flag: str
) -> None:
    chart = patient(fact("stroke", codes=STROKE, **{flag: True}))
    result = evaluate(one(stroke()), chart, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "unknown"  # inclusion: never assumed absent
    assert result.criteria[0].evidence[0].note in ("family history", "hypothetical")
    # for an exclusion the chart covers conditions, so no record of stroke -> not met
    assert verdict(stroke(), chart, matcher, "exclusion") == "not_met"


def test_negated_mention_is_evidence_of_absence(matcher: ConceptMatcher) -> None:
    chart = patient(fact("stroke", codes=STROKE, negated=True, date="2026-06-01"))
    result = evaluate(one(stroke()), chart, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "not_met"
    assert result.criteria[0].evidence[0].note == "negated mention"
    assert result.status == "excluded" and result.score == 0.0


def test_uncertain_mention_is_unknown(matcher: ConceptMatcher) -> None:
    chart = patient(fact("stroke", codes=STROKE, uncertain=True))
    assert verdict(stroke(), chart, matcher, "exclusion") == "unknown"


def test_presence_wins_over_negation_and_family(matcher: ConceptMatcher) -> None:
    chart = patient(
        fact("stroke", codes=STROKE, family=True),
        fact("stroke", codes=STROKE, negated=True),
        fact("stroke", codes=STROKE, date="2025-01-01"),
    )
    assert verdict(stroke(), chart, matcher) == "met"


def test_historical_counts_for_history_not_for_current(matcher: ConceptMatcher) -> None:
    chart = patient(fact("hepatitis B", historical=True, date="2026-01-01"))
    hep = ConceptNode(domain="condition", text="hepatitis B")
    active = ConceptNode(domain="condition", text="hepatitis B", qualifiers=["active"])
    assert verdict(hep, chart, matcher) == "met"
    assert verdict(active, chart, matcher, "exclusion") == "not_met"
    structured = patient(fact("hepatitis B", source=FHIR, active=False, date="2020-01-01"))
    assert verdict(active, structured, matcher, "exclusion") == "not_met"
    ongoing = patient(fact("chronic hepatitis B", source=FHIR, active=True, date="2020-01-01"))
    assert verdict(active, ongoing, matcher, "exclusion") == "met"  # text containment


def test_present_false_inverts(matcher: ConceptMatcher) -> None:
    no_stroke = stroke(present=False)
    assert verdict(no_stroke, patient(fact("stroke", codes=STROKE)), matcher) == "not_met"
    denied = patient(fact("stroke", codes=STROKE, negated=True))
    assert verdict(no_stroke, denied, matcher) == "met"


# --- closed world --------------------------------------------------------------------------


def test_absence_of_record_is_unknown_for_inclusion_absent_for_exclusion(
    matcher: ConceptMatcher,
) -> None:
    chart = patient(fact("hypertension", source=FHIR))
    assert verdict(stroke(), chart, matcher, "inclusion") == "unknown"
    result = evaluate(one(stroke(), "exclusion"), chart, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "not_met"
    assert "no record among 1" in result.criteria[0].reason
    # an inclusion that forbids the concept is satisfied by its absence
    assert verdict(stroke(present=False), chart, matcher, "inclusion") == "met"
    assert verdict(NotNode(child=stroke()), chart, matcher, "inclusion") == "met"
    # NOT under an exclusion flips the direction back: absence would exclude, so unknown
    assert verdict(NotNode(child=stroke()), chart, matcher, "exclusion") == "unknown"


def test_no_closed_world_without_domain_data_or_when_disabled(matcher: ConceptMatcher) -> None:
    meds_only = patient(fact("metformin", kind="drug", codes=METFORMIN))
    assert verdict(stroke(), meds_only, matcher, "exclusion") == "unknown"
    chart = patient(fact("hypertension"))
    result = evaluate(
        one(stroke(), "exclusion"), chart, index_date=INDEX, matcher=matcher, closed_world=False
    )
    assert result.criteria[0].verdict == "unknown"


# --- windows -------------------------------------------------------------------------------


def test_window_edges(matcher: ConceptMatcher) -> None:
    within_90 = stroke(window=TimeWindow(max_days_before=90))
    edge = INDEX.toordinal() - 90
    on_edge = date.fromordinal(edge).isoformat()
    past_edge = date.fromordinal(edge - 1).isoformat()
    assert verdict(within_90, patient(fact("stroke", codes=STROKE, date=on_edge)), matcher) == (
        "met"
    )
    outside = patient(fact("stroke", codes=STROKE, date=past_edge))
    result = evaluate(one(within_90, "exclusion"), outside, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "not_met"
    assert result.criteria[0].evidence[0].note == f"outside window: {past_edge}"
    # for an inclusion an out-of-window event does not prove there was none in the window
    assert verdict(within_90, outside, matcher, "inclusion") == "unknown"


def test_min_days_before_and_future_facts(matcher: ConceptMatcher) -> None:
    at_least_30 = stroke(window=TimeWindow(min_days_before=30))
    recent = patient(fact("stroke", codes=STROKE, date="2026-06-01", source=FHIR))
    assert verdict(at_least_30, recent, matcher) == "unknown"
    old = patient(fact("stroke", codes=STROKE, date="2026-05-16", source=FHIR))  # 30 days
    assert verdict(at_least_30, old, matcher) == "met"
    future = patient(fact("stroke", codes=STROKE, date="2026-07-01"))
    assert verdict(stroke(), future, matcher) == "unknown"


def test_undated_or_historical_mention_cannot_place_event_in_window(
    matcher: ConceptMatcher,
) -> None:
    within = stroke(window=TimeWindow(max_days_before=180))
    assert verdict(within, patient(fact("stroke", codes=STROKE)), matcher, "exclusion") == (
        "unknown"
    )
    hist = patient(fact("stroke", codes=STROKE, historical=True, date="2026-06-01"))
    assert verdict(within, hist, matcher, "exclusion") == "unknown"
    old_note = patient(fact("stroke", codes=STROKE, historical=True, date="2024-06-01"))
    assert verdict(within, old_note, matcher, "exclusion") == "not_met"


# --- medications ---------------------------------------------------------------------------


def med(timing: Any = "current", **kw: Any) -> MedicationNode:
    return MedicationNode(text="metformin", codes=METFORMIN, timing=timing, **kw)


def test_current_vs_prior_medication(matcher: ConceptMatcher) -> None:
    stopped = patient(
        fact(
            "metformin",
            kind="drug",
            codes=METFORMIN,
            source=FHIR,
            date="2020-01-01",
            end_date="2026-06-14",
        )
    )
    assert verdict(med("current"), stopped, matcher) == "not_met"
    assert verdict(med("prior"), stopped, matcher) == "met"
    ends_today = patient(
        fact(
            "metformin",
            kind="drug",
            codes=METFORMIN,
            source=FHIR,
            date="2020-01-01",
            end_date="2026-06-15",
        )
    )
    assert verdict(med("current"), ends_today, matcher) == "met"
    active = patient(
        fact(
            "metformin 500 mg",
            kind="drug",
            codes=METFORMIN,
            source=FHIR,
            active=True,
            date="2025-01-01",
        )
    )
    assert verdict(med("current"), active, matcher) == "met"


def test_note_medication_timing(matcher: ConceptMatcher) -> None:
    on_it = patient(fact("metformin", kind="drug", codes=METFORMIN, date="2026-05-01"))
    assert verdict(med("current"), on_it, matcher) == "met"
    was_on = patient(
        fact("metformin", kind="drug", codes=METFORMIN, date="2026-05-01", historical=True)
    )
    assert verdict(med("current"), was_on, matcher) == "not_met"
    assert verdict(med("ever"), was_on, matcher) == "met"
    stale = patient(fact("metformin", kind="drug", codes=METFORMIN, date="2024-01-01"))
    assert verdict(med("current"), stale, matcher) == "unknown"
    denied = patient(fact("metformin", kind="drug", codes=METFORMIN, negated=True))
    assert verdict(med("ever"), denied, matcher) == "not_met"


def test_medication_window_and_closed_world(matcher: ConceptMatcher) -> None:
    within = med("prior", window=TimeWindow(max_days_before=30))
    course = patient(
        fact(
            "metformin",
            kind="drug",
            codes=METFORMIN,
            source=FHIR,
            date="2026-01-01",
            end_date="2026-05-20",
        )
    )
    assert verdict(within, course, matcher) == "met"  # exposure overlaps the last 30 days
    ended = patient(
        fact(
            "metformin",
            kind="drug",
            codes=METFORMIN,
            source=FHIR,
            date="2026-01-01",
            end_date="2026-05-10",
        )
    )
    assert verdict(within, ended, matcher, "exclusion") == "not_met"
    other = patient(fact("lisinopril", kind="drug", source=FHIR, active=True))
    assert verdict(med("current"), other, matcher, "exclusion") == "not_met"
    assert verdict(med("current"), other, matcher, "inclusion") == "unknown"


# --- measurements --------------------------------------------------------------------------


def a1c(comparator: Any, unit: str | None = "%", **kw: Any) -> MeasurementNode:
    return MeasurementNode(
        text="HbA1c",
        codes=HBA1C,
        constraint=ValueConstraint(comparator=comparator, unit=unit, **kw),
        window=kw.pop("window", None),
    )


def lab(value: float, unit: str | None = "%", day: str = "2026-06-01", **kw: Any) -> Fact:
    return fact("HbA1c", kind="measurement", codes=HBA1C, value=value, unit=unit, date=day, **kw)


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("<=", 7.0, "met"),
        ("<", 7.0, "not_met"),
        (">=", 7.0, "met"),
        (">", 7.0, "not_met"),
        ("<", 6.99, "met"),
        ("=", 7.0, "met"),
    ],
)
def test_value_at_threshold(
    matcher: ConceptMatcher, comparator: Any, value: float, expected: str
) -> None:
    node = MeasurementNode(
        text="HbA1c",
        codes=HBA1C,
        constraint=ValueConstraint(comparator=comparator, value=7.0, unit="%"),
    )
    assert verdict(node, patient(lab(value)), matcher) == expected


def test_between_is_inclusive_and_latest_value_wins(matcher: ConceptMatcher) -> None:
    node = a1c("between", low=7.0, high=10.5)
    assert verdict(node, patient(lab(10.5)), matcher) == "met"
    assert verdict(node, patient(lab(10.6)), matcher) == "not_met"
    chart = patient(lab(12.0, day="2026-01-01"), lab(8.0, day="2026-06-01"))
    result = evaluate(one(node), chart, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "met"
    assert result.criteria[0].evidence[0].value == 8.0


def test_measurement_window_missing_and_negated(matcher: ConceptMatcher) -> None:
    window = TimeWindow(max_days_before=90)
    node = MeasurementNode(
        text="HbA1c",
        codes=HBA1C,
        window=window,
        constraint=ValueConstraint(comparator="<=", value=10, unit="%"),
    )
    old = patient(lab(8.0, day="2025-01-01"))
    result = evaluate(one(node, "inclusion"), old, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "unknown"
    assert "outside window: 2025-01-01" in result.criteria[0].reason
    # a missing lab is unknown even for an exclusion (no closed world for values)
    assert verdict(node, patient(fact("hypertension")), matcher, "exclusion") == "unknown"
    assert verdict(node, patient(lab(8.0, negated=True)), matcher) == "unknown"


def test_units_convert_or_give_unknown(matcher: ConceptMatcher) -> None:
    ifcc = a1c("<=", unit="%", value=7.0)
    assert verdict(ifcc, patient(lab(53.0, unit="mmol/mol")), matcher) == "met"  # 7.0 %
    assert verdict(ifcc, patient(lab(64.0, unit="mmol/mol")), matcher) == "not_met"  # 8.0 %
    assert verdict(ifcc, patient(lab(7.0, unit="mg/dL")), matcher) == "unknown"
    result = evaluate(one(ifcc), patient(lab(7.0, unit=None)), index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "met"
    assert result.criteria[0].evidence[0].note == "unit not stated, read as %"
    anc = [Code(system="LOINC", code="751-8", display="Neutrophils")]
    node = MeasurementNode(
        text="ANC", codes=anc, constraint=ValueConstraint(comparator=">=", value=1500, unit="/uL")
    )
    chart = patient(fact("ANC", kind="measurement", codes=anc, value=1.5, unit="10*9/L"))
    assert verdict(node, chart, matcher) == "met"


def test_conversions() -> None:
    assert convert(1.0, "mg/dL", "umol/L", analyte="creatinine") == pytest.approx(88.42)
    assert convert(1.0, "mg/dL", "umol/L", analyte="albumin") is None
    assert convert(10.0, "g/dL", "g/L") == 100.0
    assert convert(100.0, "g/L", "g/dL") == 10.0
    assert convert(98.6, "[degF]", "Cel") == pytest.approx(37.0)
    assert convert(4.5, "meq/L", "mmol/L", analyte="potassium") == 4.5


def test_uln_needs_reference_range(matcher: ConceptMatcher) -> None:
    bili = [Code(system="LOINC", code="1975-2", display="Bilirubin")]
    node = MeasurementNode(
        text="total bilirubin",
        codes=bili,
        constraint=ValueConstraint(comparator="<=", value=1.5, reference="ULN"),
    )
    bare = patient(fact("bilirubin", kind="measurement", codes=bili, value=1.8, unit="mg/dL"))
    assert verdict(node, bare, matcher) == "unknown"
    ranged = patient(
        fact(
            "bilirubin", kind="measurement", codes=bili, value=1.8, unit="mg/dL", reference_high=1.2
        )
    )
    assert verdict(node, ranged, matcher) == "met"  # 1.8 == 1.5 x 1.2
    higher = patient(
        fact(
            "bilirubin",
            kind="measurement",
            codes=bili,
            value=1.81,
            unit="mg/dL",
            reference_high=1.2,
        )
    )
    assert verdict(node, higher, matcher) == "not_met"


def test_satisfies_without_bound_is_none() -> None:
    assert satisfies(5.0, ValueConstraint(comparator="between", low=1.0)) is None
    assert satisfies(5.0, ValueConstraint(comparator=">")) is None


# --- demographics --------------------------------------------------------------------------


def age(comparator: Any, **kw: Any) -> DemographicNode:
    return DemographicNode(attribute="age", constraint=ValueConstraint(comparator=comparator, **kw))


def test_age_exactly_18_at_index_date(matcher: ConceptMatcher) -> None:
    turns_18 = patient(birth_date="2008-06-15")
    day_short = patient(birth_date="2008-06-16")
    assert verdict(age(">=", value=18), turns_18, matcher) == "met"
    assert verdict(age(">=", value=18), day_short, matcher) == "not_met"
    assert verdict(age(">", value=18), turns_18, matcher) == "not_met"
    assert verdict(age("<", value=18), day_short, matcher) == "met"
    assert verdict(age(">=", value=18), patient(), matcher) == "unknown"


def test_age_helpers() -> None:
    assert age_at(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_at(date(2008, 2, 29), date(2026, 3, 1)) == 18
    assert parse_date("2024-03") == date(2024, 3, 1)
    assert parse_date("2024-03-05T10:00:00Z") == date(2024, 3, 5)
    assert parse_date("2024") == date(2024, 1, 1)
    assert parse_date("last spring") is None


def test_trial_demographics_are_checked(matcher: ConceptMatcher) -> None:
    criteria = Criteria(demographics=Demographics(min_age=18, max_age=75, sex="female"))
    older = patient(birth_date="1950-06-14", sex="female")  # 76 at the index date
    result = evaluate(criteria, older, index_date=INDEX, matcher=matcher)
    assert [c.verdict for c in result.criteria] == ["not_met", "met"]
    assert result.status == "excluded"
    at_75 = patient(birth_date="1950-06-16", sex="female")
    assert evaluate(criteria, at_75, index_date=INDEX, matcher=matcher).status == "eligible"
    unknown_sex = patient(birth_date="1990-01-01")
    assert evaluate(criteria, unknown_sex, index_date=INDEX, matcher=matcher).status == (
        "needs_review"
    )


def test_sex_and_pregnancy(matcher: ConceptMatcher) -> None:
    pregnant = DemographicNode(attribute="pregnant")
    assert verdict(pregnant, patient(sex="male"), matcher, "exclusion") == "not_met"
    expecting = patient(fact("pregnant", date="2026-05-01"), sex="female")
    assert verdict(pregnant, expecting, matcher, "exclusion") == "met"
    denies = patient(fact("pregnancy", negated=True, date="2026-06-01"), sex="female")
    assert verdict(pregnant, denies, matcher, "exclusion") == "not_met"
    past = patient(fact("pregnancy", date="2024-01-01"), sex="female")
    assert verdict(pregnant, past, matcher, "exclusion") == "not_met"
    silent = patient(sex="female")  # no condition data at all
    assert verdict(pregnant, silent, matcher, "exclusion") == "unknown"
    feeding = DemographicNode(attribute="breastfeeding")
    nursing = patient(fact("currently breastfeeding", date="2026-06-01"), sex="female")
    assert verdict(feeding, nursing, matcher, "exclusion") == "met"
    assert verdict(DemographicNode(attribute="sex", sex="female"), nursing, matcher) == "met"


# --- logic ---------------------------------------------------------------------------------


def test_kleene_logic_with_unknowns(matcher: ConceptMatcher) -> None:
    chart = patient(fact("stroke", codes=STROKE, date="2025-01-01"), birth_date="1960-01-01")
    met = stroke()
    unknown = UnstructuredNode(text="able to comply with study procedures")
    not_met = age("<", value=18)
    assert verdict(OrNode(children=[unknown, met]), chart, matcher) == "met"
    assert verdict(OrNode(children=[unknown, not_met]), chart, matcher) == "unknown"
    assert verdict(OrNode(children=[not_met, not_met]), chart, matcher) == "not_met"
    assert verdict(AndNode(children=[unknown, not_met]), chart, matcher) == "not_met"
    assert verdict(AndNode(children=[unknown, met]), chart, matcher) == "unknown"
    assert verdict(AndNode(children=[met, met]), chart, matcher) == "met"
    assert verdict(NotNode(child=unknown), chart, matcher) == "unknown"
    assert verdict(NotNode(child=met), chart, matcher) == "not_met"


def test_status_and_score() -> None:
    def res(kind: Kind, v: Any) -> CriterionResult:
        return CriterionResult(kind=kind, text="c", verdict=v)

    assert status_and_score([res("inclusion", "met"), res("exclusion", "not_met")]) == (
        "eligible",
        1.0,
    )
    assert status_and_score([res("inclusion", "met"), res("exclusion", "unknown")]) == (
        "needs_review",
        0.5,
    )
    assert status_and_score([res("inclusion", "met"), res("exclusion", "met")]) == ("excluded", 0.0)
    assert status_and_score([]) == ("needs_review", 0.0)


def test_bad_index_date_is_rejected(matcher: ConceptMatcher) -> None:
    with pytest.raises(InvalidIndexDateError, match=r"datetime\.date, got str"):
        evaluate(Criteria(), patient(), index_date="2026-01-01", matcher=matcher)  # type: ignore[arg-type]


def test_screening_serialises(matcher: ConceptMatcher) -> None:
    chart = patient(fact("stroke", codes=STROKE, negated=True), birth_date="1970-01-01")
    result = evaluate(
        one(AndNode(children=[stroke(present=False), age(">=", value=18)])),
        chart,
        index_date=INDEX,
        matcher=matcher,
    )
    assert result.status == "eligible"
    data = result.model_dump(mode="json")
    assert data["criteria"][0]["evidence"][0]["note"] == "negated mention"
    assert data["provenance"]["eligo"]


# --- event dates, closed-world guard, qualifiers --------------------------------------------


def test_event_date_from_the_mention_sentence(matcher: ConceptMatcher) -> None:
    text = "Chronic heart failure. Myocardial infarction in 2015, s/p PCI. Seen 2026-01-02."
    start = text.index("Myocardial")
    mi = fact(
        "Myocardial infarction",
        historical=True,
        date="2026-06-01",
        source=FactSource(kind="note", id="n1", start=start, end=start + 21),
    )
    chart = patient(mi, notes={"n1": text})
    assert event_date(mi, chart.notes) == date(2015, 1, 1)
    within = ConceptNode(
        domain="condition", text="myocardial infarction", window=TimeWindow(max_days_before=91)
    )
    result = evaluate(one(within, "exclusion"), chart, index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "not_met"
    assert result.criteria[0].evidence[0].note == "outside window: 2015-01-01"
    # without a date in its sentence the note's date stands
    other = mi.model_copy(update={"source": FactSource(kind="note", id="n1", start=0, end=21)})
    assert event_date(other, chart.notes) == date(2026, 6, 1)
    # a date later than the note is not the event's
    later = patient(mi, notes={"n1": text.replace("in 2015", "on 2026-12-01")})
    assert event_date(mi, later.notes) == date(2026, 6, 1)


def test_uncoded_concept_is_never_assumed_absent(matcher: ConceptMatcher) -> None:
    chart = patient(fact("hypertension"), fact("metformin", kind="drug", codes=METFORMIN))
    vague = ConceptNode(domain="procedure", text="treatment")
    assert verdict(vague, chart, matcher, "exclusion") == "unknown"
    assert verdict(MedicationNode(text="study drug"), chart, matcher, "exclusion") == "unknown"


def test_qualifier_words_do_not_block_matching(matcher: ConceptMatcher) -> None:
    node = ConceptNode(domain="condition", text="chronic heart failure", qualifiers=["chronic"])
    chart = patient(fact("heart failure with reduced ejection fraction", date="2026-01-01"))
    assert verdict(node, chart, matcher) == "met"


def test_cohort_truth_is_self_consistent() -> None:
    """The written truth: each status follows from its verdicts by the status rule."""
    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "cohort"
    truths = [json.loads(line) for line in (folder / "truth.jsonl").open(encoding="utf-8")]
    charts = {json.loads(line)["id"] for line in (folder / "charts.jsonl").open(encoding="utf-8")}
    assert len(truths) >= 40 and {t["patient"] for t in truths} == charts
    for truth in truths:
        results = [
            CriterionResult(kind=c["kind"], text=c["key"], verdict=c["verdict"])
            for c in truth["criteria"]
        ]
        assert status_and_score(results)[0] == truth["status"], truth["patient"]


def test_measurement_without_window_must_be_recent(matcher: ConceptMatcher) -> None:
    node = a1c("<=", value=10.0)
    year_old = date.fromordinal(INDEX.toordinal() - 365).isoformat()
    too_old = date.fromordinal(INDEX.toordinal() - 366).isoformat()
    assert verdict(node, patient(lab(8.0, day=year_old)), matcher) == "met"
    result = evaluate(one(node), patient(lab(8.0, day=too_old)), index_date=INDEX, matcher=matcher)
    assert result.criteria[0].verdict == "unknown"
    assert f"older than 365 days: {too_old}" in result.criteria[0].reason


def test_default_matcher_and_today() -> None:
    criteria = Criteria(demographics=Demographics(min_age=18))
    result = evaluate(criteria, patient(birth_date="1990-01-01"))
    assert result.index_date == date.today().isoformat()
    assert result.status == "eligible"


def test_medication_window_of_zero_days(matcher: ConceptMatcher) -> None:
    today_only = med("prior", window=TimeWindow(max_days_before=0))
    started_today = patient(
        fact("metformin", kind="drug", codes=METFORMIN, source=FHIR, date="2026-06-15", active=True)
    )
    assert verdict(today_only, started_today, matcher) == "met"
    ended = patient(
        fact(
            "metformin",
            kind="drug",
            codes=METFORMIN,
            source=FHIR,
            date="2026-01-01",
            end_date="2026-06-14",
        )
    )
    assert verdict(today_only, ended, matcher, "exclusion") == "not_met"


def test_sub_bullets_are_decided_through_their_parent(matcher: ConceptMatcher) -> None:
    # "Any of the following: type 2 diabetes, stroke" as an inclusion: one OR, not two
    # inclusions (stroke absent must not exclude a diabetic)
    dm = ConceptNode(domain="condition", text="type 2 diabetes", codes=T2DM)
    stroke = ConceptNode(domain="condition", text="stroke", codes=STROKE)
    criteria = Criteria(
        id="T1",
        criteria=[
            Criterion(
                kind="inclusion", text="Any of", start=0, end=6, rule=OrNode(children=[dm, stroke])
            ),
            Criterion(kind="inclusion", text="diabetes", start=7, end=15, rule=dm, parent=0),
            Criterion(kind="inclusion", text="stroke", start=16, end=22, rule=stroke, parent=0),
        ],
    )
    chart = patient(fact("type 2 diabetes", codes=T2DM, source=FHIR), fact("asthma"))
    result = evaluate(criteria, chart, index_date=INDEX, matcher=matcher)
    assert [c.in_status for c in result.criteria] == [True, False, False]
    assert result.criteria[0].verdict == "met"
    assert result.status == "eligible"


def test_administrative_criteria_do_not_block_eligible(matcher: ConceptMatcher) -> None:
    from eligo.criteria.parse import ADMINISTRATIVE

    dm = ConceptNode(domain="condition", text="type 2 diabetes", codes=T2DM)
    consent = UnstructuredNode(text="Able to give informed consent", reason=ADMINISTRATIVE)
    vague = UnstructuredNode(text="Adequate organ function", reason="no computable concept")
    chart = patient(fact("type 2 diabetes", codes=T2DM, source=FHIR))

    def screen(*rules: Rule) -> Any:
        criteria = Criteria(
            id="T1",
            criteria=[
                Criterion(kind="inclusion", text=f"c{i}", start=0, end=1, rule=r)
                for i, r in enumerate(rules)
            ],
        )
        return evaluate(criteria, chart, index_date=INDEX, matcher=matcher)

    result = screen(dm, consent)
    assert result.status == "eligible"
    assert result.criteria[1].verdict == "unknown" and not result.criteria[1].in_status
    assert result.criteria[1].reason == ADMINISTRATIVE
    # text the parser could not structure is still a criterion to review
    assert screen(dm, vague).status == "needs_review"
    assert screen(consent).status == "needs_review"  # nothing decided


def test_a_close_uncoded_fact_keeps_absence_unknown() -> None:
    # closed world would take "suicide attempt" as absent; an uncoded "intentional
    # overdose" in the chart is close enough to leave it to a person
    matcher = ConceptMatcher(lexicon=False, semantic=True)
    attempt = ConceptNode(
        domain="condition",
        text="suicide attempt",
        codes=[Code(system="ICD-10-CM", code="T14.91", display="Suicide attempt")],
    )
    history = fact("type 2 diabetes", codes=T2DM, source=FHIR)
    close = fact("intentional overdose")
    assert verdict(attempt, patient(history), matcher, "exclusion") == "not_met"
    assert verdict(attempt, patient(history, close), matcher, "exclusion") == "unknown"
    # a fact whose codes say it is another concept is no doubt: type 2 is not type 1
    t1 = ConceptNode(
        domain="condition",
        text="type 1 diabetes mellitus",
        codes=[Code(system="ICD-10-CM", code="E10", display="Type 1 diabetes mellitus")],
    )
    assert verdict(t1, patient(history), matcher, "exclusion") == "not_met"


def test_same_day_value_in_the_criterion_unit_is_used(matcher: ConceptMatcher) -> None:
    # "FEV1 1.62 L (58% predicted)" is two facts; "FEV1 30-70% predicted" reads the %
    fev1 = MeasurementNode(
        text="FEV1",
        constraint=ValueConstraint(comparator="between", low=30, high=70, unit="%"),
    )
    litres = fact("FEV1", kind="measurement", value=1.62, unit="L", date="2026-06-01")
    percent = fact("FEV1", kind="measurement", value=58.0, unit="%", date="2026-06-01")
    assert verdict(fev1, patient(percent, litres), matcher) == "met"
    assert verdict(fev1, patient(litres, percent), matcher) == "met"
    assert verdict(fev1, patient(litres), matcher) == "unknown"


def test_current_use_is_judged_by_the_note_date_not_the_start_date(
    matcher: ConceptMatcher,
) -> None:
    text = "Methotrexate 20 mg weekly since 2021."
    note = FactSource(kind="note", id="n1", start=0, end=12)
    mtx = fact("Methotrexate", kind="drug", codes=METHOTREXATE, date="2026-06-04", source=note)
    chart = patient(mtx, notes={"n1": text})
    node = MedicationNode(text="methotrexate", codes=METHOTREXATE, timing="current")
    assert verdict(node, chart, matcher) == "met"
    old = fact("Methotrexate", kind="drug", codes=METHOTREXATE, date="2024-01-10", source=note)
    assert verdict(node, patient(old, notes={"n1": text}), matcher) == "unknown"
