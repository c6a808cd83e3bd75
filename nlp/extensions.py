"""Every custom Doc/Span attribute eligo sets, declared in one place.

medspaCy declares its own (`Span._.is_negated`, `_.is_historical`, ..., `_.section`) when
its ConText and Sectionizer components are created; eligo reads those and adds these.
"""

from __future__ import annotations

from spacy.tokens import Doc, Span

#: Name of the span group that holds every concept and target span ConText assesses.
SPAN_GROUP = "eligo"


def register() -> None:
    """Declare eligo's extensions (idempotent)."""
    span_attrs = {
        "codes": None,  # list[Code] from the lexicons
        "value": None,  # Measurement for measurement concepts
        "source": "lexicon",  # lexicon | model | both | target
        # (start_char, end_char) of the mention as the model read it, around the concept
        # ("severe neutropenia"); None: the span itself (see eligo.nlp.ner, rule 2a)
        "mention": None,
    }
    for name, default in span_attrs.items():
        if not Span.has_extension(name):
            Span.set_extension(name, default=default)
    if not Doc.has_extension("targets"):
        # [(start_char, end_char), ...] set by the caller before the pipeline runs
        Doc.set_extension("targets", default=None)


register()
