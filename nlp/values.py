"""`eligo_values`: the value of each measurement concept ("creatinine 1.4 mg/dL").

For every entity labelled "measurement", one compiled regex is matched on the text right
after it, bounded by the end of its sentence: up to six filler words or marks ("was", "of",
":", "(3/4)", "on 3/4/2021", "increased to"), an optional comparator ("<", ">=", "less
than", "at least"), then a number, a range ("7.0-10.5", "between 7 and 10") or, for blood
pressure, a systolic/diastolic pair, then an optional unit from corpora/units/units.tsv.
A value written just before the concept is read only for percentages ("8.2% HbA1c").

Conventions of the `Measurement` it sets on `ent._.value`:

- `value` is a single number ("65,000" -> 65000.0); a range sets `low`/`high` instead.
- Blood pressure "142/90" sets `systolic`/`diastolic`, leaves `value` None (a pair is not
  one number) and has unit "mm[Hg]" even when none is written: BP is always in mmHg.
- `comparator` is set only for inequalities; "=" and ":" are fillers, so a plain reading
  has comparator None.
- `unit` is the canonical UCUM code of the written unit, or None when none is written; no
  default unit is inferred from the concept (except mmHg for blood pressure, above).
  Cell counts per uL / mm3 become "/uL" (1 mm3 = 1 uL); thousands per uL, "K/uL" and
  "x10^9/L" all become "10*9/L" (10^3/uL = 10^9/L), with the number kept as written.
- `text`, `start`, `end` cover the value as written, comparator to unit ("<45 mL/min/1.73
  m2"), with offsets into the Doc text.

Numbers that are not values are skipped: dates ("3/4/2021"), counts of things or time
("2 tabs", "x3 days", "5 years"), ordinals and ages ("3rd", "45-year-old").
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from spacy.language import Language
from spacy.tokens import Doc, Span

from eligo.nlp import extensions
from eligo.nlp.resources import read_tsv
from eligo.nlp.types import Comparator, Measurement

UNITS_FILE = ("units", "units.tsv")
#: Tokens after a concept that its value may lie in (fillers + comparator + value + unit).
WINDOW = 24
# A pair "142/90" is read for blood pressure only; "systolic BP 150" is one number.
_BP_NAME = re.compile(r"(?i)\b(?:bp|b/p|blood\s+pressures?|nibp)\b")
_BP_PART = re.compile(r"(?i)systolic|diastolic|\b[sd]bp\b")

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_SP = r"\s*"  # line breaks too: the window never leaves the sentence
_FILLER = (
    r"(?:[:=~–—-]"
    r"|\((?:\d{1,2}/\d{1,2}(?:/\d{2,4})?|[A-Za-z][A-Za-z ,.'/-]{0,20})\)"  # "(3/4)", "(serum)"
    r"|on" + _SP + r"\d{1,2}/\d{1,2}(?:/\d{4}|/\d{2})?(?!\d)"  # "on 3/4/2021"
    r"|(?:of|is|was|were|are|be|been|has|had|at|to|level|levels|count|value|values|result"
    r"|reading|now|today|currently|recently|remains|remained|increased|decreased|dropped"
    r"|elevated|low|high|stable|normal|abnormal|borderline|slightly|mildly|markedly"
    r"|rose|fell|went|up|down|came|back|measured|noted|about|approximately"
    r"|approx\.?|around|checked|last|recent|most|repeat|ranges|ranging)\b)"
)
# Comparators, longest first; mapped to symbols by _COMPARATORS.
_COMPARATORS: dict[str, Comparator] = {
    "<=": "<=",
    "=<": "<=",
    "</=": "<=",
    "≤": "<=",
    "≦": "<=",
    ">=": ">=",
    "=>": ">=",
    ">/=": ">=",
    "≥": ">=",
    "≧": ">=",
    "<": "<",
    ">": ">",
    "less than or equal to": "<=",
    "greater than or equal to": ">=",
    "no more than": "<=",
    "not more than": "<=",
    "not exceeding": "<=",
    "at most": "<=",
    "up to": "<=",
    "no less than": ">=",
    "not less than": ">=",
    "at least": ">=",
    "less than": "<",
    "lower than": "<",
    "below": "<",
    "under": "<",
    "greater than": ">",
    "more than": ">",
    "higher than": ">",
    "above": ">",
    "over": ">",
    "exceeding": ">",
    "exceeds": ">",
}
# Words after a number that make it a count, a duration or an age, not a lab value.
_NOT_VALUE = (
    r"(?!" + _SP + r"(?:tabs?|tablets?|caps?|capsules?|pills?|puffs?|doses?|times|x\b"
    r"|days?|weeks?|wks?|months?|mos?|years?|yrs?|y/?o\b|hours?|hrs?|minutes?|mins?"
    r"|refills?|cycles?|episodes?|-?year|-?month|-?day|-?week))"
)


class UnitTableError(ValueError):
    """corpora/units/units.tsv is malformed."""


@dataclass(frozen=True)
class UnitTable:
    """Written unit variants -> canonical UCUM codes."""

    exact: dict[str, str]  # written without spaces -> canonical
    folded: dict[str, str]  # the same, lower case; the first variant listed wins
    variants: tuple[str, ...]  # as written in the table, for the regex

    @classmethod
    def from_rows(cls, rows: Iterable[list[str]], *, source: str = "units.tsv") -> "UnitTable":
        exact: dict[str, str] = {}
        folded: dict[str, str] = {}
        variants: list[str] = []
        for lineno, row in enumerate(rows, 2):
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise UnitTableError(
                    f"{source} row {lineno}: expected 'written<TAB>canonical[<TAB>note]', "
                    f"got {row!r}"
                )
            written, canonical = row[0].strip(), row[1].strip()
            key = _squash(written)
            if key in exact:
                raise UnitTableError(f"{source} row {lineno}: unit {written!r} is listed twice")
            exact[key] = canonical
            folded.setdefault(key.lower(), canonical)
            variants.append(written)
        return cls(exact, folded, tuple(variants))

    def canonical(self, written: str) -> str | None:
        """The canonical code of a written unit, or None if it is not in the table."""
        key = _squash(written)
        return self.exact.get(key) or self.folded.get(key.lower())

    def pattern(self) -> str:
        """A regex alternation of every variant, longest first; spaces match any spacing."""
        alts = sorted(set(self.variants), key=len, reverse=True)
        return "|".join(_SP.join(re.escape(part) for part in v.split(" ")) for v in alts)


def _squash(text: str) -> str:
    return "".join(text.split())


@lru_cache(maxsize=1)
def default_units() -> UnitTable:
    return UnitTable.from_rows(read_tsv(*UNITS_FILE), source="corpora/units/units.tsv")


def normalize_unit(written: str) -> str | None:
    """Canonical UCUM code of a written unit ("mg/dl" -> "mg/dL"), None if unknown."""
    return default_units().canonical(written)


def _compile(units: UnitTable) -> tuple[re.Pattern[str], re.Pattern[str]]:
    unit = rf"(?:{units.pattern()})(?![A-Za-z0-9/])"
    cmp = "|".join(
        _SP.join(re.escape(w) for w in c.split(" "))
        for c in sorted(_COMPARATORS, key=len, reverse=True)
    )
    after = re.compile(
        rf"""
        (?:{_SP}{_FILLER}){{0,6}}?{_SP}\(?{_SP}
        (?<![\d.,/])
        (?P<val>
          (?:(?P<cmp>{cmp}){_SP})?
          (?:
            (?P<sys>\d{{2,3}}){_SP}/{_SP}(?P<dia>\d{{2,3}})(?![\d/])
          | between{_SP}(?P<lo1>{_NUM}){_SP}(?:{unit})?{_SP}(?:and|-|–|to){_SP}(?P<hi1>{_NUM})
          | (?P<lo2>{_NUM}){_SP}(?:{unit})?{_SP}(?:-|–|to){_SP}(?P<hi2>{_NUM})
          | (?P<num>{_NUM})
          )
          (?:{_SP}(?P<unit>{unit})|(?P<k>k)(?![A-Za-z0-9/]))?
        )
        (?![/.-]?\d|[A-Za-z]){_NOT_VALUE}
        """,
        re.IGNORECASE | re.VERBOSE,
    )
    # "8.2% HbA1c": a percentage just before the concept.
    before = re.compile(rf"(?<![\d.,/])(?P<val>(?P<num>{_NUM}){_SP}%)\s*$")
    return after, before


def _number(text: str) -> float:
    return float(text.replace(",", ""))


class EligoValues:
    """Sets `ent._.value` (a `Measurement`) on measurement entities that have a value."""

    def __init__(
        self,
        nlp: Language,
        name: str = "eligo_values",
        *,
        label: str = "measurement",
        value_before: bool = True,
        units: UnitTable | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.value_before = value_before
        self.units = units or default_units()
        self._after, self._before = _compile(self.units)

    def __call__(self, doc: Doc) -> Doc:
        label = self.label
        ents = [ent for ent in doc.ents if ent.label_ == label]
        if not ents:
            return doc
        sentences = doc.has_annotation("SENT_START")
        claimed_end = -1  # end char of the last value taken, so two concepts never share one
        for ent in ents:
            sent = ent.sent if sentences else None
            value = self.after(ent, sent)
            if value is None and self.value_before:
                value = self.before(ent, sent, claimed_end)
            if value is not None:
                ent._.value = value
                claimed_end = max(claimed_end, value.end)
        return doc

    def after(self, ent: Span, sent: Span | None) -> Measurement | None:
        """The value written after `ent`, within its sentence."""
        doc = ent.doc
        stop = min(sent.end if sent is not None else len(doc), ent.end + WINDOW)
        if ent.end >= stop:
            return None
        window = doc[ent.end : stop]
        m = self._after.match(window.text)
        if m is None:
            return None
        return self._measurement(ent, m, window.start_char)

    def before(self, ent: Span, sent: Span | None, claimed_end: int) -> Measurement | None:
        """A percentage written just before `ent` ("8.2% HbA1c")."""
        doc = ent.doc
        start = max(sent.start if sent is not None else 0, ent.start - 4)
        if start >= ent.start:
            return None
        window = doc[start : ent.start]
        if window.start_char < claimed_end:
            return None
        m = self._before.search(window.text_with_ws)
        if m is None:
            return None
        return self._measurement(ent, m, window.start_char)

    def _measurement(self, ent: Span, m: re.Match[str], base: int) -> Measurement | None:
        groups = m.groupdict()
        start, end = m.span("val")
        text = m.group("val")
        is_bp = _BP_NAME.search(ent.text) is not None and _BP_PART.search(ent.text) is None
        written_cmp = groups.get("cmp")
        comparator = _COMPARATORS[" ".join(written_cmp.lower().split())] if written_cmp else None
        unit: str | None
        if groups.get("k"):
            unit = "10*9/L"  # "65K": thousands per uL
        elif groups.get("unit"):
            unit = self.units.canonical(groups["unit"])
        elif "%" in text:
            unit = "%"
        else:
            unit = None
        fields: dict[str, float | None] = {}
        if groups.get("sys"):
            systolic, diastolic = float(groups["sys"]), float(groups["dia"])
            # A pair after anything but BP, or an implausible one, is a date or a fraction.
            if not is_bp or not (50 <= systolic <= 300 and 20 <= diastolic < systolic):
                return None
            fields = {"systolic": systolic, "diastolic": diastolic}
            unit = unit or "mm[Hg]"
        elif groups.get("lo1") or groups.get("lo2"):
            low = _number(groups.get("lo1") or groups["lo2"])
            high = _number(groups.get("hi1") or groups["hi2"])
            if high < low:
                return None
            fields = {"low": low, "high": high}
        else:
            fields = {"value": _number(groups["num"])}
            if is_bp:
                return None  # a single number after "BP" is not a blood pressure reading
        return Measurement(
            **fields,
            comparator=comparator,
            unit=unit,
            text=text,
            start=base + start,
            end=base + end,
        )


@Language.factory(
    "eligo_values",
    default_config={"label": "measurement", "value_before": True},
    assigns=["span._.value"],
    requires=["doc.ents", "token.is_sent_start"],
)
def make_values(nlp: Language, name: str, label: str, value_before: bool) -> EligoValues:
    extensions.register()
    return EligoValues(nlp, name, label=label, value_before=value_before)
