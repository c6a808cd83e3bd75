"""Review eligo's concept extraction on real clinical notes (ACI-Bench), the way a clinician would.

    .venv/bin/python benchmarks/extraction_review.py [--data DIR] [--top 40] [--sample 150]
        [--seed 13] [--context 60] [--examples]

Prints, over the ACI-Bench visit notes run through the full pipeline (`eligo.nlp.load()`):
  * entities per note by label, and the share of entities with at least one code;
  * the most frequent entity texts per label, with their count and first code (read them
    for everyday words, wrong labels and wrong codes);
  * a fixed-seed sample of entities with `--context` characters either side, for a
    hand-checked precision estimate (judge each: correct / wrong label / not a concept /
    wrong code). The sample goes to stdout only: corpus text never goes into the repo.

`--examples` adds the synthetic notes in corpora/examples/notes/ to the counts.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ACI, REPO, aci_notes

import eligo.nlp
from eligo.nlp.types import Entity

LABELS = ("condition", "drug", "procedure", "measurement")
EXAMPLES = REPO / "corpora" / "examples" / "notes"


def first_code(ent: Entity) -> str:
    if not ent.codes:
        return "-"
    code = ent.codes[0]
    return f"{code.system}:{code.code} {code.display}"


def context(text: str, ent: Entity, width: int) -> str:
    left = text[max(0, ent.start - width) : ent.start]
    right = text[ent.end : ent.end + width]
    snippet = f"{left}[[{text[ent.start : ent.end]}]]{right}"
    return " ".join(snippet.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ACI, help="ACI-Bench challenge_data folder")
    parser.add_argument("--top", type=int, default=40, help="frequent texts shown per label")
    parser.add_argument("--sample", type=int, default=150, help="entities sampled for judging")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--context", type=int, default=60, help="characters each side")
    parser.add_argument("--examples", action="store_true", help="add corpora/examples/notes")
    args = parser.parse_args(argv)

    notes = aci_notes(args.data)
    if args.examples:
        notes += [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    nlp = eligo.nlp.load()
    started = time.perf_counter()
    found: list[tuple[int, Entity]] = []
    for i, doc in enumerate(nlp.pipe(notes, batch_size=16)):
        found.extend((i, ent) for ent in eligo.nlp.to_entities(doc) if ent.label in LABELS)
    seconds = time.perf_counter() - started

    by_label: dict[str, list[Entity]] = defaultdict(list)
    for _, ent in found:
        by_label[ent.label].append(ent)
    n = len(notes)
    print(f"{n} notes, {len(found)} entities in {seconds:.1f}s\n")
    print(f"{'label':<12} {'entities':>9} {'per note':>9} {'coded':>7}")
    for label in LABELS:
        ents = by_label[label]
        coded = sum(1 for e in ents if e.codes) / len(ents) if ents else 0.0
        print(f"{label:<12} {len(ents):>9} {len(ents) / n:>9.1f} {coded:>7.1%}")
    coded_all = sum(1 for _, e in found if e.codes) / len(found) if found else 0.0
    print(f"{'all':<12} {len(found):>9} {len(found) / n:>9.1f} {coded_all:>7.1%}")

    for label in LABELS:
        texts = Counter(e.text.lower() for e in by_label[label])
        codes = {e.text.lower(): first_code(e) for e in by_label[label]}
        print(f"\n## {label}: top {args.top} of {len(texts)} distinct texts")
        for text, count in texts.most_common(args.top):
            print(f"{count:>6}  {text:<32} {codes[text]}")

    rng = random.Random(args.seed)
    sample = rng.sample(found, min(args.sample, len(found)))
    print(f"\n## sample of {len(sample)} entities (seed {args.seed}); judge each one")
    for k, (i, ent) in enumerate(sample, 1):
        print(f"{k:>3} note {i:<3} {ent.label:<11} {first_code(ent)}")
        print(f"      {context(notes[i], ent, args.context)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
