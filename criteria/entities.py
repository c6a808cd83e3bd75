"""Concept mentions in eligibility criteria, tuned to how criteria are written and annotated.

`criterion_entities(nlp, texts)` runs eligo's pipeline (lexicons, NER model, ConText) over
each criterion and adapts its concepts to criteria, with tables under
corpora/criteria/entities/ (see SOURCE.md there):

1. Terms (`curated.tsv`, written here, and `terms.tsv`, learned from Chia's training trials)
   are matched on the tokenized criterion and handed to the pipeline as ConText targets, so
   each gets a negation flag. A term that covers pipeline concepts replaces them: it carries
   the words criteria annotate with it ("ECOG performance status", "drug-eluting stent"),
   and the observation and device domains the pipeline does not have ("life expectancy",
   "pacemaker").
2. Relabels (`relabel.tsv`): pipeline concepts that criteria give another domain, or that
   are not concepts in a criterion ("study drug").
3. Edges (`edges.tsv`): words next to a concept that belong to it ("total" bilirubin,
   "congenital" heart disease), or at its edge that do not; then unbalanced brackets and
   edge punctuation are cut ("vaccine(s" -> "vaccine").

The tables are built from Chia's training trials by corpora/criteria/entities/build.py and
evaluated on held-out trials by benchmarks/eval_chia.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import get_args

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from eligo.criteria.types import CriterionEntity, Domain
from eligo.nlp.concepts import ConceptMatcher
from eligo.nlp.extract import to_entities
from eligo.nlp.resources import resource, tsv_rows
from eligo.nlp.targets import check_targets
from eligo.nlp.text import is_skipped, norm
from eligo.nlp.types import Code, Entity

#: Domains a criteria concept may take (demographics are H1a's, not concepts).
DOMAINS: frozenset[str] = frozenset(get_args(Domain)) - {"demographic"}

#: Pipeline labels -> criteria domains. An adverse event in a criterion ("history of
#: hypersensitivity to ...") is a condition the patient has or had.
LABEL_DOMAINS: dict[str, Domain] = {
    "condition": "condition",
    "adverse_event": "condition",
    "drug": "drug",
    "procedure": "procedure",
    "measurement": "measurement",
}

_DATA = ("criteria", "entities")
# Words left dangling at a span's edge once a modifier is trimmed ("history of" -> "of").
_DANGLING = frozenset({"of", "with", "to", "for", "and", "or", "the", "a", "an", "in", "on"})


class EntityTableError(ValueError):
    """A criteria entity table under corpora/criteria/entities/ is malformed."""


def key_tokens(span: Span | Doc) -> list[Token]:
    """The tokens a match key is made of: eligo's lexicon convention (eligo.nlp.text), which
    leaves out whitespace, hyphens and possessive 's ("life-expectancy" = "life expectancy")."""
    return [t for t in span if not is_skipped(t.text)]


def token_keys(span: Span | Doc) -> list[str]:
    """Match keys of `key_tokens(span)`: lower-cased, singular (eligo.nlp.text.norm)."""
    return [norm(t.lower_) for t in key_tokens(span)]


@dataclass(frozen=True)
class Tables:
    """The criteria entity tables, loaded once (see `tables()`)."""

    terms: dict[str, Domain]  # key -> domain
    lengths: dict[str, list[int]]  # first key -> term lengths, longest first
    relabel: dict[tuple[str, str], Domain | None]  # (key, domain) -> new domain, None: drop
    extend: frozenset[tuple[str, str, str]]  # (side, word key, domain)
    trim: frozenset[tuple[str, str, str]]


def _rows(name: str, width: int) -> list[list[str]]:
    rows = tsv_rows(resource(*_DATA, name).read_bytes())
    for n, row in enumerate(rows, 2):
        if len(row) < width:
            raise EntityTableError(
                f"corpora/criteria/entities/{name} line {n}: expected {width} tab-separated "
                f"columns, got {len(row)}: {row!r}"
            )
    return rows


def _domain(value: str, name: str) -> Domain:
    if value not in DOMAINS:
        raise EntityTableError(
            f"corpora/criteria/entities/{name}: unknown domain {value!r}; "
            f"valid: {', '.join(sorted(DOMAINS))}"
        )
    return value  # type: ignore[return-value]


