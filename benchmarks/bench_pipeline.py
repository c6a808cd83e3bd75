"""Throughput and cold start: medspaCy's default pipeline vs eligo's full pipeline.

Both run in this one process over the same ACI-Bench notes, so the ratio holds on a noisy
machine. Cold start is time to ready: from launching a fresh interpreter until the
pipeline is loaded and has processed a first note (interpreter teardown is not counted).

    .venv/bin/python benchmarks/bench_pipeline.py [--data DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ACI, aci_notes

COLD_ELIGO = "import eligo.nlp; nlp = eligo.nlp.load(model=None); nlp('warm up')"
COLD_ELIGO_MODEL = "import eligo.nlp; nlp = eligo.nlp.load(); nlp('warm up')"
COLD_MEDSPACY = (
    "from loguru import logger; logger.remove(); import medspacy; "
    "nlp = medspacy.load(); nlp('warm up')"
)
READY = "; import time; print(time.time())"


def cold_start(code: str, runs: int) -> float:
    """Median seconds from launching a fresh interpreter until `code` (import, load and one
    call) has run; the child prints the wall clock when it is ready."""
    times = []
    for _ in range(runs):
        launched = time.time()
        done = subprocess.run(
            [sys.executable, "-c", code + READY],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        times.append(float(done.stdout.split()[-1]) - launched)
    return statistics.median(times)


def throughput(run: Callable[[list[str]], int], notes: list[str], repeat: int) -> tuple[float, int]:
    """Best-of-`repeat` seconds to process all notes, and the entities found."""
    best = float("inf")
    found = 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = run(notes)
        best = min(best, time.perf_counter() - started)
    return best, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ACI, help="ACI-Bench challenge_data folder")
    parser.add_argument("--repeat", type=int, default=3, help="eligo passes (best is kept)")
    parser.add_argument("--medspacy-notes", type=int, default=0, help="0 = all notes")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument(
        "--model-notes", type=int, default=60, help="notes for the row with the NER model"
    )
    args = parser.parse_args()

    notes = aci_notes(args.data)
    chars = sum(map(len, notes))
    print(f"{len(notes)} ACI-Bench notes, {chars / len(notes):,.0f} chars/note on average")

    from loguru import logger

    logger.remove()  # PyRuSH logs a debug line per sentence through loguru
    import medspacy

    import eligo.nlp

    med = medspacy.load()
    from eligo.nlp.pipeline import shipped_model

    eligo_nlp = eligo.nlp.load(model=None)  # all lexicons, no transformer
    med_notes = notes[: args.medspacy_notes] if args.medspacy_notes else notes
    med_chars = sum(map(len, med_notes))

    def run_medspacy(texts: list[str]) -> int:
        return sum(len(doc.ents) for doc in med.pipe(texts))

    def run_eligo(texts: list[str]) -> int:
        return sum(len(doc.ents) for doc in eligo_nlp.pipe(texts, batch_size=32))

    med_s, med_ents = throughput(run_medspacy, med_notes, 1)
    eli_s, eli_ents = throughput(run_eligo, notes, args.repeat)
    med_cold = cold_start(COLD_MEDSPACY, args.cold_runs)
    eli_cold = cold_start(COLD_ELIGO, args.cold_runs)
    lexicon_terms = len(eligo_nlp.get_pipe("eligo_concepts"))

    rows = [
        (
            "medspaCy default (PyRuSH, ConText)",
            len(med_notes),
            med_chars,
            med_s,
            med_ents,
            med_cold,
        ),
        ("eligo, all lexicons (model=None)", len(notes), chars, eli_s, eli_ents, eli_cold),
    ]
    if shipped_model():
        with_model = eligo.nlp.load()
        model_notes = notes[: args.model_notes]

        def run_model(texts: list[str]) -> int:
            return sum(len(doc.ents) for doc in with_model.pipe(texts, batch_size=32))

        mod_s, mod_ents = throughput(run_model, model_notes, 1)
        mod_cold = cold_start(COLD_ELIGO_MODEL, args.cold_runs)
        model_chars = sum(map(len, model_notes))
        rows.append(
            (
                "eligo + NER model (default load())",
                len(model_notes),
                model_chars,
                mod_s,
                mod_ents,
                mod_cold,
            )
        )
    print()
    print(f"{'pipeline':38} {'notes/s':>9} {'chars/s':>10} {'ents/note':>10} {'cold start':>11}")
    for name, n, c, s, ents, cold in rows:
        print(f"{name:38} {n / s:9.1f} {c / s:10,.0f} {ents / n:10.1f} {cold:10.2f}s")
    ratio = (len(notes) / eli_s) / (len(med_notes) / med_s)
    print(f"\neligo / medspaCy throughput: {ratio:.1f}x  (one core, one process, same run)")
    print(f"eligo lexicon keys loaded: {lexicon_terms:,}")
    print("\neligo per component (ms/note):")
    for name, ms in component_times(eligo_nlp, notes).items():
        print(f"  {name:22} {ms:6.2f}")


def component_times(nlp: Any, notes: list[str]) -> dict[str, float]:
    """Milliseconds per note spent in the tokenizer and in each pipeline component."""
    times = {}
    started = time.perf_counter()
    docs = [nlp.make_doc(text) for text in notes]
    times["tokenizer"] = time.perf_counter() - started
    for name, proc in nlp.pipeline:
        started = time.perf_counter()
        docs = [proc(doc) for doc in docs]
        times[name] = time.perf_counter() - started
    return {name: 1000 * seconds / len(notes) for name, seconds in times.items()}


if __name__ == "__main__":
    main()
