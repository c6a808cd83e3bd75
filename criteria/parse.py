"""`parse(text) -> Criteria`: an eligibility section as typed, computable rules.

Steps: split the section into criteria (`eligo.criteria.split`); find each criterion's
concepts with one `nlp.pipe` over all criterion texts (`eligo.criteria.entities`); read
values, windows, ages, qualifiers, timing, negation and exception scopes with the patterns
of `eligo.criteria.constraints`; attach them to the concepts; build a rule tree per
criterion, clause by clause. Whatever cannot be structured stays as an `unstructured` node
with a reason: a criterion is never dropped.

Logic inside a clause: items joined by "or", "/" or "either ... or" form OR-groups, "and",
"with" and other words join items into AND (AND binds tighter: "A and B or C" is
(A and B) or C); a comma list takes the conjunction that ends it ("A, B or C"), and a list
with none is OR under exclusion (any one excludes) and AND under inclusion. Clauses
(";", sentences) are ANDed. Exceptions ("other than X") are ANDed as NOT(X).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from spacy.language import Language

from eligo.criteria import constraints as cons
from eligo.criteria.split import RawCriterion, split
from eligo.criteria.types import (
    AndNode,
    ConceptNode,
    Criteria,
    Criterion,
    CriterionEntity,
    DemographicNode,
    Demographics,
    Kind,
    MeasurementNode,
    MedicationNode,
    NotNode,
    OrNode,
    Rule,
    Sex,
    TimeWindow,
    Timing,
    UnstructuredNode,
    ValueConstraint,
)

ErrorCode = Literal["empty", "not_text", "no_criteria", "bad_field"]
NO_CONCEPT = "no computable concept"
#: consent, willingness, compliance, investigator judgement, other studies: not chart facts
ADMINISTRATIVE = "administrative: confirm with the patient or the investigator"


class CriteriaError(ValueError):
    """Criteria text that cannot be parsed; `code` is one of "empty", "not_text",
    "no_criteria" (and "bad_field" for an unreadable min_age/max_age/sex field)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code


@lru_cache(maxsize=1)
def _default_nlp() -> Language:
    import eligo.nlp

    return eligo.nlp.load()


def _entities(nlp: Language, texts: Sequence[str]) -> list[list[CriterionEntity]]:
    """Concept mentions per criterion text (eligo.criteria.entities; a plain mapping of the
    pipeline's entities when that module is absent)."""
    try:
        from eligo.criteria.entities import criterion_entities
    except ImportError:  # pragma: no cover - the module ships with eligo
        return _pipeline_entities(nlp, texts)
    return criterion_entities(nlp, texts)


def _pipeline_entities(nlp: Language, texts: Sequence[str]) -> list[list[CriterionEntity]]:
    from eligo.nlp.extract import to_entities

    domains = {
        "condition": "condition",
        "adverse_event": "condition",
        "drug": "drug",
        "procedure": "procedure",
        "measurement": "measurement",
    }
    out = []
    for doc in nlp.pipe(texts):
        out.append(
            [
                CriterionEntity(
                    start=e.start,
                    end=e.end,
                    text=e.text,
                    domain=domains[e.label],  # type: ignore[arg-type]
                    codes=list(e.codes),
                    negated=e.negated,
                    source="lexicon" if e.source == "target" else e.source,
                )
                for e in to_entities(doc)
                if e.label in domains
            ]
        )
    return out


# --- fields --------------------------------------------------------------------------------

_FIELD_AGE = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<u>years?|months?|weeks?|days?|hours?|minutes?)?\s*$",
    re.IGNORECASE,
)
_FIELD_UNIT = {"year": "a", "month": "mo", "week": "wk", "day": "d", "hour": "h"}


