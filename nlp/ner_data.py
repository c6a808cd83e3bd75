"""Corpus readers for NER training: sentences -> words with sets of allowed BIO tags.

Each corpus annotates only some of eligo's labels, so a word does not get one gold tag
but the *set* of tags consistent with what its corpus says (partial labels). A word inside
an annotated span gets that span's tag(s); a word outside every span gets "O" plus the
tags of every label the corpus does *not* annotate exhaustively. The training loss is the
negative log of the total probability of the allowed set (see `eligo.nlp.ner_train`).

Pure Python, no torch: the readers are cheap to test and to reuse for evaluation.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LABELS: tuple[str, ...] = ("condition", "drug", "adverse_event", "procedure", "measurement")
TAGS: tuple[str, ...] = ("O", *(f"{p}-{label}" for label in LABELS for p in ("B", "I")))
TAG_INDEX: dict[str, int] = {tag: i for i, tag in enumerate(TAGS)}
ALL_TAGS_MASK = (1 << len(TAGS)) - 1
CORPORA: tuple[str, ...] = ("ade", "ade_neg", "bc5cdr", "ncbi", "chia", "lct")

_WORD = re.compile(r"\w+|[^\w\s]")


class CorpusFormatError(ValueError):
    """A corpus file does not have the expected format."""


def tag_mask(tags: Iterable[str]) -> int:
    """Bit mask over `TAGS` for a set of tag names."""
    mask = 0
    for tag in tags:
        mask |= 1 << TAG_INDEX[tag]
    return mask


def outside_mask(open_labels: Iterable[str]) -> int:
    """Tags allowed for a word outside every annotated span: O or any unannotated label."""
    return tag_mask(["O", *(f"{p}-{label}" for label in open_labels for p in ("B", "I"))])


def mask_tags(mask: int) -> list[str]:
    """Tag names in a bit mask, in `TAGS` order."""
    return [tag for i, tag in enumerate(TAGS) if mask >> i & 1]


@dataclass(frozen=True)
class Span:
    """A gold span over words [start, end) whose label is any of `labels`."""

    start: int
    end: int
    labels: frozenset[str]


@dataclass
class Example:
    """One sentence: words (with character offsets into `text`) and allowed tags per word."""

    corpus: str
    doc_id: str
    text: str
    words: list[tuple[int, int]]
    allowed: list[int]
    spans: list[Span] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        return [self.text[s:e] for s, e in self.words]


# Which labels each corpus annotates (scored at evaluation), as groups of labels that a gold
# span may take; the labels outside every group are "open" (unannotated, any tag allowed).
# BC5CDR is a chemical-induced-disease corpus: its diseases are conditions or adverse events.
# Chia and LCT annotate every Condition in criteria, including treatment-caused ones
# ("chemotherapy-induced neuropathy"), so their conditions may also be adverse events.
SCORED_GROUPS: dict[str, dict[str, frozenset[str]]] = {
    "ade": {"adverse_event": frozenset({"adverse_event"}), "drug": frozenset({"drug"})},
    "ade_neg": {"adverse_event": frozenset({"adverse_event"})},
    "bc5cdr": {
        "condition|adverse_event": frozenset({"condition", "adverse_event"}),
        "drug": frozenset({"drug"}),
    },
    "ncbi": {"condition": frozenset({"condition"})},
    "chia": {
        "condition|adverse_event": frozenset({"condition", "adverse_event"}),
        "drug": frozenset({"drug"}),
        "procedure": frozenset({"procedure"}),
        "measurement": frozenset({"measurement"}),
    },
    "lct": {
        "condition|adverse_event": frozenset({"condition", "adverse_event"}),
        "drug": frozenset({"drug"}),
        "procedure": frozenset({"procedure"}),
    },
}

# Tags of a word outside every gold span, per corpus.
# - ADE positives annotate every adverse effect (and the drugs in those relations), so an
#   unannotated word is not an adverse event but may be a condition, procedure, measurement
#   or a drug outside any relation. ADE-NEG sentences have no adverse effect: same rule.
# - BC5CDR annotates every disease and chemical; procedures and measurements are open.
# - NCBI annotates every disease (condition only); drugs, procedures, measurements are open.
#   A disease that NCBI does not tag is not a condition, and we do not let it be an AE either.
# - Chia annotates Condition, Drug, Procedure, Measurement exhaustively, and an adverse
#   event in a criterion is annotated as a Condition, so outside words are "O" only.
# - LCT has Condition, Drug, Procedure but no Measurement type: measurement stays open.
OUTSIDE: dict[str, int] = {
    "ade": outside_mask(["condition", "drug", "procedure", "measurement"]),
    "ade_neg": outside_mask(["condition", "drug", "procedure", "measurement"]),
    "bc5cdr": outside_mask(["procedure", "measurement"]),
    "ncbi": outside_mask(["drug", "procedure", "measurement"]),
    "chia": outside_mask([]),
    "lct": outside_mask(["measurement"]),
}


def split_words(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Word character offsets in text[start:end]: runs of word characters, or one symbol."""
    return [
        (m.start(), m.end()) for m in _WORD.finditer(text, start, len(text) if end is None else end)
    ]


