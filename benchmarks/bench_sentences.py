"""eligo_sentences vs medspaCy's PyRuSH: boundary accuracy and speed, measured in one run.

Accuracy: the hand-written cases in benchmarks/data/sentence_cases.jsonl (gold sentences
as substrings of each text); a boundary is the offset of a sentence's first non-space
character, the start of the text excluded. Speed: the ACI-Bench notes (column `note`),
tokenizer + splitter in notes/s, and each component alone in ms/note. eligo_values is
timed too, on measurement entities from a small EntityRuler of lab names.

    .venv/bin/python benchmarks/bench_sentences.py [--notes DIR] [--repeat N]
"""

import argparse
import csv
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import medspacy.sentence_splitting  # noqa: F401  (registers medspacy_pyrush)
from loguru import logger
from spacy.language import Language
from spacy.tokens import Doc

import eligo.nlp.sentences
import eligo.nlp.values  # noqa: F401  (registers eligo_values)
from eligo.nlp.text import make_nlp

HERE = Path(__file__).parent
CASES = HERE / "data" / "sentence_cases.jsonl"
NOTES = Path("/work/shared/data/clinical_notes/aci-bench/challenge_data")
LABS = [
    "HbA1c", "A1c", "hemoglobin A1c", "creatinine", "BP", "blood pressure", "platelets",
    "platelet count", "eGFR", "weight", "temperature", "temp", "heart rate", "pulse",
    "WBC", "hemoglobin", "potassium", "sodium", "glucose", "blood sugar", "cholesterol",
    "LDL", "TSH", "oxygen saturation", "respiratory rate", "BMI", "INR",
]  # fmt: skip


def load_cases() -> list[dict[str, object]]:
    with CASES.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_notes(folder: Path) -> list[str]:
    notes: list[str] = []
    for file in sorted(folder.glob("*.csv")):
        if file.name.endswith("_metadata.csv"):
            continue
        with file.open(encoding="utf-8", newline="") as f:
            notes.extend(row["note"] for row in csv.DictReader(f))
    return notes


def gold_starts(text: str, sentences: Iterable[str]) -> set[int]:
    starts, pos = set(), 0
    for sentence in sentences:
        at = text.index(sentence, pos)
        starts.add(at)
        pos = at + len(sentence)
    return starts


def predicted_starts(doc: Doc) -> set[int]:
    starts = set()
    for sent in doc.sents:
        content = [t for t in sent if not t.is_space]
        if content:
            starts.add(content[0].idx)
    return starts


def score(nlp: Language, cases: list[dict[str, object]]) -> tuple[float, float, float]:
    tp = fp = fn = 0
    for case in cases:
        text = str(case["text"])
        gold = gold_starts(text, case["sentences"])  # type: ignore[arg-type]
        pred = predicted_starts(nlp(text))
        first = len(text) - len(text.lstrip())
        gold.discard(first)
        pred.discard(first)
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=Path, default=NOTES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logger.remove()  # PyRuSH logs every rule match through loguru

    eligo = make_nlp()
    eligo.add_pipe("eligo_sentences")
    rush = make_nlp()
    rush.add_pipe("medspacy_pyrush")
    systems = {"eligo_sentences": eligo, "PyRuSH": rush}

    cases = load_cases()
    notes = load_notes(args.notes)
    tokenizer = make_nlp()
    docs = [tokenizer.make_doc(text) for text in notes]
    n = len(notes)
    tok_s = best_time(lambda: [tokenizer.make_doc(t) for t in notes], args.repeat)

    print(f"{len(cases)} cases; {n} ACI-Bench notes, {sum(map(len, notes)) / n:.0f} chars and")
    print(
        f"{sum(map(len, docs)) / n:.0f} tokens each; tokenizer alone {tok_s / n * 1e3:.2f} ms/note"
    )
    print()
    print(f"{'splitter':<16} {'P':>6} {'R':>6} {'F1':>6} {'notes/s':>9} {'ms/note':>8}")
    for name, nlp in systems.items():
        p, r, f1 = score(nlp, cases)
        # PyRuSH takes minutes per pass over the notes: one pass is enough to rank it.
        repeat = args.repeat if nlp is eligo else 1
        total = best_time(lambda nlp=nlp: [nlp(t) for t in notes], repeat)  # type: ignore[misc]
        component = nlp.get_pipe(nlp.pipe_names[0])
        alone = best_time(lambda c=component: [c(d) for d in docs], repeat)  # type: ignore[misc]
        print(f"{name:<16} {p:6.3f} {r:6.3f} {f1:6.3f} {n / total:9.1f} {alone / n * 1e3:8.3f}")

    # eligo_values on the same notes: timed alone, on docs with sentences and lab entities.
    nlp = make_nlp()
    nlp.add_pipe("eligo_sentences")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": "measurement", "pattern": lab} for lab in LABS])
    values = nlp.add_pipe("eligo_values")
    with nlp.select_pipes(disable=["eligo_values"]):
        lab_docs = [nlp(t) for t in notes]
    found = sum(1 for d in lab_docs for e in d.ents)
    v_s = best_time(lambda: [values(d) for d in lab_docs], args.repeat)
    valued = sum(1 for d in lab_docs for e in d.ents if e._.value is not None)
    print()
    print(
        f"eligo_values: {v_s / n * 1e3:.3f} ms/note "
        f"({found / n:.1f} measurement mentions/note, {valued} of {found} with a value)"
    )


if __name__ == "__main__":
    main()
