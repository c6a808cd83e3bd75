"""`eligo_concepts`: lexicon concept matching over normalised tokens.

Each lexicon row maps a term's match key (nlp/text.py) to a label and a code. A key is
looked up for every token window that starts with a known first token, so matching is a
few dict probes per token regardless of lexicon size. Overlaps are resolved
deterministically: the longest match wins, then the earlier one, then the lexicon listed
first (curated before CTCAE before drugs before ICD-10-CM before HPO).
"""

import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span

from eligo.nlp import extensions
from eligo.nlp.resources import read_tsv, tsv_rows
from eligo.nlp.sections import section_titles
from eligo.nlp.text import exact_key, is_skipped, norm, term_key
from eligo.nlp.types import Code

DEFAULT_LEXICONS = ["curated", "ctcae", "drugs", "icd10cm", "hpo"]
LABELS = ("condition", "drug", "procedure", "measurement")


class LexiconError(ValueError):
    """A lexicon file is malformed."""


_CodeKey = tuple[str, str, str]  # (system, code, display)


@dataclass(slots=True)
class _Concept:
    label: str
    rank: int  # index of the lexicon that set the label; lower is more specific
    codes: list[_CodeKey]


@dataclass
class _Table:
    """Keys of one case mode: key -> concept, and first token -> candidate lengths."""

    concepts: dict[str, _Concept] = field(default_factory=dict)
    lengths: dict[str, list[int]] = field(default_factory=dict)

    def index(self) -> None:
        """Candidate term lengths per first token, longest first (after all adds)."""
        lengths: dict[str, set[int]] = {}
        for key in self.concepts:
            first, _, _ = key.partition(" ")
            lengths.setdefault(first, set()).add(key.count(" ") + 1)
        self.lengths = {first: sorted(ns, reverse=True) for first, ns in lengths.items()}


class ConceptMatcher:
    """Match lexicon terms in a Doc and write them to doc.ents and the eligo span group."""

    def __init__(
        self,
        nlp: Language,
        name: str = "eligo_concepts",
        *,
        lexicons: Sequence[str] = tuple(DEFAULT_LEXICONS),
        overwrite_ents: bool = True,
    ) -> None:
        extensions.register()
        self.name = name
        self.lexicons = list(lexicons)
        self.overwrite_ents = overwrite_ents
        self._insensitive = _Table()
        self._sensitive = _Table()
        # Loading makes ~10^5 small objects; cyclic GC passes over them would double the time.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for rank, lexicon in enumerate(self.lexicons):
                self._load(nlp, lexicon, rank)
            self._insensitive.index()
            self._sensitive.index()
        finally:
            if gc_was_enabled:
                gc.enable()
        self._codes: dict[_CodeKey, Code] = {}

    def _load(self, nlp: Language, lexicon: str, rank: int) -> None:
        if lexicon.endswith((".tsv", ".tsv.gz")):
            where, rows = lexicon, _read_user_tsv(Path(lexicon))
        else:
            where = f"corpora/lexicons/{lexicon}.tsv.gz"
            rows = read_tsv("lexicons", f"{lexicon}.tsv.gz")
        rows = list(rows)
        # Validate whole columns at once (C-speed set operations), then load in a tight loop.
        for lineno, row in enumerate(rows, 2):
            if len(row) != 7:
                raise LexiconError(
                    f"{where} line {lineno}: expected 7 tab-separated fields "
                    f"(key term label system code display case), got {len(row)}"
                )
        for column, valid, name in ((2, LABELS, "label"), (6, ("i", "s"), "case")):
            bad = {row[column] for row in rows} - set(valid)
            if bad:
                lineno = next(i for i, row in enumerate(rows, 2) if row[column] in bad)
                value = rows[lineno - 2][column]
                raise LexiconError(
                    f"{where} line {lineno}: {name} {value!r} is not one of {', '.join(valid)}"
                )
        tables = {"i": self._insensitive.concepts, "s": self._sensitive.concepts}
        for lineno, (key, term, label, system, code, display, case) in enumerate(rows, 2):
            if not key:
                # User lexicons may leave the key empty: derive it here (small files only).
                key = exact_key(nlp, term) if case == "s" else term_key(nlp, term)
                if not key:
                    raise LexiconError(f"{where} line {lineno}: term {term!r} has no tokens")
            concepts = tables[case]
            concept = concepts.get(key)
            if concept is None:
                concepts[key] = _Concept(label, rank, [(system, code, display)])
            elif concept.label == label and (system, code, display) not in concept.codes:
                concept.codes.append((system, code, display))
            # A key already labelled by a more specific lexicon keeps its label and codes.

    def _code(self, ident: _CodeKey) -> Code:
        """One shared Code object per (system, code, display), made on first use."""
        code = self._codes.get(ident)
        if code is None:
            system, code_, display = ident
            code = self._codes[ident] = Code(system=system, code=code_, display=display)
        return code

    def __len__(self) -> int:
        return len(self._insensitive.concepts) + len(self._sensitive.concepts)

    def matches(self, doc: Doc) -> list[tuple[int, int, _Concept]]:
        """All candidate matches as (start token, end token, concept), overlaps included."""
        positions: list[int] = []
        texts: list[str] = []
        starts: list[bool] = []
        for token in doc:  # one pass: every doc[i] access builds a Token object
            text = token.text
            if not is_skipped(text):
                positions.append(token.i)
                texts.append(text)
                starts.append(bool(token.is_sent_start))
        norms = [norm(t.lower()) for t in texts]
        sent_starts = starts if doc.has_annotation("SENT_START") else None
        found: list[tuple[int, int, _Concept]] = []
        n = len(positions)
        for table, keys in ((self._insensitive, norms), (self._sensitive, texts)):
            lengths_of = table.lengths
            concepts = table.concepts
            for p in range(n):
                lengths = lengths_of.get(keys[p])
                if lengths is None:
                    continue
                for length in lengths:
                    if p + length > n:
                        continue
                    concept = concepts.get(" ".join(keys[p : p + length]))
                    if concept is None:
                        continue
                    # a term never spans two sentences
                    if sent_starts is not None and any(sent_starts[p + 1 : p + length]):
                        continue
                    found.append((positions[p], positions[p + length - 1] + 1, concept))
                    break
        return found

    def __call__(self, doc: Doc) -> Doc:
        chosen = _resolve(self.matches(doc))
        titles = section_titles(doc)
        spans = []
        for start, end, concept in chosen:
            # A section header is a heading, not a mention ("PHYSICAL EXAM", "ALLERGIES:").
            if titles and any(start < t_end and t_start < end for t_start, t_end in titles):
                continue
            span = Span(doc, start, end, label=concept.label)
            span._.codes = [self._code(c) for c in concept.codes]  # source: "lexicon" default
            spans.append(span)
        if self.overwrite_ents:
            doc.ents = spans
        else:
            doc.ents = _resolve_spans([*doc.ents, *spans])
        doc.spans[extensions.SPAN_GROUP] = list(doc.ents)
        return doc


