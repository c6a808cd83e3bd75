"""Render parsed criteria for people and databases: rule summaries and an OMOP CDM cohort query.

`summary(criterion)` / `summarize(criteria)` give the rule text a coordinator checks
("Exclude if: history of stroke (any time) OR eGFR < 45 mL/min/1.73m2 (within 183 days)").

`to_sql(criteria)` gives one OMOP CDM v5.4 query (DuckDB dialect) returning the `person_id`
of persons who meet every inclusion rule and no exclusion rule at an index date. It uses
SQL's three-valued logic on purpose: a rule eligo cannot compute from OMOP data
(unstructured text, qualifiers such as "active", pregnancy, a measurement with no value)
is NULL (unknown), and unknown never drops a person (inclusion: `COALESCE(rule, TRUE)`,
exclusion: `NOT COALESCE(rule, FALSE)`). The query is therefore a *superset* filter: it
removes persons the data rule out and keeps the rest for review.

How rule nodes become SQL:
- Codes map to OMOP concepts through `concept` by (vocabulary_id, concept_code)
  (ICD-10-CM -> ICD10CM, LOINC, RxNorm, SNOMED, MeSH, MedDRA, ...), then through
  `concept_relationship` 'Maps to' to standard concepts, then to all their descendants via
  `concept_ancestor`. A row matches when its concept or source concept is in that set.
- DrugBank has no OMOP vocabulary: drug names (the node's text and the codes' display names)
  are matched to RxNorm ingredients by exact name, which then bring their descendant
  products. Codes with no OMOP vocabulary at all (DrugBank, UMLS, HPO, CTCAE, eligo's own)
  fall back to a case-insensitive match of the row's *_source_value; a text-only match is
  "possibly present" (unknown), never proof, so it cannot wrongly exclude anyone.
- Time windows compare *_start_date / procedure_date / measurement_date with the index date;
  facts after the index date never count. "current" means an occurrence overlapping the
  index date (no end date: assumed ongoing).
- A measurement rule compares the latest value_as_number (within the window) whose unit is
  the constraint's unit (UCUM concept code or unit_source_value); values in other units are
  not converted and do not count. No value -> unknown. A limit relative to the upper/lower
  limit of normal ("<= 1.5 x ULN") uses the range_high/range_low the lab reported on that
  same row; a row without it -> unknown (many OMOP sources leave the range empty).
- Age (full years at the index date) and sex come from `person`; an unknown birth month/day
  or gender makes the rule unknown only where it would change the answer.
- Sub-bullets (`Criterion.parent` set) are part of their parent's rule and are not applied
  again on their own.

Every literal from criteria text is quoted (`'` doubled) and comments are flattened to one
line, so criteria text cannot change the query.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from eligo.criteria.types import (
    AndNode,
    ConceptNode,
    Criteria,
    Criterion,
    DemographicNode,
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

__all__ = [
    "RenderError",
    "comment",
    "demographics_text",
    "describe",
    "omop_ddl",
    "summarize",
    "summary",
    "to_sql",
    "uncomputable",
]

DIALECTS = ("duckdb",)


class RenderError(ValueError):
    """Criteria cannot be rendered as asked (unknown dialect, bad schema name or date)."""


# ---------------------------------------------------------------------------------------------
# human-readable summaries


def summary(criterion: Criterion) -> str:
    """One line a coordinator reads: "Include if: ..." / "Exclude if: ..." and the rule."""
    verb = "Include if" if criterion.kind == "inclusion" else "Exclude if"
    return f"{verb}: {describe(criterion.rule)}"


def describe(rule: Rule) -> str:
    """The rule tree as text: leaves in words, AND/OR/NOT with parentheses where nested."""
    if isinstance(rule, AndNode | OrNode):
        joiner = " AND " if isinstance(rule, AndNode) else " OR "
        if not rule.children:
            return "(always)" if isinstance(rule, AndNode) else "(never)"
        return joiner.join(_nested(child) for child in rule.children)
    if isinstance(rule, NotNode):
        return f"NOT {_nested(rule.child)}"
    if isinstance(rule, ConceptNode):
        text = _clean(rule.text)
        shown = [q for q in rule.qualifiers if q.lower() not in text.lower()]
        if shown:
            text += f" [{', '.join(shown)}]"
        when = _when(rule.timing, rule.window, default="any time")
        return f"{'' if rule.present else 'no '}{text} ({when})"
    if isinstance(rule, MedicationNode):
        use = {"current": "current use", "prior": "prior use", "ever": "any use"}[rule.timing]
        window = _window_phrase(rule.window)
        when = f"{use}, {window}" if window else use
        return f"{'' if rule.present else 'no '}{_clean(rule.text)} ({when})"
    if isinstance(rule, MeasurementNode):
        window = _window_phrase(rule.window)
        when = f"latest value {window}" if window else "latest value"
        return f"{_clean(rule.text)} {_constraint_text(rule.constraint)} ({when})"
    if isinstance(rule, DemographicNode):
        return _demographic_text(rule)
    assert isinstance(rule, UnstructuredNode)
    reason = f": {_clean(rule.reason)}" if rule.reason.strip() else ""
    return f'"{_clean(rule.text)}" (needs review{reason})'


def summarize(criteria: Criteria) -> str:
    """A trial's criteria as numbered rule lines (sub-bullets indented under their parent),
    its demographics, and what the OMOP query cannot compute."""
    lines: list[str] = []
    if criteria.id:
        lines.append(f"Trial {_clean(criteria.id)}")
    lines.append(f"Demographics: {demographics_text(criteria)}")
    children: dict[int, list[int]] = {}
    for index, criterion in enumerate(criteria.criteria):
        if criterion.parent is not None and 0 <= criterion.parent < len(criteria.criteria):
            children.setdefault(criterion.parent, []).append(index)

    def emit(index: int, depth: int) -> None:
        criterion = criteria.criteria[index]
        lines.append(f"{'  ' * (depth + 1)}{index + 1}. {summary(criterion)}")
        for child in children.get(index, []):
            emit(child, depth + 1)

    for kind, title in (("inclusion", "Inclusion criteria:"), ("exclusion", "Exclusion criteria:")):
        top = [
            i
            for i, c in enumerate(criteria.criteria)
            if c.kind == kind and not _is_sub_bullet(criteria, i)
        ]
        if top:
            lines.append(title)
            for index in top:
                emit(index, 0)
    if not criteria.criteria:
        lines.append("No criteria.")
    gaps = uncomputable(criteria)
    if gaps:
        listed = "; ".join(f"{count} {what}" for what, count in gaps.items())
        lines.append(
            f"Not computable from OMOP data: {listed}. The OMOP SQL treats these as unknown "
            "and keeps the persons they concern: it is a superset filter, to be reviewed."
        )
    return "\n".join(lines)


def uncomputable(criteria: Criteria) -> dict[str, int]:
    """What the OMOP query must treat as unknown, with counts (empty: fully computable)."""
    found: dict[str, int] = {}

    def visit(rule: Rule) -> None:
        reason = _unknown_reason(rule)
        if reason:
            found[reason] = found.get(reason, 0) + 1
        if isinstance(rule, AndNode | OrNode):
            for child in rule.children:
                visit(child)
        elif isinstance(rule, NotNode):
            visit(rule.child)

    for index, criterion in enumerate(criteria.criteria):
        if not _is_sub_bullet(criteria, index):
            visit(criterion.rule)
    if criteria.demographics.pregnancy_excluded or criteria.demographics.breastfeeding_excluded:
        found["pregnancy/breastfeeding status"] = found.get("pregnancy/breastfeeding status", 0) + 1
    return found


def _unknown_reason(rule: Rule) -> str | None:
    if isinstance(rule, UnstructuredNode):
        return "unstructured (text) rules"
    if isinstance(rule, MeasurementNode) and rule.constraint.reference is not None:
        return "ULN/LLN-relative limits (unknown where a result has no range_high/range_low)"
    if isinstance(rule, ConceptNode) and rule.qualifiers:
        return "qualified concepts (e.g. active, stage)"
    if isinstance(rule, DemographicNode) and rule.attribute in ("pregnant", "breastfeeding"):
        return "pregnancy/breastfeeding status"
    return None


def _nested(rule: Rule) -> str:
    text = describe(rule)
    if isinstance(rule, AndNode | OrNode) and len(rule.children) > 1:
        return f"({text})"
    return text


def _when(timing: str | None, window: TimeWindow | None, *, default: str) -> str:
    parts = []
    if timing == "current":
        parts.append("current")
    elif timing == "prior":
        parts.append("before the index date")
    phrase = _window_phrase(window)
    if phrase:
        parts.append(phrase)
    return ", ".join(parts) or default


def _window_phrase(window: TimeWindow | None) -> str:
    if window is None:
        return ""
    low, high = window.min_days_before, window.max_days_before
    if low is not None and low > 0 and high is not None:
        return f"{_num(low)} to {_num(high)} days before"
    if high is not None:
        return f"within {_num(high)} days"
    if low is not None and low > 0:
        return f"at least {_num(low)} days before"
    return ""


def _constraint_text(constraint: ValueConstraint) -> str:
    if constraint.reference is not None:
        unit = f" x {constraint.reference}"
    else:
        unit = _unit_display(constraint.unit)

    def amount(x: float | None) -> str:
        if x is None:
            return "?"
        shown = _num(x)
        if constraint.reference is not None:
            return shown + unit
        return shown + unit if unit in ("", "%") or unit.startswith("/") else f"{shown} {unit}"

    if constraint.comparator == "between":
        high = amount(constraint.high)
        return f"{_num(constraint.low) if constraint.low is not None else '?'} to {high}"
    return f"{constraint.comparator} {amount(constraint.value)}"


def _demographic_text(rule: DemographicNode) -> str:
    if rule.attribute == "age":
        if rule.constraint is None:
            return f'age ("{_clean(rule.text)}", no limit)' if rule.text else "age (no limit)"
        c = rule.constraint
        if c.comparator == "between":
            low = _num(c.low) if c.low is not None else "?"
            high = _num(c.high) if c.high is not None else "?"
            return f"age {low} to {high} years"
        value = _num(c.value) if c.value is not None else "?"
        return f"age {c.comparator} {value} years"
    if rule.attribute == "sex":
        return "any sex" if rule.sex in (None, "all") else f"sex: {rule.sex}"
    word = "pregnant" if rule.attribute == "pregnant" else "breastfeeding"
    return word if rule.present else f"not {word}"


def demographics_text(criteria: Criteria) -> str:
    """Trial demographics in words: "age 18 to 75 years; any sex; pregnancy excluded"."""
    d = criteria.demographics
    if d.min_age is not None and d.max_age is not None:
        age = f"age {_num(d.min_age)} to {_num(d.max_age)} years"
    elif d.min_age is not None:
        age = f"age >= {_num(d.min_age)} years"
    elif d.max_age is not None:
        age = f"age <= {_num(d.max_age)} years"
    else:
        age = "any age"
    parts = [age, "any sex" if d.sex == "all" else f"sex: {d.sex}"]
    if d.pregnancy_excluded:
        parts.append("pregnancy excluded")
    if d.breastfeeding_excluded:
        parts.append("breastfeeding excluded")
    return "; ".join(parts)


def _num(x: float) -> str:
    """45.0 -> "45", 1.5 -> "1.5", without exponent notation for ordinary values."""
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _unit_display(unit: str | None) -> str:
    """A canonical UCUM-like unit as people write it: mL/min/{1.73_m2} -> mL/min/1.73m2."""
    if not unit:
        return ""
    shown = unit.replace("{", "").replace("}", "").replace("_", "")
    shown = shown.replace("mm[Hg]", "mmHg").replace("[IU]", "IU").replace("10*", "x10^")
    return shown


def _clean(text: str) -> str:
    """One line, control characters removed (for summaries and SQL comments)."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(text.split())


