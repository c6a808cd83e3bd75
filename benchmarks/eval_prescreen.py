"""Prescreening accuracy on the synthetic known-truth cohort, with baselines in the same run.

End to end: each trial's text goes through `eligo.criteria.parse`, each chart through
`eligo.criteria.adapters.from_record`, then `evaluate` screens the chart against the trial it
was written for (benchmarks/data/cohort, truth written before eligo ran on it). Reported:
status accuracy and confusion matrix, per-criterion verdict accuracy, and the false-eligible
rate (truly excluded patients called eligible; must be ~0). Configurations, one run:

- eligo: the full matcher (code, crosswalk, lexicon, text, semantic) and evaluator;
- assertion-blind: the same, with every mention counted as an asserted current fact
  (negation, family, hypothetical, uncertain and historical flags cleared);
- text-only matching: concepts matched by string containment only (no codes or lexicons);
- no closed world: absence of a record never counts as absence;
- no semantic step: the matcher without MiniLM embeddings.

    .venv/bin/python benchmarks/eval_prescreen.py [--errors] [--lexicon-only] [--synthea]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from eligo.criteria.match import SEMANTIC_THRESHOLD, ConceptMatcher
from eligo.criteria.types import Criteria, PatientFacts, Screening

COHORT = Path(__file__).resolve().parent / "data" / "cohort"
SYNTHEA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "synthea" / "fhir"
INDEX_DATE = date(2026, 6, 15)
STATUSES = ("eligible", "needs_review", "excluded")
VERDICTS = ("met", "not_met", "unknown")


# Written concept pairs (same concept?) to show how far MiniLM similarity separates them.
PROBE_PAIRS = [
    ("heart attack", "myocardial infarction", True),
    ("kidney failure", "renal insufficiency", True),
    ("heart failure", "cardiac failure", True),
    ("brain metastases", "metastatic disease to the brain", True),
    ("GI bleed", "gastrointestinal hemorrhage", True),
    ("intracranial hemorrhage", "brain bleed", True),
    ("stroke", "cerebrovascular accident", True),
    ("non-small cell lung cancer", "lung adenocarcinoma", True),
    ("chronic heart failure", "heart failure with reduced ejection fraction", True),
    ("lung cancer", "COPD", False),
    ("hypertension", "hypotension", False),
    ("brain metastases", "brain tumor", False),
    ("heart failure", "liver failure", False),
    ("non-small cell lung cancer", "small cell lung cancer", False),
    ("hepatitis B", "hepatitis C", False),
    ("pancreatitis", "pancreatic cancer", False),
    ("atrial fibrillation", "atrial flutter", False),
    ("diabetes", "diabetes insipidus", False),
]


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def assertion_blind(patient: PatientFacts) -> PatientFacts:
    """Every mention counted as present and current: what assertion status buys."""
    flags = {"negated": False, "family": False, "hypothetical": False, "uncertain": False,
             "historical": False}  # fmt: skip
    facts = [f.model_copy(update=flags) for f in patient.facts]
    return patient.model_copy(update={"facts": facts})


def align(screening: Screening, truth: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, expected, predicted) per truth criterion; "missing" when no criterion's text
    contains the key. Trial-level age/sex rows are not criteria of the text."""
    pool = [c for c in screening.criteria if not c.text.endswith("limits)")]
    used: set[int] = set()
    out = []
    for item in truth["criteria"]:
        key = item["key"].lower()
        found = next(
            (i for i, c in enumerate(pool)
             if i not in used and c.kind == item["kind"] and key in c.text.lower()),
            None,
        )  # fmt: skip
        if found is None:
            out.append((item["key"], item["verdict"], "missing"))
        else:
            used.add(found)
            out.append((item["key"], item["verdict"], pool[found].verdict))
    return out