def _read_user_tsv(path: Path) -> Iterable[list[str]]:
    """Rows of a lexicon file given by path (same 7 columns; the key may be left empty)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise LexiconError(f"cannot read lexicon {path}: {err.strerror}") from err
    try:
        return tsv_rows(raw, gz=path.name.endswith(".gz"))
    except UnicodeDecodeError as err:
        raise LexiconError(f"lexicon {path} is not UTF-8 text") from err


def _resolve(
    found: Iterable[tuple[int, int, _Concept]],
) -> list[tuple[int, int, _Concept]]:
    """Non-overlapping matches: longest first, then earliest, then most specific lexicon."""
    ordered = sorted(found, key=lambda m: (-(m[1] - m[0]), m[0], m[2].rank))
    taken: set[int] = set()
    chosen = []
    for start, end, concept in ordered:
        if any(i in taken for i in range(start, end)):
            continue
        taken.update(range(start, end))
        chosen.append((start, end, concept))
    chosen.sort(key=lambda m: m[0])
    return chosen


def _resolve_spans(spans: Iterable[Span]) -> list[Span]:
    ordered = sorted(spans, key=lambda s: (-(s.end - s.start), s.start))
    taken: set[int] = set()
    chosen = []
    for span in ordered:
        if any(i in taken for i in range(span.start, span.end)):
            continue
        taken.update(range(span.start, span.end))
        chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


@Language.factory(
    "eligo_concepts",
    default_config={"lexicons": DEFAULT_LEXICONS, "overwrite_ents": True},
    assigns=["doc.ents", "doc.spans", "span._.codes", "span._.source"],
    requires=["token.is_sent_start"],
)
def make_concepts(
    nlp: Language, name: str, lexicons: list[str], overwrite_ents: bool
) -> ConceptMatcher:
    return ConceptMatcher(nlp, name, lexicons=lexicons, overwrite_ents=overwrite_ents)
