"""`eligo_context`: medspaCy's ConText with eligo's rules (corpora/context/context.json).

The component is medspaCy's own `ConText`; this factory only loads the rules through
`eligo.nlp.rules`, which turns simple token patterns into phrases for speed.
"""

# No `from __future__ import annotations`: spaCy validates factory arguments from their
# annotations at run time.
import medspacy.context.context_modifier as _modifier
from medspacy.context import ConText
from spacy.language import Language

from eligo.nlp.extensions import SPAN_GROUP
from eligo.nlp.rules import context_rules


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two token spans share a token. medspaCy 1.3.1's `tuple_overlaps` misses a span that
    wholly contains the other, so a terminating cue ("; ", "but") whose scope is the whole
    sentence never limited a BACKWARD cue's scope: in "admitted with acute pancreatitis;
    gallstones were excluded" the pancreatitis was negated."""
    return a[0] < b[1] and b[0] < a[1]


# `ConTextModifier.limit_scope` and `.modifies` look the function up in their own module
_modifier.tuple_overlaps = _overlaps


@Language.factory(
    "eligo_context",
    default_config={"rules": "context.json", "span_group_name": SPAN_GROUP},
    assigns=[
        "span._.is_negated",
        "span._.is_uncertain",
        "span._.is_historical",
        "span._.is_hypothetical",
        "span._.is_family",
    ],
)
def make_context(nlp: Language, name: str, rules: str, span_group_name: str) -> ConText:
    """ConText over the spans of `span_group_name`, with the rules of corpora/context/`rules`."""
    context = ConText(
        nlp,
        name=name,
        rules=None,
        input_span_type="group",
        span_group_name=span_group_name,
    )
    context.add(list(context_rules(rules)))
    return context