def score(
    name: str,
    trials: dict[str, Criteria],
    patients: dict[str, PatientFacts],
    truths: list[dict[str, Any]],
    run: Callable[[Criteria, PatientFacts], Screening],
) -> dict[str, Any]:
    statuses: Counter[tuple[str, str]] = Counter()
    verdicts: Counter[tuple[str, str]] = Counter()
    errors: list[str] = []
    start = time.perf_counter()
    screenings = [(t, run(trials[t["trial"]], patients[t["patient"]])) for t in truths]
    elapsed = time.perf_counter() - start
    for truth, screening in screenings:
        statuses[(truth["status"], screening.status)] += 1
        if truth["status"] != screening.status:
            errors.append(f"  {truth['patient']} {truth['trial']}: status {truth['status']} -> "
                          f"{screening.status} ({truth['why']})")  # fmt: skip
        for key, want, got in align(screening, truth):
            verdicts[(want, got)] += 1
            if want != got:
                crit = next((c for c in screening.criteria if key.lower() in c.text.lower()), None)
                reason = crit.reason if crit else "criterion not found in the parse"
                errors.append(f"  {truth['patient']} [{key}] {want} -> {got}: {reason}")
    n = len(truths)
    excluded = sum(v for (t, _), v in statuses.items() if t == "excluded")
    not_eligible = sum(v for (t, _), v in statuses.items() if t != "eligible")
    return {
        "name": name,
        "status_acc": sum(v for (t, p), v in statuses.items() if t == p) / n,
        "criterion_acc": sum(v for (t, p), v in verdicts.items() if t == p)
        / sum(verdicts.values()),
        "false_eligible": statuses[("excluded", "eligible")] / max(excluded, 1),
        "false_eligible_any": sum(
            v for (t, p), v in statuses.items() if t != "eligible" and p == "eligible"
        )
        / max(not_eligible, 1),
        "eligible_found": statuses[("eligible", "eligible")]
        / max(sum(v for (t, _), v in statuses.items() if t == "eligible"), 1),
        "statuses": statuses,
        "verdicts": verdicts,
        "errors": errors,
        "per_s": n / elapsed if elapsed else float("inf"),
    }


