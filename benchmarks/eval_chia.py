"""Criteria entities on Chia's held-out dev trials: P/R/F1 per domain, exact and overlap.

The dev trials are the ones eligo's NER model did not train on: the same seeded carve as
training (`split_by_doc(read_corpus("chia", ...), dev_fraction=0.1, seed=13)`, by NCT id,
inclusion and exclusion files together). Chia has one criterion per line; each line is
one text for `criterion_entities`, and gold entities are assigned to the line they start on.

Matching is one-to-one within a criterion and a domain. Exact: same start and end (for a
discontinuous gold span, "331 356;360 376", its extent from first start to last end).
Overlap: after exact pairs, remaining predictions and gold spans that share a character
(with any fragment of a discontinuous span) are paired, largest overlap first.

Systems, all measured in the same run:
- lexicon: `eligo.nlp.load(model=None)`, pipeline labels mapped to domains;
- pipeline: `eligo.nlp.load()` (lexicons + NER model), labels mapped to domains;
- criteria: `eligo.criteria.entities.criterion_entities` on the same pipeline.

Also, when `eligo.criteria.parse` is importable: criterion splitting (each Chia line should
be one criterion) and Value / Temporal recall (a gold Value counts as found when a parsed
ValueConstraint overlaps it, a Temporal when a TimeWindow does).

    .venv/bin/python benchmarks/eval_chia.py [--data ../shared/data] [--errors FILE]
        [--systems lexicon,pipeline,criteria] [--limit N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from eligo.criteria.types import CriterionEntity

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

MAIN = ("condition", "drug", "procedure", "measurement")
EXTRA = ("observation", "device")
GOLD_TYPES = {d.capitalize(): d for d in (*MAIN, *EXTRA)}

Frag = tuple[int, int]


@dataclass
class Gold:
    domain: str
    frags: list[Frag]  # relative to the criterion (line) start
    text: str

    @property
    def extent(self) -> Frag:
        return self.frags[0][0], self.frags[-1][1]


@dataclass
class Line:
    doc: str  # file stem, e.g. NCT00050349_inc
    start: int  # offset of the line in the file
    text: str
    gold: list[Gold] = field(default_factory=list)
    values: list[list[Frag]] = field(default_factory=list)  # gold Value spans (file offsets)
    temporals: list[list[Frag]] = field(default_factory=list)  # gold Temporal spans


@dataclass
class File:
    stem: str
    text: str
    lines: list[Line]


def dev_trials(data: Path) -> list[str]:
    """NCT ids of the NER model's Chia dev carve (trials it never trained on)."""
    from eligo.nlp.ner_data import read_corpus, split_by_doc

    _, dev = split_by_doc(read_corpus("chia", data), dev_fraction=0.1, seed=13)
    return sorted({e.doc_id for e in dev})


def read_file(ann: Path) -> File:
    """One brat file: its lines (criteria) and the gold entities that start on each."""
    with ann.with_suffix(".txt").open(encoding="utf-8", newline="") as f:
        text = f.read()  # newline="" keeps "\r": brat offsets count it
    lines: list[Line] = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.rstrip("\r")
        if stripped.strip():
            lines.append(Line(ann.stem, pos, stripped))
        pos += len(raw) + 1

    def line_of(offset: int) -> Line | None:
        for line in lines:
            if line.start <= offset < line.start + len(line.text):
                return line
        return None

    for row in ann.read_text(encoding="utf-8").splitlines():
        if not row.startswith("T"):
            continue
        parts = row.split("\t")
        if len(parts) < 3 or " " not in parts[1]:
            continue
        kind, offsets = parts[1].split(" ", 1)
        frags = sorted((int(a), int(b)) for a, b in (f.split() for f in offsets.split(";")))
        line = line_of(frags[0][0])
        if line is None:
            continue
        if kind in GOLD_TYPES:
            rel = [(s - line.start, e - line.start) for s, e in frags]
            line.gold.append(Gold(GOLD_TYPES[kind], rel, parts[2]))
        elif kind == "Value":
            line.values.append(frags)
        elif kind == "Temporal":
            line.temporals.append(frags)
    return File(ann.stem, text, lines)


def load_dev(data: Path, *, limit: int | None = None) -> tuple[list[str], list[File]]:
    trials = dev_trials(data)
    if limit is not None:
        trials = trials[:limit]
    files = [
        read_file(ann) for trial in trials for ann in sorted((data / "chia").glob(f"{trial}_*.ann"))
    ]
    return trials, files


def _overlap(a: Frag, frags: Sequence[Frag]) -> int:
    return sum(max(0, min(a[1], e) - max(a[0], s)) for s, e in frags)


