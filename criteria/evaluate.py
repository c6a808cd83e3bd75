"""Screen one patient against a trial's parsed criteria: a verdict per criterion, a status.

`evaluate(criteria, patient)` walks each criterion's rule tree with three-valued (Kleene)
logic: a node is true, false or unknown, AND is false if any child is false, OR is true if
any child is true, NOT swaps true and false and keeps unknown. The decisions, stated once:

- **Presence** of a condition, procedure or drug needs a matching fact asserted about the
  patient. Negated, family and hypothetical mentions never count as presence; a negated
  one is evidence of absence. An *uncertain* mention ("possible", "rule out") is neither:
  it makes the node unknown, for a person to read. A *historical* mention counts for
  "history of" / prior / ever, not for a node that asks for a current or active condition,
  where it is evidence that the condition is past.
- **Windows** are checked on the fact's date (onset, start, effective, or the note's date).
  A fact after the index date is ignored. A historical note mention has no event date of
  its own (the event happened at or before the note), so it cannot place an event inside a
  "within N days" window; it can place it outside (when the note itself is older).
- **Absence of a record** (closed-world rule). No matching fact means unknown, except when
  concluding "absent" would move the criterion *toward* eligibility (the concept is what an
  exclusion describes, "history of pancreatitis", or what an inclusion forbids, "no prior
  chemotherapy") and the chart documents that domain (it holds at least one fact of that
  kind: a condition list, a medication list) and the concept is one eligo can recognise
  (the node carries codes). Then the verdict is not_met / met with the reason "no record
  among N clinical history facts". This is how coordinators prescreen
  ("likely eligible, confirm at the visit"); the reverse never happens: a diagnosis an
  inclusion requires is never assumed absent, so missing data cannot exclude anyone, and
  `eligible` always rests on positive evidence for every inclusion. Measurements never use
  the rule: a missing or out-of-window lab is unknown. `closed_world=False` turns it off.
- **Medications**: current = active / not ended by the index date (structured), or a note
  mention that is not historical in a note at most `CURRENT_NOTE_DAYS` old; prior = taken
  before the index date (including a current drug started before it); ever = any mention.
- **Measurements**: the latest value in the window (without one: in the last
  `MEASUREMENT_MAX_DAYS`; an older result is unknown, not current), converted to the
  criterion's unit when the conversion is simple and exact (thousands/uL and /uL, g/dL
  and g/L, HbA1c % and mmol/mol, creatinine/bilirubin/glucose mg/dL and umol/L or mmol/L,
  mEq/L and mmol/L for monovalent ions, ng/L and pg/mL, degF and Cel, lb and kg); a unit it
  cannot convert gives unknown with the reason. A value without a unit is read in the
  criterion's unit (noted in evidence). Multiples of ULN/LLN need the fact's reference
  range, else unknown.
- **Status**: excluded if an inclusion is not_met or an exclusion met; eligible if every
  inclusion is met and every exclusion not_met; needs_review otherwise (and when there is
  nothing to check). Trial-level demographics (age limits, sex) are checked as inclusions.
  Two kinds of criterion are reported but not counted (`in_status=False`): sub-bullets,
  which their parent's rule already combines ("any of the following: A, B" is one OR, not
  two inclusions), and administrative criteria no chart can decide (consent, willingness to
  comply, investigator judgement, other studies): `eligible` means likely eligible,
  to be confirmed with the patient at the visit, as a coordinator prescreens.
- **Score** (ranking): 0 when excluded, else the share of criteria resolved favourably
  (inclusion met, exclusion not_met); eligible patients score 1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from eligo.criteria.match import ConceptMatcher, MatchNode, code_keys, codes_match
from eligo.criteria.parse import ADMINISTRATIVE
from eligo.criteria.types import (
    AndNode,
    ConceptNode,
    Criteria,
    CriterionResult,
    DemographicNode,
    Evidence,
    Fact,
    FactSource,
    Kind,
    MatchedBy,
    MeasurementNode,
    MedicationNode,
    NotNode,
    OrNode,
    PatientFacts,
    Rule,
    Screening,
    Status,
    TimeWindow,
    UnstructuredNode,
    ValueConstraint,
    Verdict,
)
from eligo.nlp.types import Code

#: A medication mentioned (not as history) in a note at most this old is taken as current.
CURRENT_NOTE_DAYS = 365
#: A lab or vital sign older than this does not describe the patient now: a criterion
#: without a window ("platelets >= 100,000/uL") reads the latest value within this horizon.
MEASUREMENT_MAX_DAYS = 365
#: A pregnancy / breastfeeding mention at most this old describes the patient now.
PREGNANCY_DAYS = 270
#: Evidence items kept per leaf (the rest are counted in the reason).
MAX_EVIDENCE = 5

#: A chart documents the patient's clinical history when it holds facts of these kinds; then
#: a condition or procedure it never mentions may be taken as absent (closed-world rule).
_HISTORY = ("condition", "observation", "procedure", "device")
#: Before a missing record is taken as absent, no chart fact of that kind may be this close
#: (MiniLM cosine) to the concept: "intentional overdose" for "suicide attempt" (0.66),
#: "epilepsy" for "seizure disorder" (0.78) make it unknown, for a person to read, instead.
#: Unrelated pairs score lower ("stroke" / "hypertension" 0.26, "asthma" / "COPD" 0.39).
DOUBT_SIMILARITY = 0.60
_GROUP = {_HISTORY: "clinical history", ("drug",): "medication"}
_CURRENT_QUALIFIERS = frozenset({"active", "current", "currently", "ongoing", "present"})


class InvalidIndexDateError(ValueError):
    """The index date given is not a date."""


@dataclass
class _Out:
    """A node's three-valued result, its evidence and a one-line reason."""

    value: bool | None
    evidence: list[Evidence] = field(default_factory=list)
    reason: str = ""


