"""`eligo_assertion`: section rules and conflict resolution on top of medspaCy's ConText.

ConText (run just before, with eligo's rules in corpora/context/context.json) sets
`Span._.is_negated`, `_.is_uncertain`, `_.is_historical`, `_.is_hypothetical` and
`_.is_family` from trigger phrases in the sentence. This component then, for every span in
the eligo span group:

1. settles spans that ConText marked both negated and uncertain ("possible pneumonia, no
   effusion" puts "effusion" in the scope of both) by the nearer trigger;
2. clears `is_historical` on family mentions ("mother with a history of breast cancer"
   describes the mother's history, not the patient's) and on negated ones (in "history of
   MI, no CHF" or under a "PAST MEDICAL HISTORY:" header, an absent condition has no
   history);
3. applies the section rules of corpora/sections/assertions.json: a concept under "FAMILY
   HISTORY" is the family's, one under "PAST MEDICAL HISTORY" is historical, unless ConText
   found something that wins ("PMH: no diabetes" is a negation, not a history).
"""

# No `from __future__ import annotations`: spaCy validates factory arguments from their
# annotations at run time, and string annotations fail there.
import json
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from eligo.nlp.extensions import SPAN_GROUP
from eligo.nlp.resources import read_json

#: The assertion attributes ConText sets on spans (medspaCy's default span attributes).
ATTRS = ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")
_RULES_FILE = "section_assertions.json"


class SectionRuleError(ValueError):
    """A section -> assertion rule is malformed."""


def register_attributes() -> None:
    """Declare ConText's span attributes if ConText has not (idempotent)."""
    for attr in ATTRS:
        if not Span.has_extension(attr):
            Span.set_extension(attr, default=False)


def check_section_rules(rules: Any) -> dict[str, dict[str, Any]]:
    """Validate section rules: {category: {"set": {attr: bool}, "unless": [attr, ...],
    "unless_value": bool}} (`unless_value`: leave measurements that carry a value alone)."""
    if not isinstance(rules, dict):
        raise SectionRuleError(f"section rules must be a JSON object, got {type(rules).__name__}")
    for category, rule in rules.items():
        if not isinstance(rule, dict) or not isinstance(rule.get("set"), dict):
            raise SectionRuleError(f"section rule {category!r} needs a 'set' object, got {rule!r}")
        unknown = set(rule) - {"set", "unless", "unless_value", "note"}
        if unknown:
            raise SectionRuleError(
                f"section rule {category!r} has unknown keys {sorted(unknown)}; "
                "valid keys: set, unless, unless_value, note"
            )
        if not isinstance(rule.get("unless_value", False), bool):
            raise SectionRuleError(f"section rule {category!r}: 'unless_value' must be true/false")
        named = list(rule["set"]) + list(rule.get("unless", []))
        for attr in named:
            if attr not in ATTRS:
                valid = ", ".join(ATTRS)
                raise SectionRuleError(
                    f"section rule {category!r} names {attr!r}; valid attributes: {valid}"
                )
        if not all(isinstance(v, bool) for v in rule["set"].values()):
            raise SectionRuleError(f"section rule {category!r}: 'set' values must be true/false")
    return rules


def section_category(span: Span) -> str | None:
    """The medspaCy section category of a span's first token, or None outside any section."""
    if not Span.has_extension("section"):
        return None
    section = span._.section
    return None if section is None else section.category


def _distance(span: Span, modifier: Any) -> int:
    start, end = modifier.modifier_span
    return start - span.end if start >= span.end else max(span.start - end, 0)


class Assertion:
    """Post-process ConText's assertion attributes on the eligo span group."""

    def __init__(
        self,
        nlp: Language,
        name: str = "eligo_assertion",
        *,
        section_rules: dict[str, dict[str, Any]] | None = None,
        span_group: str = SPAN_GROUP,
        family_clears_historical: bool = True,
        negation_clears_historical: bool = True,
    ) -> None:
        register_attributes()
        self.name = name
        self.span_group = span_group
        self.family_clears_historical = family_clears_historical
        self.negation_clears_historical = negation_clears_historical
        self.section_rules = check_section_rules(
            read_json("sections", _RULES_FILE) if section_rules is None else section_rules
        )

    def __call__(self, doc: Doc) -> Doc:
        for span in doc.spans.get(self.span_group, []):
            self.assess(span)
        return doc

    def assess(self, span: Span) -> None:
        ext = span._
        if ext.is_negated and ext.is_uncertain:
            self._settle_negated_uncertain(span)
        rule = self.section_rules.get(section_category(span) or "")
        if (
            rule is not None
            and not any(getattr(ext, attr) for attr in rule.get("unless", ()))
            and not (rule.get("unless_value") and ext.value is not None)
        ):
            for attr, value in rule["set"].items():
                setattr(ext, attr, value)
        if (self.family_clears_historical and ext.is_family) or (
            self.negation_clears_historical and ext.is_negated
        ):
            ext.is_historical = False

    @staticmethod
    def _settle_negated_uncertain(span: Span) -> None:
        # "possible pneumonia, no effusion": both triggers reach "effusion"; the nearer one
        # speaks for it. A tie goes to uncertain: a possibility must not read as an absence.
        best: dict[str, int] = {}
        for modifier in getattr(span._, "modifiers", ()):
            if modifier.category in ("NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE"):
                d = _distance(span, modifier)
                best[modifier.category] = min(d, best.get(modifier.category, d))
        negated = best.get("NEGATED_EXISTENCE")
        uncertain = best.get("POSSIBLE_EXISTENCE")
        if negated is not None and (uncertain is None or negated < uncertain):
            span._.is_uncertain = False
        else:
            span._.is_negated = False

    def to_disk(self, path: str | Path, *, exclude: Any = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / _RULES_FILE).write_text(json.dumps(self.section_rules, indent=2), encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Any = ()) -> "Assertion":
        text = (Path(path) / _RULES_FILE).read_text(encoding="utf-8")
        self.section_rules = check_section_rules(json.loads(text))
        return self


@Language.factory(
    "eligo_assertion",
    default_config={
        "span_group": SPAN_GROUP,
        "family_clears_historical": True,
        "negation_clears_historical": True,
    },
    assigns=[f"span._.{attr}" for attr in ATTRS],
    requires=["doc.spans"],
)
def make_assertion(
    nlp: Language,
    name: str,
    span_group: str,
    family_clears_historical: bool,
    negation_clears_historical: bool,
) -> Assertion:
    return Assertion(
        nlp,
        name,
        span_group=span_group,
        family_clears_historical=family_clears_historical,
        negation_clears_historical=negation_clears_historical,
    )
