"""`load()`: eligo's clinical pipeline as one spaCy Language, built once per process."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

# Importing the modules registers their spaCy factories.
import medspacy.context
import medspacy.section_detection  # noqa: F401
from spacy.language import Language

from eligo.nlp import assertion, concepts, sentences, targets, values  # noqa: F401
from eligo.nlp.extensions import SPAN_GROUP
from eligo.nlp.resources import path
from eligo.nlp.text import make_nlp

PIPELINE = (
    "eligo_sentences",
    "medspacy_sectionizer",
    "eligo_concepts",
    "eligo_values",
    "eligo_targets",
    "medspacy_context",
    "eligo_assertion",
)


def build(*, lexicons: Sequence[str] = tuple(concepts.DEFAULT_LEXICONS)) -> Language:
    """A fresh pipeline (not cached); most callers want `load()`."""
    nlp = make_nlp()
    nlp.add_pipe("eligo_sentences")
    nlp.add_pipe(
        "medspacy_sectionizer",
        config={
            "rules": path("sections", "sections.json"),
            "require_start_line": True,
            "span_attrs": None,
            "input_span_type": "group",
            "span_group_name": SPAN_GROUP,
        },
    )
    nlp.add_pipe("eligo_concepts", config={"lexicons": list(lexicons)})
    nlp.add_pipe("eligo_values")
    nlp.add_pipe("eligo_targets")
    nlp.add_pipe(
        "medspacy_context",
        config={
            "rules": path("context", "context.json"),
            "input_span_type": "group",
            "span_group_name": SPAN_GROUP,
        },
    )
    nlp.add_pipe("eligo_assertion")
    return nlp


@lru_cache(maxsize=4)
def load(*, lexicons: tuple[str, ...] = tuple(concepts.DEFAULT_LEXICONS)) -> Language:
    """eligo's pipeline: sentences, sections, lexicon concepts, values, ConText assertions.

    Cached: every call with the same arguments returns the same Language.
    """
    return build(lexicons=lexicons)
