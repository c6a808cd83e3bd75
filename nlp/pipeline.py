"""`load()`: eligo's clinical pipeline as one spaCy Language, built once per process."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from spacy.language import Language

# Importing the component modules registers their spaCy factories.
from eligo.nlp import (  # noqa: F401
    assertion,
    concepts,
    context,
    sections,
    sentences,
    targets,
    values,
)
from eligo.nlp.text import make_nlp

PIPELINE = (
    "eligo_sentences",
    "eligo_sectionizer",
    "eligo_concepts",
    "eligo_values",
    "eligo_targets",
    "eligo_context",
    "eligo_assertion",
)


def build(*, lexicons: Sequence[str] = tuple(concepts.DEFAULT_LEXICONS)) -> Language:
    """A fresh pipeline (not cached); most callers want `load()`."""
    nlp = make_nlp()
    # medspaCy runs `nlp(phrase)` on every phrase rule it adds: creating the ConText and
    # section components while the pipeline is still empty keeps that to tokenization.
    nlp.add_pipe("eligo_context")
    nlp.add_pipe("eligo_sectionizer", first=True)
    nlp.add_pipe("eligo_sentences", first=True)
    nlp.add_pipe("eligo_concepts", after="eligo_sectionizer", config={"lexicons": list(lexicons)})
    nlp.add_pipe("eligo_values", after="eligo_concepts")
    nlp.add_pipe("eligo_targets", after="eligo_values")
    nlp.add_pipe("eligo_assertion", last=True)
    assert tuple(nlp.pipe_names) == PIPELINE, nlp.pipe_names
    return nlp


@lru_cache(maxsize=4)
def load(*, lexicons: tuple[str, ...] = tuple(concepts.DEFAULT_LEXICONS)) -> Language:
    """eligo's pipeline: sentences, sections, lexicon concepts, values, ConText assertions.

    Cached: every call with the same arguments returns the same Language.
    """
    return build(lexicons=lexicons)
