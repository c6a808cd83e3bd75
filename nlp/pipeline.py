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
from eligo.nlp.resources import ResourceNotFoundError, resource
from eligo.nlp.text import make_nlp

PIPELINE = (
    "eligo_sentences",
    "eligo_sectionizer",
    "eligo_concepts",
    "eligo_ner",
    "eligo_values",
    "eligo_targets",
    "eligo_context",
    "eligo_assertion",
)
#: `model="default"` means the model shipped in corpora/models/ner, when there is one.
DEFAULT_MODEL = "default"


def shipped_model() -> bool:
    """Whether eligo ships a trained NER model (corpora/models/ner/model.int8.onnx)."""
    try:
        resource("models", "ner", "model.int8.onnx")
    except ResourceNotFoundError:
        return False
    return True


def build(
    *,
    lexicons: Sequence[str] = tuple(concepts.DEFAULT_LEXICONS),
    model: str | None = DEFAULT_MODEL,
    threads: int = 0,
) -> Language:
    """A fresh pipeline (not cached); most callers want `load()`.

    `model`: "default" runs the shipped NER model when eligo has one (lexicon-only
    otherwise), a folder path runs that model, None gives the lexicon-only pipeline.
    `threads`: ONNX Runtime intra-op threads for the model (0: its default).
    """
    if model == DEFAULT_MODEL and not shipped_model():
        model = None
    nlp = make_nlp()
    # medspaCy runs `nlp(phrase)` on every phrase rule it adds: creating the ConText and
    # section components while the pipeline is still empty keeps that to tokenization.
    nlp.add_pipe("eligo_context")
    nlp.add_pipe("eligo_sectionizer", first=True)
    nlp.add_pipe("eligo_sentences", first=True)
    nlp.add_pipe("eligo_concepts", after="eligo_sectionizer", config={"lexicons": list(lexicons)})
    after = "eligo_concepts"
    if model is not None:
        from eligo.nlp import ner  # noqa: F401  (onnxruntime is imported only when used)

        nlp.add_pipe("eligo_ner", after=after, config={"model": model, "threads": threads})
        after = "eligo_ner"
    nlp.add_pipe("eligo_values", after=after)
    nlp.add_pipe("eligo_targets", after="eligo_values")
    nlp.add_pipe("eligo_assertion", last=True)
    expected = [name for name in PIPELINE if model is not None or name != "eligo_ner"]
    assert nlp.pipe_names == expected, nlp.pipe_names
    return nlp


@lru_cache(maxsize=4)
def load(
    *,
    lexicons: tuple[str, ...] = tuple(concepts.DEFAULT_LEXICONS),
    model: str | None = DEFAULT_MODEL,
    threads: int = 0,
) -> Language:
    """eligo's pipeline: sentences, sections, lexicon concepts, the NER model (when shipped
    or given), values, ConText assertions. `model=None`: lexicon-only, fastest.

    Cached: every call with the same arguments returns the same Language.
    """
    return build(lexicons=lexicons, model=model, threads=threads)
