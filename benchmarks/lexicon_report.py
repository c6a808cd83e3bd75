"""Lexicon coverage and noise report: ACI-Bench notes and Chia criteria.

    python benchmarks/lexicon_report.py [--data ../shared/data] [--top 60] [--errors 25]

A plain longest-match over the tokens of eligo's tokenizer (same keys as the lexicon
files), independent of the pipeline's concept matcher, so the lexicons can be tuned on
their own:
  * ACI-Bench notes: the most frequent matched keys per label (read them for false
    positives; common words go to curated/stoplist.txt);
  * Chia criteria: overlap precision/recall per label (a predicted span is right when it
    overlaps a gold span of the corresponding type), on the tuning portion and on a dev
    portion held out by trial id (one trial in five, by a stable hash).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from eligo.nlp.resources import resource
from eligo.nlp.text import is_skipped, make_nlp, norm

FILES = ("curated.tsv.gz", "ctcae.tsv.gz", "drugs.tsv.gz", "icd10cm.tsv.gz", "hpo.tsv.gz")
CHIA_TYPES = {
    "Condition": "condition",
    "Drug": "drug",
    "Procedure": "procedure",
    "Measurement": "measurement",
}
LABELS = ("condition", "drug", "procedure", "measurement")


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    key: str
    label: str
    source: str


class Lexicons:
    """key -> (label, file) for case-insensitive and case-sensitive keys; first file wins."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[str, str]]] = {"i": {}, "s": {}}
        self.rows: Counter[str] = Counter()
        self.max_len = 1
        for fname in FILES:
            raw = gzip.decompress(resource("lexicons", fname).read_bytes()).decode("utf-8")
            labels: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
            for line in raw.split("\n")[1:]:
                if not line:
                    continue
                key, _term, label, _sys, _code, _disp, case = line.split("\t")
                labels[(case, key)][label] += 1
                self.rows[fname] += 1
            for (case, key), counts in labels.items():
                if key not in self.keys[case]:
                    self.keys[case][key] = (counts.most_common(1)[0][0], fname.split(".")[0])
                    self.max_len = max(self.max_len, key.count(" ") + 1)


def find(nlp: object, lex: Lexicons, text: str) -> list[Match]:
    doc = nlp.make_doc(text)  # type: ignore[attr-defined]
    toks = [t for t in doc if not is_skipped(t.text)]
    lower = [norm(t.lower_) for t in toks]
    exact = [t.text for t in toks]
    out: list[Match] = []
    i = 0
    while i < len(toks):
        hit = None
        for n in range(min(lex.max_len, len(toks) - i), 0, -1):
            k_s = " ".join(exact[i : i + n])
            k_i = " ".join(lower[i : i + n])
            if k_s in lex.keys["s"]:
                hit = (n, k_s, *lex.keys["s"][k_s])
            elif k_i in lex.keys["i"]:
                hit = (n, k_i, *lex.keys["i"][k_i])
            if hit:
                break
        if hit:
            n, key, label, src = hit
            last = toks[i + n - 1]
            out.append(Match(toks[i].idx, last.idx + len(last.text), key, label, src))
            i += n
        else:
            i += 1
    return out


def aci_notes(data: Path) -> list[str]:
    notes: list[str] = []
    for path in sorted((data / "clinical_notes/aci-bench/challenge_data").glob("*.csv")):
        if path.name.endswith("_metadata.csv"):
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            notes.extend(row["note"] for row in csv.DictReader(fh))
    return notes


def is_dev(doc_id: str) -> bool:
    trial = doc_id.split("_")[0]
    return int(hashlib.sha1(trial.encode()).hexdigest(), 16) % 5 == 0