@dataclass
class _Chart:
    """The patient's facts with parsed dates and per-kind counts, built once per evaluate."""

    patient: PatientFacts
    index: date
    matcher: ConceptMatcher
    closed_world: bool
    facts: list[tuple[Fact, date | None]]
    kinds: Counter[str]
    ids: list[int]


# --- public API --------------------------------------------------------------------------


def evaluate(
    criteria: Criteria,
    patient: PatientFacts,
    *,
    index_date: date | None = None,
    trial: str | None = None,
    matcher: ConceptMatcher | None = None,
    closed_world: bool = True,
) -> Screening:
    """Screen `patient` against `criteria` at `index_date` (default: today).

    Pass one `matcher` when screening many patients so its concept-pair cache is shared;
    screening one patient against several trials in a row reuses its prepared facts.
    """
    if index_date is None:
        index_date = date.today()
    elif not isinstance(index_date, date):
        raise InvalidIndexDateError(
            f"index_date must be a datetime.date, got {type(index_date).__name__}"
        )
    if matcher is None:
        matcher = _default_matcher()
    chart = _prepare(patient, index_date, matcher, closed_world)
    results = _trial_demographics(criteria, chart)
    for criterion in criteria.criteria:
        out = _eval(criterion.rule, chart, false_ok=criterion.kind == "exclusion")
        rule = criterion.rule
        administrative = isinstance(rule, UnstructuredNode) and rule.reason == ADMINISTRATIVE
        results.append(
            CriterionResult(
                kind=criterion.kind,
                text=criterion.text,
                verdict=_verdict(out.value),
                evidence=out.evidence,
                reason=ADMINISTRATIVE if administrative else out.reason,
                # a sub-bullet is decided through its parent's rule, once
                in_status=criterion.parent is None and not administrative,
            )
        )
    status, score = status_and_score(results)
    from eligo.nlp.provenance import provenance

    return Screening(
        id=patient.id,
        trial=trial if trial is not None else criteria.id,
        status=status,
        score=score,
        index_date=index_date.isoformat(),
        criteria=results,
        provenance=provenance(),
    )


def status_and_score(
    results: Sequence[CriterionResult],
) -> tuple[Status, float]:
    """Overall status and ranking score from per-criterion verdicts (see module docstring)."""
    results = [r for r in results if r.in_status]
    if not results:
        return "needs_review", 0.0
    favourable = 0
    excluded = False
    for result in results:
        good = "met" if result.kind == "inclusion" else "not_met"
        bad = "not_met" if result.kind == "inclusion" else "met"
        if result.verdict == bad:
            excluded = True
        elif result.verdict == good:
            favourable += 1
    if excluded:
        return "excluded", 0.0
    if favourable == len(results):
        return "eligible", 1.0
    return "needs_review", round(favourable / len(results), 4)


def age_at(birth: date, index: date) -> int:
    """Age in completed years at `index` (a 29 February birthday falls on 1 March)."""
    return index.year - birth.year - ((index.month, index.day) < (birth.month, birth.day))


def parse_date(text: str | None) -> date | None:
    """An ISO date, datetime, "YYYY-MM" or "YYYY" -> date (first day of a partial); else None."""
    if not text:
        return None
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", text[:7])
    if match:
        try:
            return date(int(match[1]), int(match[2] or 1), 1)
        except ValueError:
            return None
    return None