@lru_cache(maxsize=4)
def _tables(nlp: Language) -> Tables:
    terms: dict[str, Domain] = {}
    for row in _rows("terms.tsv", 3):
        terms[row[0]] = _domain(row[2], "terms.tsv")
    # Curated terms win over learned ones: they state the criteria convention directly.
    for row in _rows("curated.tsv", 2):
        key = " ".join(token_keys(nlp.make_doc(row[0])))
        terms[key] = _domain(row[1], "curated.tsv")
    by_first: dict[str, set[int]] = {}
    for key in terms:
        by_first.setdefault(key.split(" ")[0], set()).add(key.count(" ") + 1)
    relabel: dict[tuple[str, str], Domain | None] = {}
    for row in _rows("relabel.tsv", 3):
        relabel[(row[0], row[1])] = None if row[2] == "drop" else _domain(row[2], "relabel.tsv")
    extend: set[tuple[str, str, str]] = set()
    trim: set[tuple[str, str, str]] = set()
    for row in _rows("edges.tsv", 4):
        action, side, word, domain = row[:4]
        if action not in ("extend", "trim") or side not in ("left", "right"):
            raise EntityTableError(
                f"corpora/criteria/entities/edges.tsv: bad row {row!r}; action is extend|trim, "
                "side is left|right"
            )
        (extend if action == "extend" else trim).add((side, word, _domain(domain, "edges.tsv")))
    return Tables(
        terms=terms,
        lengths={k: sorted(v, reverse=True) for k, v in by_first.items()},
        relabel=relabel,
        extend=frozenset(extend),
        trim=frozenset(trim),
    )


def tables(nlp: Language) -> Tables:
    """The tables, keyed with `nlp`'s tokenizer (cached per Language)."""
    return _tables(nlp)


def match_terms(doc: Doc, tabs: Tables) -> list[tuple[int, int, Domain]]:
    """Term matches as (start token, end token, domain): longest first, no overlaps."""
    toks = key_tokens(doc)
    keys = [norm(t.lower_) for t in toks]
    found: list[tuple[int, int, Domain]] = []
    i = 0
    while i < len(toks):
        for n in tabs.lengths.get(keys[i], ()):
            domain = tabs.terms.get(" ".join(keys[i : i + n])) if i + n <= len(toks) else None
            if domain is not None:
                found.append((toks[i].i, toks[i + n - 1].i + 1, domain))
                i += n
                break
        else:
            i += 1
    return found


@dataclass
class _Mention:
    start: int  # token offsets in the Doc
    end: int
    domain: Domain
    codes: list[Code]
    negated: bool
    source: str


def _lexicon_codes(nlp: Language, doc: Doc, start: int, end: int) -> list[Code]:
    """Codes of a lexicon term with exactly this extent, if the lexicons know one."""
    if "eligo_concepts" not in nlp.pipe_names:
        return []
    matcher = nlp.get_pipe("eligo_concepts")
    if not isinstance(matcher, ConceptMatcher):
        return []
    for s, e, concept in matcher.matches(doc[start:end].as_doc()):
        if s == 0 and e == end - start:
            return [Code(system=a, code=b, display=c) for a, b, c in concept.codes]
    return []


def _is_word(doc: Doc, i: int) -> bool:
    return 0 <= i < len(doc) and not is_skipped(doc[i].text) and not doc[i].is_punct


def _adjust_edges(doc: Doc, m: _Mention, taken: list[tuple[int, int]], tabs: Tables) -> None:
    """Extend a mention over modifiers criteria include; trim edge words they leave out."""

    def free(i: int) -> bool:
        return not any(s <= i < e for s, e in taken)

    def rule(rules: frozenset[tuple[str, str, str]], side: str, i: int) -> bool:
        return 0 <= i < len(doc) and (side, norm(doc[i].lower_), m.domain) in rules

    # Trim first (Chia leaves "active" to a qualifier), then extend ("total bilirubin").
    trimmed = False
    while m.end - m.start > 1 and rule(tabs.trim, "left", m.start):
        m.start += 1
        trimmed = True
    while m.end - m.start > 1 and rule(tabs.trim, "right", m.end - 1):
        m.end -= 1
        trimmed = True
    if trimmed:
        while m.end - m.start > 1 and (
            doc[m.start].lower_ in _DANGLING or not _is_word(doc, m.start)
        ):
            m.start += 1
        while m.end - m.start > 1 and (
            doc[m.end - 1].lower_ in _DANGLING or not _is_word(doc, m.end - 1)
        ):
            m.end -= 1
    for _ in range(3):
        i = m.start - 1
        if not (free(i) and rule(tabs.extend, "left", i)):
            break
        if _is_word(doc, i):
            m.start = i
        elif _joins(doc, i) and _is_word(doc, i - 1) and free(i - 1):
            m.start = i - 1  # a hyphenated compound: "non-small cell ..."
        else:
            break
    for _ in range(3):
        i = m.end
        if not (free(i) and rule(tabs.extend, "right", i)):
            break
        if _is_word(doc, i):
            m.end = i + 1
        elif _joins(doc, i) and _is_word(doc, i + 1) and free(i + 1):
            m.end = i + 2  # "HER2-positive"
        else:
            break


def _joins(doc: Doc, i: int) -> bool:
    """A hyphen or slash written inside a word ("non-small", "sedative/hypnotic")."""
    return (
        0 < i < len(doc) - 1
        and doc[i].text in ("-", "/")
        and not doc[i - 1].whitespace_
        and not doc[i].whitespace_
    )


_OPEN_CLOSE = (("(", ")"), ("[", "]"))
_EDGE_PUNCT = " -/,;:.'\""


