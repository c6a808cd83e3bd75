"""`eligo_sectionizer`: medspaCy's Sectionizer with eligo's rules (corpora/sections/).

Three things differ from a plain medspaCy Sectionizer, all for speed with the same result:
- rules are loaded through `eligo.nlp.rules` (simple token patterns become phrases);
- a header written alone on its line ("HISTORY OF PRESENT ILLNESS") is a phrase rule with
  metadata `end_line`, checked here, instead of a token pattern ending in a newline token;
  every other header ("PMH:", "Allergies: NKDA") only has to start a line;
- `Token._.section` (medspaCy's extension, also behind `Span._.section`) is computed from
  `Doc._.sections` when read, instead of being written on every token of the note, which
  cost more than the matching itself. The extension keeps medspaCy's name and meaning, and
  a value set explicitly (as medspaCy's own Sectionizer does) still wins.
"""

from typing import Any

from medspacy.section_detection import Section, Sectionizer
from medspacy.section_detection import util as section_util
from spacy.language import Language
from spacy.tokens import Doc, Token

from eligo.nlp.extensions import SPAN_GROUP
from eligo.nlp.rules import section_rules

_UNSET = object()


def _token_section(token: Token) -> Section | None:
    user_data: dict[Any, Any] = token.doc.user_data
    explicit = user_data.get(("eligo.section", token.i), _UNSET)
    if explicit is not _UNSET:
        return explicit
    i = token.i
    for section in token.doc._.sections:
        start, end = section.section_span
        if start <= i < end:
            return section
    return None


def _set_token_section(token: Token, section: Section | None) -> None:
    user_data: dict[Any, Any] = token.doc.user_data
    user_data[("eligo.section", token.i)] = section


def register_section_extension() -> None:
    """Make `Token._.section` a getter over `Doc._.sections` (see the module docstring)."""
    Token.set_extension("section", getter=_token_section, setter=_set_token_section, force=True)


def section_titles(doc: Doc) -> list[tuple[int, int]]:
    """Token ranges of the section headers found by a sectionizer earlier in the pipeline
    (concepts and model spans inside them are headings, not mentions)."""
    if not Doc.has_extension("sections"):
        return []
    return [s.title_span for s in doc._.sections if s.title_span[1] > s.title_span[0]]


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
        register_section_extension()
        compiled = list(section_rules(rules))
        if any(rule.parents or rule.max_scope is not None for rule in compiled):
            raise ValueError(
                "eligo_sectionizer rules may not use 'parents' or 'max_scope'; "
                "use medspaCy's own medspacy_sectionizer for nested sections"
            )
        self.add(compiled)
        self._end_line_ids = {
            nlp.vocab.strings.add(rule._rule_id)
            for rule in compiled
            if rule.metadata and rule.metadata.get("end_line")
        }

    def __call__(self, doc: Doc) -> Doc:
        """Find section headers; each section runs to the next header (or the note's end)."""
        matches = self._Sectionizer__matcher(doc)
        matches = self.filter_end_lines(doc, self.filter_start_lines(doc, matches))
        rule_map = self._Sectionizer__matcher.rule_map
        strings = doc.vocab.strings
        sections = []
        if not matches or matches[0][1] != 0:
            first = matches[0][1] if matches else len(doc)
            sections.append(Section(None, 0, 0, 0, first))
        for i, (match_id, start, end) in enumerate(matches):
            rule = rule_map[strings[match_id]]
            body_end = matches[i + 1][1] if i + 1 < len(matches) else len(doc)
            sections.append(Section(rule.category, start, end, end, body_end, None, rule))
        doc._.sections = sections
        return doc

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
