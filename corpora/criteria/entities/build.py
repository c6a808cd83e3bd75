"""Derive the criteria entity tables (terms, relabel, edges) from Chia's *training* trials.

    .venv/bin/python corpora/criteria/entities/build.py [--data ../shared/data]

Chia trials in the NER model's dev carve (`split_by_doc(..., dev_fraction=0.1, seed=13)`)
are never read, so `benchmarks/eval_chia.py` stays a held-out evaluation. The raw pipeline
(`eligo.nlp.load()`) runs over every training criterion; its spans are compared with
Chia's gold spans to learn where Chia's convention differs from the pipeline's:

- `terms.tsv`: phrases Chia annotates with one domain (>= MIN_GOLD times) and that are
  an entity (or inside one of that domain) in >= MIN_PRECISION of their occurrences;
- `relabel.tsv`: pipeline (term, label) pairs Chia mostly gives another domain ("to")
  or does not annotate at all ("drop");
- `edges.tsv`: words next to a pipeline span that Chia includes ("extend") or words at a
  span's edge that Chia leaves out ("trim"), per side and domain.

Rows are sorted, so a rebuild from the same data and pipeline is byte-identical.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

from spacy.tokens import Token

from eligo.criteria.entities import DOMAINS, key_tokens, pipeline_entities, token_keys
from eligo.nlp.text import norm

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def _eval_chia() -> ModuleType:
    """benchmarks/eval_chia.py, the one Chia reader (loaded by path: an installed package
    already claims the name `benchmarks`)."""
    path = REPO / "benchmarks" / "eval_chia.py"
    spec = importlib.util.spec_from_file_location("eval_chia", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_chia"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


eval_chia = _eval_chia()
Line: TypeAlias = Any  # eval_chia.Line (a module loaded by path has no static type)

MIN_GOLD = 3  # a learned term must be a gold span at least this often
MIN_PRECISION = 0.6  # ... and a gold span (or inside one) in this share of its occurrences
MAX_TERM_TOKENS = 6
MIN_TRIALS = 3  # ... in this many trials: a trial's own drug name is not a convention
MIN_SEEN = 4  # a relabel/edge rule needs at least this many observations
MIN_RATE = 0.6  # ... and to hold in this share of them


def train_lines(data: Path) -> list[Line]:
    dev = set(eval_chia.dev_trials(data))
    lines: list[Line] = []
    for ann in sorted((data / "chia").glob("*.ann")):
        if ann.stem.split("_")[0] not in dev:
            lines.extend(eval_chia.read_file(ann).lines)
    return lines


def _trial(line: Line) -> str:
    return line.doc.split("_")[0]


def _key(token: Token) -> str:
    return norm(token.lower_) if token.text.strip() else ""


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def learn_terms(nlp: object, lines: list[Line]) -> list[tuple[str, str, str, int, int]]:
    from spacy.language import Language

    assert isinstance(nlp, Language)
    gold_count: Counter[tuple[str, str]] = Counter()
    surface: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    trials: dict[tuple[str, str], set[str]] = defaultdict(set)
    docs = [nlp.make_doc(line.text) for line in lines]
    for line, doc in zip(lines, docs, strict=True):
        for g in line.gold:
            if len(g.frags) != 1:
                continue
            span = doc.char_span(g.extent[0], g.extent[1], alignment_mode="expand")
            if span is None or len(span) > MAX_TERM_TOKENS:
                continue
            key = " ".join(token_keys(span))
            if len(key) < 3 or not any(c.isalpha() for c in key):
                continue
            gold_count[(key, g.domain)] += 1
            surface[(key, g.domain)][g.text] += 1
            trials[(key, g.domain)].add(_trial(line))
    candidates = {
        k for k, n in gold_count.items() if n >= MIN_GOLD and len(trials[k]) >= MIN_TRIALS
    }
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, domain in candidates:
        by_key[key].append(domain)
    seen: Counter[str] = Counter()
    consistent: Counter[tuple[str, str]] = Counter()
    for line, doc in zip(lines, docs, strict=True):
        toks = key_tokens(doc)
        keys = [norm(t.lower_) for t in toks]
        for i in range(len(toks)):
            for n in range(1, MAX_TERM_TOKENS + 1):
                if i + n > len(toks):
                    break
                key = " ".join(keys[i : i + n])
                if key not in by_key:
                    continue
                seen[key] += 1
                at = (toks[i].idx, toks[i + n - 1].idx + len(toks[i + n - 1].text))
                for domain in by_key[key]:
                    if any(
                        g.domain == domain and g.extent[0] <= at[0] and at[1] <= g.extent[1]
                        for g in line.gold
                    ):
                        consistent[(key, domain)] += 1
    rows = []
    for key, domain in sorted(candidates):
        precision = consistent[(key, domain)] / max(1, seen[key])
        if precision >= MIN_PRECISION:
            term = surface[(key, domain)].most_common(1)[0][0]
            rows.append((key, term, domain, gold_count[(key, domain)], seen[key]))
    # One domain per key: the one annotated most often.
    best: dict[str, tuple[str, str, str, int, int]] = {}
    for row in rows:
        if row[0] not in best or row[3] > best[row[0]][3]:
            best[row[0]] = row
    return sorted(best.values())


def learn_rules(
    nlp: object, lines: list[Line]
) -> tuple[list[tuple[str, str, str, int, int]], list[tuple[str, str, str, str, int, int]]]:
    """Relabel rows (key, label, to, n, n_to) and edge rows (action, side, word, domain, n, k)."""
    from spacy.language import Language

    assert isinstance(nlp, Language)
    texts = [line.text for line in lines]
    predicted = pipeline_entities(nlp, texts)
    label_n: Counter[tuple[str, str]] = Counter()
    label_to: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    edge_n: Counter[tuple[str, str, str, str]] = Counter()
    edge_k: Counter[tuple[str, str, str, str]] = Counter()
    label_trials: dict[tuple[str, str], set[str]] = defaultdict(set)
    edge_trials: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for line, ents in zip(lines, predicted, strict=True):
        doc = nlp.make_doc(line.text)
        for ent in ents:
            span = doc.char_span(ent.start, ent.end, alignment_mode="expand")
            if span is None:
                continue
            key = " ".join(token_keys(span))
            if not key:
                continue  # a lone hyphen: criterion_entities drops it anyway
            label_n[(key, ent.domain)] += 1
            label_trials[(key, ent.domain)].add(_trial(line))
            hits = [g for g in line.gold if _overlaps((ent.start, ent.end), g.extent)]
            same = [g for g in hits if g.domain == ent.domain]
            if same:
                label_to[(key, ent.domain)][ent.domain] += 1
            elif hits:
                label_to[(key, ent.domain)][hits[0].domain] += 1
            else:
                label_to[(key, ent.domain)]["drop"] += 1
            if not same:
                continue
            gold = min(
                same, key=lambda g: abs(g.extent[0] - ent.start) + abs(g.extent[1] - ent.end)
            )
            gs, ge = gold.extent
            trial = _trial(line)

            def count(k: tuple[str, str, str, str], held: bool, trial: str = trial) -> None:
                edge_n[k] += 1
                edge_k[k] += held
                if held:
                    edge_trials[k].add(trial)

            # Outer words: the token just outside each edge; held when Chia includes it.
            if span.start > 0:
                word = doc[span.start - 1]
                count(("extend", "left", _key(word), ent.domain), gs <= word.idx)
            if span.end < len(doc):
                word = doc[span.end]
                count(("extend", "right", _key(word), ent.domain), ge >= word.idx + len(word))
            # Inner words: a multi-token span's first/last token; held when Chia leaves it out.
            if len(span) > 1:
                first, last = span[0], span[-1]
                count(("trim", "left", _key(first), ent.domain), gs >= first.idx + len(first))
                count(("trim", "right", _key(last), ent.domain), ge <= last.idx)
    relabel = []
    for (key, label), n in sorted(label_n.items()):
        if n < MIN_SEEN or len(label_trials[(key, label)]) < MIN_TRIALS:
            continue
        to, n_to = label_to[(key, label)].most_common(1)[0]
        if to != label and n_to / n >= MIN_RATE:
            relabel.append((key, label, to, n, n_to))
    edges = [
        (*k, n, edge_k[k])
        for k, n in sorted(edge_n.items())
        if k[2]
        and n >= MIN_SEEN
        and edge_k[k] / n >= MIN_RATE
        and len(edge_trials[k]) >= MIN_TRIALS
    ]
    return relabel, edges


def write(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    lines = ["\t".join(header), *("\t".join(str(x) for x in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{path.relative_to(REPO)}: {len(rows)} rows")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = ap.parse_args()
    import eligo.nlp

    nlp = eligo.nlp.load()
    lines = train_lines(args.data)
    print(f"Chia training criteria: {len(lines)}")
    terms = learn_terms(nlp, lines)
    assert all(row[2] in DOMAINS for row in terms)
    write(HERE / "terms.tsv", ("key", "term", "domain", "gold", "seen"), list(terms))
    relabel, edges = learn_rules(nlp, lines)
    write(HERE / "relabel.tsv", ("key", "label", "to", "seen", "seen_to"), list(relabel))
    write(HERE / "edges.tsv", ("action", "side", "word", "domain", "seen", "held"), list(edges))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
