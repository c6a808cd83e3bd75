"""Chart adapters on the Synthea FHIR bundles: facts per kind and source, code coverage, time.

    .venv/bin/python benchmarks/bench_adapters.py [--fhir ../shared/data/synthea/fhir] [--model]

Reads every bundle with `read_fhir_folder` (lexicon-only pipeline; `--model` adds a second
run with the default pipeline, NER model included) and prints: bundles, errors, notes, wall
time; facts per (source, kind); code origins; and the share of distinct chart codes
(SNOMED CT / RxNorm / LOINC / CVX) whose facts carry at least one eligo code.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

import eligo.nlp
from eligo.criteria.adapters import AdapterError, crosswalk, read_fhir_folder
from eligo.criteria.types import PatientFacts

CHART_SYSTEMS = ("SNOMED CT", "RxNorm", "LOINC", "CVX")


def run(folder: Path, model: str | None) -> None:
    t0 = time.perf_counter()
    nlp = eligo.nlp.load(model=model)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = list(read_fhir_folder(folder, nlp=nlp))
    wall = time.perf_counter() - t0
    patients = [r for r in results if isinstance(r, PatientFacts)]
    errors = [r for r in results if isinstance(r, AdapterError)]
    notes = sum(len(p.notes) for p in patients)
    facts = [f for p in patients for f in p.facts]
    label = "lexicon-only" if model is None else "default (NER model)"
    print(f"\n## {label}: pipeline load {load_s:.1f} s")
    print(
        f"{len(patients)} bundles, {len(errors)} errors, {notes} notes, {len(facts)} facts "
        f"in {wall:.1f} s ({len(patients) / wall:.2f} bundles/s, {notes / wall:.0f} notes/s)"
    )
    kinds = Counter((f.source.kind, f.kind) for f in facts)
    print("\n| source | kind | facts |\n|---|---|---:|")
    for (source, kind), n in sorted(kinds.items()):
        print(f"| {source} | {kind} | {n} |")
    origins = Counter(o for f in facts for o in set(f.code_sources.values()))
    print("\nfacts with a code of origin: " + ", ".join(f"{k} {v}" for k, v in origins.items()))
    flags = Counter(
        name
        for f in facts
        if f.source.kind == "note"
        for name in ("negated", "family", "historical", "hypothetical", "uncertain")
        if getattr(f, name)
    )
    print("note facts flagged: " + ", ".join(f"{k} {v}" for k, v in sorted(flags.items())))
    # A chart code reaches eligo's vocabularies when its fact gained a code from the lexicon
    # or the code has a non-empty crosswalk entry (a LOINC code whose target is the same
    # LOINC code gains nothing new, but criteria coded with it match it directly).
    table = crosswalk()
    mapped: dict[tuple[str, str], bool] = defaultdict(bool)
    for fact in facts:
        if fact.source.kind == "note":
            continue
        lexicon = any(fact.code_origin(c) == "lexicon" for c in fact.codes)
        for code in fact.codes:
            if code.system in CHART_SYSTEMS and fact.code_origin(code) == "record":
                key = (code.system, code.code)
                mapped[key] |= lexicon or bool(table.get(key))
    print("\n| chart system | distinct codes in facts | with an eligo code |\n|---|---:|---:|")
    for system in CHART_SYSTEMS:
        codes = [v for (s, _), v in mapped.items() if s == system]
        if codes:
            print(f"| {system} | {len(codes)} | {sum(codes)} ({sum(codes) / len(codes):.0%}) |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fhir", type=Path, default=Path("../shared/data/synthea/fhir"))
    parser.add_argument("--model", action="store_true", help="also run the default pipeline")
    args = parser.parse_args()
    run(args.fhir, None)
    if args.model:
        run(args.fhir, "default")


if __name__ == "__main__":
    main()