def build_example(
    corpus: str,
    doc_id: str,
    text: str,
    words: list[tuple[int, int]],
    char_spans: Sequence[tuple[int, int, frozenset[str]]],
) -> Example:
    """Allowed tags per word from character spans; overlapping spans keep the longest."""
    allowed = [OUTSIDE[corpus]] * len(words)
    taken = [False] * len(words)
    spans: list[Span] = []
    for cs, ce, labels in sorted(char_spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        idx = [i for i, (ws, we) in enumerate(words) if ws < ce and we > cs]
        if not idx or any(taken[i] for i in idx):
            continue
        first, last = idx[0], idx[-1] + 1
        for i in range(first, last):
            taken[i] = True
            prefix = "B" if i == first else "I"
            allowed[i] = tag_mask(f"{prefix}-{label}" for label in labels)
        spans.append(Span(first, last, labels))
    spans.sort(key=lambda s: s.start)
    return Example(corpus, doc_id, text, words, allowed, spans)


def chunk(example: Example, max_words: int) -> list[Example]:
    """Split a long example at word boundaries outside spans, so it fits the encoder."""
    if len(example.words) <= max_words:
        return [example]
    inside = [False] * len(example.words)
    for span in example.spans:
        for i in range(span.start + 1, span.end):
            inside[i] = True  # never cut before a span's inner word
    pieces: list[Example] = []
    start = 0
    while start < len(example.words):
        end = min(start + max_words, len(example.words))
        while end < len(example.words) and end > start + 1 and inside[end]:
            end -= 1
        spans = [
            Span(s.start - start, s.end - start, s.labels)
            for s in example.spans
            if s.start >= start and s.end <= end
        ]
        pieces.append(
            Example(
                example.corpus,
                example.doc_id,
                example.text,
                example.words[start:end],
                example.allowed[start:end],
                spans,
            )
        )
        start = end
    return pieces


def _find_all(text: str, needle: str) -> list[tuple[int, int]]:
    """Every occurrence of `needle` in `text` (case-insensitive fallback)."""
    found = [(m.start(), m.start() + len(needle)) for m in re.finditer(re.escape(needle), text)]
    if not found:
        low = text.lower()
        found = [
            (m.start(), m.start() + len(needle))
            for m in re.finditer(re.escape(needle.lower()), low)
        ]
    return found


def read_ade(folder: Path) -> Iterator[Example]:
    """ADE-Corpus-V2 positives (DRUG-AE.rel, one sentence may span several lines)."""
    sentences: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    path = folder / "DRUG-AE.rel"
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("|")
            if len(parts) < 8:
                raise CorpusFormatError(f"{path}:{n}: expected 8 '|' fields, got {len(parts)}")
            sentences[(parts[0], parts[1])].add((parts[2], parts[5]))
    for (pmid, text), pairs in sentences.items():
        char_spans: list[tuple[int, int, frozenset[str]]] = []
        for effect, drug in pairs:
            # The file's offsets are abstract offsets: locate the strings in the sentence.
            char_spans += [(s, e, frozenset({"adverse_event"})) for s, e in _find_all(text, effect)]
            char_spans += [(s, e, frozenset({"drug"})) for s, e in _find_all(text, drug)]
        yield build_example("ade", pmid, text, split_words(text), sorted(set(char_spans)))


def read_ade_neg(folder: Path) -> Iterator[Example]:
    """ADE-Corpus-V2 sentences with no adverse effect (`PMID NEG sentence`)."""
    path = folder / "ADE-NEG.txt"
    seen: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) < 3 or parts[1] != "NEG":
                raise CorpusFormatError(f"{path}:{n}: expected 'PMID NEG sentence'")
            pmid, _, text = parts
            if text in seen or not text.strip():
                continue
            seen.add(text)
            yield build_example("ade_neg", pmid, text, split_words(text), [])


_IOB_TYPES = {
    "bc5cdr": {
        "Disease": frozenset({"condition", "adverse_event"}),
        "Chemical": frozenset({"drug"}),
    },
    "ncbi": {"Disease": frozenset({"condition"})},
}