def _is_sub_bullet(criteria: Criteria, index: int) -> bool:
    parent = criteria.criteria[index].parent
    return parent is not None and 0 <= parent < len(criteria.criteria) and parent != index


# ---------------------------------------------------------------------------------------------
# OMOP CDM SQL

#: eligo code systems (normalised: lower case, letters and digits only) -> OMOP vocabulary_id.
#: DrugBank, UMLS, HPO, CTCAE, MedlinePlus and eligo's own slugs have no OMOP vocabulary.
OMOP_VOCABULARIES = {
    "icd10cm": "ICD10CM",
    "icd10": "ICD10",
    "icd9cm": "ICD9CM",
    "loinc": "LOINC",
    "rxnorm": "RxNorm",
    "rxnormextension": "RxNorm Extension",
    "snomed": "SNOMED",
    "snomedct": "SNOMED",
    "snomedctus": "SNOMED",
    "mesh": "MeSH",
    "meddra": "MedDRA",
    "atc": "ATC",
    "cpt": "CPT4",
    "cpt4": "CPT4",
    "hcpcs": "HCPCS",
    "icd10pcs": "ICD10PCS",
    "ndc": "NDC",
}

#: Standard OMOP gender concepts.
GENDER_CONCEPTS = {"male": 8507, "female": 8532}

