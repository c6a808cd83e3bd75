"""Assertion accuracy on hand-written clinical sentences: eligo vs medspaCy's default ConText.

Each line of benchmarks/data/assertion_sentences.jsonl is a sentence (or a short note
fragment with a section header) written for this benchmark, one target span given by
character offsets, and gold flags negated / historical / hypothetical / family / uncertain.
Both systems assess exactly the same target span with the same tokenizer and sentence
splitter; only the assertion logic differs:

- eligo: the full pipeline (`eligo.nlp.load()`: sections, eligo's ConText rules,
  `eligo_assertion`), the span passed as a caller target (`doc._.targets`);
- baseline: medspaCy's `medspacy_context` with its packaged default rules.

Lines with an even index are the dev half (rules were tuned on them), odd lines the test
half. Usage:

    .venv/bin/python benchmarks/eval_assertion.py [--data PATH] [--split dev|test|all] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "benchmarks" / "data" / "assertion_sentences.jsonl"
FLAGS = ("negated", "historical", "hypothetical", "family", "uncertain")
ATTR = {flag: f"is_{flag}" for flag in FLAGS}
GROUP = "eligo"


# --------------------------------------------------------------------------------------
# Pipelines (shared with eval_bioscope.py)


def _sentence_pipe(nlp: Language) -> None:
    from eligo.nlp import sentences  # noqa: F401  (registers the factory)

    nlp.add_pipe("eligo_sentences")


def eligo_pipeline() -> tuple[Language, str]:
    """eligo's own pipeline, exactly as users get it."""
    from eligo.nlp.pipeline import load

    return load(), "eligo.nlp.load()"


def baseline_pipeline() -> Language:
    """medspaCy's ConText with its default rules, same tokenizer and sentence splitter."""
    import medspacy.context  # noqa: F401

    from eligo.nlp.text import make_nlp

    nlp = make_nlp()
    _sentence_pipe(nlp)
    nlp.add_pipe(
        "medspacy_context",
        name="baseline_context",
        config={"rules": "default", "input_span_type": "group", "span_group_name": GROUP},
    )
    return nlp


def run_with_spans(
    nlp: Language, text: str, spans: Sequence[tuple[int, int, str]], *, before: str
) -> list[Span]:
    """Run `nlp` on text, putting the char spans in the span group just before `before`."""
    doc = nlp.make_doc(text)
    for name, proc in nlp.pipeline:
        if name == before:
            group = []
            for start, end, label in spans:
                span = doc.char_span(start, end, label=label, alignment_mode="expand")
                if span is not None:
                    group.append(span)
            doc.spans[GROUP] = group
        doc = proc(doc)
    return list(doc.spans.get(GROUP, []))


def eligo_target(nlp: Language, text: str, start: int, end: int) -> Span | None:
    """eligo's assessment of one caller target (the `eligo_targets` mechanism)."""
    if "eligo_targets" in nlp.pipe_names:
        doc: Doc = nlp.make_doc(text)
        doc._.targets = [(start, end)]
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        found = [s for s in doc.spans.get(GROUP, []) if s.label_ == "target"]
        return found[0] if found else None
    spans = run_with_spans(nlp, text, [(start, end, "target")], before="medspacy_context")
    return spans[0] if spans else None


def flags(span: Span | None) -> dict[str, bool]:
    if span is None:
        return dict.fromkeys(FLAGS, False)
    return {flag: bool(getattr(span._, ATTR[flag], False)) for flag in FLAGS}


# --------------------------------------------------------------------------------------
# Scoring


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, pred: bool) -> None:
        self.tp += gold and pred
        self.fp += pred and not gold
        self.fn += gold and not pred

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def score(pairs: Iterable[tuple[dict[str, bool], dict[str, bool]]]) -> dict[str, Counts]:
    counts = {flag: Counts() for flag in FLAGS}
    for gold, pred in pairs:
        for flag in FLAGS:
            counts[flag].add(gold[flag], pred[flag])
    return counts


def print_table(
    title: str, systems: dict[str, dict[str, Counts]], attrs: Sequence[str] = FLAGS
) -> None:
    print(f"\n{title}")
    print(f"{'attribute':<13}{'system':<22}{'gold':>5}{'P':>7}{'R':>7}{'F1':>7}")
    for attr in attrs:
        for system, counts in systems.items():
            c = counts[attr]
            p, r, f = c.prf()
            print(f"{attr:<13}{system:<22}{c.tp + c.fn:>5}{p:>7.3f}{r:>7.3f}{f:>7.3f}")


def load_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {lineno}: {err}") from err
    return records


def evaluate(
    records: Sequence[dict[str, Any]],
    systems: Mapping[str, Callable[[dict[str, Any]], dict[str, bool]]],
    *,
    show_errors: bool = False,
) -> dict[str, dict[str, Counts]]:
    results: dict[str, list[tuple[dict[str, bool], dict[str, bool]]]] = {s: [] for s in systems}
    for rec in records:
        gold = {flag: bool(rec[flag]) for flag in FLAGS}
        for system, assess in systems.items():
            pred = assess(rec)
            results[system].append((gold, pred))
            if show_errors and system == "eligo" and pred != gold:
                diff = [f"{f}:{'+' if pred[f] else '-'}" for f in FLAGS if pred[f] != gold[f]]
                print(f"  {rec['id']} [{rec['target']}] {' '.join(diff)} | {rec['text']!r}")
    return {system: score(pairs) for system, pairs in results.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--errors", action="store_true", help="print eligo's mistakes (dev only)")
    args = parser.parse_args(argv)

    records = load_records(args.data)
    eligo_nlp, how = eligo_pipeline()
    base_nlp = baseline_pipeline()
    print(f"data: {args.data} ({len(records)} sentences); eligo: {how}")

    def eligo(rec: dict[str, Any]) -> dict[str, bool]:
        return flags(eligo_target(eligo_nlp, rec["text"], rec["start"], rec["end"]))

    def baseline(rec: dict[str, Any]) -> dict[str, bool]:
        spans = run_with_spans(
            base_nlp, rec["text"], [(rec["start"], rec["end"], "target")], before="baseline_context"
        )
        return flags(spans[0] if spans else None)

    systems = {"eligo": eligo, "medspaCy default": baseline}
    splits = {"dev": records[0::2], "test": records[1::2]}
    for name, part in splits.items():
        if args.split not in (name, "all"):
            continue
        if args.errors and name == "dev":
            print(f"\neligo errors on {name}:")
        result = evaluate(part, systems, show_errors=args.errors and name == "dev")
        print_table(
            f"{name} ({len(part)} sentences, {'even' if name == 'dev' else 'odd'} lines)", result
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
