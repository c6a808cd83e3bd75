"""`eligo_targets`: assess spans the caller already found (their own NER) in context.

The caller sets `doc._.targets = [(start_char, end_char), ...]` on a Doc made with
`nlp.make_doc` before running the pipeline; each target becomes a span labelled `target` in
the eligo span group, so ConText and the section rules assess it like any concept.
"""

from spacy.language import Language
from spacy.tokens import Doc, Span

from eligo.nlp import extensions


class TargetError(ValueError):
    """A target span is not a valid (start, end) pair of character offsets into the text."""


def check_targets(text: str, targets: object) -> list[tuple[int, int]]:
    """Validate targets given as JSON ([[start, end], ...]) and return them as tuples."""
    if not isinstance(targets, list):
        raise TargetError(
            f"targets must be a list of [start, end] pairs, got {type(targets).__name__}"
        )
    checked = []
    for i, pair in enumerate(targets):
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        ):
            raise TargetError(f"targets[{i}] must be a pair of integers [start, end], got {pair!r}")
        start, end = pair
        if not 0 <= start < end <= len(text):
            raise TargetError(
                f"targets[{i}] = [{start}, {end}] is not a non-empty span inside the text "
                f"(valid offsets: 0..{len(text)})"
            )
        if not text[start:end].strip():
            raise TargetError(f"targets[{i}] = [{start}, {end}] covers only whitespace")
        checked.append((start, end))
    return checked


class Targets:
    def __init__(self, nlp: Language, name: str = "eligo_targets") -> None:
        extensions.register()
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        targets = doc._.targets
        if not targets:
            return doc
        group = list(doc.spans.get(extensions.SPAN_GROUP, []))
        for index, (start, end) in enumerate(targets):
            span = doc.char_span(start, end, alignment_mode="expand")
            if span is None:  # pragma: no cover - expand always aligns inside the text
                continue
            # spaCy 3.7 keys Span._ values by character offsets only, so a target at a
            # concept's offsets would share (and overwrite) its codes and source: the target's
            # index travels in the span id instead, and nothing is written on span._.
            group.append(Span(doc, span.start, span.end, label="target", span_id=index))
        doc.spans[extensions.SPAN_GROUP] = group
        return doc


@Language.factory(
    "eligo_targets",
    assigns=["doc.spans"],
    requires=["doc._.targets"],
)
def make_targets(nlp: Language, name: str) -> Targets:
    return Targets(nlp, name)