#: Text shorter than this is too unspecific for a source_value match.
MIN_TEXT_MATCH = 3

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


@dataclass(frozen=True)
class _Table:
    name: str
    alias: str
    concept: str
    source_concept: str
    source_value: str
    start: str
    end: str | None


_TABLES = {
    t.name: t
    for t in (
        _Table(
            "condition_occurrence",
            "co",
            "condition_concept_id",
            "condition_source_concept_id",
            "condition_source_value",
            "condition_start_date",
            "condition_end_date",
        ),
        _Table(
            "observation",
            "ob",
            "observation_concept_id",
            "observation_source_concept_id",
            "observation_source_value",
            "observation_date",
            None,
        ),
        _Table(
            "procedure_occurrence",
            "po",
            "procedure_concept_id",
            "procedure_source_concept_id",
            "procedure_source_value",
            "procedure_date",
            "procedure_end_date",
        ),
        _Table(
            "drug_exposure",
            "de",
            "drug_concept_id",
            "drug_source_concept_id",
            "drug_source_value",
            "drug_exposure_start_date",
            "drug_exposure_end_date",
        ),
        _Table(
            "device_exposure",
            "dv",
            "device_concept_id",
            "device_source_concept_id",
            "device_source_value",
            "device_exposure_start_date",
            "device_exposure_end_date",
        ),
        _Table(
            "measurement",
            "m",
            "measurement_concept_id",
            "measurement_source_concept_id",
            "measurement_source_value",
            "measurement_date",
            None,
        ),
    )
}