_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_TEXT_DATE = re.compile(
    r"\b(?P<iso>(?:19|20)\d\d-\d\d(?:-\d\d)?)\b"
    r"|\b(?P<m>\d{1,2})/(?:(?P<d>\d{1,2})/)?(?P<y>(?:19|20)\d\d)\b"
    rf"|\b(?P<mon>{_MONTHS})[a-z]*\.?\s+(?:\d{{1,2}},?\s+)?(?P<my>(?:19|20)\d\d)\b"
    r"|\b(?:in|since|from|during|of)\s+(?P<year>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)


def event_date(fact: Fact, notes: dict[str, str]) -> date | None:
    """The date of what a fact describes. For a note mention, a date written in the same
    sentence ("MI in 2019", "HbA1c 8.1% on 2026-05-02") is the event's and wins over the
    note's date when it is not later; otherwise the fact's own date."""
    day = parse_date(fact.date)
    src = fact.source
    if src.kind != "note" or src.id is None or src.start is None or src.id not in notes:
        return day
    text = notes[src.id]
    end = src.end if src.end is not None else src.start
    left = max(text.rfind(". ", 0, src.start), text.rfind("\n", 0, src.start)) + 1
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0]
    right = min(stops) if stops else len(text)
    best: tuple[int, date] | None = None
    for match in _TEXT_DATE.finditer(text, left, right):
        found = _text_date(match)
        if found is None or (day is not None and found > day):
            continue
        distance = min(abs(match.start() - end), abs(src.start - match.end()))
        if best is None or distance < best[0]:
            best = (distance, found)
    return best[1] if best else day


def _text_date(match: re.Match[str]) -> date | None:
    try:
        if match["iso"]:
            return parse_date(match["iso"])
        if match["y"]:
            return date(int(match["y"]), int(match["m"]), int(match["d"] or 1))
        if match["my"]:
            month = _MONTHS.split("|").index(match["mon"][:3].lower()) + 1
            return date(int(match["my"]), month, 1)
        return date(int(match["year"]), 1, 1)
    except ValueError:
        return None


_MATCHER: ConceptMatcher | None = None


def _default_matcher() -> ConceptMatcher:
    """One process-wide matcher, so calls without `matcher=` share its cache."""
    global _MATCHER
    if _MATCHER is None:
        _MATCHER = ConceptMatcher()
    return _MATCHER


def _verdict(value: bool | None) -> Verdict:
    return "unknown" if value is None else "met" if value else "not_met"


_LAST: list[_Chart] = []  # the last prepared chart, reused while the same patient is screened


def _doubt(
    label: str, codes: Sequence[Code], chart: _Chart, kinds: tuple[str, ...]
) -> tuple[Fact, float] | None:
    """The chart fact closest to an unmatched concept, when it is close enough to doubt
    that the concept is absent (`DOUBT_SIMILARITY`); None without the semantic step. A fact
    whose codes share a system with the concept's is not a doubt: its codes already say it
    is another concept ("type 2 diabetes", E11, is not "type 1 diabetes", E10)."""
    matcher = chart.matcher
    if not matcher.semantic:
        return None
    node_keys = code_keys(codes)
    best: tuple[Fact, float] | None = None
    for fact, _ in chart.facts:
        if fact.kind not in kinds or fact.negated or fact.family or fact.hypothetical:
            continue
        fact_systems = {system for system, _ in code_keys(fact.codes)}
        if fact_systems & {system for system, _ in node_keys}:
            continue
        score = matcher.similarity(label, fact.text)
        if score >= DOUBT_SIMILARITY and (best is None or score > best[1]):
            best = (fact, score)
    return best


def _prepare(
    patient: PatientFacts, index: date, matcher: ConceptMatcher, closed_world: bool
) -> _Chart:
    """Dates and match ids of the patient's facts, computed once per patient."""
    last = _LAST[0] if _LAST else None
    if (
        last is not None
        and last.patient is patient
        and last.matcher is matcher
        and len(last.facts) == len(patient.facts)
    ):
        return _Chart(patient, index, matcher, closed_world, last.facts, last.kinds, last.ids)
    chart = _Chart(
        patient=patient,
        index=index,
        matcher=matcher,
        closed_world=closed_world,
        facts=[(fact, event_date(fact, patient.notes)) for fact in patient.facts],
        kinds=Counter(fact.kind for fact in patient.facts),
        ids=matcher.fact_ids(patient.facts),
    )
    _LAST[:] = [chart]
    return chart


# --- the tree ----------------------------------------------------------------------------


def _eval(rule: Rule, chart: _Chart, *, false_ok: bool) -> _Out:
    """Evaluate `rule`; `false_ok`: a false value here moves the criterion toward eligible."""
    if isinstance(rule, AndNode | OrNode):
        outs = [_eval(child, chart, false_ok=false_ok) for child in rule.children]
        return _combine(outs, conjunction=isinstance(rule, AndNode))
    if isinstance(rule, NotNode):
        out = _eval(rule.child, chart, false_ok=not false_ok)
        return _Out(None if out.value is None else not out.value, out.evidence, _not(out))
    if isinstance(rule, MeasurementNode):
        return _measurement(rule, chart)
    if isinstance(rule, DemographicNode):
        return _demographic(rule, chart, false_ok=false_ok)
    if isinstance(rule, UnstructuredNode):
        why = f" ({rule.reason})" if rule.reason else ""
        return _Out(None, [], f"not computable, needs review{why}")
    # concept or medication: the concept's absence favours eligibility when a false rule
    # does and the rule asks for presence, or a false rule does not and it asks for absence
    absence_ok = false_ok if rule.present else not false_ok
    if isinstance(rule, MedicationNode) or rule.domain == "drug":
        out = _medication(rule, chart, absence_ok=absence_ok)
    else:
        out = _concept(rule, chart, absence_ok=absence_ok)
    if rule.present or out.value is None:
        return out
    return _Out(not out.value, out.evidence, out.reason + " (criterion asks for its absence)")


