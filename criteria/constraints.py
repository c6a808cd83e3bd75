"""Values, time windows, ages, qualifiers, timing, negation and exception scopes in criteria.

Everything here is regular expressions compiled once from corpora/criteria/patterns.json
and run over one criterion's text; every result carries offsets into that text.

Conventions (shared with `eligo.criteria.types`):
- A `ValueConstraint` keeps the number as written ("1,500/uL" -> 1500.0) and the canonical
  UCUM unit (`eligo.nlp.values.normalize_unit`); units eligo does not know are kept as
  written. "<= 1.5 x ULN" is value 1.5 with `reference="ULN"` and no unit.
- Durations are converted to days with 1 month = 30.4375 days and 1 year = 365.25 days
  (calendar averages). "within 6 months" -> `max_days_before` 182.6; "at least 3 months
  ago" -> `min_days_before` 91.3.
- Ages are in years: "6 months of age" -> 0.5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from eligo.criteria.types import TimeWindow, ValueConstraint
from eligo.nlp.resources import digest, read_json
from eligo.nlp.types import Comparator
from eligo.nlp.values import default_units, normalize_unit

PATTERNS_FILE = ("criteria", "patterns.json")

CmpOrBetween = Comparator | Literal["between"]


class TimeUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: float
    words: list[str]


class Patterns(BaseModel):
    """The schema of corpora/criteria/patterns.json (validated on load)."""

    model_config = ConfigDict(extra="forbid")

    version: str
    comparators: dict[Literal["<", "<=", ">", ">=", "="], list[str]]
    suffix_comparators: dict[Literal["<=", ">="], list[str]]
    range_separators: list[str]
    references: dict[Literal["ULN", "LLN"], list[str]]
    multipliers: list[str]
    time_units: dict[str, TimeUnit]
    number_words: dict[str, float]
    anchors: list[str]
    timing: dict[Literal["current", "prior", "ever"], list[str]]
    window_before: list[str]
    window_lead: list[str]
    window_unbounded: dict[str, float]
    qualifiers: dict[str, list[str]]
    exception_triggers: list[str]
    negation_triggers: list[str]
    children_or: list[str]
    children_and: list[str]
    parent_permitted: list[str]
    parent_excluded: list[str]
    sex: dict[Literal["female", "male", "all"], list[str]]
    pregnancy: list[str]
    breastfeeding: list[str]
    childbearing: list[str]
    age_context: list[str]
    generic_heads: list[str]
    administrative: list[str]  # regular expressions


@lru_cache(maxsize=1)
def patterns() -> Patterns:
    """corpora/criteria/patterns.json, validated (cached)."""
    return Patterns.model_validate(read_json(*PATTERNS_FILE))


def patterns_version() -> str:
    return digest(*PATTERNS_FILE)


class Mark(NamedTuple):
    """A span of a criterion with a label: a qualifier, a timing cue, a scope."""

    start: int
    end: int
    label: str


@dataclass
class DemographicMark:
    """An age, sex, pregnancy or breastfeeding statement found in a criterion."""

    attribute: Literal["age", "sex", "pregnant", "breastfeeding", "childbearing"]
    start: int
    end: int
    constraint: ValueConstraint | None = None
    sex: Literal["male", "female", "all"] | None = None
    present: bool = True


def _alt(phrases: list[str] | tuple[str, ...], *, words: bool = True, space: str = r"\s+") -> str:
    """A regex matching any of `phrases` (case as given; compile with IGNORECASE to fold),
    built as a trie so that a failed match costs one character test, not one per phrase.
    Spaces in a phrase match any whitespace; a phrase that starts/ends with a letter or
    digit only matches at word boundaries."""
    trie: dict[str, Any] = {}
    for p in {" ".join(p.lower().split()) for p in phrases if p.strip()}:
        node = trie
        for ch in p:
            node = node.setdefault(ch, {})
        node[""] = {}
    return "(?:" + _trie_regex(trie, words, space, first=True) + ")"


def _trie_regex(
    node: dict[str, Any], words: bool, space: str, *, first: bool = False, last: str = ""
) -> str:
    branches = []
    end_here = False
    for ch, child in sorted(node.items(), key=lambda kv: kv[0], reverse=True):
        if ch == "":
            end_here = True
            continue
        piece = space if ch == " " else re.escape(ch)
        if first and words and ch.isalnum():
            piece = r"(?<!\w)" + piece
        branches.append(piece + _trie_regex(child, words, space, last=ch))
    end = r"(?!\w)" if words and last.isalnum() else ""
    if not branches:
        return end
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if end_here:
        # longer phrases first: try to continue, else stop here
        return "(?:" + body + "|" + end + ")" if end else "(?:" + body + ")?"
    return body


_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
# A unit eligo's table does not know but that reads as one: "mg/ml", "puffs/day".
_GENERIC_UNIT = r"(?:[A-Za-zµμ%]{1,8}(?:/[A-Za-z0-9µμ.^]{1,8}){1,3})"


class Compiled:
    """All regexes, compiled once (see `compiled()`)."""

    def __init__(self, pats: Patterns) -> None:
        self.pats = pats
        self.cmp_of: dict[str, Comparator] = {}
        for sym, phrases in pats.comparators.items():
            for p in phrases:
                self.cmp_of[_norm(p)] = sym
        self.suffix_of: dict[str, Comparator] = {}
        for sym, phrases in pats.suffix_comparators.items():
            for p in phrases:
                self.suffix_of[_norm(p)] = sym
        self.time_unit_of: dict[str, str] = {}
        self.days_of: dict[str, float] = {}
        for code, tu in pats.time_units.items():
            self.days_of[code] = tu.days
            for w in tu.words:
                self.time_unit_of[w.lower()] = code
        self.ref_of: dict[str, str] = {}
        for limit, phrases in pats.references.items():
            for p in phrases:
                self.ref_of[_norm(p)] = limit
        self.number_words = {k.lower(): v for k, v in pats.number_words.items()}

        cmp = _alt([p for ps in pats.comparators.values() for p in ps])
        suffix = _alt([p for ps in pats.suffix_comparators.values() for p in ps])
        time_unit = _alt([w for tu in pats.time_units.values() for w in tu.words])
        known_unit = _alt(default_units().variants, words=False, space=r"\s*")
        unit = rf"(?:{time_unit}(?![A-Za-z0-9/])|{known_unit}(?![A-Za-z0-9/])|{_GENERIC_UNIT})"
        ref = _alt([p for ps in pats.references.values() for p in ps])
        mult = _alt(pats.multipliers)
        wordnum = _alt([w for w in pats.number_words if w not in ("a", "an", "a single")])
        num_or_word = rf"(?:{_NUM}|{wordnum})"
        before_num = r"(?<![\w.,/^+-])"
        # a number glued to letters is a value only when they are its unit ("30kg/m2"),
        # checked after the match; never "3rd", "2nd", "T2DM"
        after_num = r"(?![.,/]\d|(?:st|nd|rd|th)\b|\d)"
        # "between X and Y", "X-Y", "X to Y", a single number; comparators before or after;
        # a multiple of a reference limit; a unit (per bound for ranges: "6 months to 5 years").
        self.value = re.compile(
            rf"""
            (?:(?P<cmp>{cmp})\s*(?:the\s+|a\s+|an\s+|of\s+)?)?
            (?:
              (?:between|from)\s+(?P<lo>{num_or_word})\s*(?P<ulo>{unit})?\s*
                  (?:and|-|–|~|to|through)\s*(?P<hi>{num_or_word})
            | {before_num}(?P<lo2>{_NUM})\s*(?P<ulo2>{unit})?\s*(?:-|–|—|~|to|through)\s*
                  (?P<hi2>{_NUM}){after_num}
            | {before_num}(?P<num>{num_or_word}){after_num}
            )
            (?:\s*(?:{mult})?\s*(?:the\s+)?(?:institutional\s+)?(?P<ref>{ref}))?
            (?:\s*(?P<unit>{unit}))?
            (?:\s*(?P<ref2>\(\s*{ref}\s*\)))?
            (?:\s*(?P<suf>{suffix}))?
            """,
            re.IGNORECASE | re.VERBOSE,
        )
        anchor = _alt(pats.anchors)
        lead = _alt(pats.window_lead)
        before = _alt(pats.window_before)
        self.window_lead = re.compile(
            rf"""(?P<lead>{lead})\s+(?:the\s+)?(?:(?:last|past|previous|preceding|prior)\s+)?
            (?:(?P<cmp>{cmp})\s*)?
            (?:(?P<lo>{num_or_word})\s*(?:-|–|to)\s*)?(?P<n>{num_or_word})[\s-]*(?P<u>{time_unit})
            (?:\s*(?:period|window|interval))?
            (?:\s*,?\s*(?P<dir>{before}|after|following|post)\s+(?:the\s+)?
                (?:(?:date|time|day|start)\s+of\s+)?(?P<anchor>{anchor}|[\w-]+))?""",
            re.IGNORECASE | re.VERBOSE,
        )
        self.window_ago = re.compile(
            rf"""(?:(?P<cmp>{cmp})\s*)?(?P<n>{num_or_word})[\s-]*(?P<u>{time_unit})\s*
            (?P<dir>ago|earlier|{before}|after|following|post)
            (?:\s+(?:the\s+)?(?:(?:date|time|day|start)\s+of\s+)?(?P<anchor>{anchor}))?""",
            re.IGNORECASE | re.VERBOSE,
        )
        self.window_for = re.compile(
            rf"""\b(?P<lead>for|since|lasting)\s+(?:the\s+)?
            (?:(?P<cmp>{cmp})\s*)(?P<n>{num_or_word})[\s-]*(?P<u>{time_unit})\b""",
            re.IGNORECASE | re.VERBOSE,
        )
        self.window_for_plain = re.compile(
            rf"""\b(?P<lead>for|since|lasting)\s+(?:the\s+)?(?:past\s+|last\s+)?
            (?P<n>{num_or_word})[\s-]*(?P<u>{time_unit})\b(?!\s*(?:after|following|post))""",
            re.IGNORECASE | re.VERBOSE,
        )
        self.has_time = re.compile(
            r"(?i)year|month|week|day|hour|\d\s*(?:[dhwy]|yrs?|wks?|mos?|hrs?|mths?)\b"
        )
        self.has_number = re.compile(
            rf"\d|{_alt([w for w in pats.number_words if w not in ('a', 'an', 'a single')])}",
            re.IGNORECASE,
        )
        self.window_unbounded = re.compile(_alt(list(pats.window_unbounded)), re.IGNORECASE)
        self.window_days = {_norm(k): v for k, v in pats.window_unbounded.items()}
        self.timing = {
            t: re.compile(_alt(phrases), re.IGNORECASE) for t, phrases in pats.timing.items()
        }
        qualifier_words = [w for ws in pats.qualifiers.values() for w in ws]
        roman = r"(?:0|IV|V|I{1,3}|[1-4])[A-Ca-c]?\d?"
        self.stage = re.compile(
            rf"\b(?P<kind>stage|grade|class|NYHA(?:\s+class)?|FIGO(?:\s+stage)?)\s*"
            rf"(?P<cmp>{cmp})?\s*(?P<first>{roman})"
            rf"(?P<more>(?:\s*(?:-|–|to|or|and|/|,)\s*(?:stage\s+|grade\s+|class\s+)?{roman}(?![\w]))*)"
            rf"(?![\w])",
            re.IGNORECASE,
        )
        self.roman_piece = re.compile(roman)
        self.qualifier = re.compile(_alt(qualifier_words), re.IGNORECASE)
        self.exception = re.compile(_alt(pats.exception_triggers), re.IGNORECASE)
        self.administrative = re.compile("|".join(pats.administrative), re.IGNORECASE)
        self.negation = re.compile(
            _alt(pats.negation_triggers)
            + r"(?!\s+(?:more|less|greater|fewer|longer|higher|lower|later|earlier)\s+than)"
            + r"(?!\s+(?:exceeding|to\s+exceed|applicable|only|necessarily|required))",
            re.IGNORECASE,
        )
        self.age_context = re.compile(_alt(pats.age_context), re.IGNORECASE)
        self.sex = {s: re.compile(_alt(p), re.IGNORECASE) for s, p in pats.sex.items()}
        self.pregnancy = re.compile(_alt(pats.pregnancy), re.IGNORECASE)
        self.breastfeeding = re.compile(_alt(pats.breastfeeding), re.IGNORECASE)
        self.childbearing = re.compile(_alt(pats.childbearing), re.IGNORECASE)
        self.not_before = re.compile(
            r"(?:\bnot|\bno|\bnon-?|\bnegative|\bwithout|\bnor|\bneither)\s*(?:\w+\s+){0,2}$",
            re.IGNORECASE,
        )
        self.number_label = re.compile(
            r"(?:\b(?:stage|grade|type|phase|class|cycle|day|visit|part|cohort|arm|step|group"
            r"|tier|version|NYHA|chapter|section|item|generation|line|trisomy|chromosome"
            r"|criteria|DSM|ICD|CTCAE|v|version|COVID|CD|HLA|factor|\w+-)\s*-?\s*)$",
            re.IGNORECASE,
        )


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@lru_cache(maxsize=1)
def compiled() -> Compiled:
    return Compiled(patterns())


# --- numbers -------------------------------------------------------------------------------


def _number(written: str | None) -> float | None:
    if written is None:
        return None
    w = _norm(written)
    c = compiled()
    if w in c.number_words:
        return c.number_words[w]
    try:
        return float(w.replace(",", ""))
    except ValueError:
        return None


def _unit(written: str | None) -> tuple[str | None, str | None]:
    """(canonical unit, time-unit code or None) of a written unit."""
    if not written:
        return None, None
    c = compiled()
    code = c.time_unit_of.get(written.lower())
    if code is not None:
        return code, code
    return normalize_unit(written) or written, None


def _cmp(written: str | None) -> Comparator | None:
    return compiled().cmp_of.get(_norm(written)) if written else None


# --- values --------------------------------------------------------------------------------


@dataclass
class FoundValue:
    """A value in a criterion; `strong` when it has a comparator, unit, range or reference
    (a bare number is only a value right after a measurement)."""

    constraint: ValueConstraint
    strong: bool
    time_unit: str | None  # "d", "wk", "mo", "a", "h" for durations

    @property
    def start(self) -> int:
        return self.constraint.start or 0

    @property
    def end(self) -> int:
        return self.constraint.end or 0


def find_values(text: str, *, claimed: list[tuple[int, int]] | None = None) -> list[FoundValue]:
    """Values in `text`, skipping spans in `claimed` (windows, ages already read)."""
    c = compiled()
    out: list[FoundValue] = []
    taken = list(claimed or [])
    if not c.has_number.search(text):
        return out
    for m in c.value.finditer(text):
        start, end = m.span()
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end or any(s < end and start < e for s, e in taken):
            continue
        g = m.groupdict()
        num_end = max(m.end(k) for k in ("num", "hi", "hi2") if m.group(k) is not None)
        if num_end < len(text) and text[num_end].isalpha():
            glued = [m.start(k) for k in ("unit", "ref") if m.group(k) is not None]
            if num_end not in glued:
                continue  # "2a", "T2DM": letters that are not a unit
        written_cmp = g.get("cmp")
        comparator: CmpOrBetween | None = _cmp(written_cmp)
        if g.get("suf"):
            comparator = c.suffix_of.get(_norm(g["suf"]), comparator)
        ref_written = g.get("ref") or (g.get("ref2") or "").strip("() \t")
        reference = c.ref_of.get(_norm(ref_written)) if ref_written else None
        unit, time_unit = _unit(g.get("unit"))
        lo_unit, lo_time = _unit(g.get("ulo") or g.get("ulo2"))
        if unit is None and lo_unit is not None:
            unit, time_unit = lo_unit, lo_time
        fields: dict[str, float | None] = {}
        lo = _number(g.get("lo") or g.get("lo2"))
        hi = _number(g.get("hi") or g.get("hi2"))
        if lo is not None and hi is not None:
            if time_unit and lo_time and lo_time != time_unit:
                lo = lo * c.days_of[lo_time] / c.days_of[time_unit]  # "6 months to 5 years"
            if hi < lo:
                continue  # "3-1" is not a range (a score, a date)
            comparator = "between"
            fields = {"low": lo, "high": hi}
        else:
            num = _number(g.get("num"))
            if num is None:
                continue
            fields = {"value": num}
        is_word = bool(g.get("num")) and not re.match(r"[\d.]", g["num"] or "")
        if is_word and not (time_unit or comparator):
            continue  # "one of the following", "a"
        preceding = text[max(0, start - 25) : start]
        if comparator is None and reference is None and c.number_label.search(preceding):
            continue  # "stage 3", "type 2", "day 1", "CD4"
        strong = (
            comparator is not None or reference is not None or unit is not None or "low" in fields
        )
        if comparator is None:
            comparator = "="
        out.append(
            FoundValue(
                ValueConstraint(
                    comparator=comparator,
                    unit=None if reference else unit,
                    reference=reference,  # type: ignore[arg-type]
                    text=text[start:end],
                    start=start,
                    end=end,
                    **fields,
                ),
                strong,
                time_unit,
            )
        )
        taken.append((start, end))
    return out


def to_years(value: float, time_unit: str | None) -> float:
    """A duration in `time_unit` ("a", "mo", "wk", "d", "h"; None: years) in years."""
    if time_unit is None or time_unit == "a":
        return value
    c = compiled()
    return round(value * c.days_of[time_unit] / c.days_of["a"], 4)


def to_days(value: float, time_unit: str) -> float:
    return round(value * compiled().days_of[time_unit], 1)


# --- time windows --------------------------------------------------------------------------


def find_windows(text: str) -> list[TimeWindow]:
    """Time windows relative to the index date ("within 6 months before screening")."""
    c = compiled()
    out: list[TimeWindow] = []
    taken: list[tuple[int, int]] = []
    if not c.has_time.search(text):
        return out

    def add(start: int, end: int, lo: float | None, hi: float | None) -> None:
        if any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        out.append(
            TimeWindow(
                min_days_before=lo, max_days_before=hi, text=text[start:end], start=start, end=end
            )
        )

    for m in c.window_lead.finditer(text):
        direction = _norm(m.group("dir") or "")
        if direction in ("after", "following", "post"):
            continue  # "within 30 days after surgery": not relative to the index date
        n = _number(m.group("n"))
        if n is None:
            continue
        days = to_days(n, c.time_unit_of[m.group("u").lower()])
        end = m.end() if m.group("anchor") and _is_anchor(m.group("anchor")) else m.end("u")
        add(m.start(), end, None, days)
    for m in c.window_ago.finditer(text):
        direction = _norm(m.group("dir"))
        if direction in ("after", "following", "post"):
            continue
        if direction in ("of", "from") and not m.group("anchor"):
            continue  # "4 weeks before" is before the index date; "4 weeks of" is not
        n = _number(m.group("n"))
        if n is None:
            continue
        days = to_days(n, c.time_unit_of[m.group("u").lower()])
        cmp = _cmp(m.group("cmp"))
        if cmp in (">", ">="):
            add(m.start(), m.end(), days, None)  # "at least 3 months ago": long enough ago
        else:
            add(m.start(), m.end(), None, days)  # "4 weeks prior to", "less than 6 months ago"
    for pattern in (c.window_for, c.window_for_plain):
        for m in pattern.finditer(text):
            n = _number(m.group("n"))
            if n is None:
                continue
            days = to_days(n, c.time_unit_of[m.group("u").lower()])
            cmp = _cmp(m.groupdict().get("cmp"))
            start = m.start("lead")
            if cmp in ("<", "<="):
                add(start, m.end(), None, days)  # "for less than 6 months": recent onset
            else:
                # "diabetes for at least 1 year": it started at least 1 year ago
                add(start, m.end(), days, None)
    for m in c.window_unbounded.finditer(text):
        add(m.start(), m.end(), None, c.window_days[_norm(m.group())])
    out.sort(key=lambda w: w.start or 0)
    return out


def _is_anchor(word: str) -> bool:
    low = _norm(word)
    return any(low == _norm(a) or low.startswith(_norm(a)) for a in compiled().pats.anchors)


# --- ages ----------------------------------------------------------------------------------


def find_ages(text: str, values: list[FoundValue]) -> list[DemographicMark]:
    """Age constraints among `values`: a value in years/months right after "age(d)" or
    followed by "of age"/"old", or any duration in years in a clause about age."""
    c = compiled()
    out: list[DemographicMark] = []
    for fv in values:
        vc = fv.constraint
        start, end = fv.start, fv.end
        before = text[max(0, start - 30) : start].lower()
        after = text[end : end + 25].lower()
        # "gestational age", "bone age", "age at onset" are not the patient's age
        near_age = bool(_AGE_BEFORE.search(before)) and not _OTHER_AGE.search(before)
        age_after = bool(re.match(r"\s*(?:of\s+age|old|\(?inclusive\)?\s+of\s+age|-old)", after))
        age_word_after = bool(re.match(r"\s*(?:of\s+)?age\b", after)) and not _OTHER_AGE.match(
            after
        )
        unit = fv.time_unit
        if unit is None and vc.unit is not None:
            continue
        if vc.reference is not None:
            continue
        if unit is None and not near_age:
            continue  # "QMG score >= 12": a number without "age" or years is not an age
        if unit == "h" and not near_age:
            continue
        older = bool(re.search(r"(?i)\b(?:older|younger)\b", vc.text))
        if not (near_age or age_after or age_word_after or (older and unit == "a")):
            if unit != "a" or re.search(
                r"\b(?:for|since|within|past|last|ago|prior|before|expectancy|duration|during"
                r"|history|diagnos\w*|after)\b",
                before + after,
            ):
                continue
            # "Over 18 years", "Male and female, between 18 and 80 years": the value alone in
            # its comma-separated segment, in years, reads as an age
            if "(" in text[max(0, start - 2) : start]:
                continue  # "(>= 6 months)": a duration in parentheses qualifies what precedes
            seg_start = max(text.rfind(ch, 0, start) for ch in ",;(") + 1
            seg_ends = [i for i in (text.find(ch, end) for ch in ",;)") if i >= 0]
            rest = text[seg_start:start] + " " + text[end : min(seg_ends, default=len(text))]
            rest = re.sub(
                r"(?i)\b(?:between|from|aged?|ages|and|of|or|patients?|subjects?)\b", "", rest
            )
            if re.search(r"[A-Za-z]{2}", rest) and not (
                c.age_context.search(text) and vc.comparator != "=" and not _OTHER_AGE.search(text)
            ):
                continue
        suffix = _AGE_SUFFIX.match(text[end:])
        if suffix is not None and vc.comparator == "=":
            # "18 years of age or older": the comparator comes after "of age"
            end += suffix.end()
            vc = vc.model_copy(
                update={
                    "comparator": ">=" if suffix.group("dir").lower() in _OLDER else "<=",
                    "text": text[start:end],
                    "end": end,
                }
            )
        constraint = vc.model_copy(
            update={
                "unit": "a",
                "value": None if vc.value is None else to_years(vc.value, unit),
                "low": None if vc.low is None else to_years(vc.low, unit),
                "high": None if vc.high is None else to_years(vc.high, unit),
            }
        )
        years = constraint.value if constraint.value is not None else constraint.high
        if years is None or not 0 <= years <= 120:
            continue
        out.append(DemographicMark("age", start, end, constraint=constraint))
    return out


_AGE_BEFORE = re.compile(
    r"\bage[ds]?\b[\s:,(]*(?:of|is|was|must\s+be|should\s+be|between|from|range|at\s+least"
    r"|at\s+most)?\s*$"
)
_OTHER_AGE = re.compile(
    r"(?i)(?:gestational|gestation|bone|mental|corrected|post-?menstrual|skeletal|reading"
    r"|dental)\s+age|\s*age\s+(?:at|of)\s+(?:onset|diagnosis|first)"
)
_OLDER = {"older", "over", "above", "more", "greater"}
_AGE_SUFFIX = re.compile(
    r"\s*(?:of\s+age|old)\s*,?\s*(?:or|and)\s+(?P<dir>older|over|above|more|greater|younger|under"
    r"|below|less)\b",
    re.IGNORECASE,
)


# --- sex, pregnancy, breastfeeding ---------------------------------------------------------


def find_demographics(text: str) -> list[DemographicMark]:
    """Sex, pregnancy, breastfeeding and childbearing-potential statements."""
    c = compiled()
    out: list[DemographicMark] = []
    cb = [m for m in c.childbearing.finditer(text)]
    for m in cb:
        out.append(DemographicMark("childbearing", m.start(), m.end()))
    for attr, pattern in (("pregnant", c.pregnancy), ("breastfeeding", c.breastfeeding)):
        for m in pattern.finditer(text):
            if any(x.start <= m.start() < x.end for x in out):
                continue
            low = m.group().lower()
            if attr == "pregnant" and re.search(r"(?i)\btest\b", text[m.end() : m.end() + 15]):
                # "negative pregnancy test" asks for not pregnant; "pregnancy test" alone is
                # a procedure, not a statement about pregnancy
                present = "positive" in text[max(0, m.start() - 20) : m.start()].lower()
                if not present and not re.search(
                    r"(?i)negative", text[max(0, m.start() - 25) : m.end() + 25]
                ):
                    continue
            else:
                present = not c.not_before.search(text[max(0, m.start() - 25) : m.start()])
                if re.search(
                    r"(?i)^non-?", text[max(0, m.start() - 4) : m.start()]
                ) or low.startswith("non"):
                    present = False
            out.append(DemographicMark(attr, m.start(), m.end(), present=present))  # type: ignore[arg-type]
    if any(d.attribute in ("pregnant", "breastfeeding", "childbearing") for d in out):
        return out  # "pregnant women": the women are not a sex restriction
    # Sex only when the clause opens with it ("Male or female", "Women aged 40-75").
    sexes: tuple[Literal["all", "female", "male"], ...] = ("all", "female", "male")
    for sex in sexes:
        found = c.sex[sex].search(text)
        if found is None:
            continue
        lead = text[: found.start()]
        if len(lead.split()) > 2 or re.search(r"[,;(]", lead):
            continue
        out.append(DemographicMark("sex", found.start(), found.end(), sex=sex))
        break
    return out


# --- qualifiers, timing, scopes ------------------------------------------------------------


def find_qualifiers(text: str) -> list[Mark]:
    """Stage, grade, class, severity and status words ("stage IIIB", "severe", "untreated")."""
    c = compiled()
    out: list[Mark] = []
    for m in c.stage.finditer(text):
        kind = " ".join(m.group("kind").lower().split())
        kind = kind.replace("nyha", "NYHA").replace("figo", "FIGO")
        cmp = _cmp(m.group("cmp"))
        pieces = [m.group("first"), *c.roman_piece.findall(m.group("more") or "")]
        range_ = re.search(r"-|–|\bto\b", m.group("more") or "")
        if cmp is not None:
            out.append(Mark(m.start(), m.end(), f"{kind} {cmp} {pieces[0].upper()}"))
        elif range_ and len(pieces) == 2:
            out.append(Mark(m.start(), m.end(), f"{kind} {pieces[0].upper()}-{pieces[1].upper()}"))
        else:
            for p in pieces:
                out.append(Mark(m.start(), m.end(), f"{kind} {p.upper()}"))
    for m in c.qualifier.finditer(text):
        if any(s <= m.start() < e for s, e, _ in out):
            continue
        out.append(Mark(m.start(), m.end(), _norm(m.group()).replace(" to ", "-to-")))
    out.sort()
    return out


def find_timing(text: str) -> list[Mark]:
    """Timing cues: current ("currently", "ongoing", "active"), prior ("prior",
    "previous"), ever ("history of")."""
    c = compiled()
    out: list[Mark] = []
    order: tuple[Literal["ever", "prior", "current"], ...] = ("ever", "prior", "current")
    for timing in order:  # "history of" before "prior"
        for m in c.timing[timing].finditer(text):
            if re.match(r"\s+to\b", text[m.end() :]):
                continue  # "prior to screening" anchors a window; it is not a timing cue
            if any(s < m.end() and m.start() < e for s, e, _ in out):
                continue
            out.append(Mark(m.start(), m.end(), timing))
    out.sort()
    return out


def _scope_end(text: str, start: int, stops: str) -> int:
    """Where a scope starting at `start` ends: the first stop mark, a closing parenthesis
    that was opened before the scope, or the end of the text."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                return i
            depth -= 1
        elif ch in stops and depth == 0:
            return i
    return len(text)