#: Where a concept of each domain can be recorded. OMOP files a concept by its own domain, so
#: a "history of X" condition code often lands in `observation`: conditions search both.
_DOMAIN_TABLES: dict[str, tuple[str, ...]] = {
    "condition": ("condition_occurrence", "observation"),
    "observation": ("observation", "condition_occurrence"),
    "procedure": ("procedure_occurrence",),
    "drug": ("drug_exposure",),
    "device": ("device_exposure",),
    "measurement": ("measurement",),
    "demographic": ("observation", "condition_occurrence"),
}


def omop_ddl() -> str:
    """CREATE TABLE statements for the OMOP CDM v5.4 tables the query reads (DuckDB), from
    `corpora/omop/` (see its SOURCE.md): for an empty schema to load data into."""
    from eligo.nlp.resources import read_text

    return read_text("omop", "cdm_v54_duckdb.sql")


def lit(text: str) -> str:
    """A SQL string literal: quotes doubled; NUL (which no SQL string may hold) refused."""
    if "\x00" in text:
        raise RenderError("criteria text contains a NUL character; it cannot go into SQL")
    return "'" + text.replace("'", "''") + "'"


def _number(x: float) -> str:
    if not math.isfinite(x):
        raise RenderError(f"{x!r} is not a finite number")
    return repr(float(x))


def comment(text: str, *, limit: int = 160) -> str:
    """A one-line SQL comment body: no newline can end the comment early."""
    flat = _clean(text)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass
class _Sql:
    """What rendering the rule trees accumulates: CTEs, in order, reused by content."""

    schema: str
    ctes: list[tuple[str, str, str]] = field(default_factory=list)  # (name, comment, body)
    by_body: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name

    def cte(self, prefix: str, body: str, note: str) -> str:
        if body in self.by_body:
            return self.by_body[body]
        name = f"{prefix}{len(self.ctes) + 1}"
        self.ctes.append((name, note, body))
        self.by_body[body] = name
        return name


