"""Negation and speculation on BioScope clinical (radiology) sentences: eligo vs medspaCy.

Concept-level: every concept eligo's pipeline finds in a sentence is one instance. Gold
negated = the concept lies inside a negation scope (`<xcope>` whose `<cue type="negation">`)
and is not itself the cue; gold uncertain = inside a speculation scope. Predicted = the
system's `is_negated` / `is_uncertain`. medspaCy's default ConText assesses exactly the same
concept spans (same tokenizer and sentence), so only the assertion logic differs.

Documents are split by position: every 5th document (index % 5 == 4) is test, the rest dev;
eligo's rules were tuned looking at dev only. Usage:

    .venv/bin/python benchmarks/eval_bioscope.py [--data PATH] [--limit N] [--errors N]
"""

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spacy.language import Language

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_assertion import (
    GROUP,
    Counts,
    baseline_pipeline,
    eligo_pipeline,
    flags,
    print_table,
    run_with_spans,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "bioscope_clinical" / "clinical_records.xml"
ATTRS = ("negated", "uncertain")
# NegEx (Chapman et al. 2001, J Biomed Inform 34:301) on its own discharge-summary test set.
NEGEX_PUBLISHED = {"P": 0.845, "R": 0.778}


@dataclass
class Sentence:
    doc_index: int
    text: str
    # (start, end, type) of each scope, and (start, end) of each cue, in `text` offsets
    scopes: list[tuple[int, int, str]] = field(default_factory=list)
    cues: list[tuple[int, int]] = field(default_factory=list)


def _walk(node: ET.Element, parts: list[str], scopes: dict[str, list[int]], cues: dict) -> None:
    """Collect text of `node` into parts, recording char offsets of xcopes and cues."""
    offset = sum(map(len, parts))
    if node.tag == "xcope":
        scopes[node.get("id", "")] = [offset, -1]
    if node.text:
        parts.append(node.text)
    for child in node:
        _walk(child, parts, scopes, cues)
        if child.tail:
            parts.append(child.tail)
    end = sum(map(len, parts))
    if node.tag == "xcope":
        scopes[node.get("id", "")][1] = end
    if node.tag == "cue":
        cues.setdefault(node.get("ref", ""), []).append((offset, end, node.get("type", "")))


def read_bioscope(path: Path) -> Iterator[Sentence]:
    root = ET.parse(path).getroot()
    for doc_index, document in enumerate(root.iter("Document")):
        for element in document.iter("sentence"):
            parts: list[str] = []
            scopes: dict[str, list[int]] = {}
            cues: dict[str, list[tuple[int, int, str]]] = {}
            _walk(element, parts, scopes, cues)
            raw = "".join(parts)
            lead = len(raw) - len(raw.lstrip())
            text = raw.strip()
            if not text:
                continue
            sentence = Sentence(doc_index, text)
            for xid, (start, end) in scopes.items():
                types = {t for _, _, t in cues.get(xid, [])}
                kind = "negation" if "negation" in types else "speculation"
                sentence.scopes.append((start - lead, end - lead, kind))
            for found in cues.values():
                sentence.cues += [(s - lead, e - lead) for s, e, _ in found]
            yield sentence


def gold_flags(sentence: Sentence, start: int, end: int) -> dict[str, bool]:
    def inside(kind: str) -> bool:
        return any(s <= start and end <= e for s, e, k in sentence.scopes if k == kind)

    is_cue = any(s < end and start < e for s, e in sentence.cues)
    return {
        "negated": inside("negation") and not is_cue,
        "uncertain": inside("speculation") and not is_cue,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    parser.add_argument("--errors", type=int, default=0, help="print N eligo errors on dev")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"BioScope file not found: {args.data} (pass --data PATH)")

    eligo_nlp, how = eligo_pipeline()
    base_nlp: Language = baseline_pipeline()
    counts = {
        split: {system: {a: Counts() for a in ATTRS} for system in ("eligo", "medspaCy default")}
        for split in ("dev", "test")
    }
    n_sent = {"dev": 0, "test": 0}
    errors_left = args.errors
    for sentence in read_bioscope(args.data):
        if args.limit is not None and sentence.doc_index >= args.limit:
            break
        split = "test" if sentence.doc_index % 5 == 4 else "dev"
        n_sent[split] += 1
        doc = eligo_nlp(sentence.text)
        concepts = [s for s in doc.spans.get(GROUP, []) if s.label_ != "target"]
        if not concepts:
            continue
        spans = [(s.start_char, s.end_char, s.label_) for s in concepts]
        baseline = run_with_spans(base_nlp, sentence.text, spans, before="baseline_context")
        base_by_offsets = {(s.start_char, s.end_char): s for s in baseline}
        for span in concepts:
            gold = gold_flags(sentence, span.start_char, span.end_char)
            preds = {
                "eligo": flags(span),
                "medspaCy default": flags(base_by_offsets.get((span.start_char, span.end_char))),
            }
            for system, pred in preds.items():
                for attr in ATTRS:
                    counts[split][system][attr].add(gold[attr], pred[attr])
            pred = preds["eligo"]
            if split == "dev" and errors_left > 0 and any(gold[a] != pred[a] for a in ATTRS):
                errors_left -= 1
                diff = " ".join(
                    f"{a}:{'+' if pred[a] else '-'}" for a in ATTRS if gold[a] != pred[a]
                )
                print(f"  [{span.text}] {diff} | {sentence.text}")

    print(f"data: {args.data}; eligo: {how}")
    for split in ("dev", "test"):
        n = sum(c.tp + c.fp + c.fn for c in counts[split]["eligo"].values())
        if not n and not n_sent[split]:
            continue
        print_table(f"BioScope clinical {split} ({n_sent[split]} sentences)", counts[split], ATTRS)
    p, r = NEGEX_PUBLISHED["P"], NEGEX_PUBLISHED["R"]
    print(
        f"\nreference: NegEx as published (own test set, not comparable): "
        f"negation P {p:.3f} R {r:.3f} F1 {2 * p * r / (p + r):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