def _combine(outs: list[_Out], *, conjunction: bool) -> _Out:
    """Kleene AND (conjunction) / OR over child results."""
    decisive = not conjunction  # AND is decided by a false child, OR by a true one
    deciding = [o for o in outs if o.value is decisive]
    if deciding:
        return _Out(decisive, _evidence_of(deciding), deciding[0].reason)
    unknown = [o for o in outs if o.value is None]
    if unknown:
        return _Out(None, _evidence_of(unknown), "; ".join(o.reason for o in unknown))
    word = " and " if conjunction else "; none: "
    return _Out(not decisive, _evidence_of(outs), word.join(o.reason for o in outs))


def _evidence_of(outs: Iterable[_Out]) -> list[Evidence]:
    return [e for o in outs for e in o.evidence]


def _not(out: _Out) -> str:
    return f"not ({out.reason})"


# --- windows -----------------------------------------------------------------------------


def _window_note(day: date, window: TimeWindow | None, index: date) -> str | None:
    """None when `day` is inside the window before the index date, else why not."""
    days = (index - day).days
    if days < 0:
        return f"after index date: {day.isoformat()}"
    if window is None:
        return None
    if window.max_days_before is not None and days > window.max_days_before:
        return f"outside window: {day.isoformat()}"
    if window.min_days_before is not None and days < window.min_days_before:
        return f"too recent for window: {day.isoformat()}"
    return None


def _overlaps(start: date | None, end: date, window: TimeWindow | None, index: date) -> bool:
    """Does [start, end] (a drug exposure) overlap the window before the index date?"""
    if start is None:
        return window is None
    if window is None:
        return start <= index
    most = window.max_days_before
    lo = index.toordinal() - (math.inf if most is None else most)
    hi = index.toordinal() - (window.min_days_before or 0)
    return start.toordinal() <= hi and end.toordinal() >= lo


def _evidence(
    fact: Fact, day: date | None, matched_by: MatchedBy | None, note: str | None = None
) -> Evidence:
    return Evidence(
        text=fact.text,
        source=fact.source,
        date=day.isoformat() if day else fact.date,
        value=fact.value,
        unit=fact.unit,
        matched_by=matched_by,
        note=note,
    )


def _matches(node: MatchNode, chart: _Chart) -> list[tuple[Fact, date | None, MatchedBy]]:
    found = chart.matcher.matches(node, chart.ids)
    return [(f, day, how) for (f, day), how in zip(chart.facts, found, strict=True) if how]


@dataclass
class _Sorted:
    """Matching facts sorted by what they say about presence."""

    present: list[Evidence] = field(default_factory=list)
    absent: list[Evidence] = field(default_factory=list)  # negated mentions
    ambiguous: list[Evidence] = field(default_factory=list)  # uncertain, undated
    past: list[Evidence] = field(default_factory=list)  # historical / stopped: not current
    outside: list[Evidence] = field(default_factory=list)  # asserted, outside the window
    ignored: list[Evidence] = field(default_factory=list)  # family, hypothetical, future


def _decide(
    found: _Sorted,
    label: str,
    chart: _Chart,
    kinds: tuple[str, ...],
    *,
    absence_ok: bool,
    coded: bool = True,
    codes: Sequence[Code] = (),
) -> _Out:
    """Presence of a concept from sorted facts, in order of strength (module docstring)."""
    counter = found.ignored + found.ambiguous + found.absent + found.past + found.outside
    if found.present:
        n = len(found.present)
        return _Out(
            True,
            found.present[:MAX_EVIDENCE] + counter[:2],
            f"{label}: present ({n} matching fact{'s' * (n > 1)})",
        )
    if found.absent:
        return _Out(False, found.absent[:MAX_EVIDENCE], f"{label}: negated mention")
    if found.ambiguous:
        return _Out(
            None,
            found.ambiguous[:MAX_EVIDENCE] + found.ignored[:2],
            f"{label}: {found.ambiguous[0].note or 'unclear mention'}",
        )
    if found.past:
        return _Out(False, found.past[:MAX_EVIDENCE], f"{label}: only past, not current")
    # absence is only concluded for a concept eligo can recognise (it carries codes): the
    # absence of an uncoded phrase ("treatment") from a chart says nothing
    covered = sum(chart.kinds[k] for k in kinds) if coded else 0
    if found.outside:
        if absence_ok and chart.closed_world:
            return _Out(False, found.outside[:MAX_EVIDENCE], f"{label}: {found.outside[0].note}")
        return _Out(
            None,
            found.outside[:MAX_EVIDENCE],
            f"{label}: {found.outside[0].note}; none recorded in the window",
        )
    if absence_ok and chart.closed_world and covered:
        near = _doubt(label, codes, chart, kinds)
        if near is not None:
            fact, score = near
            return _Out(
                None,
                [_evidence(fact, None, "semantic", f"similar ({score:.2f}), not a match")],
                f"{label}: no exact record, but {fact.text!r} is close ({score:.2f}): review",
            )
        return _Out(
            False,
            found.ignored[:2],
            f"{label}: no record among {covered} {_GROUP.get(kinds, 'other')} facts "
            "(taken as absent)",
        )
    extra = f" ({found.ignored[0].note})" if found.ignored else ""
    return _Out(None, found.ignored[:2], f"{label}: no evidence either way{extra}")