def chia_docs(data: Path) -> list[tuple[str, str, list[tuple[int, int, str, str]]]]:
    docs = []
    for txt in sorted((data / "chia").glob("*.txt")):
        # newline="": brat offsets count the "\r" of files with CRLF line ends.
        with txt.open(encoding="utf-8", newline="") as fh:
            text = fh.read()
        gold = []
        ann = txt.with_suffix(".ann")
        for line in ann.read_text(encoding="utf-8").splitlines() if ann.exists() else []:
            if not line.startswith("T"):
                continue
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            etype, _, offsets = parts[1].partition(" ")
            if etype not in CHIA_TYPES:
                continue
            for frag in offsets.split(";"):
                s, e = frag.split()
                gold.append((int(s), int(e), CHIA_TYPES[etype], parts[2]))
        docs.append((txt.stem, text, gold))
    return docs


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def chia_scores(
    nlp: object, lex: Lexicons, docs: list[tuple[str, str, list[tuple[int, int, str, str]]]]
) -> tuple[dict[str, list[int]], dict[str, Counter[str]], dict[str, Counter[str]]]:
    # label -> [tp_pred, n_pred, tp_gold, n_gold]
    counts: dict[str, list[int]] = {label: [0, 0, 0, 0] for label in LABELS}
    fps: dict[str, Counter[str]] = defaultdict(Counter)
    fns: dict[str, Counter[str]] = defaultdict(Counter)
    for _doc_id, text, gold in docs:
        preds = find(nlp, lex, text)
        for m in preds:
            c = counts[m.label]
            c[1] += 1
            if any(g[2] == m.label and overlaps((m.start, m.end), g[:2]) for g in gold):
                c[0] += 1
            else:
                fps[m.label][f"{m.key} [{m.source}]"] += 1
        for g in gold:
            c = counts[g[2]]
            c[3] += 1
            if any(m.label == g[2] and overlaps((m.start, m.end), g[:2]) for m in preds):
                c[2] += 1
            else:
                fns[g[2]][g[3].lower()] += 1
    return counts, fps, fns


def prf(c: list[int]) -> tuple[float, float, float]:
    p = c[0] / c[1] if c[1] else 0.0
    r = c[2] / c[3] if c[3] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--errors", type=int, default=25, help="top FP/FN per label (tune)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    nlp = make_nlp()
    lex = Lexicons()
    print(
        f"lexicons: {dict(lex.rows)} ({sum(lex.rows.values())} rows), "
        f"loaded in {time.perf_counter() - t0:.1f}s"
    )

    notes = aci_notes(args.data)
    freq: dict[str, Counter[str]] = defaultdict(Counter)
    for note in notes:
        for m in find(nlp, lex, note):
            freq[m.label][f"{m.key} [{m.source}]"] += 1
    print(f"\n== ACI-Bench: {len(notes)} notes; top {args.top} matched keys per label")
    for label in LABELS:
        items = ", ".join(f"{k} {n}" for k, n in freq[label].most_common(args.top))
        print(f"\n-- {label} ({sum(freq[label].values())} matches)\n{items}")

    docs = chia_docs(args.data)
    tune = [d for d in docs if not is_dev(d[0])]
    dev = [d for d in docs if is_dev(d[0])]
    t1 = time.perf_counter()
    results = {}
    for name, part in (("tune", tune), ("dev", dev)):
        results[name] = chia_scores(nlp, lex, part)
    print(
        f"\n== Chia overlap P/R ({len(tune)} tune files, {len(dev)} dev files; "
        f"{time.perf_counter() - t1:.1f}s)"
    )
    print(f"{'label':<12} {'part':<5} {'P':>6} {'R':>6} {'F1':>6} {'pred':>6} {'gold':>6}")
    for label in LABELS:
        for name in ("tune", "dev"):
            c = results[name][0][label]
            p, r, f = prf(c)
            print(f"{label:<12} {name:<5} {p:6.3f} {r:6.3f} {f:6.3f} {c[1]:6d} {c[3]:6d}")
    if args.errors:
        _, fps, fns = results["tune"]
        for label in LABELS:
            print(
                f"\n-- tune FP {label}: "
                + ", ".join(f"{k} {n}" for k, n in fps[label].most_common(args.errors))
            )
            print(
                f"-- tune FN {label}: "
                + ", ".join(f"{k} {n}" for k, n in fns[label].most_common(args.errors))
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
