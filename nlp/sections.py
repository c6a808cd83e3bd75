"""`eligo_sectionizer`: medspaCy's Sectionizer with eligo's rules (corpora/sections/).

Two things differ from a plain medspaCy Sectionizer, both for speed with the same result:
rules are loaded through `eligo.nlp.rules` (simple token patterns become phrases), and a
header written alone on its line ("HISTORY OF PRESENT ILLNESS") is a phrase rule with
metadata `end_line`, checked here, instead of a token pattern ending in a newline token.
Every other header ("PMH:", "Allergies: NKDA") only has to start a line.
"""

from typing import Any

from medspacy.section_detection import Sectionizer
from medspacy.section_detection import util as section_util
from spacy.language import Language
from spacy.tokens import Doc

from eligo.nlp.extensions import SPAN_GROUP
from eligo.nlp.rules import section_rules


class EligoSectionizer(Sectionizer):
    """A medspaCy Sectionizer whose end-of-line requirement is per rule, not global."""

    def __init__(self, nlp: Language, name: str, *, rules: str, span_group_name: str) -> None:
        super().__init__(
            nlp,
            name=name,
            rules=None,
            require_start_line=True,
            # Checked per rule (metadata end_line) by filter_end_lines below.
            require_end_line=True,
            input_span_type="group",
            span_group_name=span_group_name,
            span_attrs=None,
        )
        compiled = list(section_rules(rules))
        self.add(compiled)
        self._end_line_ids = {
            nlp.vocab.strings.add(rule._rule_id)
            for rule in compiled
            if rule.metadata and rule.metadata.get("end_line")
        }

    def filter_end_lines(
        self, doc: Doc, matches: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        return [
            m
            for m in matches
            if m[0] not in self._end_line_ids
            or section_util.is_end_line(m[2] - 1, doc, self.newline_pattern)
        ]


@Language.factory(
    "eligo_sectionizer",
    default_config={"rules": "sections.json", "span_group_name": SPAN_GROUP},
    assigns=["doc._.sections", "token._.section"],
)
def make_sectionizer(nlp: Language, name: str, rules: str, span_group_name: str) -> Any:
    return EligoSectionizer(nlp, name, rules=rules, span_group_name=span_group_name)
