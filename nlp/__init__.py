"""eligo.nlp: clinical notes -> coded concepts with assertion status.

>>> import eligo.nlp
>>> nlp = eligo.nlp.load()
>>> eligo.nlp.to_entities(nlp("Denies chest pain. Hx of HTN."))
"""

from __future__ import annotations

from spacy.language import Language

from eligo.nlp.extract import extract, make_doc, to_entities
from eligo.nlp.types import Code, Entity, Measurement


def load(*, lexicons: tuple[str, ...] | None = None) -> Language:
    """eligo's pipeline, built once per process (see `eligo.nlp.pipeline.load`)."""
    # Imported here so that `import eligo.nlp` stays cheap (no medspaCy import).
    from eligo.nlp import pipeline

    if lexicons is None:
        return pipeline.load()
    return pipeline.load(lexicons=lexicons)


__all__ = ["Code", "Entity", "Measurement", "extract", "load", "make_doc", "to_entities"]