def _concept(node: ConceptNode, chart: _Chart, *, absence_ok: bool) -> _Out:
    """Is the concept present (per the node's window and timing) for this patient?"""
    current = node.timing == "current" or bool(_CURRENT_QUALIFIERS & set(node.qualifiers))
    found = _Sorted()
    for fact, day, how in _matches(node, chart):
        if fact.family or fact.hypothetical:
            found.ignored.append(
                _evidence(fact, day, how, "family history" if fact.family else "hypothetical")
            )
            continue
        if day is not None and day > chart.index:
            found.ignored.append(_evidence(fact, day, how, f"after index date: {day}"))
            continue
        if fact.negated:
            # "no MI" in a note older than the window says nothing about the window
            if day is not None and node.window and _window_note(day, node.window, chart.index):
                found.ignored.append(_evidence(fact, day, how, "negated, outside window"))
            else:
                found.absent.append(_evidence(fact, day, how, "negated mention"))
            continue
        if fact.uncertain:
            found.ambiguous.append(_evidence(fact, day, how, "uncertain mention"))
            continue
        ended = fact.active is False or (
            (end := parse_date(fact.end_date)) is not None and end < chart.index
        )
        if current and (fact.historical or ended):
            found.past.append(_evidence(fact, day, how, "historical or resolved, not current"))
            continue
        if node.window is not None:
            if day is None:
                found.ambiguous.append(_evidence(fact, day, how, "undated, window unchecked"))
                continue
            note = _window_note(day, node.window, chart.index)
            dated_by_note = day == parse_date(fact.date)
            if note is None and fact.historical and fact.source.kind == "note" and dated_by_note:
                # the event is at or before this note: only "outside" can be concluded
                found.ambiguous.append(
                    _evidence(fact, day, how, "historical mention, event date unknown")
                )
                continue
            if note is not None:
                found.outside.append(_evidence(fact, day, how, note))
                continue
        found.present.append(_evidence(fact, day, how))
    return _decide(
        found,
        node.text,
        chart,
        _HISTORY,
        absence_ok=absence_ok,
        coded=bool(node.codes),
        codes=node.codes,
    )


def _medication(node: MedicationNode | ConceptNode, chart: _Chart, *, absence_ok: bool) -> _Out:
    """Did / does the patient take the drug, with the node's timing and window?"""
    timing = node.timing or "ever"
    found = _Sorted()
    index = chart.index
    for fact, day, how in _matches(node, chart):
        if fact.family or fact.hypothetical:
            found.ignored.append(
                _evidence(fact, day, how, "family history" if fact.family else "hypothetical")
            )
            continue
        if day is not None and day > index:
            found.ignored.append(_evidence(fact, day, how, f"after index date: {day}"))
            continue
        if fact.negated:
            found.absent.append(_evidence(fact, day, how, "negated mention"))
            continue
        if fact.uncertain:
            found.ambiguous.append(_evidence(fact, day, how, "uncertain mention"))
            continue
        end = parse_date(fact.end_date)
        if fact.source.kind == "note":
            # staleness is the note's age: "metformin since 2019" in last week's note is current
            written = parse_date(fact.date) or day
            stale = written is not None and (index - written).days > CURRENT_NOTE_DAYS
            is_current: bool | None = False if fact.historical else (None if stale else True)
        elif fact.active is False or (end is not None and end < index):
            is_current = False
        elif fact.active is True or end is not None:
            is_current = True
        else:
            is_current = None  # a structured record without status or end date
        if timing == "current":
            if is_current is False:
                note = f"stopped {end.isoformat()}" if end else "historical, not current"
                found.past.append(_evidence(fact, day, how, note))
            elif is_current is None:
                found.ambiguous.append(_evidence(fact, day, how, "current use not established"))
            else:
                found.present.append(_evidence(fact, day, how, "current"))
            continue
        # prior / ever: any exposure (for prior: started before the index date)
        if node.window is not None:
            if day is None:
                found.ambiguous.append(_evidence(fact, day, how, "undated, window unchecked"))
                continue
            last = index if is_current else (end or day)
            if not _overlaps(day, min(last, index), node.window, index):
                found.outside.append(_evidence(fact, day, how, f"outside window: {day}"))
                continue
        found.present.append(_evidence(fact, day, how, "historical" if fact.historical else None))
    return _decide(
        found,
        node.text,
        chart,
        ("drug",),
        absence_ok=absence_ok,
        coded=bool(node.codes),
        codes=node.codes,
    )