def match(
    pred: Sequence[Frag], gold: Sequence[Gold]
) -> tuple[set[int], set[int], set[int], set[int]]:
    """One-to-one matching: (exact pred, exact gold, overlap pred, overlap gold) indices;
    the overlap sets include the exact pairs."""
    exact_p: set[int] = set()
    exact_g: set[int] = set()
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            if j not in exact_g and p == g.extent:
                exact_p.add(i)
                exact_g.add(j)
                break
    pairs = sorted(
        (
            (-_overlap(p, g.frags), i, j)
            for i, p in enumerate(pred)
            if i not in exact_p
            for j, g in enumerate(gold)
            if j not in exact_g
        ),
        key=lambda x: x,
    )
    over_p, over_g = set(exact_p), set(exact_g)
    for neg, i, j in pairs:
        if neg < 0 and i not in over_p and j not in over_g:
            over_p.add(i)
            over_g.add(j)
    return exact_p, exact_g, over_p, over_g


Counts = dict[str, dict[str, list[int]]]  # mode -> domain -> [tp_pred, n_pred, tp_gold, n_gold]


def score(
    lines: Sequence[Line], predicted: Sequence[Sequence[CriterionEntity]], errors: list[str]
) -> Counts:
    counts: Counts = {m: defaultdict(lambda: [0, 0, 0, 0]) for m in ("exact", "overlap")}
    for line, ents in zip(lines, predicted, strict=True):
        for domain in (*MAIN, *EXTRA):
            pred = [(e.start, e.end) for e in ents if e.domain == domain]
            gold = [g for g in line.gold if g.domain == domain]
            ep, eg, op, og = match(pred, gold)
            for mode, mp, mg in (("exact", ep, eg), ("overlap", op, og)):
                c = counts[mode][domain]
                c[0] += len(mp)
                c[1] += len(pred)
                c[2] += len(mg)
                c[3] += len(gold)
            for i, (s, e) in enumerate(pred):
                if i not in ep:
                    tag = "BOUND" if i in op else "FP"
                    errors.append(f"{tag}\t{domain}\t{line.text[s:e]!r}\t{line.doc}\t{line.text}")
            for j, g in enumerate(gold):
                if j not in eg and j not in og:
                    errors.append(f"FN\t{domain}\t{g.text!r}\t{line.doc}\t{line.text}")
                elif j not in eg:
                    errors.append(f"GOLD\t{domain}\t{g.text!r}\t{line.doc}\t{line.text}")
    return counts


def prf(tp_p: int, n_p: int, tp_g: int, n_g: int) -> tuple[float, float, float]:
    p = tp_p / n_p if n_p else 0.0
    r = tp_g / n_g if n_g else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def table(name: str, counts: Counts, domains: Iterable[str]) -> list[str]:
    out = [
        f"\n{name}",
        f"{'domain':<13}{'gold':>6}{'pred':>6}"
        + "".join(f"{m[:5] + ' ' + k:>10}" for m in ("exact", "overlap") for k in ("P", "R", "F1")),
    ]
    micro: dict[str, list[int]] = {m: [0, 0, 0, 0] for m in counts}
    for domain in domains:
        row = f"{domain:<13}{counts['exact'][domain][3]:>6}{counts['exact'][domain][1]:>6}"
        for mode in ("exact", "overlap"):
            c = counts[mode][domain]
            row += "".join(f"{x:>10.3f}" for x in prf(*c))
            if domain in MAIN:
                micro[mode] = [a + b for a, b in zip(micro[mode], c, strict=True)]
        out.append(row)
    row = f"{'micro (4)':<13}{micro['exact'][3]:>6}{micro['exact'][1]:>6}"
    for mode in ("exact", "overlap"):
        row += "".join(f"{x:>10.3f}" for x in prf(*micro[mode]))
    out.append(row)
    return out


def run_system(
    fn: Callable[[Sequence[str]], list[list[CriterionEntity]]], lines: Sequence[Line]
) -> tuple[list[list[CriterionEntity]], float]:
    texts = [line.text for line in lines]
    fn(texts[:20])  # warm-up (first-call allocations, ONNX session)
    t0 = time.perf_counter()
    predicted = fn(texts)
    return predicted, time.perf_counter() - t0


def _walk(obj: object) -> Iterable[BaseModel]:
    if isinstance(obj, BaseModel):
        yield obj
        for name in type(obj).model_fields:
            yield from _walk(getattr(obj, name))
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _walk(item)


_BULLET = re.compile(r"\s*(?:[-*\u2022\u00b7o]\s+|\(?\d{1,3}[.)]\s*|\(?[a-zA-Z][.)]\s+)?")