def read_iob(path: Path, corpus: str, *, block: int = 10) -> Iterator[Example]:
    """Token<TAB>tag files; doc ids are blocks of `block` consecutive sentences (no PMIDs)."""
    types = _IOB_TYPES[corpus]

    def make(tokens: list[tuple[str, str]], index: int) -> Example:
        text = " ".join(t for t, _ in tokens)
        words: list[tuple[int, int]] = []
        pos = 0
        for token, _ in tokens:
            words.append((pos, pos + len(token)))
            pos += len(token) + 1
        char_spans: list[tuple[int, int, frozenset[str]]] = []
        i = 0
        while i < len(tokens):
            tag = tokens[i][1]
            if tag == "O":
                i += 1
                continue
            kind = tag[2:]
            if kind not in types:
                raise CorpusFormatError(
                    f"{path}: unknown tag {tag!r}; valid types: {sorted(types)}"
                )
            j = i + 1
            while j < len(tokens) and tokens[j][1] == f"I-{kind}":
                j += 1
            char_spans.append((words[i][0], words[j - 1][1], types[kind]))
            i = j
        return build_example(corpus, f"{path.stem}:{index // block}", text, words, char_spans)

    tokens: list[tuple[str, str]] = []
    index = 0
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if tokens:
                    yield make(tokens, index)
                    index += 1
                    tokens = []
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise CorpusFormatError(f"{path}:{n}: expected 'token<TAB>tag'")
            tokens.append((parts[0], parts[1]))
    if tokens:
        yield make(tokens, index)


_BRAT_TYPES = {
    "chia": {
        "Condition": frozenset({"condition", "adverse_event"}),
        "Drug": frozenset({"drug"}),
        "Procedure": frozenset({"procedure"}),
        "Measurement": frozenset({"measurement"}),
    },
    "lct": {
        "Condition": frozenset({"condition", "adverse_event"}),
        "Drug": frozenset({"drug"}),
        "Procedure": frozenset({"procedure"}),
    },
}


def read_brat(folder: Path, corpus: str) -> Iterator[Example]:
    """Brat criteria files, one example per line; doc id = trial id (NCT number)."""
    types = _BRAT_TYPES[corpus]
    for ann in sorted(folder.glob("*.ann")):
        txt = ann.with_suffix(".txt")
        # newline="" keeps "\r": brat offsets count it.
        with txt.open(encoding="utf-8", newline="") as f:
            text = f.read()
        spans: list[tuple[int, int, frozenset[str]]] = []
        unsure: list[tuple[int, int]] = []
        for line in ann.read_text(encoding="utf-8").splitlines():
            if not line.startswith("T"):
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                continue
            head = parts[1].split(" ", 1)
            if head[0] not in types or len(head) < 2:
                continue
            fragments = [f.split() for f in head[1].split(";")]
            if len(fragments) != 1:
                # Discontinuous span: its words stay unconstrained rather than guessed.
                unsure += [(int(f[0]), int(f[1])) for f in fragments]
                continue
            spans.append((int(fragments[0][0]), int(fragments[0][1]), types[head[0]]))
        doc_id = ann.stem.split("_")[0]
        pos = 0
        for line in text.split("\n"):
            start, end = pos, pos + len(line)
            pos = end + 1
            words = split_words(text, start, end)
            if not words:
                continue
            inside = [s for s in spans if s[0] >= start and s[1] <= end]
            example = build_example(corpus, doc_id, text, words, inside)
            for i, (ws, we) in enumerate(words):
                if any(ws < ue and we > us for us, ue in unsure):
                    example.allowed[i] = ALL_TAGS_MASK
            yield example


def read_corpus(corpus: str, data: Path, *, split: str = "train") -> list[Example]:
    """All examples of one corpus (`split` is "train" or "devel" for BC5CDR/NCBI)."""
    if corpus == "ade":
        return list(read_ade(data / "ade_corpus_v2"))
    if corpus == "ade_neg":
        return list(read_ade_neg(data / "ade_corpus_v2"))
    if corpus == "bc5cdr":
        return list(read_iob(data / "BC5CDR-IOB" / f"{split}.tsv", corpus))
    if corpus == "ncbi":
        return list(read_iob(data / "NCBI-disease-IOB" / f"{split}.tsv", corpus))
    if corpus in ("chia", "lct"):
        return list(read_brat(data / corpus, corpus))
    raise ValueError(f"unknown corpus {corpus!r}; valid: {', '.join(CORPORA)}")