def _age_field(value: str | float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CriteriaError(
            "bad_field",
            f"{name} must be an age such as '18 Years' or a number of years, got {value!r}",
        )
    if isinstance(value, int | float):
        return float(value)
    if value.strip().upper() in ("", "N/A", "NA", "NONE"):
        return None
    m = _FIELD_AGE.match(value)
    if m is None:
        raise CriteriaError(
            "bad_field",
            f"{name} {value!r} is not an age; expected e.g. '18 Years', '6 Months', 'N/A'",
        )
    unit = (m.group("u") or "years").lower().rstrip("s")
    if unit == "minute":
        return 0.0
    return cons.to_years(float(m.group("n")), _FIELD_UNIT[unit])


def demographics_from_fields(
    min_age: str | float | None, max_age: str | float | None, sex: str | None
) -> Demographics:
    """Demographics from ClinicalTrials.gov's structured fields ("18 Years", "N/A", "All")."""
    sex_value: Sex = "all"
    if sex is not None and not isinstance(sex, str):
        raise CriteriaError("bad_field", f"sex must be 'All', 'Male' or 'Female', got {sex!r}")
    if sex is not None and sex.strip():
        low = sex.strip().lower()
        if low not in ("all", "both", "male", "female", "n/a"):
            raise CriteriaError("bad_field", f"sex {sex!r} is not one of 'All', 'Male', 'Female'")
        sex_value = "male" if low == "male" else "female" if low == "female" else "all"
    return Demographics(
        min_age=_age_field(min_age, "min_age"),
        max_age=_age_field(max_age, "max_age"),
        sex=sex_value,
    )


# --- analysis of one criterion ---------------------------------------------------------------


@dataclass
class _Item:
    start: int
    end: int
    node: Rule
    exception: bool = False


@dataclass
class _Analysis:
    """One criterion's text, entities and marks (offsets relative to the criterion)."""

    text: str
    kind: Kind
    entities: list[CriterionEntity]
    demographics: list[cons.DemographicMark]
    exceptions: list[cons.Mark]
    clauses: list[tuple[int, int]]
    windows: list[TimeWindow] = field(default_factory=list)


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def _analyse(text: str, kind: Kind, found: list[CriterionEntity]) -> _Analysis:
    windows = cons.find_windows(text)
    claimed = [(w.start or 0, w.end or 0) for w in windows]
    values = cons.find_values(text, claimed=claimed)
    ages = cons.find_ages(text, values)
    age_starts = {a.start for a in ages}
    values = [v for v in values if v.start not in age_starts]
    demo = ages + cons.find_demographics(text)
    exceptions = cons.find_exceptions(text)
    negations = cons.find_negations(text)
    clause_spans = cons.clauses(text)
    ents = _drug_classes(
        text, [e.model_copy(update={"qualifiers": list(e.qualifiers)}) for e in found]
    )

    def clause_of(pos: int) -> int:
        for i, (s, e) in enumerate(clause_spans):
            if s <= pos < e:
                return i
        return len(clause_spans) - 1

    # Demographic spans: a lexicon "pregnant" becomes the demographic it states.
    kept: list[CriterionEntity] = []
    for e in ents:
        mark = next((d for d in demo if _overlaps(e.start, e.end, d.start, d.end)), None)
        if mark is not None and mark.attribute in ("pregnant", "breastfeeding"):
            e.domain = "demographic"
        if mark is not None and mark.attribute == "age":
            continue  # "years of age" is not a concept
        kept.append(e)
    ents = kept
    for d in demo:
        if d.attribute == "childbearing":
            continue
        if any(_overlaps(e.start, e.end, d.start, d.end) for e in ents):
            continue
        ents.append(
            CriterionEntity(
                start=d.start,
                end=d.end,
                text=text[d.start : d.end],
                domain="demographic",
                value=d.constraint,
                source="pattern",
            )
        )
    for e in ents:
        if any(m.start <= e.start < m.end for m in negations):
            e.negated = True
    for d in demo:
        if d.attribute in ("pregnant", "breastfeeding") and any(
            m.start <= d.start < m.end for m in negations
        ):
            d.present = False

    # Values: to the measurements/observations right before them ("AST and ALT <= 2.5 x ULN").
    concept_ents = sorted(
        (e for e in ents if e.domain != "demographic"), key=lambda e: (e.start, e.end)
    )
    unattached: list[cons.FoundValue] = []
    last: tuple[list[CriterionEntity], int] | None = None  # entities given the last value
    for fv in values:
        if last is not None and _second_bound(text, last, fv):
            continue
        targets = _value_targets(text, fv, concept_ents, clause_spans[clause_of(fv.start)])
        last = (targets, fv.end) if targets else None
        if targets:
            for e in targets:
                if e.value is None:
                    e.value = fv.constraint
        elif fv.time_unit and any(
            e.domain in ("condition", "procedure", "drug")
            for e in concept_ents
            if clause_of(e.start) == clause_of(fv.start)
        ):
            # "myocardial infarction (< 6 months)": a bare duration after an event bounds when
            vc = fv.constraint
            days = cons.to_days(vc.value if vc.value is not None else vc.high or 0, fv.time_unit)
            later = vc.comparator in (">", ">=")
            windows.append(
                TimeWindow(
                    min_days_before=days if later else None,
                    max_days_before=None if later else days,
                    text=vc.text,
                    start=vc.start,
                    end=vc.end,
                )
            )
        elif fv.strong:
            unattached.append(fv)
    for fv in unattached:
        name = _value_name(text, fv.start, ents, values, clause_spans[clause_of(fv.start)])
        if name is not None:
            s, e_ = name
            ents.append(
                CriterionEntity(
                    start=s,
                    end=e_,
                    text=text[s:e_],
                    domain="measurement",
                    value=fv.constraint,
                    source="pattern",
                )
            )
    ents.sort(key=lambda e: (e.start, e.end))
    windows.sort(key=lambda w: w.start or 0)

    # Windows, timing and qualifiers: to the concepts of their clause.
    timing_marks = [
        t
        for t in cons.find_timing(text)
        if not any(_overlaps(t.start, t.end, w.start or 0, w.end or 0) for w in windows)
    ]
    qualifiers = cons.find_qualifiers(text)
    concept_ents = [e for e in ents if e.domain != "demographic"]
    for e in concept_ents:
        ci = clause_of(e.start)
        # a window bounds the concepts before it in its clause ("MI or stroke within 6
        # months"), and those after it only up to a comma ("within 4 weeks: X and Y")
        same = [
            w
            for w in windows
            if clause_of(w.start or 0) == ci
            and (
                (w.start or 0) >= e.end
                or "," not in text[(w.end or 0) : e.start]
                # "within 6 months: MI, unstable angina, stroke": a window before a colon
                # bounds the whole list after it
                or text[(w.end or 0) : e.start].lstrip().startswith(":")
            )
        ]
        if same and e.window is None:
            e.window = min(same, key=lambda w: _distance(e.start, e.end, w.start or 0, w.end or 0))
        e.timing = _timing_for(e, timing_marks, concept_ents, clause_of)
    # A window no concept took ("intake of illegal drugs in the last two weeks"): the words
    # before it name what it bounds; kept as an observation found by pattern.
    used = {id(e.window) for e in concept_ents if e.window is not None}
    for w in windows:
        if id(w) in used or w.start is None:
            continue
        name = _value_name(text, w.start, ents, values, clause_spans[clause_of(w.start)])
        if name is not None:
            s, e_ = name
            ent = CriterionEntity(
                start=s, end=e_, text=text[s:e_], domain="observation", window=w, source="pattern"
            )
            ent.timing = _timing_for(ent, timing_marks, concept_ents, clause_of)
            ents.append(ent)
            concept_ents.append(ent)
    ents.sort(key=lambda e: (e.start, e.end))
    for e in ents:
        if e.source == "pattern" and any(m.start <= e.start < m.end for m in negations):
            e.negated = True  # "no lipid-lowering dose change within 6 weeks"
    for q in qualifiers:
        target = _qualifier_target(q, concept_ents, clause_of)
        if target is not None and q.label not in target.qualifiers:
            target.qualifiers.append(q.label)
    for e in concept_ents:
        if any(m.start <= e.start < m.end for m in exceptions) and "exception" not in e.qualifiers:
            e.qualifiers.append("exception")
    return _Analysis(text, kind, ents, demo, exceptions, clause_spans, windows)


def _drug_classes(text: str, ents: list[CriterionEntity]) -> list[CriterionEntity]:
    """Mentions that together name a drug class become one drug ("biologic" + "DMARD" ->
    "biologic DMARD"), and a mention naming a class is a drug whatever its label."""
    from eligo.criteria.match import DrugClasses

    classes = DrugClasses.shipped()
    ents = sorted(ents, key=lambda e: (e.start, e.end))
    out: list[CriterionEntity] = []
    i = 0
    while i < len(ents):
        e = ents[i]
        for j in range(min(len(ents), i + 3) - 1, i, -1):
            joined = all(
                not text[a.end : b.start].strip(" -")
                for a, b in itertools.pairwise(ents[i : j + 1])
            )
            if joined and classes.lookup(text[e.start : ents[j].end]) is not None:
                span = text[e.start : ents[j].end]
                out.append(
                    e.model_copy(
                        update={"end": ents[j].end, "text": span, "domain": "drug", "codes": []}
                    )
                )
                i = j + 1
                break
        else:
            # words right after a mention may complete a class name the mention only starts
            # ("biologic DMARD therapy": the concept finder saw "biologic" alone)
            words = list(_WORD.finditer(text, e.end))[:3]
            for k in range(len(words), 0, -1):
                if text[e.end : words[k - 1].start()].strip(" -"):
                    continue  # punctuation between: not one name
                end = words[k - 1].end()
                if classes.lookup(text[e.start : end]) is not None:
                    e = e.model_copy(
                        update={"end": end, "text": text[e.start : end], "domain": "drug"}
                    )
                    break
            if e.domain != "drug" and classes.lookup(e.text) is not None:
                e = e.model_copy(update={"domain": "drug"})
            out.append(e)
            i += 1
            while i < len(ents) and ents[i].start < e.end:
                i += 1  # mentions inside the extended name
    return out


_WORD = re.compile(r"[A-Za-z][\w/-]*")


def _second_bound(text: str, last: tuple[list[CriterionEntity], int], fv: cons.FoundValue) -> bool:
    """ "HbA1c >= 7.0% and <= 10.5%": a second, opposite bound right after a measurement's
    value makes its constraint a range. Returns whether `fv` was merged."""
    ents, end = last
    vc = fv.constraint
    if not re.fullmatch(r"\s*(?:and|,|but|to)?\s*", text[end : fv.start]):
        return False
    merged = False
    for e in ents:
        old = e.value
        if old is None or old.value is None or vc.value is None or old.unit != vc.unit:
            continue
        pair = {old.comparator[:1], vc.comparator[:1]}
        if pair != {">", "<"}:
            continue
        low, high = (old.value, vc.value) if old.comparator[:1] == ">" else (vc.value, old.value)
        if low > high:
            continue
        e.value = old.model_copy(
            update={
                "comparator": "between",
                "value": None,
                "low": low,
                "high": high,
                "text": text[old.start or 0 : fv.end],
                "end": fv.end,
            }
        )
        merged = True
    return merged


def _distance(a0: int, a1: int, b0: int, b1: int) -> int:
    return 0 if _overlaps(a0, a1, b0, b1) else (b0 - a1 if b0 >= a1 else a0 - b1)


_VALUE_GAP = re.compile(
    r"^[\s:=(),~-]*(?:(?:of|is|was|be|must\s+be|should\s+be|level|levels|count|value|values"
    r"|concentration|result|score|index|ratio|in|on|at|serum|plasma|blood|total|>|<)\b[\s:=(),~-]*){0,4}$",
    re.IGNORECASE,
)
_JOIN_GAP = re.compile(r"^[\s,/()]*(?:and/or|and|or|&|,|/|\(|\))?[\s,/()]*$", re.IGNORECASE)


def _value_targets(
    text: str,
    fv: cons.FoundValue,
    ents: list[CriterionEntity],
    clause: tuple[int, int],
) -> list[CriterionEntity]:
    """The measurement(s) a value belongs to: the nearest one before it (only filler words
    between), and those joined to it by "and"/"or"/"/"."""
    before = [
        e
        for e in ents
        if e.end <= fv.start and e.start >= clause[0] and e.domain in ("measurement", "observation")
    ]
    if not before:
        return []
    last = before[-1]
    gap = text[last.end : fv.start]
    between_other = any(
        e.start >= last.end and e.end <= fv.start and e.domain not in ("measurement", "observation")
        for e in ents
    )
    loose = between_other or len(gap) > 40 or not _VALUE_GAP.match(gap)
    if loose and not (fv.strong and len(gap) <= 25 and "," not in gap and not between_other):
        return []
    if not fv.strong and len(gap.strip(" :=")) > 0 and not _VALUE_GAP.match(gap):
        return []
    if (
        fv.time_unit
        and last.domain == "measurement"
        and not re.search(r"(?i)expectancy|duration|age|survival|time|interval", last.text)
    ):
        return []
    out = [last]
    for e in reversed(before[:-1]):
        if _JOIN_GAP.match(text[e.end : out[-1].start]):
            out.append(e)
        else:
            break
    return out


_NAME_STOP = re.compile(
    r"^\s*(?:(?:and|or|with|a|an|the|any|has|have|had|having|patients?|subjects?|participants?"
    r"|who|must|should|be|is|are|of|in|by|on|at|if|as|defined|documented|measured|total"
    r"|\d+\.?|[-*•·:,;()])\s*)+",
    re.IGNORECASE,
)
_NAME_TAIL = re.compile(
    r"(?:\s|[:=(~-]|\b(?:of|is|was|were|be|must\s+be|should\s+be|a|an|the|with|than|to|and|or"
    r"|value|values|at|in|on)\b)*$",
    re.IGNORECASE,
)


def _value_name(
    text: str,
    at: int,
    ents: list[CriterionEntity],
    values: list[cons.FoundValue],
    clause: tuple[int, int],
) -> tuple[int, int] | None:
    """The words naming a value or window at `at` that no concept claimed ("IQ < 70",
    "ECOG PS 0-1", "intake of illegal drugs in the last two weeks")."""
    start = clause[0]
    for e in ents:
        if e.end <= at:
            start = max(start, e.end)
    for v in values:
        if v.end <= at:
            start = max(start, v.end)
    seg = text[start:at]
    cut = max(seg.rfind(","), seg.rfind(";"), seg.rfind("("))
    if cut >= 0:
        start += cut + 1
        seg = seg[cut + 1 :]
    tail = _NAME_TAIL.search(seg)
    end = start + (tail.start() if tail else len(seg))
    seg = text[start:end]
    lead = _NAME_STOP.match(seg)
    if lead is not None:
        start += lead.end()
    words = list(re.finditer(r"\S+", text[start:end]))
    if not words:
        return None
    if len(words) > 5:
        start += words[-5].start()
    name = text[start:end]
    if not re.search(r"[A-Za-z]{2}", name):
        return None
    return start, end


def _timing_for(
    e: CriterionEntity,
    marks: list[cons.Mark],
    ents: list[CriterionEntity],
    clause_of: Any,
) -> Timing | None:
    """The timing cue that governs an entity: the nearest cue before it in its clause (a cue
    inside the entity counts), else a cue right after it when no concept follows that cue."""
    ci = clause_of(e.start)
    inside = [m for m in marks if e.start <= m.start < e.end]
    if inside:
        return inside[0].label  # type: ignore[return-value]
    before = [m for m in marks if m.end <= e.start and clause_of(m.start) == ci]
    if before:
        return before[-1].label  # type: ignore[return-value]
    after = [m for m in marks if m.start >= e.end and clause_of(m.start) == ci]
    if after:
        m = after[0]
        concept_after = any(o.start >= m.end and clause_of(o.start) == ci for o in ents)
        if not concept_after and m.start - e.end <= 30:
            return m.label  # type: ignore[return-value]
    return None


def _qualifier_target(
    q: cons.Mark, ents: list[CriterionEntity], clause_of: Any
) -> CriterionEntity | None:
    ci = clause_of(q.start)
    for e in ents:
        near = clause_of(e.start) == ci and e.end > q.start and e.start - q.end <= 50
        if near and (e.start >= q.start or _overlaps(e.start, e.end, q.start, q.end)):
            return e
    before = [e for e in ents if e.end <= q.start and clause_of(e.start) == ci]
    if before and q.start - before[-1].end <= 30:
        return before[-1]
    return None


# --- rules ---------------------------------------------------------------------------------


def _entity_node(e: CriterionEntity, index: int) -> Rule:
    if e.value is not None and e.domain in ("measurement", "observation"):
        node: Rule = MeasurementNode(
            text=e.text, codes=e.codes, constraint=e.value, window=e.window, entity=index
        )
        return NotNode(child=node) if e.negated else node
    if e.domain == "drug":
        return MedicationNode(
            text=e.text,
            codes=e.codes,
            present=not e.negated,
            timing=e.timing or "ever",
            window=e.window,
            entity=index,
        )
    return ConceptNode(
        domain=e.domain,
        text=e.text,
        codes=e.codes,
        present=not e.negated,
        qualifiers=[q for q in e.qualifiers if q != "exception"],
        window=e.window,
        timing=e.timing,
        entity=index,
    )


def _demographic_node(d: cons.DemographicMark, text: str) -> DemographicNode:
    snippet = text[d.start : d.end]
    if d.attribute == "age":
        return DemographicNode(attribute="age", constraint=d.constraint, text=snippet)
    if d.attribute == "sex":
        return DemographicNode(attribute="sex", sex=d.sex, text=snippet)
    return DemographicNode(
        attribute=d.attribute,  # type: ignore[arg-type]
        present=d.present,
        text=snippet,
    )


_OR_GAP = re.compile(r"\bor\b|/|\bnor\b|\beither\b|\bsuch as\b|\be\.g\.|\bincluding\b", re.I)
_AND_GAP = re.compile(r"\band\b|&|\bplus\b|\bwith\b|\bas well as\b|\bboth\b", re.I)
_LIST_GAP = re.compile(r"^[\s,()\[\].:-]*$")


# Value text between two mentions says nothing about how they combine: the "/" of
# "1,500/uL" or "mL/min" is a unit, not "or" ("ANC >= 1,500/uL and platelets >= 100,000/uL").
_VALUE_TOKEN = re.compile(
    r"\S*\d\S*|(?<![A-Za-z])(?:[a-zA-Zµμ]{1,4}|min|day|dl|hpf)?/(?:[a-zA-Zµμ0-9^.]{1,6})\b"
)


def _connective(gap: str) -> str:
    gap = _VALUE_TOKEN.sub(" ", gap)
    if re.search(r"\band\s*/\s*or\b", gap, re.I) or _OR_GAP.search(gap):
        return "or"
    if _AND_GAP.search(gap):
        return "and"
    if not gap.strip():
        return "and"  # "hepatitis B infection": adjacent mentions describe one thing
    if _LIST_GAP.match(gap):
        return "list"
    return "and"


def _absent(node: Rule) -> bool:
    if isinstance(node, ConceptNode | MedicationNode):
        return not node.present
    return isinstance(node, NotNode)


def _combine(op: Literal["and", "or"], nodes: list[Rule]) -> Rule:
    flat: list[Rule] = []
    for n in nodes:
        if (op == "and" and isinstance(n, AndNode)) or (op == "or" and isinstance(n, OrNode)):
            flat.extend(n.children)
        else:
            flat.append(n)
    if len(flat) == 1:
        return flat[0]
    return AndNode(children=flat) if op == "and" else OrNode(children=flat)


def _chain(items: list[_Item], text: str, kind: Kind) -> Rule | None:
    """Items joined by the words between them (see the module docstring)."""
    if not items:
        return None
    items = sorted(items, key=lambda i: (i.start, i.end))
    conns = []
    for a, b in itertools.pairwise(items):
        gap = text[a.end : b.start] if b.start >= a.end else ""
        if gap.strip() == "(" and re.match(r"\s*\)", text[b.end : b.end + 2]):
            conns.append("or")  # "chronic kidney disease (CKD)": one concept, two names
        else:
            conns.append(_connective(gap))
    # "no X or Y" asks for neither: alternatives that are both absent are joined by AND
    for i, (a, b) in enumerate(itertools.pairwise(items)):
        if conns[i] == "or" and _absent(a.node) and _absent(b.node):
            conns[i] = "and"
    default = "or" if kind == "exclusion" else "and"
    resolved = []
    for i, c in enumerate(conns):
        if c != "list":
            resolved.append(c)
            continue
        nxt = next((x for x in conns[i + 1 :] if x != "list"), None)
        resolved.append(nxt or default)
    groups: list[list[Rule]] = [[items[0].node]]
    for c, item in zip(resolved, items[1:], strict=True):
        if c == "or":
            groups.append([item.node])
        else:
            groups[-1].append(item.node)
    return _combine("or", [_combine("and", g) for g in groups])


def _near(text: str, a: CriterionEntity, b: CriterionEntity) -> bool:
    """At most two words ("with", "of", "for any") between two mentions."""
    gap = text[a.end : b.start] if a.end <= b.start else text[b.end : a.start]
    return len(gap.split()) <= 2 and not re.search(r"[,;:]|\b(?:or|and)\b", gap)


def _clause_rule(a: _Analysis, span: tuple[int, int]) -> Rule | None:
    s0, s1 = span
    inside = lambda start: s0 <= start < s1  # noqa: E731
    items: list[_Item] = []
    exc: list[_Item] = []
    generic = {w.lower() for w in cons.patterns().generic_heads}
    specific = [
        e
        for e in a.entities
        if inside(e.start) and e.domain != "demographic" and e.text.lower() not in generic
    ]
    for idx, e in enumerate(a.entities):
        if not inside(e.start) or e.domain == "demographic":
            continue
        if e.text.lower() in generic and any(
            _near(a.text, e, other) for other in specific if other is not e
        ):
            # "treatment with metformin", "hepatitis B infection": the generic word is the
            # specific concept's head, not a second concept to check
            continue
        item = _Item(e.start, e.end, _entity_node(e, idx))
        (exc if "exception" in e.qualifiers else items).append(item)
    childbearing = None
    for d in a.demographics:
        if not inside(d.start):
            continue
        if d.attribute == "childbearing":
            childbearing = d
            continue
        items.append(_Item(d.start, d.end, _demographic_node(d, a.text)))
    main = _chain(items, a.text, a.kind)
    if exc:
        exc_rule = _chain(exc, a.text, "exclusion")
        assert exc_rule is not None
        main = _combine("and", [main, NotNode(child=exc_rule)]) if main else None
    if childbearing is not None:
        # "Women of childbearing potential must ...": applies to women only. As written
        # for inclusion: a man meets it; for exclusion: only a woman can be excluded by it.
        rest = main or UnstructuredNode(
            text=a.text[s0:s1], reason="childbearing potential is not computable"
        )
        if a.kind == "inclusion":
            return OrNode(children=[DemographicNode(attribute="sex", sex="male", text=""), rest])
        return AndNode(
            children=[
                DemographicNode(
                    attribute="sex",
                    sex="female",
                    text=a.text[childbearing.start : childbearing.end],
                ),
                rest,
            ]
        )
    return main


def _criterion_rule(a: _Analysis) -> Rule:
    if cons.compiled().administrative.search(a.text) and not any(
        e.codes for e in a.entities if e.domain != "demographic"
    ):
        # "Unable to comply with study visits", "any condition that, in the opinion of the
        # investigator, ...": no chart decides these (a concept with codes still counts)
        return UnstructuredNode(text=a.text, reason=ADMINISTRATIVE)
    rules = [r for r in (_clause_rule(a, span) for span in a.clauses) if r is not None]
    if not rules:
        return UnstructuredNode(text=a.text, reason=NO_CONCEPT)
    return _combine("and", rules)


# --- trial-level demographics --------------------------------------------------------------


def _walk(rule: Rule) -> list[Rule]:
    out: list[Rule] = [rule]
    if isinstance(rule, AndNode | OrNode):
        for c in rule.children:
            out.extend(_walk(c))
    elif isinstance(rule, NotNode):
        out.extend(_walk(rule.child))
    return out


def _demographics_from_text(criteria: list[Criterion]) -> Demographics:
    demo = Demographics()
    for c in criteria:
        inc = c.kind == "inclusion"
        if isinstance(c.rule, NotNode) or (inc and isinstance(c.rule, OrNode)):
            continue  # a demographic inside an alternative is not a trial-wide limit
        for node in _walk(c.rule):
            if not isinstance(node, DemographicNode):
                continue
            if node.attribute == "age" and isinstance(c.rule, OrNode):
                continue
            if node.attribute == "age" and node.constraint is not None:
                vc = node.constraint
                lo, hi = _age_bounds(vc, inc)
                if lo is not None and demo.min_age is None:
                    demo.min_age = lo
                if hi is not None and demo.max_age is None:
                    demo.max_age = hi
            elif node.attribute == "sex" and node.sex and node.text and demo.sex == "all":
                if node.sex != "all":
                    other: Sex = "female" if node.sex == "male" else "male"
                    demo.sex = node.sex if inc else other
            elif node.attribute == "pregnant" and node.present == (not inc):
                demo.pregnancy_excluded = True
            elif node.attribute == "breastfeeding" and node.present == (not inc):
                demo.breastfeeding_excluded = True
    return demo


def _age_bounds(vc: ValueConstraint, inclusion: bool) -> tuple[float | None, float | None]:
    """(min_age, max_age) implied by an age constraint in an inclusion or exclusion."""
    if vc.comparator == "between":
        return (vc.low, vc.high) if inclusion else (None, None)
    v = vc.value
    if vc.comparator in (">", ">="):
        return (v, None) if inclusion else (None, v)
    if vc.comparator in ("<", "<="):
        return (None, v) if inclusion else (v, None)
    return None, None


# --- parse ---------------------------------------------------------------------------------


def _shift(a: _Analysis, offset: int) -> list[CriterionEntity]:
    """Entities with every offset moved from the criterion into the input text."""
    out = []
    for e in a.entities:
        update: dict[str, Any] = {"start": e.start + offset, "end": e.end + offset}
        if e.value is not None and e.value.start is not None:
            update["value"] = e.value.model_copy(
                update={"start": e.value.start + offset, "end": (e.value.end or 0) + offset}
            )
        if e.window is not None and e.window.start is not None:
            update["window"] = e.window.model_copy(
                update={"start": e.window.start + offset, "end": (e.window.end or 0) + offset}
            )
        out.append(e.model_copy(update=update))
    return out


def _shift_rule(rule: Rule, ents: list[CriterionEntity]) -> Rule:
    """Point windows/values in the rule at the shifted entities' (input-text) offsets."""
    if isinstance(rule, AndNode | OrNode):
        rule.children = [_shift_rule(c, ents) for c in rule.children]
        return rule
    if isinstance(rule, NotNode):
        rule.child = _shift_rule(rule.child, ents)
        return rule
    if isinstance(rule, ConceptNode | MedicationNode | MeasurementNode) and rule.entity is not None:
        e = ents[rule.entity]
        rule.window = e.window
        if isinstance(rule, MeasurementNode) and e.value is not None:
            rule.constraint = e.value
    return rule


def parse(
    text: str,
    *,
    id: str | None = None,
    nlp: Language | None = None,
    min_age: str | float | None = None,
    max_age: str | float | None = None,
    sex: str | None = None,
) -> Criteria:
    """Parse a trial's eligibility section into criteria with entities and rule trees.

    `min_age`/`max_age`/`sex` are ClinicalTrials.gov's structured fields ("18 Years",
    "N/A", "All"); when given they override what the text says.

    Raises:
        CriteriaError: `code` "not_text", "empty", "no_criteria" or "bad_field".
    """
    if not isinstance(text, str):
        raise CriteriaError("not_text", f"criteria must be text (str), got {type(text).__name__}")
    if not text.strip():
        raise CriteriaError("empty", "criteria text is empty (only whitespace)")
    fields = demographics_from_fields(min_age, max_age, sex)
    raw = split(text)
    if not raw:
        raise CriteriaError(
            "no_criteria",
            "no criteria found: the text has only headers, bullets or punctuation "
            "(expected lines such as 'Inclusion Criteria:' followed by '- Age >= 18 years')",
        )
    nlp = nlp if nlp is not None else _default_nlp()
    texts = [text[r.start : r.end] for r in raw]
    found = _entities(nlp, texts)
    analyses = [_analyse(t, r.kind, f) for t, r, f in zip(texts, raw, found, strict=True)]
    _inherit_windows(raw, analyses)
    criteria: list[Criterion] = []
    for r, a in zip(raw, analyses, strict=True):
        ents = _shift(a, r.start)
        rule: Rule
        if r.permitted:
            rule = UnstructuredNode(text=a.text, reason="permitted, not required")
        else:
            rule = _shift_rule(_criterion_rule(a), ents)
        criteria.append(
            Criterion(
                kind=r.kind,
                text=a.text,
                start=r.start,
                end=r.end,
                entities=ents,
                rule=rule,
                parent=r.parent,
            )
        )
    _group_children(raw, criteria)
    demographics = _demographics_from_text(criteria)
    if min_age is not None and fields.min_age is not None:
        demographics.min_age = fields.min_age
    if max_age is not None and fields.max_age is not None:
        demographics.max_age = fields.max_age
    if sex is not None and sex.strip() and sex.strip().upper() != "N/A":
        demographics.sex = fields.sex
    return Criteria(
        id=id, demographics=demographics, criteria=criteria, provenance=_provenance(nlp)
    )


def _inherit_windows(raw: list[RawCriterion], analyses: list[_Analysis]) -> None:
    """A parent's time window ("within 6 months, any of the following:") applies to the
    concepts of its children that have none of their own."""
    for r, a in zip(raw, analyses, strict=True):
        if not r.children or not a.windows:
            continue
        window = a.windows[0]
        todo = list(r.children)
        while todo:
            c = todo.pop()
            todo.extend(raw[c].children)
            for e in analyses[c].entities:
                if e.window is None and e.domain != "demographic":
                    e.window = window.model_copy(update={"start": None, "end": None})


def _group_children(raw: list[RawCriterion], criteria: list[Criterion]) -> None:
    """A parent's rule is the AND/OR of its children's rules (deepest parents first)."""
    for i in sorted(range(len(raw)), key=lambda i: -_depth(raw, i)):
        r = raw[i]
        if not r.children:
            continue
        child_rules = [criteria[c].rule.model_copy(deep=True) for c in r.children]
        if all(isinstance(c, UnstructuredNode) for c in child_rules):
            reason = (
                "permitted, not required"
                if all(raw[c].permitted for c in r.children)
                else NO_CONCEPT
            )
            criteria[i].rule = UnstructuredNode(text=criteria[i].text, reason=reason)
        else:
            criteria[i].rule = _combine(r.children_op, child_rules)


def _depth(raw: list[RawCriterion], i: int) -> int:
    d = 0
    while raw[i].parent is not None:
        i = raw[i].parent  # type: ignore[assignment]
        d += 1
    return d


def _provenance(nlp: Language) -> Any:
    from eligo.nlp.provenance import for_pipeline

    stamp = for_pipeline(nlp)
    return stamp.model_copy(
        update={"lexicons": {**stamp.lexicons, "criteria_patterns": cons.patterns_version()}}
    )


def criteria_schema() -> dict[str, Any]:
    """The JSON Schema of `Criteria` (published as corpora/criteria/criteria.schema.json)."""
    return Criteria.model_json_schema()