# --- measurements ------------------------------------------------------------------------

# Analyte-specific conversions: (words in the text, from unit, to unit, factor to multiply).
_ANALYTE_FACTORS: list[tuple[tuple[str, ...], str, str, float]] = [
    (("creatinine",), "mg/dL", "umol/L", 88.42),
    (("bilirubin",), "mg/dL", "umol/L", 17.104),
    (("glucose",), "mg/dL", "mmol/L", 1 / 18.016),
    (("cholesterol", "ldl", "hdl"), "mg/dL", "mmol/L", 1 / 38.67),
    (("triglyceride",), "mg/dL", "mmol/L", 1 / 88.57),
    (("potassium", "sodium", "chloride", "bicarbonate", "k", "na", "cl", "hco3"), "meq/L",
     "mmol/L", 1.0),
]  # fmt: skip
# Unit pairs that convert the same way for any analyte.
_GENERIC_FACTORS: dict[tuple[str, str], float] = {
    ("10*9/L", "/uL"): 1000.0,
    ("10*3/uL", "/uL"): 1000.0,
    ("10*9/L", "10*3/uL"): 1.0,
    ("g/dL", "g/L"): 10.0,
    ("mg/dL", "mg/L"): 10.0,
    ("g/L", "mg/dL"): 100.0,
    ("[lb_av]", "kg"): 0.45359237,
    ("kg", "g"): 1000.0,
    ("mL/min/{1.73_m2}", "mL/min"): 1.0,  # eGFR written without the area annotation
    ("ng/L", "pg/mL"): 1.0,  # NT-proBNP, troponin
    ("ug/L", "ng/mL"): 1.0,
    ("mg/L", "ug/mL"): 1.0,
}


def _canonical_unit(unit: str | None) -> str | None:
    if unit is None or not unit.strip():
        return None
    from eligo.nlp.values import normalize_unit

    return normalize_unit(unit) or unit.strip()


def convert(value: float, unit: str, target: str, *, analyte: str = "") -> float | None:
    """`value` in `unit` expressed in `target` (both canonical UCUM), or None if unknown."""
    if unit == target:
        return value
    if {unit, target} == {"%", "mmol/mol"}:  # HbA1c: NGSP % <-> IFCC mmol/mol
        return (value - 2.15) * 10.929 if target == "mmol/mol" else value / 10.929 + 2.15
    if {unit, target} == {"[degF]", "Cel"}:
        return (value - 32) / 1.8 if target == "Cel" else value * 1.8 + 32
    if (unit, target) in _GENERIC_FACTORS:
        return value * _GENERIC_FACTORS[(unit, target)]
    if (target, unit) in _GENERIC_FACTORS:
        return value / _GENERIC_FACTORS[(target, unit)]
    words = set(re.findall(r"[a-z0-9]+", analyte.lower()))
    for names, a, b, factor in _ANALYTE_FACTORS:
        if words & set(names):
            if (unit, target) == (a, b):
                return value * factor
            if (unit, target) == (b, a):
                return value / factor
    return None


def _le(a: float, b: float) -> bool:
    return a < b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def satisfies(value: float, constraint: ValueConstraint, bound_scale: float = 1.0) -> bool | None:
    """Does `value` satisfy the comparison? None when the constraint lacks its numbers."""
    op = constraint.comparator
    if op == "between":
        if constraint.low is None or constraint.high is None:
            return None
        return _le(constraint.low * bound_scale, value) and _le(
            value, constraint.high * bound_scale
        )
    if constraint.value is None:
        return None
    bound = constraint.value * bound_scale
    if op == "<":
        return value < bound and not math.isclose(value, bound, rel_tol=1e-9, abs_tol=1e-9)
    if op == "<=":
        return _le(value, bound)
    if op == ">":
        return value > bound and not math.isclose(value, bound, rel_tol=1e-9, abs_tol=1e-9)
    if op == ">=":
        return _le(bound, value)
    return math.isclose(value, bound, rel_tol=1e-9, abs_tol=1e-9)