def find_exceptions(text: str) -> list[Mark]:
    """Exception scopes: "other than X", "except X", "excluding X" (X becomes a NOT)."""
    out: list[Mark] = []
    for m in compiled().exception.finditer(text):
        end = _scope_end(text, m.end(), ";")
        # a following sentence is not part of the exception
        stop = re.search(r"\.\s+[A-Z]", text[m.end() : end])
        if stop is not None:
            end = m.end() + stop.start()
        out.append(Mark(m.start(), end, "exception"))
    return out


def find_negations(text: str) -> list[Mark]:
    """Negation scopes: "no history of X", "without X", "free of X" up to a comma, a
    semicolon, "but" or an exception."""
    out: list[Mark] = []
    c = compiled()
    for m in c.negation.finditer(text):
        word = m.group().lower()
        if re.search(r"(?i)\bwith\s+or\s+$", text[max(0, m.start() - 10) : m.start()]):
            continue  # "with or without X" asks nothing about X
        if word in ("no", "not") and re.match(
            r"\s*(?:\d|later|earlier|longer|sooner|more|greater|higher|less|lower|fewer|"
            r"exceeding|to exceed|above|below|over|under)\b",
            text[m.end() :],
        ):
            continue  # "no later than", "not 2", "no greater than 2.5 x ULN": comparators
        end = _scope_end(text, m.end(), ",;:")
        stop = re.search(
            r"\b(?:but|except|other than|unless|excluding|with the exception|however)\b|\.\s",
            text[m.end() : end],
            re.IGNORECASE,
        )
        if stop is not None:
            end = m.end() + stop.start()
        out.append(Mark(m.start(), end, "negation"))
    return out


_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|approx|Dr|no|incl|max|min|Fig|St)|\b[A-Z])\.$")


def clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the clauses of a criterion: split at ";" and at sentence ends (not after
    abbreviations or inside parentheses)."""
    spans: list[tuple[int, int]] = []
    start = 0
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        cut = False
        if depth == 0 and ch == ";":
            cut = True
        elif depth == 0 and ch == "." and i + 2 < len(text) and text[i + 1].isspace():
            nxt = text[i + 1 :].lstrip()[:1]
            if nxt.isupper() and not _ABBREV.search(text[max(0, i - 8) : i + 1]):
                cut = True
        if cut:
            spans.append((start, i + 1))
            start = i + 1
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1] in " \t\r\n;":
            e -= 1
        if e > s:
            out.append((s, e))
    return out or [(0, len(text))]