def eval_parse(files: Sequence[File]) -> list[str]:
    """Criterion splitting and Value/Temporal recall against `eligo.criteria.parse`."""
    try:
        from eligo.criteria.parse import parse
    except ImportError as err:
        return [f"\nparse: eligo.criteria.parse is not importable yet ({err}); skipped"]
    from eligo.criteria.types import TimeWindow, ValueConstraint

    lines_total = lines_exact = n_pred = failed = 0
    found = {"value": [0, 0], "temporal": [0, 0]}  # [found, gold]
    spans = {"value": [0, 0], "temporal": [0, 0]}  # predicted spans: [overlapping gold, all]
    t0 = time.perf_counter()
    for f in files:
        try:
            criteria = parse(f.text)
        except ValueError:
            failed += 1
            lines_total += len(f.lines)
            for line in f.lines:
                found["value"][1] += len(line.values)
                found["temporal"][1] += len(line.temporals)
            continue
        pred_spans = {(c.start, c.end) for c in criteria.criteria}
        n_pred += len(criteria.criteria)
        lines_total += len(f.lines)
        for line in f.lines:
            # A criterion matches a line when it spans the line, leaving out the whitespace,
            # a leading bullet or number ("10. ", "a) ") and a trailing ";" "," or ".".
            bullet = _BULLET.match(line.text)
            s = line.start + (bullet.end() if bullet else 0)
            e = line.start + len(line.text.rstrip())
            ends = {e, e - 1} if f.text[e - 1 : e] in (";", ",", ".") else {e}
            lines_exact += any(ps == s and pe in ends for ps, pe in pred_spans)
        values = [
            (m.start, m.end)
            for m in _walk(criteria)
            if isinstance(m, ValueConstraint) and m.start is not None and m.end is not None
        ]
        windows = [
            (m.start, m.end)
            for m in _walk(criteria)
            if isinstance(m, TimeWindow) and m.start is not None and m.end is not None
        ]
        for kind, pred, gold in (
            ("value", values, [g for line in f.lines for g in line.values]),
            ("temporal", windows, [g for line in f.lines for g in line.temporals]),
        ):
            pred = sorted(set(pred))
            found[kind][0] += sum(any(_overlap(p, g) for p in pred) for g in gold)
            found[kind][1] += len(gold)
            spans[kind][0] += sum(any(_overlap(p, g) for g in gold) for p in pred)
            spans[kind][1] += len(pred)
    seconds = time.perf_counter() - t0
    out = [
        "\nparse (eligo.criteria.parse on each whole file)",
        f"files {len(files)}, failed {failed}; Chia lines {lines_total}, parsed criteria {n_pred}",
        f"criterion splitting: lines recovered as one criterion {lines_exact}/{lines_total}"
        f" = {lines_exact / max(1, lines_total):.3f}",
    ]
    for kind in ("value", "temporal"):
        g, p = found[kind], spans[kind]
        out.append(
            f"{kind:<9} recall {g[0]}/{g[1]} = {g[0] / max(1, g[1]):.3f}; precision "
            f"{p[0]}/{p[1]} = {p[0] / max(1, p[1]):.3f} (spans overlapping a gold {kind})"
        )
    out.append(f"parse throughput: {lines_total / seconds:.0f} criteria/s ({seconds:.1f} s)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--data", type=Path, default=SHARED, help="folder holding chia/")
    ap.add_argument("--limit", type=int, default=None, help="first N dev trials only")
    ap.add_argument("--errors", type=Path, default=None, help="write criteria errors here")
    ap.add_argument("--systems", default="lexicon,pipeline,criteria", help="comma-separated subset")
    ap.add_argument("--repeat", type=int, default=3, help="timing passes per system")
    args = ap.parse_args(argv)
    if not (args.data / "chia").is_dir():
        print(f"no Chia corpus at {args.data / 'chia'}; pass --data", file=sys.stderr)
        return 2

    import eligo.nlp
    from eligo.criteria.entities import criterion_entities, pipeline_entities

    trials, files = load_dev(args.data, limit=args.limit)
    lines = [line for f in files for line in f.lines]
    n_gold = sum(len(line.gold) for line in lines)
    print(
        f"Chia dev (NER model's held-out carve, seed 13): {len(trials)} trials, "
        f"{len(files)} files, {len(lines)} criteria, {n_gold} gold entities"
    )
    lexicon_nlp = eligo.nlp.load(model=None)
    nlp = eligo.nlp.load()
    systems: dict[str, Callable[[Sequence[str]], list[list[CriterionEntity]]]] = {
        "lexicon": lambda texts: pipeline_entities(lexicon_nlp, texts),
        "pipeline": lambda texts: pipeline_entities(nlp, texts),
        "criteria": lambda texts: criterion_entities(nlp, texts),
    }
    out: list[str] = []
    names = args.systems.split(",")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        errors: list[str] = []
        predicted, took = run_system(systems[name], lines)
        seconds[name].append(took)
        counts = score(lines, predicted, errors)
        out += table(name, counts, (*MAIN, *EXTRA))
        if name == "criteria" and args.errors is not None:
            args.errors.parent.mkdir(parents=True, exist_ok=True)
            args.errors.write_text("\n".join(sorted(errors)) + "\n", encoding="utf-8")
    # Timing passes interleave the systems, so a burst of load on a shared machine hits
    # them alike; the best pass of each is reported.
    texts = [line.text for line in lines]
    for _ in range(args.repeat - 1):
        for name in names:
            t0 = time.perf_counter()
            systems[name](texts)
            seconds[name].append(time.perf_counter() - t0)
    print("\n".join(out))
    print(f"\nthroughput (one process, best of {args.repeat} interleaved passes)")
    for name in names:
        best = min(seconds[name])
        print(f"{name:<9} {len(lines) / best:>7.0f} criteria/s ({best:.1f} s)")
    print("\n".join(eval_parse(files)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