def _describe(constraint: ValueConstraint) -> str:
    if constraint.text:
        return constraint.text
    unit = f" {constraint.unit}" if constraint.unit else ""
    ref = f" x {constraint.reference}" if constraint.reference else ""
    if constraint.comparator == "between":
        return f"{constraint.low}-{constraint.high}{unit}{ref}"
    return f"{constraint.comparator} {constraint.value}{unit}{ref}"


def _measurement(node: MeasurementNode, chart: _Chart) -> _Out:
    """The latest value in the window, compared with the node's constraint."""
    usable: list[tuple[Fact, date | None, MatchedBy]] = []
    outside: list[Evidence] = []
    window = node.window or TimeWindow(max_days_before=MEASUREMENT_MAX_DAYS)
    for fact, day, how in _matches(node, chart):
        if fact.value is None or fact.negated or fact.family or fact.hypothetical:
            continue
        if day is not None:
            note = _window_note(day, window, chart.index)
            if note is not None and node.window is None and "outside" in note:
                note = f"older than {MEASUREMENT_MAX_DAYS} days: {day.isoformat()}"
            if note is not None:
                outside.append(_evidence(fact, day, how, note))
                continue
        elif node.window is not None:
            outside.append(_evidence(fact, day, how, "undated result, window unchecked"))
            continue
        usable.append((fact, day, how))
    want = _describe(node.constraint)
    if not usable:
        if outside:
            latest = max(outside, key=lambda e: e.date or "")
            return _Out(None, outside[:MAX_EVIDENCE], f"{node.text}: {latest.note}")
        return _Out(None, [], f"{node.text}: no result in the chart")
    # latest dated value; undated ones only when nothing is dated. On the same day a value in
    # a comparable unit wins ("FEV1 1.62 L (58% predicted)" for "FEV1 30-70% predicted"),
    # and for an x ULN criterion one that carries its reference range.
    target_unit = _canonical_unit(node.constraint.unit)

    def fits(fact: Fact) -> bool:
        if node.constraint.reference is not None:
            ref = fact.reference_high if node.constraint.reference == "ULN" else fact.reference_low
            return ref is not None
        unit = _canonical_unit(fact.unit)
        if target_unit is None or unit is None or unit == target_unit:
            return True
        return convert(1.0, unit, target_unit, analyte=f"{node.text} {fact.text}") is not None

    fact, day, how = max(usable, key=lambda u: (u[1] is not None, u[1] or date.min, fits(u[0])))
    assert fact.value is not None
    constraint = node.constraint
    scale = 1.0
    notes: list[str] = []
    value = fact.value
    if constraint.reference is not None:
        ref = fact.reference_high if constraint.reference == "ULN" else fact.reference_low
        if ref is None:
            ev = _evidence(fact, day, how, f"no reference range ({constraint.reference})")
            return _Out(
                None,
                [ev],
                f"{node.text}: criterion is relative to the "
                f"{constraint.reference}, and the result carries no reference range",
            )
        scale = ref
    else:
        target = _canonical_unit(constraint.unit)
        unit = _canonical_unit(fact.unit)
        if target is not None and unit is None:
            notes.append(f"unit not stated, read as {target}")
        elif target is not None and unit is not None and unit != target:
            converted = convert(value, unit, target, analyte=f"{node.text} {fact.text}")
            if converted is None:
                ev = _evidence(fact, day, how, f"unit mismatch: {fact.unit} vs {target}")
                return _Out(
                    None,
                    [ev],
                    f"{node.text}: {value:g} {fact.unit} cannot be "
                    f"compared with {want} (unit mismatch)",
                )
            notes.append(f"{value:g} {fact.unit} = {converted:.4g} {target}")
            value = converted
    ok = satisfies(value, constraint, scale)
    when = f" on {day.isoformat()}" if day else ""
    ev = _evidence(fact, day, how, "; ".join(notes) or None)
    if ok is None:
        return _Out(None, [ev], f"{node.text}: constraint {want} has no bound to compare")
    shown = f"{fact.value:g}{' ' + fact.unit if fact.unit else ''}"
    verb = "satisfies" if ok else "does not satisfy"
    return _Out(ok, [ev], f"{node.text} {shown}{when} {verb} {want}")


# --- demographics ------------------------------------------------------------------------

_PREGNANT = re.compile(r"\bpregnan|\bgravid|\bgestation", re.IGNORECASE)
_BREASTFEEDING = re.compile(r"breast[\s-]?feed|lactat|\bnursing\b", re.IGNORECASE)
_PREGNANT_CODES = frozenset({("SNOMED", "77386006"), ("ICD-10-CM", "Z331")})
_BREASTFEEDING_CODES = frozenset(
    {("eligo", "cond:lactation"), ("SNOMED", "169750002"), ("ICD-10-CM", "Z391")}
)


def _record_evidence(text: str) -> Evidence:
    return Evidence(text=text, source=FactSource(kind="record"), matched_by="demographic")


