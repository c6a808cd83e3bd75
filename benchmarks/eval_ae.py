"""AE coding accuracy on written narratives: `code_report` vs a plain-extraction baseline.

Each line of benchmarks/data/ae_gold.jsonl is a synthetic adverse-event narrative written for
this benchmark (clinician and patient language, negations, labs, serious and non-serious) with
its expected events (span text + CTCAE v5 term), serious flag, seriousness criteria, outcome
and action taken. Lines with an even index (0, 2, ...) are the dev half (the rules and
lexicons were tuned on them), odd lines the test half.

Metrics:
- top-1 / top-3: share of gold events whose span is overlapped by a coded predicted event
  whose first (any of the first three) candidate is the gold CTCAE term; missed = wrong.
- event P/R/F1: a gold event is found when a coded predicted event overlaps its span with
  the gold term as top-1; a predicted coded event is correct when it overlaps a gold event
  with that term, or repeats the term of a found gold event (a second mention).
- seriousness: the serious flag, and the exact set of criteria, per report.
- outcome / action: exact value per report (null action = unknown).
- convention: by default a diagnosis's own signs are not events (MedDRA practice, see
  corpora/ae/SOURCE.md); `--code-signs` scores sets written to the other convention
  (ae_gold.jsonl, ae_blind.jsonl).
- baseline (same run): `eligo.nlp.extract` alone, events = present (unasserted) concepts with
  a CTCAE code; and eligo's AE coder without the MiniLM matcher (`semantic=False`).
- reports/s: one process, one report at a time, models loaded before timing.

Usage:

    .venv/bin/python benchmarks/eval_ae.py [--data PATH] [--split dev|test|all] [--errors]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "benchmarks" / "data" / "ae_gold.jsonl"

Pred = tuple[int, int, list[str]]  # start, end, candidate terms (first = top-1)


def gold_spans(item: dict[str, Any]) -> list[tuple[int, int, str]]:
    """Gold events as character spans: each span text is found in order of the list."""
    spans = []
    text = item["text"]
    for event in item["events"]:
        start = text.find(event["text"])
        if start < 0:
            raise SystemExit(f"{item['id']}: span {event['text']!r} is not in the text")
        spans.append((start, start + len(event["text"]), event["ctcae_term"]))
    return spans


def score_events(
    golds: Sequence[list[tuple[int, int, str]]], preds: Sequence[list[Pred]]
) -> dict[str, float]:
    n_gold = n_pred = found = correct = top1 = top3 = 0
    for gold, pred in zip(golds, preds, strict=True):
        n_gold += len(gold)
        n_pred += len(pred)
        found_terms = set()
        for start, end, term in gold:
            over = [p for p in pred if p[0] < end and start < p[1]]
            if any(p[2][:1] == [term] for p in over):
                found += 1
                top1 += 1
                found_terms.add(term)
            if any(term in p[2][:3] for p in over):
                top3 += 1
        for start, end, cands in pred:
            term = cands[0]
            if term in found_terms or any(
                g[2] == term and g[0] < end and start < g[1] for g in gold
            ):
                correct += 1
    p = correct / n_pred if n_pred else 0.0
    r = found / n_gold if n_gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "gold events": n_gold,
        "top-1 acc": top1 / n_gold if n_gold else 0.0,
        "top-3 acc": top3 / n_gold if n_gold else 0.0,
        "event P": p,
        "event R": r,
        "event F1": f1,
    }


def eligo_system(
    *, semantic: bool = True, diagnosis_components: bool = True
) -> Callable[[str], dict[str, Any]]:
    from eligo.nlp import load
    from eligo.nlp.ae import code_report

    nlp = load()
    if semantic:
        from eligo.nlp.ae_semantic import load_matcher

        load_matcher()  # loaded once per process, outside the timed loop

    def run(text: str) -> dict[str, Any]:
        report = code_report(
            text, nlp=nlp, semantic=semantic, diagnosis_components=diagnosis_components
        )
        return {
            "events": [
                (e.start, e.end, [c.term for c in e.candidates]) for e in report.events if e.coded
            ],
            "serious": report.serious,
            "seriousness": sorted(s.criterion for s in report.seriousness),
            "outcome": report.outcome,
            "action_taken": report.action_taken,
        }

    return run


def baseline_system() -> Callable[[str], dict[str, Any]]:
    from eligo.nlp import extract, load

    nlp = load()

    def run(text: str) -> dict[str, Any]:
        events = []
        for ent in extract(text, nlp=nlp):
            if ent.negated or ent.hypothetical or ent.family or ent.historical:
                continue
            terms = [c.display for c in ent.codes if c.system == "CTCAE"]
            if terms:
                events.append((ent.start, ent.end, terms))
        return {"events": events}

    return run


def evaluate(
    items: list[dict[str, Any]], system: Callable[[str], dict[str, Any]]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    started = time.perf_counter()
    outputs = [system(item["text"]) for item in items]
    elapsed = time.perf_counter() - started
    metrics = score_events([gold_spans(i) for i in items], [o["events"] for o in outputs])
    if "serious" in outputs[0]:
        n = len(items)
        metrics["serious flag acc"] = (
            sum(o["serious"] == i["serious"] for o, i in zip(outputs, items, strict=True)) / n
        )
        metrics["seriousness acc"] = (
            sum(
                o["serious"] == i["serious"] and o["seriousness"] == sorted(i["seriousness"])
                for o, i in zip(outputs, items, strict=True)
            )
            / n
        )
        metrics["outcome acc"] = (
            sum(o["outcome"] == i["outcome"] for o, i in zip(outputs, items, strict=True)) / n
        )
        metrics["action acc"] = (
            sum(o["action_taken"] == i["action_taken"] for o, i in zip(outputs, items, strict=True))
            / n
        )
    metrics["reports/s"] = len(items) / elapsed if elapsed else 0.0
    return metrics, outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="all")
    parser.add_argument("--errors", action="store_true", help="print the reports that differ")
    parser.add_argument(
        "--code-signs",
        action="store_true",
        help="also code a diagnosis's own signs (the convention of ae_gold.jsonl and "
        "ae_blind.jsonl; default: the diagnosis only, MedDRA practice, see corpora/ae)",
    )
    args = parser.parse_args(argv)
    lines = [
        json.loads(line)
        for line in args.data.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    splits = {"dev": lines[0::2], "test": lines[1::2], "all": lines}
    wanted = ["dev", "test"] if args.split == "all" else [args.split]
    convention = not args.code_signs
    eligo = eligo_system(diagnosis_components=convention)
    lexical = eligo_system(semantic=False, diagnosis_components=convention)
    baseline = baseline_system()
    eligo(lines[0]["text"])  # warm up (pipeline and lexicons are loaded once)
    rows = []
    for split in wanted:
        items = splits[split]
        systems = (
            ("eligo ae", eligo),
            ("eligo ae, lexical only", lexical),
            ("baseline: extract CTCAE codes", baseline),
        )
        for name, system in systems:
            metrics, outputs = evaluate(items, system)
            rows.append((split, name, len(items), metrics))
            if args.errors and name == "eligo ae":
                _print_errors(items, outputs)
    columns = [
        "top-1 acc",
        "top-3 acc",
        "event P",
        "event R",
        "event F1",
        "serious flag acc",
        "seriousness acc",
        "outcome acc",
        "action acc",
        "reports/s",
    ]
    print("| split | system | reports | " + " | ".join(columns) + " |")
    print("|---|---|---:|" + "---:|" * len(columns))
    for split, name, n, metrics in rows:
        cells = []
        for column in columns:
            value = metrics.get(column)
            cells.append(
                "-"
                if value is None
                else (f"{value:.1f}" if column == "reports/s" else f"{value:.3f}")
            )
        print(f"| {split} | {name} | {n} | " + " | ".join(cells) + " |")
    return 0


def _print_errors(items: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
    for item, out in zip(items, outputs, strict=True):
        gold = {(e["text"], e["ctcae_term"]) for e in item["events"]}
        pred = {(item["text"][s:e], c[0]) for s, e, c in out["events"]}
        problems = []
        if {t for _, t in gold} != {t for _, t in pred}:
            problems.append(f"events gold={sorted(gold)} pred={sorted(pred)}")
        if out["seriousness"] != sorted(item["seriousness"]) or out["serious"] != item["serious"]:
            problems.append(f"seriousness gold={item['seriousness']} pred={out['seriousness']}")
        if out["outcome"] != item["outcome"]:
            problems.append(f"outcome gold={item['outcome']} pred={out['outcome']}")
        if out["action_taken"] != item["action_taken"]:
            problems.append(f"action gold={item['action_taken']} pred={out['action_taken']}")
        if problems:
            print(f"## {item['id']}: {item['text']}")
            for problem in problems:
                print("   ", problem)


if __name__ == "__main__":
    raise SystemExit(main())