def to_sql(
    criteria: Criteria,
    *,
    dialect: str = "duckdb",
    index_date: date | str | None = None,
    schema: str | None = None,
    observed: bool = False,
) -> str:
    """An OMOP CDM v5.4 cohort query: `person_id` of persons meeting every inclusion rule and
    no exclusion rule at the index date (see the module docstring for the semantics).

    Args:
        dialect: only "duckdb" for now.
        index_date: a date literal to use; by default the query takes the named parameter
            `$index_date` (DuckDB: `con.execute(sql, {"index_date": "2025-01-31"})`).
        schema: the schema holding the CDM tables (e.g. "cdm"); default: unqualified.
        observed: keep only persons with an observation_period covering the index date
            (in OMOP a missing record means "absent" only while a person is observed).

    Raises:
        RenderError: unknown dialect, schema that is not an identifier, bad index date.
    """
    if dialect not in DIALECTS:
        raise RenderError(f"unsupported SQL dialect {dialect!r}; supported: {', '.join(DIALECTS)}")
    if schema is not None and not _IDENTIFIER.match(schema):
        raise RenderError(
            f"schema {schema!r} is not a plain SQL identifier (letters, digits, _; one dot)"
        )
    if index_date is None:
        index_expr = "CAST($index_date AS DATE)"
    else:
        try:
            day = index_date if isinstance(index_date, date) else date.fromisoformat(index_date)
        except (TypeError, ValueError) as err:
            raise RenderError(f"index_date {index_date!r} is not an ISO date (YYYY-MM-DD)") from err
        index_expr = f"DATE '{day.isoformat()}'"
    sql = _Sql(schema or "")
    where: list[str] = []
    if observed:
        where.append("    -- observed at the index date")
        where.append(
            f"    AND EXISTS (SELECT 1 FROM {sql.table('observation_period')} AS op\n"
            "        WHERE op.person_id = p.person_id\n"
            "          AND p.index_date BETWEEN op.observation_period_start_date\n"
            "          AND op.observation_period_end_date)"
        )
    d = criteria.demographics
    if d.min_age is not None or d.max_age is not None:
        where.append(f"    -- trial demographics: {comment(demographics_text(criteria))}")
        if d.min_age is not None:
            where.append(f"    AND COALESCE({_age_expr(_limit('>=', d.min_age))}, TRUE)")
        if d.max_age is not None:
            where.append(f"    AND COALESCE({_age_expr(_limit('<=', d.max_age))}, TRUE)")
    if d.sex != "all":
        where.append(f"    -- trial sex: {d.sex}")
        where.append(f"    AND COALESCE({_sex(d.sex)}, TRUE)")
    if d.pregnancy_excluded or d.breastfeeding_excluded:
        where.append(
            "    -- pregnancy/breastfeeding exclusion: not a person attribute in OMOP; "
            "confirm at screening (no effect here)"
        )
    for index, criterion in enumerate(criteria.criteria):
        label = f"{criterion.kind} {index + 1}: {comment(criterion.text)}"
        if criterion.parent is not None and _is_sub_bullet(criteria, index):
            where.append(f"    -- {label} (sub-bullet of {criterion.parent + 1}: in its rule)")
            continue
        expr = _rule(sql, criterion.rule, depth=2)
        where.append(f"    -- {label}")
        if criterion.kind == "inclusion":
            where.append(f"    AND COALESCE(\n        {expr},\n        TRUE)")
        else:
            where.append(f"    AND NOT COALESCE(\n        {expr},\n        FALSE)")
    header = [
        "-- eligo cohort query: OMOP CDM v5.4, DuckDB dialect.",
        *([f"-- trial: {comment(criteria.id)}"] if criteria.id else []),
        "-- Returns person_id of persons who meet every inclusion rule and no exclusion rule",
        "-- at the index date. Rules that cannot be computed from OMOP data (unstructured",
        "-- text, qualifiers, pregnancy, missing values or reference ranges) are NULL (unknown)",
        "-- and never drop a person: the result is a superset of the eligible cohort.",
    ]
    ctes = [
        f"params AS (\n    SELECT {index_expr} AS index_date\n)",
        _persons_cte(sql),
    ]
    for name, note, body in sql.ctes:
        ctes.append(f"{name} AS (  -- {comment(note)}\n{body}\n)")
    return (
        "\n".join(header)
        + "\nWITH "
        + ",\n".join(ctes)
        + "\nSELECT p.person_id\nFROM persons AS p\nWHERE TRUE\n"
        + "\n".join(where)
        + "\nORDER BY p.person_id\n"
    )