def _demographic(node: DemographicNode, chart: _Chart, *, false_ok: bool) -> _Out:
    patient = chart.patient
    if node.attribute == "age":
        birth = parse_date(patient.birth_date)
        if birth is None:
            return _Out(None, [], "age: no birth date in the chart")
        age = age_at(birth, chart.index)
        ev = _record_evidence(f"born {birth.isoformat()}: {age} years at {chart.index}")
        if node.constraint is None:
            return _Out(None, [ev], "age: criterion has no age limit to check")
        constraint = node.constraint
        years: float = age
        if constraint.unit and constraint.unit.lower() in ("mo", "month", "months"):
            years = (
                (chart.index.year - birth.year) * 12
                + chart.index.month
                - birth.month
                - (chart.index.day < birth.day)
            )
        ok = satisfies(years, constraint)
        want = _describe(constraint)
        return _Out(ok, [ev], f"age {age} {'satisfies' if ok else 'does not satisfy'} {want}")
    if node.attribute == "sex":
        if node.sex in (None, "all"):
            return _Out(True, [], "sex: all")
        if patient.sex is None:
            return _Out(None, [], "sex: not recorded")
        ev = _record_evidence(f"sex {patient.sex}")
        ok = patient.sex == node.sex
        return _Out(ok, [ev], f"sex {patient.sex} {'matches' if ok else 'is not'} {node.sex}")
    # pregnancy / breastfeeding: a state of now
    pattern, codes = (
        (_PREGNANT, _PREGNANT_CODES)
        if node.attribute == "pregnant"
        else (_BREASTFEEDING, _BREASTFEEDING_CODES)
    )
    label = "pregnancy" if node.attribute == "pregnant" else "breastfeeding"
    absence_ok = false_ok if node.present else not false_ok
    if patient.sex == "male":
        out = _Out(False, [_record_evidence("sex male")], f"{label}: not applicable (male)")
    else:
        found = _Sorted()
        for fact, day in chart.facts:
            if fact.kind not in ("condition", "observation"):
                continue
            is_pregnancy_code = node.attribute == "pregnant" and any(
                s == "ICD-10-CM" and c[:1] == "O" for s, c in code_keys(fact.codes)
            )
            if not (
                pattern.search(fact.text)
                or is_pregnancy_code
                or codes_match(codes, code_keys(fact.codes))
            ):
                continue
            if fact.family or fact.hypothetical:
                found.ignored.append(_evidence(fact, day, "text", "family or hypothetical"))
            elif day is not None and day > chart.index:
                found.ignored.append(_evidence(fact, day, "text", "after index date"))
            elif fact.negated:
                found.absent.append(_evidence(fact, day, "text", "negated mention"))
            elif fact.uncertain:
                found.ambiguous.append(_evidence(fact, day, "text", "uncertain mention"))
            elif (
                fact.historical
                or fact.active is False
                or (day is not None and (chart.index - day).days > PREGNANCY_DAYS)
            ):
                found.past.append(_evidence(fact, day, "text", "past, not current"))
            else:
                found.present.append(_evidence(fact, day, "text"))
        out = _decide(found, label, chart, _HISTORY, absence_ok=absence_ok)
    if node.present or out.value is None:
        return out
    return _Out(not out.value, out.evidence, out.reason + " (criterion asks for its absence)")


def _trial_demographics(criteria: Criteria, chart: _Chart) -> list[CriterionResult]:
    """Trial-level age limits and sex, checked as inclusion criteria."""
    demo = criteria.demographics
    rules: list[tuple[str, DemographicNode]] = []
    low, high = demo.min_age, demo.max_age
    if low is not None or high is not None:
        if low is not None and high is not None:
            constraint = ValueConstraint(comparator="between", low=low, high=high)
            text = f"Age {low:g} to {high:g} years (trial age limits)"
        elif low is not None:
            constraint = ValueConstraint(comparator=">=", value=low)
            text = f"Age {low:g} years or older (trial age limits)"
        else:
            assert high is not None
            constraint = ValueConstraint(comparator="<=", value=high)
            text = f"Age {high:g} years or younger (trial age limits)"
        rules.append((text, DemographicNode(attribute="age", constraint=constraint)))
    if demo.sex != "all":
        text = f"Sex: {demo.sex} (trial sex limits)"
        rules.append((text, DemographicNode(attribute="sex", sex=demo.sex)))
    results = []
    kind: Kind = "inclusion"
    for text, node in rules:
        out = _demographic(node, chart, false_ok=False)
        results.append(
            CriterionResult(
                kind=kind,
                text=text,
                verdict=_verdict(out.value),
                evidence=out.evidence,
                reason=out.reason,
            )
        )
    return results


__all__ = [
    "CURRENT_NOTE_DAYS",
    "MEASUREMENT_MAX_DAYS",
    "InvalidIndexDateError",
    "age_at",
    "convert",
    "evaluate",
    "parse_date",
    "satisfies",
    "status_and_score",
]
