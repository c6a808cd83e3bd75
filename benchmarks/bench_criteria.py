"""Speed and robustness of `eligo.criteria.parse` on real ClinicalTrials.gov eligibility text.

A seeded sample of trials from ../shared/data/ctgov_trials/trials.jsonl is parsed whole
(with each trial's min_age/max_age/gender fields). Printed, in one run:

- the full parse: trials/s, criteria/s, median / p95 / max ms per trial;
- baselines on the same criterion texts: the splitter alone, and the concept finder alone
  (`criterion_entities`, one `nlp.pipe` over each trial's criteria);
- the parser's own layer (values, windows, logic, rule trees): the parse rerun with each
  trial's concepts computed beforehand, so only the rest is timed;
- robustness: every trial must give `Criteria` or a `CriteriaError` (counted by code); any
  other exception is a failure (and the exit code is 1). Offsets are checked too:
  `text[start:end] == criterion.text` for every criterion and entity.

    .venv/bin/python benchmarks/bench_criteria.py [--data FILE] [--trials 300] [--seed 13]
        [--model none|default]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import eligo.nlp
from eligo.criteria import CriteriaError, CriterionEntity, parse
from eligo.criteria.entities import criterion_entities
from eligo.criteria.split import split

parse_module: Any = sys.modules["eligo.criteria.parse"]

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ctgov_trials"


def load_trials(path: Path, n: int, seed: int) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA / "trials.jsonl")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--model", choices=("none", "default"), default="none")
    args = ap.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data")
    trials = load_trials(args.data, args.trials, args.seed)
    nlp = eligo.nlp.load(model=None if args.model == "none" else "default")
    parse("Inclusion Criteria:\n- Age >= 18 years", nlp=nlp)  # warm caches (tables, regexes)

    errors: Counter[str] = Counter()
    failures: list[str] = []
    offset_errors = 0
    per_trial: list[float] = []
    n_criteria = 0
    texts_per_trial: list[list[str]] = []
    t_all = time.perf_counter()
    for row in trials:
        text = row.get("eligibility_text")
        t0 = time.perf_counter()
        try:
            result = parse(
                text,  # type: ignore[arg-type]
                id=str(row.get("nct_id")),
                nlp=nlp,
                min_age=row.get("min_age"),  # type: ignore[arg-type]
                max_age=row.get("max_age"),  # type: ignore[arg-type]
                sex=row.get("gender"),  # type: ignore[arg-type]
            )
        except CriteriaError as err:
            errors[err.code] += 1
            per_trial.append(time.perf_counter() - t0)
            continue
        except Exception as err:  # counted: the benchmark's robustness figure
            failures.append(f"{row.get('nct_id')}: {type(err).__name__}: {err}")
            continue
        per_trial.append(time.perf_counter() - t0)
        assert isinstance(text, str)
        n_criteria += len(result.criteria)
        texts_per_trial.append([c.text for c in result.criteria])
        for c in result.criteria:
            offset_errors += text[c.start : c.end] != c.text
            offset_errors += sum(text[e.start : e.end] != e.text for e in c.entities)
    total = time.perf_counter() - t_all

    t0 = time.perf_counter()
    for row in trials:
        if isinstance(row.get("eligibility_text"), str):
            split(row["eligibility_text"])  # type: ignore[arg-type]
    t_split = time.perf_counter() - t0
    t0 = time.perf_counter()
    for texts in texts_per_trial:
        criterion_entities(nlp, texts)
    t_ents = time.perf_counter() - t0

    found = {tuple(texts): criterion_entities(nlp, texts) for texts in texts_per_trial}
    real = parse_module._entities

    def precomputed(nlp_: object, texts: list[str]) -> list[list[CriterionEntity]]:
        return [[e.model_copy() for e in ents] for ents in found[tuple(texts)]]

    parse_module._entities = precomputed
    t0 = time.perf_counter()
    try:
        for row in trials:
            try:
                parse(row.get("eligibility_text"), nlp=nlp)  # type: ignore[arg-type]
            except Exception:
                continue
    finally:
        parse_module._entities = real
    t_rules = time.perf_counter() - t0

    ms = sorted(1000 * t for t in per_trial)
    p95 = ms[int(0.95 * (len(ms) - 1))] if ms else 0.0
    print(
        f"trials: {len(trials)} (seed {args.seed}), criteria parsed: {n_criteria}, "
        f"pipeline: load(model={'None' if args.model == 'none' else repr(args.model)})"
    )
    print(f"{'step':<36}{'seconds':>9}{'trials/s':>10}{'criteria/s':>12}")
    for name, secs in (
        ("split only (baseline)", t_split),
        ("criterion_entities only (baseline)", t_ents),
        ("parse without entities (own layer)", t_rules),
        ("parse (split+entities+rules)", total),
    ):
        print(f"{name:<36}{secs:>9.2f}{len(trials) / secs:>10.1f}{n_criteria / secs:>12.0f}")
    if ms:
        print(f"ms per trial: median {statistics.median(ms):.1f}, p95 {p95:.1f}, max {ms[-1]:.1f}")
    print(f"CriteriaError by code: {dict(errors) or '{}'}")
    print(f"offset mismatches: {offset_errors}")
    print(f"failures (exceptions other than CriteriaError): {len(failures)}")
    for line in failures[:10]:
        print("  ", line)
    return 1 if failures or offset_errors else 0


if __name__ == "__main__":
    sys.exit(main())