def _persons_cte(sql: _Sql) -> str:
    # Age in full years at the index date. Without birth_datetime and without a complete,
    # valid year-month-day of birth, the age is one of two values (birthday passed or not).
    birth = (
        "COALESCE(CAST(birth_datetime AS DATE), TRY_CAST(printf('%04d-%02d-%02d', "
        "year_of_birth, month_of_birth, day_of_birth) AS DATE))"
    )
    full_years = (
        "year(params.index_date) - year(b.birth_date) - CASE WHEN strftime(params.index_date, "
        "'%m%d') < strftime(b.birth_date, '%m%d') THEN 1 ELSE 0 END"
    )
    return (
        "persons AS (\n"
        "    SELECT b.*, params.index_date,\n"
        f"        COALESCE({full_years}, year(params.index_date) - b.year_of_birth - 1)"
        " AS age_low,\n"
        f"        COALESCE({full_years}, year(params.index_date) - b.year_of_birth)"
        " AS age_high\n"
        f"    FROM (SELECT *, {birth} AS birth_date FROM {sql.table('person')}) AS b\n"
        "    CROSS JOIN params\n"
        ")"
    )


def _rule(sql: _Sql, rule: Rule, *, depth: int) -> str:
    """A boolean SQL expression (TRUE / FALSE / NULL = unknown) for `p`, a row of persons."""
    pad = "    " * depth
    if isinstance(rule, AndNode | OrNode):
        if not rule.children:
            return "TRUE" if isinstance(rule, AndNode) else "FALSE"
        joiner = f"\n{pad}{'AND' if isinstance(rule, AndNode) else 'OR'} "
        parts = [_rule(sql, child, depth=depth + 1) for child in rule.children]
        return "(" + joiner.join(parts) + ")"
    if isinstance(rule, NotNode):
        return f"(NOT {_rule(sql, rule.child, depth=depth + 1)})"
    if isinstance(rule, UnstructuredNode):
        return f"NULL  /* unstructured, skipped: {_block(rule.text)} */"
    if isinstance(rule, DemographicNode):
        return _demographic(sql, rule)
    if isinstance(rule, MeasurementNode):
        return _measurement(sql, rule)
    if isinstance(rule, MedicationNode):
        return _occurrence(
            sql,
            ("drug",),
            rule.text,
            rule.codes,
            rule.window,
            rule.timing,
            present=rule.present,
            qualified=False,
            drug=True,
        )
    assert isinstance(rule, ConceptNode)
    return _occurrence(
        sql,
        (rule.domain,),
        rule.text,
        rule.codes,
        rule.window,
        rule.timing,
        present=rule.present,
        qualified=bool(rule.qualifiers),
        drug=rule.domain == "drug",
    )


def _block(text: str) -> str:
    """Text for inside a /* */ comment: one line, and no `*/` (or `/*`) to close or nest it."""
    return comment(text).replace("*/", "* /").replace("/*", "/ *")


def _codeset(sql: _Sql, text: str, codes: list[Code], *, drug: bool) -> tuple[str | None, bool]:
    """The CTE of OMOP concept ids for a node (None: nothing maps), and whether any code is in
    an OMOP vocabulary (if not, rows are also matched on their source value text)."""
    pairs = sorted(
        {
            (OMOP_VOCABULARIES[key], code.code.strip())
            for code in codes
            if (key := re.sub(r"[^a-z0-9]", "", code.system.lower())) in OMOP_VOCABULARIES
            and code.code.strip()
        }
    )
    selects = []
    concept = sql.table("concept")
    if pairs:
        values = ", ".join(f"({lit(v)}, {lit(c)})" for v, c in pairs)
        selects.append(
            f"        SELECT concept_id FROM {concept}\n"
            f"        WHERE (vocabulary_id, concept_code) IN (VALUES {values})"
        )
    if drug and not any(v in ("RxNorm", "RxNorm Extension") for v, _ in pairs):
        # DrugBank ids have no OMOP vocabulary; INN names equal RxNorm ingredient names.
        names = sorted(
            {n.lower() for n in [text, *(c.display for c in codes)] if len(n) >= MIN_TEXT_MATCH}
        )
        if names:
            listed = ", ".join(lit(_clean(n)) for n in names)
            selects.append(
                f"        SELECT concept_id FROM {concept}\n"
                "        WHERE vocabulary_id IN ('RxNorm', 'RxNorm Extension')\n"
                "          AND concept_class_id = 'Ingredient'\n"
                f"          AND lower(concept_name) IN ({listed})"
            )
    if not selects:
        return None, False
    source = "\n        UNION\n".join(selects)
    body = (
        "    WITH src AS (\n"
        f"{source}\n"
        "    ), std AS (\n"
        "        SELECT concept_id FROM src\n"
        "        UNION\n"
        f"        SELECT cr.concept_id_2 FROM {sql.table('concept_relationship')} AS cr\n"
        "        JOIN src ON cr.concept_id_1 = src.concept_id\n"
        "        WHERE cr.relationship_id = 'Maps to' AND cr.invalid_reason IS NULL\n"
        "    )\n"
        "    SELECT concept_id FROM std\n"
        "    UNION\n"
        f"    SELECT ca.descendant_concept_id FROM {sql.table('concept_ancestor')} AS ca\n"
        "    JOIN std ON ca.ancestor_concept_id = std.concept_id"
    )
    shown = ", ".join(f"{v} {c}" for v, c in pairs) or "RxNorm ingredients by name"
    name = sql.cte("codes", body, f"concepts for {text}: {shown}, mapped and descendants")
    return name, bool(pairs)