def split_by_doc(
    examples: Sequence[Example], *, dev_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Seeded train/dev split by document id, so no document is on both sides."""
    docs = sorted({e.doc_id for e in examples})
    rng = random.Random(seed)
    rng.shuffle(docs)
    dev_docs = set(docs[: max(1, round(len(docs) * dev_fraction))])
    train = [e for e in examples if e.doc_id not in dev_docs]
    dev = [e for e in examples if e.doc_id in dev_docs]
    return train, dev


def decode_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Word tags -> (start, end, label) word spans, read as at run time (`eligo.nlp.ner.decode`):
    consecutive words of one type are one span, whether tagged B- or I-."""
    spans: list[tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        if tag == "O" or tag[2:] != label:
            if start >= 0:
                spans.append((start, i, label))
            start, label = (i, tag[2:]) if tag != "O" else (-1, "")
    return spans


def score(
    examples: Sequence[Example],
    predicted: Sequence[Sequence[str]],
    *,
    spans: Callable[[Sequence[str]], list[tuple[int, int, str]]] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Span-level exact-match P/R/F1 per corpus and scored label group.

    `spans` reads predicted tags into spans (default `decode_spans`, the runtime's reading).

    A predicted span counts for a group when its label is in the group; predictions of
    labels a corpus does not annotate are not scored. ADE-NEG reports adverse-event false
    alarms per 100 sentences instead.
    """
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    neg: dict[str, int] = defaultdict(int)
    for example, tags in zip(examples, predicted, strict=True):
        groups = SCORED_GROUPS[example.corpus]
        gold = set()
        for span in example.spans:
            for name, labels in groups.items():
                if span.labels == labels:
                    gold.add((span.start, span.end, name))
        pred = set()
        for s, e, label in (spans or decode_spans)(tags):
            for name, labels in groups.items():
                if label in labels:
                    pred.add((s, e, name))
        if example.corpus == "ade_neg":
            neg["sentences"] += 1
            ae = [p for p in pred if p[2] == "adverse_event"]
            neg["sentences_with_ae"] += bool(ae)
            neg["ae_spans"] += len(ae)
            continue
        for name in groups:
            gold_n = {x for x in gold if x[2] == name}
            pred_n = {x for x in pred if x[2] == name}
            c = counts[example.corpus][name]
            c[0] += len(gold_n & pred_n)
            c[1] += len(pred_n)
            c[2] += len(gold_n)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for corpus, by_name in counts.items():
        out[corpus] = {}
        for name, (tp, np_, ng) in by_name.items():
            p = tp / np_ if np_ else 0.0
            r = tp / ng if ng else 0.0
            f = 2 * p * r / (p + r) if p + r else 0.0
            out[corpus][name] = {
                "p": round(p, 4),
                "r": round(r, 4),
                "f1": round(f, 4),
                "n_gold": ng,
            }
    if neg["sentences"]:
        n = neg["sentences"]
        out["ade_neg"] = {
            "adverse_event_false_alarms": {
                "sentences": n,
                "sentences_with_ae_per_100": round(100 * neg["sentences_with_ae"] / n, 2),
                "ae_spans_per_100": round(100 * neg["ae_spans"] / n, 2),
            }
        }
    return out


# -- span edges: the corpus's own convention for where an entity starts and ends ------------


def learn_edges(
    examples: Iterable[Example],
    label: str,
    *,
    min_count: int = 5,
    min_rate: float = 0.7,
) -> dict[str, list[str]]:
    """Words that, next to a `label` span's edge, the gold spans nearly always include.

    For each lower-cased word: how often it is a gold span's first (last) word, the span
    going on past it, against how often it stands just before (after) a gold span, left
    out. A word kept in at least `min_rate` of at least `min_count` such places is an edge
    word: "severe", "acute" on the left of ADE-Corpus-V2's adverse effects, "toxicity",
    "syndrome" on the right. "X of" prefixes ("elevation of") are counted as one word.
    Read by `eligo.nlp.ner.extend_edges`.
    """
    kept: dict[str, defaultdict[str, int]] = {side: defaultdict(int) for side in ("left", "right")}
    left_out: dict[str, defaultdict[str, int]] = {
        side: defaultdict(int) for side in ("left", "right")
    }
    for example in examples:
        words = [w.lower() for w in example.tokens]
        for span in example.spans:
            if label not in span.labels:
                continue
            a, b = span.start, span.end
            if b - a > 1:
                kept["left"][words[a]] += 1
                kept["right"][words[b - 1]] += 1
            if b - a > 2 and words[a + 1] == "of":
                kept["left"][f"{words[a]} of"] += 1
            if a > 0:
                left_out["left"][words[a - 1]] += 1
            if a > 1 and words[a - 1] == "of":
                left_out["left"][f"{words[a - 2]} of"] += 1
            if b < len(words):
                left_out["right"][words[b]] += 1

    def chosen(side: str) -> list[str]:
        words = set(kept[side]) | set(left_out[side])
        counts = {w: (kept[side][w], kept[side][w] + left_out[side][w]) for w in words}
        return sorted(
            w
            for w, (n_in, n) in counts.items()
            if w.removesuffix(" of").isalpha() and n >= min_count and n_in / n >= min_rate
        )

    return {"left": chosen("left"), "right": chosen("right")}
