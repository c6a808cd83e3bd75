"""Docs -> `Entity` records: the one JSON shape of eligo's extraction output."""

from __future__ import annotations

from collections.abc import Sequence

from spacy.language import Language
from spacy.tokens import Doc, Span

from eligo.nlp.extensions import SPAN_GROUP
from eligo.nlp.targets import check_targets
from eligo.nlp.types import Entity

_FLAGS = (
    ("negated", "is_negated"),
    ("historical", "is_historical"),
    ("hypothetical", "is_hypothetical"),
    ("family", "is_family"),
    ("uncertain", "is_uncertain"),
)


def _assertions(span: Span) -> dict[str, object]:
    """ConText's flags (medspaCy's `is_negated` ...) under eligo's names (`negated` ...)."""
    return {
        name: bool(span._.get(attr)) if span.has_extension(attr) else False for name, attr in _FLAGS
    }


def _section(span: Span) -> str | None:
    if not span.has_extension("section"):
        return None
    section = span._.section
    return getattr(section, "category", None) if section is not None else None


def to_entities(doc: Doc) -> list[Entity]:
    """The concepts (and caller targets) in a processed Doc, in text order."""
    entities = []
    targets: Sequence[tuple[int, int]] = doc._.targets or ()
    labels_at: dict[tuple[int, int], list[str]] = {}
    for ent in doc.ents:
        labels_at.setdefault((ent.start_char, ent.end_char), []).append(ent.label_)
    for span in doc.spans.get(SPAN_GROUP, []):
        if span.label_ == "target":
            start, end = targets[span.id]  # the target's index (see eligo_targets)
            entity = Entity(
                start=start,
                end=end,
                text=doc.text[start:end],
                label="target",
                also=labels_at.get((start, end), []),  # type: ignore[arg-type]
                source="target",
                section=_section(span),
                **_assertions(span),  # type: ignore[arg-type]
            )
        else:
            start, end = span._.mention or (span.start_char, span.end_char)
            entity = Entity(
                start=start,
                end=end,
                text=doc.text[start:end],
                label=span.label_,
                codes=list(span._.codes or []),
                value=span._.value,
                source=span._.source,
                section=_section(span),
                **_assertions(span),  # type: ignore[arg-type]
            )
        entities.append(entity)
    entities.sort(key=lambda e: (e.start, e.end, e.label == "target"))
    return entities


def make_doc(nlp: Language, text: str, targets: object = None) -> Doc:
    """A Doc ready for `nlp(doc)`, carrying validated targets when given."""
    doc = nlp.make_doc(text)
    if targets is not None:
        doc._.targets = check_targets(text, targets)
    return doc


def extract(text: str, *, targets: object = None, nlp: Language | None = None) -> list[Entity]:
    """Concepts in one text, with assertions; `targets` are extra [start, end] spans to assess."""
    if nlp is None:
        from eligo.nlp.pipeline import load

        nlp = load()
    return to_entities(nlp(make_doc(nlp, text, targets)))


def pipe_isolating(nlp: Language, docs: Sequence[Doc]) -> list[Doc | Exception]:
    """Run the pipeline over prepared Docs (see `make_doc`), in order, batched; if the
    batch fails, run them one by one so only the failing Doc becomes its exception."""
    try:
        return list(nlp.pipe(docs))
    except Exception:  # one bad document must not sink the batch
        results: list[Doc | Exception] = []
        for doc in docs:
            try:
                results.append(nlp(doc))
            except Exception as err:  # returned to the caller as that document's result
                results.append(err)
        return results
