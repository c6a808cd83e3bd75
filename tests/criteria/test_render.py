"""Rule summaries and the OMOP CDM cohort query, run on DuckDB against synthetic rows.

The vocabulary rows and persons below are made up for these tests (concept ids are small
integers, not Athena's); the concept codes are real ICD-10-CM / LOINC / UCUM codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import duckdb
import pytest

from eligo.criteria.render import (
    RenderError,
    describe,
    omop_ddl,
    summarize,
    summary,
    to_sql,
    uncomputable,
)
from eligo.criteria.types import (
    AndNode,
    ConceptNode,
    Criteria,
    Criterion,
    DemographicNode,
    Demographics,
    MeasurementNode,
    MedicationNode,
    NotNode,
    OrNode,
    Rule,
    TimeWindow,
    UnstructuredNode,
    ValueConstraint,
)
from eligo.nlp.types import Code

INDEX = date(2025, 6, 30)
EVERYONE = {1, 2, 3, 4, 5, 6}

STROKE = ConceptNode(
    domain="condition",
    text="history of stroke",
    codes=[Code(system="ICD-10-CM", code="I63", display="Cerebral infarction")],
)
EGFR = [Code(system="LOINC", code="33914-3", display="eGFR (MDRD)")]
EGFR_UNIT = "mL/min/{1.73_m2}"
METFORMIN = [Code(system="DrugBank", code="DB00331", display="Metformin")]


def days_before(n: int) -> str:
    return (INDEX - timedelta(days=n)).isoformat()


# concept_id, name, domain, vocabulary, class, standard, code
CONCEPTS = [
    (1001, "Cerebral infarction", "Condition", "ICD10CM", "3-char nonbill code", None, "I63"),
    (2001, "Cerebral infarction", "Condition", "SNOMED", "Clinical Finding", "S", "432504007"),
    (2002, "Lacunar infarction", "Condition", "SNOMED", "Clinical Finding", "S", "230698000"),
    (3001, "eGFR MDRD", "Measurement", "LOINC", "Lab Test", "S", "33914-3"),
    (3002, "ALT", "Measurement", "LOINC", "Lab Test", "S", "1742-6"),
    (4001, "metformin", "Drug", "RxNorm", "Ingredient", "S", "6809"),
    (4002, "metformin 500 MG Oral Tablet", "Drug", "RxNorm", "Clinical Drug", "S", "861007"),
    (5001, "milliliter per minute per 1.73 square meter", "Unit", "UCUM", "Unit", "S", EGFR_UNIT),
    (5002, "milligram per deciliter", "Unit", "UCUM", "Unit", "S", "mg/dL"),
]
RELATIONSHIPS = [(1001, 2001, "Maps to")]
ANCESTORS = [(2001, 2001, 0), (2001, 2002, 1), (4001, 4001, 0), (4001, 4002, 1)]

# person_id, gender_concept_id, year, month, day
PERSONS = [
    (1, 8532, 1985, 7, 1),  # 39: 40th birthday the day after the index date; female
    (2, 8507, 1985, 6, 30),  # 40 on the index date; male
    (3, 8532, 2007, None, None),  # 17 or 18: birth month and day unknown
    (4, 8507, 1950, 1, 15),  # 75
    (5, 0, 1949, 6, 29),  # 76; gender unknown
    (6, 8532, 1990, 3, 3),  # 35
]

# person_id, concept, source concept, source value, start
CONDITIONS = [
    (1, 2001, None, "I63.9", "2020-01-01"),  # stroke years ago
    (2, 2002, None, "I63.81", days_before(29)),  # a descendant concept, recent
    (3, 0, 1001, "I63", "2024-01-01"),  # only the ICD-10-CM source concept
    (4, 2001, None, "I63.9", "2025-07-15"),  # after the index date: does not count
    (6, 0, None, "Hx CVA", "2019-05-05"),  # unmapped: only the source text says so
]

# person_id, value, unit concept, unit source value, date
EGFR_ROWS = [
    (1, 44.9, 5001, None, days_before(60)),
    (2, 45.0, 5001, None, days_before(60)),
    (2, 10.0, 5001, None, days_before(184)),  # one day outside the 183-day window
    (3, 30.0, 5001, None, days_before(395)),  # outside the window
    (3, 60.0, 5001, None, days_before(29)),
    (4, 40.0, 5002, "mg/dL", days_before(29)),  # wrong unit: not comparable
    (5, 50.0, 0, "mL/min/{1.73_m2}", days_before(10)),  # unit by source value
    (5, 40.0, 5001, None, days_before(5)),  # the latest
    (6, 20.0, 5001, None, days_before(183)),  # exactly at the window's edge
]

# person_id, value, range_high (the lab's ULN), date
ALT_ROWS = [
    (1, 100.0, 40.0, days_before(3)),  # 2.5 x ULN
    (2, 60.0, 40.0, days_before(3)),  # exactly 1.5 x ULN
    (3, 200.0, None, days_before(3)),  # no reference range reported: unknown
]

# person_id, observation period start, end
OBSERVED = [
    (1, "2010-01-01", "2025-12-31"),
    (2, "2024-01-01", INDEX.isoformat()),  # ends on the index date: still observed
    (3, INDEX.isoformat(), "2026-01-01"),  # starts on it
    (4, "2010-01-01", "2024-12-31"),  # ended before
]

# person_id, concept, source value, start, end
DRUGS = [
    (1, 4002, "metformin 500 mg tab", "2025-01-01", "2025-12-31"),  # current
    (2, 4002, "metformin 500 mg tab", "2024-01-01", "2024-06-30"),  # prior only
    (3, 0, "METFORMIN HCL ER 750MG", days_before(10), days_before(-20)),  # text only
]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect()
    db.execute(omop_ddl())
    for c in CONCEPTS:
        db.execute(
            "INSERT INTO concept VALUES (?, ?, ?, ?, ?, ?, ?, DATE '1970-01-01', "
            "DATE '2099-12-31', NULL)",
            list(c),
        )
    for r in RELATIONSHIPS:
        db.execute(
            "INSERT INTO concept_relationship VALUES (?, ?, ?, DATE '1970-01-01', "
            "DATE '2099-12-31', NULL)",
            list(r),
        )
    for a in ANCESTORS:
        db.execute("INSERT INTO concept_ancestor VALUES (?, ?, ?, ?)", [*a, a[2]])
    for p in PERSONS:
        db.execute(
            "INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, "
            "day_of_birth, race_concept_id, ethnicity_concept_id) VALUES (?, ?, ?, ?, ?, 0, 0)",
            list(p),
        )
    for i, (pid, concept, source, value, start) in enumerate(CONDITIONS, 1):
        db.execute(
            "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, "
            "condition_concept_id, condition_source_concept_id, condition_source_value, "
            "condition_start_date, condition_type_concept_id) VALUES (?, ?, ?, ?, ?, ?, 32817)",
            [i, pid, concept, source, value, start],
        )
    for i, (pid, number, unit, unit_text, day) in enumerate(EGFR_ROWS, 1):
        db.execute(
            "INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, "
            "measurement_date, measurement_type_concept_id, value_as_number, unit_concept_id, "
            "unit_source_value) VALUES (?, ?, 3001, ?, 32817, ?, ?, ?)",
            [i, pid, day, number, unit, unit_text],
        )
    for pid, start, end in OBSERVED:
        db.execute(
            "INSERT INTO observation_period VALUES (?, ?, ?, ?, 32817)", [pid, pid, start, end]
        )
    for i, (pid, number, high, day) in enumerate(ALT_ROWS, 100):
        db.execute(
            "INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, "
            "measurement_date, measurement_type_concept_id, value_as_number, range_high, "
            "unit_source_value) VALUES (?, ?, 3002, ?, 32817, ?, ?, 'U/L')",
            [i, pid, day, number, high],
        )
    for i, (pid, concept, value, start, end) in enumerate(DRUGS, 1):
        db.execute(
            "INSERT INTO drug_exposure (drug_exposure_id, person_id, drug_concept_id, "
            "drug_source_value, drug_exposure_start_date, drug_exposure_end_date, "
            "drug_type_concept_id) VALUES (?, ?, ?, ?, ?, ?, 32817)",
            [i, pid, concept, value, start, end],
        )
    yield db
    db.close()


def criterion(kind: str, rule: Rule, text: str = "a criterion", **extra: Any) -> Criterion:
    return Criterion(kind=kind, text=text, start=0, end=len(text), rule=rule, **extra)  # type: ignore[arg-type]


def cohort(
    con: duckdb.DuckDBPyConnection, criteria: Criteria | list[Criterion], **options: Any
) -> set[int]:
    if isinstance(criteria, list):
        criteria = Criteria(id="T-test", criteria=criteria)
    sql = to_sql(criteria, **options)
    rows = con.execute(sql, {"index_date": INDEX.isoformat()}).fetchall()
    return {row[0] for row in rows}


def egfr(comparator: str, value: float, *, window: int | None = 183) -> MeasurementNode:
    return MeasurementNode(
        text="eGFR",
        codes=EGFR,
        constraint=ValueConstraint(comparator=comparator, value=value, unit=EGFR_UNIT),  # type: ignore[arg-type]
        window=TimeWindow(max_days_before=window) if window is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# the schema


def test_ddl_creates_the_omop_tables() -> None:
    db = duckdb.connect()
    db.execute(omop_ddl())
    tables = {row[0] for row in db.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {
        "person",
        "observation_period",
        "visit_occurrence",
        "condition_occurrence",
        "drug_exposure",
        "procedure_occurrence",
        "measurement",
        "observation",
        "device_exposure",
        "note",
        "note_nlp",
        "concept",
        "concept_relationship",
        "concept_ancestor",
    }
    # an empty schema: the query runs and finds nobody
    sql = to_sql(Criteria(criteria=[criterion("exclusion", STROKE)]))
    assert db.execute(sql, {"index_date": "2025-01-01"}).fetchall() == []


# ---------------------------------------------------------------------------------------------
# concepts, windows, mapping


def test_no_criteria_keeps_everyone(con: duckdb.DuckDBPyConnection) -> None:
    assert cohort(con, []) == EVERYONE


def test_observed_keeps_persons_observed_at_the_index_date(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert cohort(con, [], observed=True) == {1, 2, 3}
    # eGFR < 45 excludes 1, 5, 6; 4 is not observed at the index date
    assert cohort(con, [criterion("exclusion", egfr("<", 45))], observed=True) == {2, 3}


def test_concept_through_maps_to_descendants_and_source_concept(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # 1: the standard concept; 2: its descendant; 3: the ICD-10-CM source concept only;
    # 4: recorded after the index date; 6: only free text, and I63 is an OMOP code, so no
    # text fallback.
    assert cohort(con, [criterion("inclusion", STROKE)]) == {1, 2, 3}
    assert cohort(con, [criterion("exclusion", STROKE)]) == {4, 5, 6}


def test_absence_and_not_are_the_same(con: duckdb.DuckDBPyConnection) -> None:
    absent = STROKE.model_copy(update={"present": False})
    assert cohort(con, [criterion("inclusion", absent)]) == {4, 5, 6}
    assert cohort(con, [criterion("inclusion", NotNode(child=STROKE))]) == {4, 5, 6}
    assert cohort(con, [criterion("inclusion", NotNode(child=absent))]) == {1, 2, 3}


def test_time_windows_on_start_dates(con: duckdb.DuckDBPyConnection) -> None:
    recent = STROKE.model_copy(update={"window": TimeWindow(max_days_before=183)})
    assert cohort(con, [criterion("inclusion", recent)]) == {2}
    old = STROKE.model_copy(update={"window": TimeWindow(min_days_before=365)})
    assert cohort(con, [criterion("inclusion", old)]) == {1, 3}
    between = STROKE.model_copy(
        update={"window": TimeWindow(min_days_before=29, max_days_before=30)}
    )
    assert cohort(con, [criterion("inclusion", between)]) == {2}
    assert (
        cohort(
            con,
            [
                criterion(
                    "inclusion",
                    between.model_copy(
                        update={"window": TimeWindow(min_days_before=30, max_days_before=60)}
                    ),
                )
            ],
        )
        == set()
    )


def test_text_only_match_is_unknown_never_proof(con: duckdb.DuckDBPyConnection) -> None:
    # no OMOP vocabulary for UMLS: the source value is searched, and a hit is only a maybe
    cva = ConceptNode(
        domain="condition",
        text="CVA",
        codes=[Code(system="UMLS", code="C0038454", display="Cerebrovascular accident")],
    )
    assert cohort(con, [criterion("inclusion", cva)]) == {6}  # kept for review
    assert cohort(con, [criterion("exclusion", cva)]) == EVERYONE  # nobody excluded on a maybe


def test_qualified_concept_is_a_maybe(con: duckdb.DuckDBPyConnection) -> None:
    active = STROKE.model_copy(update={"qualifiers": ["acute"]})
    assert cohort(con, [criterion("inclusion", active)]) == {1, 2, 3}
    assert cohort(con, [criterion("exclusion", active)]) == EVERYONE


# ---------------------------------------------------------------------------------------------
# measurements


def test_measurement_boundaries_window_unit_and_latest(con: duckdb.DuckDBPyConnection) -> None:
    # latest eGFR within 183 days, in mL/min/1.73m2:
    # 1: 44.9; 2: 45 (the 10 is 184 days old); 3: 60 (the 30 is outside); 4: only mg/dL
    # (unknown); 5: 40 (latest, after a 50 by source unit); 6: 20, exactly 183 days old
    assert cohort(con, [criterion("exclusion", egfr("<", 45))]) == {2, 3, 4}
    assert cohort(con, [criterion("inclusion", egfr(">=", 45))]) == {2, 3, 4}
    assert cohort(con, [criterion("inclusion", egfr("<=", 45))]) == {1, 2, 4, 5, 6}
    assert cohort(con, [criterion("inclusion", egfr(">", 44.9))]) == {2, 3, 4}
    assert cohort(con, [criterion("inclusion", egfr("=", 45))]) == {2, 4}
    # 182 days: 6's value falls out of the window -> unknown -> kept
    assert cohort(con, [criterion("exclusion", egfr("<", 45, window=182))]) == {2, 3, 4, 6}
    # no window: 2's latest is still the 45
    assert cohort(con, [criterion("exclusion", egfr("<", 45, window=None))]) == {2, 3, 4}


def test_measurement_range(con: duckdb.DuckDBPyConnection) -> None:
    rule = MeasurementNode(
        text="eGFR",
        codes=EGFR,
        constraint=ValueConstraint(comparator="between", low=40, high=45, unit=EGFR_UNIT),
        window=TimeWindow(max_days_before=183),
    )
    # inclusive bounds: 1 (44.9), 2 (45), 5 (40); 4 unknown (unit)
    assert cohort(con, [criterion("inclusion", rule)]) == {1, 2, 4, 5}


def test_uln_relative_limit_uses_the_rows_reference_range(
    con: duckdb.DuckDBPyConnection,
) -> None:
    def alt(comparator: str, times: float) -> MeasurementNode:
        return MeasurementNode(
            text="ALT",
            codes=[Code(system="LOINC", code="1742-6", display="ALT")],
            constraint=ValueConstraint(comparator=comparator, value=times, reference="ULN"),  # type: ignore[arg-type]
            window=TimeWindow(max_days_before=28),
        )

    # 1: 2.5 x ULN; 2: exactly 1.5 x ULN; 3: no range_high -> unknown; 4-6: no ALT
    assert cohort(con, [criterion("exclusion", alt(">", 1.5))]) == {2, 3, 4, 5, 6}
    assert cohort(con, [criterion("inclusion", alt("<=", 1.5))]) == {2, 3, 4, 5, 6}
    assert cohort(con, [criterion("inclusion", alt("<", 1.5))]) == {3, 4, 5, 6}
    assert "e.value > 1.5 * e.range_high" in to_sql(
        Criteria(criteria=[criterion("exclusion", alt(">", 1.5))])
    )


# ---------------------------------------------------------------------------------------------
# medications


def test_medication_timing_and_ingredient_name_bridge(con: duckdb.DuckDBPyConnection) -> None:
    # DrugBank -> RxNorm ingredient "metformin" by name -> its products (4002).
    # 1: current; 2: stopped a year ago; 3: only "METFORMIN ..." as source text (a maybe).
    current = MedicationNode(text="metformin", codes=METFORMIN, timing="current")
    assert cohort(con, [criterion("inclusion", current)]) == {1, 3}
    assert cohort(con, [criterion("exclusion", current)]) == {2, 3, 4, 5, 6}
    prior = current.model_copy(update={"timing": "prior"})
    assert cohort(con, [criterion("inclusion", prior)]) == {1, 2, 3}
    within = current.model_copy(
        update={"timing": "ever", "window": TimeWindow(max_days_before=365)}
    )
    assert cohort(con, [criterion("inclusion", within)]) == {1, 3}
    not_taking = current.model_copy(update={"present": False})
    assert cohort(con, [criterion("inclusion", not_taking)]) == {2, 3, 4, 5, 6}


# ---------------------------------------------------------------------------------------------
# demographics


def test_trial_age_limits_are_inclusive_and_unknown_birthdays_kept(
    con: duckdb.DuckDBPyConnection,
) -> None:
    trial = Criteria(demographics=Demographics(min_age=18, max_age=75))
    # 3 is 17 or 18: kept; 4 is 75: in; 5 is 76: out
    assert cohort(con, trial) == {1, 2, 3, 4, 6}
    assert cohort(con, Criteria(demographics=Demographics(min_age=40))) == {2, 4, 5}
    assert cohort(con, Criteria(demographics=Demographics(max_age=39))) == {1, 3, 6}


def test_age_node_and_birthday_boundary(con: duckdb.DuckDBPyConnection) -> None:
    under_40 = DemographicNode(
        attribute="age", constraint=ValueConstraint(comparator="<", value=40)
    )
    # 1 turns 40 the day after the index date; 2 turns 40 on it
    assert cohort(con, [criterion("inclusion", under_40)]) == {1, 3, 6}
    adult = DemographicNode(attribute="age", constraint=ValueConstraint(comparator=">=", value=18))
    assert cohort(con, [criterion("inclusion", adult)]) == EVERYONE
    assert cohort(con, [criterion("exclusion", NotNode(child=adult))]) == EVERYONE
    span = DemographicNode(
        attribute="age", constraint=ValueConstraint(comparator="between", low=35, high=39)
    )
    assert cohort(con, [criterion("inclusion", span)]) == {1, 6}


def test_sex(con: duckdb.DuckDBPyConnection) -> None:
    # 5's gender is unknown (0): kept
    assert cohort(con, Criteria(demographics=Demographics(sex="female"))) == {1, 3, 5, 6}
    male = DemographicNode(attribute="sex", sex="male")
    assert cohort(con, [criterion("inclusion", male)]) == {2, 4, 5}
    assert cohort(con, [criterion("exclusion", male)]) == {1, 3, 5, 6}
    anyone = DemographicNode(attribute="sex", sex="all")
    assert cohort(con, [criterion("inclusion", anyone)]) == EVERYONE


def test_pregnancy_is_unknown(con: duckdb.DuckDBPyConnection) -> None:
    pregnant = DemographicNode(attribute="pregnant")
    assert cohort(con, [criterion("exclusion", pregnant)]) == EVERYONE
    trial = Criteria(demographics=Demographics(pregnancy_excluded=True))
    assert cohort(con, trial) == EVERYONE
    assert uncomputable(trial) == {"pregnancy/breastfeeding status": 1}


# ---------------------------------------------------------------------------------------------
# logic and unstructured text


def test_or_group_exclusion(con: duckdb.DuckDBPyConnection) -> None:
    rule = OrNode(children=[STROKE, egfr("<", 45)])
    # stroke: 1, 2, 3; eGFR < 45: 1, 5, 6; 4: no stroke, eGFR unknown -> unknown -> kept
    assert cohort(con, [criterion("exclusion", rule)]) == {4}


def test_and_group_inclusion_with_several_criteria(con: duckdb.DuckDBPyConnection) -> None:
    both = AndNode(children=[STROKE, egfr(">=", 45)])
    assert cohort(con, [criterion("inclusion", both)]) == {2, 3}
    criteria = Criteria(
        demographics=Demographics(min_age=18),
        criteria=[
            criterion("inclusion", STROKE),
            criterion("exclusion", egfr("<", 45)),
            criterion("exclusion", MedicationNode(text="metformin", codes=METFORMIN)),
        ],
    )
    # stroke: 1, 2, 3; minus eGFR < 45: 1; minus any metformin: 2 (3 is only a maybe)
    assert cohort(con, criteria) == {3}


def test_unstructured_never_drops_anyone(con: duckdb.DuckDBPyConnection) -> None:
    consent = UnstructuredNode(text="Able to give written informed consent", reason="no concept")
    assert cohort(con, [criterion("inclusion", consent)]) == EVERYONE
    assert cohort(con, [criterion("exclusion", consent)]) == EVERYONE
    # unknown AND stroke: only stroke can be false
    assert cohort(con, [criterion("inclusion", AndNode(children=[consent, STROKE]))]) == {1, 2, 3}
    # unknown OR stroke: never false
    assert cohort(con, [criterion("inclusion", OrNode(children=[consent, STROKE]))]) == EVERYONE
    # excluded only when the known part is true regardless of the unknown one
    rule = OrNode(children=[consent, STROKE])
    assert cohort(con, [criterion("exclusion", rule)]) == {4, 5, 6}
    sql = to_sql(Criteria(criteria=[criterion("inclusion", consent)]))
    assert "unstructured, skipped: Able to give written informed consent" in sql


def test_sub_bullets_count_once_in_their_parent(con: duckdb.DuckDBPyConnection) -> None:
    # "Any of the following:" with two sub-bullets: the parent's rule is their OR
    parent = criterion("exclusion", OrNode(children=[STROKE, egfr("<", 45)]), "Any of:")
    children = [
        criterion("exclusion", STROKE, "stroke", parent=0),
        criterion("exclusion", egfr("<", 45), "eGFR < 45", parent=0),
    ]
    assert cohort(con, [parent, *children]) == {4}
    only_children = [criterion("inclusion", egfr(">=", 45), "eGFR >= 45", parent=0)]
    # a sub-bullet is not applied on its own
    assert cohort(con, [criterion("inclusion", STROKE), *only_children]) == {1, 2, 3}


# ---------------------------------------------------------------------------------------------
# safety and options


def test_quotes_and_comment_breakers_in_text_cannot_change_the_query(
    con: duckdb.DuckDBPyConnection,
) -> None:
    evil = "O'Brien's \"CVA\"'); DROP TABLE person; --\n*/ DELETE FROM concept; /*"
    criteria = Criteria(
        id="T'1\n; DROP TABLE person",
        criteria=[
            criterion(
                "exclusion",
                OrNode(
                    children=[
                        ConceptNode(
                            domain="condition",
                            text=evil,
                            codes=[Code(system="UMLS", code="C1'; --", display=evil)],
                        ),
                        ConceptNode(
                            domain="condition",
                            text=evil,
                            codes=[Code(system="ICD-10-CM", code="I63'); --", display=evil)],
                        ),
                        MedicationNode(
                            text=evil, codes=[Code(system="DrugBank", code="x", display=evil)]
                        ),
                        UnstructuredNode(text=evil, reason=evil),
                        egfr("<", 45).model_copy(update={"text": evil}),
                    ]
                ),
                text=evil,
            )
        ],
    )
    sql = to_sql(criteria)
    assert "'o''brien''s \"cva\"''); drop table person; --" in sql  # one literal
    for line in sql.splitlines():
        assert not line.lstrip().startswith(("DROP", "DELETE", "*/"))
    # eGFR < 45 excludes 1, 5, 6; nothing matches the odd text or code
    assert cohort(con, criteria) == {2, 3, 4}
    assert con.execute("SELECT count(*) FROM person").fetchone() == (6,)
    assert con.execute("SELECT count(*) FROM concept").fetchone() == (len(CONCEPTS),)


def test_index_date_literal_and_schema() -> None:
    db = duckdb.connect()
    db.execute("CREATE SCHEMA cdm")
    db.execute("SET schema = 'cdm'")
    db.execute(omop_ddl())
    db.execute(
        "INSERT INTO cdm.person (person_id, gender_concept_id, year_of_birth, month_of_birth, "
        "day_of_birth, race_concept_id, ethnicity_concept_id) VALUES (7, 8532, 2000, 1, 1, 0, 0)"
    )
    db.execute("SET schema = 'main'")
    trial = Criteria(demographics=Demographics(min_age=18))
    sql = to_sql(trial, index_date="2018-01-01", schema="cdm")
    assert "DATE '2018-01-01'" in sql and "$index_date" not in sql
    assert db.execute(sql).fetchall() == [(7,)]  # 18th birthday on the index date: 18
    assert db.execute(to_sql(trial, index_date=date(2017, 12, 31), schema="cdm")).fetchall() == []


def test_render_errors_say_what_is_valid() -> None:
    trial = Criteria()
    with pytest.raises(
        RenderError, match="unsupported SQL dialect 'postgresql'; supported: duckdb"
    ):
        to_sql(trial, dialect="postgresql")
    with pytest.raises(RenderError, match="not a plain SQL identifier"):
        to_sql(trial, schema="cdm; DROP TABLE person")
    with pytest.raises(RenderError, match="not an ISO date"):
        to_sql(trial, index_date="last tuesday")
    nul = Criteria(
        criteria=[
            criterion(
                "inclusion",
                ConceptNode(
                    domain="condition",
                    text="stroke",
                    codes=[Code(system="ICD-10-CM", code="I6\x003", display="stroke")],
                ),
            )
        ]
    )
    with pytest.raises(RenderError, match="NUL"):
        to_sql(nul)


def test_sql_survives_a_json_round_trip() -> None:
    criteria = Criteria(
        id="T2",
        criteria=[criterion("exclusion", OrNode(children=[STROKE, egfr("<", 45)]))],
    )
    again = Criteria.model_validate_json(criteria.model_dump_json())
    assert to_sql(again) == to_sql(criteria)


# ---------------------------------------------------------------------------------------------
# summaries


def test_summary_reads_like_the_rule() -> None:
    rule = OrNode(children=[STROKE, egfr("<", 45)])
    assert summary(criterion("exclusion", rule)) == (
        "Exclude if: history of stroke (any time) OR eGFR < 45 mL/min/1.73m2 "
        "(latest value within 183 days)"
    )
    hba1c = MeasurementNode(
        text="HbA1c",
        constraint=ValueConstraint(comparator="between", low=7.0, high=10.5, unit="%"),
    )
    anc = MeasurementNode(
        text="ANC", constraint=ValueConstraint(comparator=">=", value=1500, unit="/uL")
    )
    alt = MeasurementNode(
        text="ALT", constraint=ValueConstraint(comparator="<=", value=1.5, reference="ULN")
    )
    assert describe(hba1c) == "HbA1c 7 to 10.5% (latest value)"
    assert describe(anc) == "ANC >= 1500/uL (latest value)"
    assert describe(alt) == "ALT <= 1.5 x ULN (latest value)"
    assert summary(
        criterion("inclusion", AndNode(children=[hba1c, OrNode(children=[anc, alt])]))
    ) == (
        "Include if: HbA1c 7 to 10.5% (latest value) AND (ANC >= 1500/uL (latest value) OR "
        "ALT <= 1.5 x ULN (latest value))"
    )


def test_describe_each_node_kind() -> None:
    assert (
        describe(STROKE.model_copy(update={"present": False})) == "no history of stroke (any time)"
    )
    assert (
        describe(
            ConceptNode(
                domain="condition",
                text="hepatitis B",
                qualifiers=["active", "chronic"],
                timing="current",
            )
        )
        == "hepatitis B [active, chronic] (current)"
    )
    assert (
        describe(STROKE.model_copy(update={"window": TimeWindow(min_days_before=91)}))
        == "history of stroke (at least 91 days before)"
    )
    assert (
        describe(
            STROKE.model_copy(
                update={
                    "timing": "prior",
                    "window": TimeWindow(min_days_before=30, max_days_before=365),
                }
            )
        )
        == "history of stroke (before the index date, 30 to 365 days before)"
    )
    assert describe(MedicationNode(text="warfarin", timing="current")) == "warfarin (current use)"
    assert (
        describe(
            MedicationNode(
                text="chemotherapy",
                timing="prior",
                present=False,
                window=TimeWindow(max_days_before=28),
            )
        )
        == "no chemotherapy (prior use, within 28 days)"
    )
    age = DemographicNode(attribute="age", constraint=ValueConstraint(comparator=">=", value=18))
    assert describe(age) == "age >= 18 years"
    assert describe(DemographicNode(attribute="sex", sex="female")) == "sex: female"
    assert describe(DemographicNode(attribute="pregnant", present=False)) == "not pregnant"
    assert describe(NotNode(child=OrNode(children=[STROKE, age]))) == (
        "NOT (history of stroke (any time) OR age >= 18 years)"
    )
    assert describe(UnstructuredNode(text="Able to\ncomply", reason="no concept")) == (
        '"Able to comply" (needs review: no concept)'
    )


def test_summarize_lists_criteria_and_what_sql_cannot_compute() -> None:
    criteria = Criteria(
        id="NCT00000001",
        demographics=Demographics(min_age=18, max_age=75, pregnancy_excluded=True),
        criteria=[
            criterion("inclusion", STROKE, "History of stroke"),
            criterion("exclusion", OrNode(children=[egfr("<", 45)]), "Any of the following:"),
            criterion("exclusion", egfr("<", 45), "eGFR < 45", parent=1),
            criterion("exclusion", UnstructuredNode(text="Unable to comply"), "Unable to comply"),
        ],
    )
    text = summarize(criteria)
    assert text.splitlines() == [
        "Trial NCT00000001",
        "Demographics: age 18 to 75 years; any sex; pregnancy excluded",
        "Inclusion criteria:",
        "  1. Include if: history of stroke (any time)",
        "Exclusion criteria:",
        "  2. Exclude if: eGFR < 45 mL/min/1.73m2 (latest value within 183 days)",
        "    3. Exclude if: eGFR < 45 mL/min/1.73m2 (latest value within 183 days)",
        '  4. Exclude if: "Unable to comply" (needs review)',
        "Not computable from OMOP data: 1 unstructured (text) rules; 1 pregnancy/breastfeeding "
        "status. The OMOP SQL treats these as unknown and keeps the persons they concern: it "
        "is a superset filter, to be reviewed.",
    ]
    assert uncomputable(Criteria(criteria=[criterion("inclusion", STROKE)])) == {}