def _clean(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop an unbalanced bracket and the punctuation a span should not start or end with
    ("vaccine(s" -> "vaccine", "TDF)" -> "TDF"); (start, start) when nothing is left."""
    for _ in range(4):
        span = text[start:end]
        before = (start, end)
        for open_, close in _OPEN_CLOSE:
            if span.count(open_) > span.count(close):
                end = start + span.rindex(open_)
            elif span.count(close) > span.count(open_):
                if span.endswith(close):
                    end -= 1
                else:
                    start += span.index(close) + 1
            span = text[start:end]
        while start < end and text[start] in _EDGE_PUNCT:
            start += 1
        while end > start and text[end - 1] in _EDGE_PUNCT:
            end -= 1
        if (start, end) == before:
            break
    return start, end


def _mentions(nlp: Language, doc: Doc, terms: list[tuple[int, int, Domain]]) -> list[_Mention]:
    tabs = tables(nlp)
    concepts: list[Entity] = []
    targets: list[Entity] = []
    for ent in to_entities(doc):
        (targets if ent.label == "target" else concepts).append(ent)
    # to_entities sorts targets by offset; terms are in offset order too, and never overlap.
    negated_at = {(t.start, t.end): t.negated for t in targets}
    mentions: list[_Mention] = []
    for ent in concepts:
        domain = LABEL_DOMAINS.get(ent.label)
        span = doc.char_span(ent.start, ent.end, alignment_mode="expand")
        if domain is None or span is None:
            continue
        key = " ".join(token_keys(span))
        if not key:
            continue  # only hyphens or apostrophes: no concept
        if (key, domain) in tabs.relabel:
            new = tabs.relabel[(key, domain)]
            if new is None:
                continue  # not a concept in a criterion ("study drug", "oral")
            domain = new
        mentions.append(
            _Mention(span.start, span.end, domain, list(ent.codes), ent.negated, ent.source)
        )
    for start, end, domain in terms:
        inside = [m for m in mentions if m.start < end and start < m.end]
        if any(m.start < start or m.end > end for m in inside):
            continue  # a pipeline concept crosses the term's edge: keep the concept
        if len(inside) == 1 and (inside[0].start, inside[0].end) == (start, end):
            inside[0].domain = domain  # same extent: the term states the criteria domain
            continue
        # The term covers its concepts (or none): it replaces them, keeping their codes.
        codes = [c for m in inside if m.domain == domain for c in m.codes]
        if not inside:
            codes = _lexicon_codes(nlp, doc, start, end)
        span = doc[start:end]
        negated = negated_at.get((span.start_char, span.end_char))
        if negated is None:
            negated = any(m.negated for m in inside)
        for m in inside:
            mentions.remove(m)
        mentions.append(_Mention(start, end, domain, codes, negated, "pattern"))
    mentions.sort(key=lambda m: (m.start, m.end))
    for m in mentions:
        taken = [(o.start, o.end) for o in mentions if o is not m]
        _adjust_edges(doc, m, taken, tabs)
    return mentions


def _pipeline_entities(doc: Doc) -> list[CriterionEntity]:
    out = []
    for ent in to_entities(doc):
        domain = LABEL_DOMAINS.get(ent.label)
        if domain is None:
            continue  # caller targets are not concepts
        out.append(
            CriterionEntity(
                start=ent.start,
                end=ent.end,
                text=ent.text,
                domain=domain,
                codes=list(ent.codes),
                negated=ent.negated,
                source="lexicon" if ent.source == "target" else ent.source,
            )
        )
    return out


def pipeline_entities(nlp: Language, texts: Sequence[str]) -> list[list[CriterionEntity]]:
    """The pipeline's concepts as criteria entities, without criteria-specific changes
    (the baseline `criterion_entities` is measured against)."""
    return [_pipeline_entities(doc) for doc in nlp.pipe(texts)]


def criterion_entities(nlp: Language, texts: Sequence[str]) -> list[list[CriterionEntity]]:
    """For each criterion text, its concept mentions (offsets relative to that text).

    `nlp` is eligo's pipeline (`eligo.nlp.load()`, or `load(model=None)` for lexicons only).
    Values, time windows, timing and qualifiers are left empty (the parser attaches them).
    """
    tabs = tables(nlp)
    docs = []
    found = []
    for text in texts:
        doc = nlp.make_doc(text)
        terms = match_terms(doc, tabs)
        found.append(terms)
        if terms:  # ConText assesses each term as a caller target (its negation)
            doc._.targets = check_targets(
                text, [[doc[s:e].start_char, doc[s:e].end_char] for s, e, _ in terms]
            )
        docs.append(doc)
    results: list[list[CriterionEntity]] = []
    for doc, terms in zip(nlp.pipe(docs), found, strict=True):
        entities = []
        for m in _mentions(nlp, doc, terms):
            span = doc[m.start : m.end]
            start, end = _clean(doc.text, span.start_char, span.end_char)
            if start == end:
                continue
            entities.append(
                CriterionEntity(
                    start=start,
                    end=end,
                    text=doc.text[start:end],
                    domain=m.domain,
                    codes=m.codes,
                    negated=m.negated,
                    source=m.source,  # type: ignore[arg-type]
                )
            )
        results.append(entities)
    return results