def _time_filter(table: _Table, window: TimeWindow | None, timing: str | None) -> list[str]:
    start = f"{table.alias}.{table.start}"
    if timing == "current":
        end = f"{table.alias}.{table.end}" if table.end else None
        # overlapping the index date; no end date recorded: assumed ongoing
        conds = [f"{start} <= params.index_date"]
        if end:
            conds.append(f"({end} IS NULL OR {end} >= params.index_date)")
    elif timing == "prior":
        conds = [f"{start} < params.index_date"]
    else:
        conds = [f"{start} <= params.index_date"]
    if window is not None:
        days = f"date_diff('day', {start}, params.index_date)"
        if window.max_days_before is not None and math.isfinite(window.max_days_before):
            conds.append(f"{days} <= {_number(window.max_days_before)}")
        if window.min_days_before is not None and math.isfinite(window.min_days_before):
            conds.append(f"{days} >= {_number(window.min_days_before)}")
    return conds


def _text_terms(text: str, codes: list[Code]) -> list[str]:
    terms = {_clean(text).lower()}
    terms.update(_clean(c.display).lower() for c in codes)
    return sorted(t for t in terms if len(t) >= MIN_TEXT_MATCH)


def _occurrence(
    sql: _Sql,
    domains: tuple[str, ...],
    text: str,
    codes: list[Code],
    window: TimeWindow | None,
    timing: str | None,
    *,
    present: bool,
    qualified: bool,
    drug: bool,
) -> str:
    codeset, coded = _codeset(sql, text, codes, drug=drug)
    # Without an OMOP-vocabulary code, a source_value text match is possible evidence only.
    terms = [] if coded else _text_terms(text, codes)
    if codeset is None and not terms:
        return f"NULL  /* {_block(text)}: no code or text to match in OMOP */"
    tables = [_TABLES[name] for domain in domains for name in _DOMAIN_TABLES[domain]]
    selects = []
    for table in tables:
        a = table.alias
        matches = []
        coded_match = "FALSE"
        if codeset is not None:
            coded_match = (
                f"COALESCE({a}.{table.concept} IN (SELECT concept_id FROM {codeset}) OR "
                f"{a}.{table.source_concept} IN (SELECT concept_id FROM {codeset}), FALSE)"
            )
            matches.append(coded_match)
        # `certain`: matched by a concept, not only by text
        certain = coded_match if terms else "TRUE"
        if terms:
            matches.extend(f"contains(lower({a}.{table.source_value}), {lit(t)})" for t in terms)
        matched = "(" + "\n            OR ".join(matches) + ")"
        conds = [matched, *_time_filter(table, window, timing)]
        selects.append(
            f"    SELECT {a}.person_id, {certain} AS certain\n"
            f"    FROM {sql.table(table.name)} AS {a} CROSS JOIN params\n"
            "    WHERE " + "\n      AND ".join(conds)
        )
    body = "\n    UNION ALL\n".join(selects)
    when = _when(timing, window, default="any time")
    name = sql.cte("events", body, f"{text} ({when})")
    has = f"p.person_id IN (SELECT person_id FROM {name})"
    if qualified:
        # The qualifier ("active", "stage IV", ...) is not in OMOP: a record is only a maybe.
        expr = f"CASE WHEN {has} THEN NULL ELSE FALSE END"
    elif terms:
        sure = f"p.person_id IN (SELECT person_id FROM {name} WHERE certain)"
        expr = f"CASE WHEN {sure} THEN TRUE WHEN {has} THEN NULL ELSE FALSE END"
    else:
        expr = has
    return expr if present else f"(NOT {expr})"