def matrix(counts: Counter[tuple[str, str]], labels: tuple[str, ...], extra: str = "") -> str:
    cols = [*labels, extra] if extra else list(labels)
    lines = ["    truth \\ eligo  " + "".join(f"{c:>14}" for c in cols)]
    for row in labels:
        lines.append(f"    {row:<15}" + "".join(f"{counts[(row, c)]:>14}" for c in cols))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cohort", type=Path, default=COHORT)
    parser.add_argument("--errors", action="store_true", help="list every wrong verdict")
    parser.add_argument(
        "--synthea",
        action="store_true",
        help="also time screening on ../shared/data/synthea/fhir bundles (~500 facts each)",
    )
    parser.add_argument(
        "--lexicon-only", action="store_true", help="load(model=None): no NER model"
    )
    args = parser.parse_args()

    import eligo.nlp
    from eligo.criteria.adapters import from_record
    from eligo.criteria.evaluate import evaluate
    from eligo.criteria.parse import parse

    start = time.perf_counter()
    nlp = eligo.nlp.load(model=None) if args.lexicon_only else eligo.nlp.load()
    load_s = time.perf_counter() - start
    trials = {
        t["id"]: parse(t["text"], id=t["id"], nlp=nlp, min_age=t.get("min_age"),
                       max_age=t.get("max_age"), sex=t.get("sex"))
        for t in load_jsonl(args.cohort / "trials.jsonl")
    }  # fmt: skip
    start = time.perf_counter()
    records = load_jsonl(args.cohort / "charts.jsonl")
    patients = {r["id"]: from_record(r, nlp=nlp) for r in records}
    adapt_s = time.perf_counter() - start
    truths = load_jsonl(args.cohort / "truth.jsonl")
    blind = {pid: assertion_blind(p) for pid, p in patients.items()}

    full = ConceptMatcher(nlp=nlp)
    text_only = ConceptMatcher(nlp=nlp, routes=("text",))
    no_semantic = ConceptMatcher(nlp=nlp, semantic=False)
    configs: list[tuple[str, Callable[[Criteria, PatientFacts], Screening]]] = [
        ("eligo", lambda c, p: evaluate(c, p, index_date=INDEX_DATE, matcher=full)),
        ("assertion-blind", lambda c, p: evaluate(
            c, blind[p.id], index_date=INDEX_DATE, matcher=full)),
        ("text-only matching", lambda c, p: evaluate(
            c, p, index_date=INDEX_DATE, matcher=text_only)),
        ("no closed world", lambda c, p: evaluate(
            c, p, index_date=INDEX_DATE, matcher=full, closed_world=False)),
        ("no semantic step", lambda c, p: evaluate(
            c, p, index_date=INDEX_DATE, matcher=no_semantic)),
    ]  # fmt: skip
    results = [score(name, trials, patients, truths, run) for name, run in configs]

    n_crit = sum(len(t["criteria"]) for t in truths)
    print(f"cohort: {len(trials)} trials, {len(patients)} charts, {len(truths)} screenings, "
          f"{n_crit} criterion verdicts; index date {INDEX_DATE}")  # fmt: skip
    print(f"pipeline load {load_s:.1f} s ({'lexicon-only' if args.lexicon_only else 'default'});"
          f" charts -> facts {adapt_s:.1f} s")  # fmt: skip
    print()
    header = (
        f"{'configuration':<20}{'status acc':>11}{'criterion acc':>14}"
        f"{'false-eligible':>15}{'(any)':>7}{'eligible found':>15}{'screens/s':>10}"
    )
    print(header)
    for r in results:
        print(f"{r['name']:<20}{r['status_acc']:>11.3f}{r['criterion_acc']:>14.3f}"
              f"{r['false_eligible']:>15.3f}{r['false_eligible_any']:>7.3f}"
              f"{r['eligible_found']:>15.3f}{r['per_s']:>10.0f}")  # fmt: skip
    print(
        "\nfalse-eligible: truly excluded called eligible / truly excluded; (any): truly "
        "excluded or needs_review called eligible / all not eligible"
    )
    main_result = results[0]
    print("\nstatus confusion (eligo):")
    print(matrix(main_result["statuses"], STATUSES))
    print("\ncriterion verdicts (eligo):")
    print(matrix(main_result["verdicts"], VERDICTS, extra="missing"))
    routes: Counter[str] = Counter()
    for truth in truths:
        screening = evaluate(trials[truth["trial"]], patients[truth["patient"]],
                             index_date=INDEX_DATE, matcher=full)  # fmt: skip
        for crit in screening.criteria:
            if crit.verdict == "met":
                routes.update(e.matched_by or "-" for e in crit.evidence[:1])
    print("\nmatched_by of the first evidence of met criteria (eligo):", dict(routes))
    sims = sorted(set(full.similarities), key=lambda s: -s[2])
    print(f"\nsemantic step: threshold {SEMANTIC_THRESHOLD}; {len(sims)} pairs compared; nearest:")
    for a, b, sim in sims[:12]:
        mark = "MATCH" if sim >= SEMANTIC_THRESHOLD else ""
        print(f"    {sim:.3f} {mark:<6}{a!r} ~ {b!r}")
    # Throughput at scale: every chart against every trial, 20 times over (warm caches).
    start = time.perf_counter()
    count = 0
    for _ in range(20):
        for patient in patients.values():
            for criteria in trials.values():
                evaluate(criteria, patient, index_date=INDEX_DATE, matcher=full)
                count += 1
    elapsed = time.perf_counter() - start
    facts = sum(len(p.facts) for p in patients.values()) / len(patients)
    print(
        f"\nthroughput: {count} screenings (charts x trials x 20) in {elapsed:.1f} s = "
        f"{count / elapsed:.0f} screenings/s, one core ({facts:.0f} facts per chart)"
    )
    if (
        args.synthea and SYNTHEA.is_dir()
    ):  # large real-shaped charts: Synthea FHIR bundles, read in place
        from eligo.criteria.adapters import from_fhir

        files = sorted(SYNTHEA.glob("*.json"))
        start = time.perf_counter()
        bundles = [from_fhir(json.loads(f.read_text(encoding="utf-8")), nlp=nlp) for f in files]
        adapt = time.perf_counter() - start
        size = sum(len(p.facts) for p in bundles) / max(len(bundles), 1)
        for label in ("first pass", "second pass"):
            start = time.perf_counter()
            found: Counter[str] = Counter()
            for patient in bundles:
                for criteria in trials.values():
                    found[evaluate(criteria, patient, index_date=INDEX_DATE,
                                   matcher=full).status] += 1  # fmt: skip
            rate = sum(found.values()) / (time.perf_counter() - start)
            print(f"Synthea FHIR ({len(bundles)} bundles, {size:.0f} facts each; adapter "
                  f"{adapt:.1f} s): {label} {rate:.0f} screenings/s; {dict(found)}")  # fmt: skip
    print("\nsemantic probe pairs (written; same concept?):")
    for a, b, same in sorted(PROBE_PAIRS, key=lambda p: -full.similarity(p[0], p[1])):
        sim = full.similarity(a, b)
        mark = "MATCH" if sim >= SEMANTIC_THRESHOLD else ""
        print(f"    {sim:.3f} {mark:<6}{'same' if same else 'different':<10}{a!r} ~ {b!r}")
    if args.errors:
        for r in results:
            print(f"\nerrors, {r['name']} ({len(r['errors'])}):")
            print("\n".join(r["errors"]) or "  none")


if __name__ == "__main__":
    main()
