"""eligo.nlp: clinical notes -> coded concepts with assertion status.

>>> import eligo.nlp
>>> nlp = eligo.nlp.load()
>>> eligo.nlp.to_entities(nlp("Denies chest pain. Hx of HTN."))
"""

from __future__ import annotations

import sys


def _thinc_without_torch() -> None:
    """Keep spaCy from importing torch at start-up.

    thinc (spaCy's ML layer) imports torch whenever it is installed (the `train` extra),
    which adds a second or more to every cold start although eligo's runtime never runs
    torch. torch is hidden while thinc records what is available, then un-hidden, so code
    that imports torch itself (training, export) is unaffected.
    """
    if "thinc" in sys.modules or "torch" in sys.modules:
        return  # too late, or torch is already in use: change nothing
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import thinc.compat  # noqa: F401
    finally:
        del sys.modules["torch"]


_thinc_without_torch()

from spacy.language import Language  # noqa: E402

from eligo.nlp.extract import extract, make_doc, to_entities  # noqa: E402
from eligo.nlp.types import Code, Entity, Measurement  # noqa: E402


def load(
    *, lexicons: tuple[str, ...] | None = None, model: str | None = "default", threads: int = 0
) -> Language:
    """eligo's pipeline, built once per process (see `eligo.nlp.pipeline.load`).

    `model=None` gives the lexicon-only pipeline (fastest; no `adverse_event` labels);
    "default" adds the shipped NER model when eligo has one; a folder path, that model.
    `threads`: ONNX Runtime threads for the model (0: ONNX Runtime's default).
    """
    # Imported here so that `import eligo.nlp` stays cheap (no medspaCy import).
    from eligo.nlp import pipeline

    if lexicons is None:
        return pipeline.load(model=model, threads=threads)
    return pipeline.load(lexicons=lexicons, model=model, threads=threads)


__all__ = ["Code", "Entity", "Measurement", "extract", "load", "make_doc", "to_entities"]