def _compare(column: str, constraint: ValueConstraint, *, scale: str = "") -> str | None:
    """`column` against the constraint's numbers (each times `scale`, e.g. the row's ULN)."""
    c = constraint

    def bound(x: float) -> str:
        return f"{_number(x)}{scale}"

    if c.comparator == "between":
        if c.low is None or c.high is None:
            return None
        return f"{column} BETWEEN {bound(c.low)} AND {bound(c.high)}"
    if c.value is None:
        return None
    return f"{column} {c.comparator} {bound(c.value)}"


def _measurement(sql: _Sql, rule: MeasurementNode) -> str:
    c = rule.constraint
    if c.reference is not None:
        # "<= 1.5 x ULN": against the limits the lab reported with the value (range_high /
        # range_low on the same row, same unit). Rows without them: NULL, i.e. unknown.
        limit = "e.range_high" if c.reference == "ULN" else "e.range_low"
        compare = _compare("e.value", c, scale=f" * {limit}")
    else:
        compare = _compare("e.value", c)
    if compare is None:
        return f"NULL  /* {_block(rule.text)}: constraint without a number */"
    codeset, _ = _codeset(sql, rule.text, rule.codes, drug=False)
    if codeset is None:
        # No value can be attributed to this test without a code: unknown for everyone.
        return f"NULL  /* {_block(rule.text)}: no OMOP-mappable code */"
    m = _TABLES["measurement"]
    conds = [
        f"(m.measurement_concept_id IN (SELECT concept_id FROM {codeset}) OR "
        f"m.measurement_source_concept_id IN (SELECT concept_id FROM {codeset}))",
        "m.value_as_number IS NOT NULL",
        *_time_filter(m, rule.window, None),
    ]
    if c.unit and c.reference is None:
        # Values in another unit are not converted: they do not count.
        conds.append(
            f"(m.unit_concept_id IN (SELECT concept_id FROM {sql.table('concept')} "
            f"WHERE vocabulary_id = 'UCUM' AND concept_code = {lit(c.unit)})\n"
            f"           OR lower(m.unit_source_value) = lower({lit(c.unit)}))"
        )
    body = (
        "    SELECT person_id, value, range_low, range_high FROM (\n"
        "        SELECT m.person_id, m.value_as_number AS value, m.range_low, m.range_high,\n"
        "            row_number() OVER (PARTITION BY m.person_id\n"
        "                ORDER BY m.measurement_date DESC,\n"
        "                m.measurement_datetime DESC NULLS LAST, m.measurement_id DESC) AS rn\n"
        f"        FROM {sql.table('measurement')} AS m CROSS JOIN params\n"
        "        WHERE " + "\n          AND ".join(conds) + "\n"
        "    ) WHERE rn = 1"
    )
    window = _window_phrase(rule.window)
    unit = c.reference or c.unit or "any unit"
    name = sql.cte("latest", body, f"latest {rule.text}{' ' + window if window else ''} ({unit})")
    return f"(SELECT {compare} FROM {name} AS e WHERE e.person_id = p.person_id)"


def _limit(comparator: Literal["<=", ">="], value: float) -> ValueConstraint:
    return ValueConstraint(comparator=comparator, value=value)


def _age_expr(constraint: ValueConstraint) -> str:
    low, high = _compare("p.age_low", constraint), _compare("p.age_high", constraint)
    if low is None or high is None:
        return "NULL  /* age limit without a number */"
    # The two possible ages agree -> that answer; they differ -> unknown.
    return f"(CASE WHEN ({low}) = ({high}) THEN ({low}) END)"


def _sex(sex: str) -> str:
    concept = GENDER_CONCEPTS[sex]
    known = ", ".join(str(c) for c in GENDER_CONCEPTS.values())
    # gender 0 / other concepts: unknown, not a mismatch
    return f"(CASE WHEN p.gender_concept_id IN ({known}) THEN p.gender_concept_id = {concept} END)"


def _demographic(sql: _Sql, rule: DemographicNode) -> str:
    if rule.attribute == "age":
        if rule.constraint is None:
            return "NULL  /* age without a limit */"
        if rule.constraint.reference is not None:
            return "NULL  /* age relative to a reference: not computable */"
        return _age_expr(rule.constraint)
    if rule.attribute == "sex":
        if rule.sex in (None, "all"):
            return "TRUE"
        return _sex(rule.sex)
    return f"NULL  /* {rule.attribute} status: not a person attribute in OMOP */"
