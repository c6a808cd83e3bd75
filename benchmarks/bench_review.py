"""`eligo review` throughput: 1 process vs 2 worker processes vs Ray (2 CPUs), in one run.

The same job (ACI-Bench notes, repeated, through the batch runner with the review processor
and a resumable JSONL output) runs three ways in this one invocation, so the ratios hold on
a noisy machine:

- `nlp.pipe only`: the baseline, the pipeline alone in this process (no runner, no output);
- `1 process`: the runner with the pipeline in this process (`--workers 1`, the default);
- `2 processes`: a local pool of 2 spawned workers, each loading the pipeline once;
- `Ray, 2 CPUs`: a fresh local Ray instance (`ray.init(num_cpus=2)`) with 2 actors.

Startup is the time from starting the job to its first chunk of results (process or Ray
start, pipeline load, first chunk), from the first round (cold); steady notes/s counts the
notes after that chunk over the time after it. Total is end to end (of the best round).
Derived Parquet/DuckDB outputs are not included.

    .venv/bin/python benchmarks/bench_review.py [--data DIR] [--repeat 3] [--rounds 2] [--model]

Each engine runs `--rounds` times, in turn, and its best round (by steady notes/s) is shown:
the machine is shared, and the best round is the one least disturbed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ACI, aci_notes

from eligo.serving.batch import Engine, Progress, Summary, read_notes, review_processor, run_job


def run(notes: Path, out_dir: Path, *, workers: int, engine: Engine, model: bool) -> Summary:
    items, _ = read_notes(notes)
    progress = Progress.open(out_dir / "review.jsonl", fingerprint={"bench": engine, "w": workers})
    factory = functools.partial(
        review_processor, model=model, threads=1 if workers > 1 or engine == "ray" else 0
    )
    return run_job(items, factory, progress, workers=workers, engine=engine, chunk_size=8)


def pipeline_only(texts: list[str], *, model: bool) -> float:
    """Baseline: notes/s of `nlp.pipe` + `to_entities` alone (no runner, no output), in this
    process: the pipeline's own speed on this machine at this moment."""
    import time

    from eligo.nlp import load, to_entities

    nlp = load() if model else load(model=None)
    started = time.perf_counter()
    for doc in nlp.pipe(texts, batch_size=8):
        to_entities(doc)
    return len(texts) / (time.perf_counter() - started)


HEADROOM = """
import sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from _data import aci_notes
from eligo.nlp import load
nlp = load(model=None); nlp("warm up")
texts = aci_notes(Path({data!r}))[:{n}]
started = time.perf_counter()
for doc in nlp.pipe(texts, batch_size=8):
    pass
print(len(texts) / (time.perf_counter() - started))
"""


def headroom(data: Path, n: int = 120) -> tuple[float, float]:
    """Control for a shared machine: notes/s of one bare pipeline process alone, and of two
    such processes at once (their sum). Without a free core the sum stays near the single."""
    import subprocess

    code = HEADROOM.format(bench=str(Path(__file__).resolve().parent), data=str(data), n=n)
    cmd = [sys.executable, "-c", code]
    single = float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    both = sum(float(p.communicate()[0]) for p in procs)
    return single, both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ACI, help="ACI-Bench challenge_data folder")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the notes")
    parser.add_argument("--model", action="store_true", help="with the NER model (slower)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of every engine (best steady rate kept)"
    )
    args = parser.parse_args()
    texts = aci_notes(args.data) * args.repeat
    chars = sum(len(t) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        notes = Path(tmp) / "notes.jsonl"
        notes.write_text(
            "".join(json.dumps({"id": f"aci-{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
            encoding="utf-8",
        )
        configs: list[tuple[str, int, Engine]] = [
            ("1 process", 1, "local"),
            ("2 processes", 2, "local"),
            ("Ray, 2 CPUs", 2, "ray"),
        ]
        best: dict[str, Summary] = {}
        cold: dict[str, float] = {}  # startup of the first round (later in-process ones are warm)
        base_rate = 0.0
        for round_ in range(args.rounds):
            for name, workers, engine in configs:
                out = Path(tmp) / f"{name.replace(' ', '_')}_{round_}"
                summary = run(notes, out, workers=workers, engine=engine, model=args.model)
                assert summary.ok + summary.failed == len(texts), "a note went missing"
                cold.setdefault(name, summary.startup_s)
                if name not in best or summary.rate > best[name].rate:
                    best[name] = summary
                if name == "1 process":  # right after it: its pipeline is loaded (cached)
                    base_rate = max(base_rate, pipeline_only(texts, model=args.model))
        results = [(name, best[name]) for name, _, _ in configs]
        single, both = headroom(args.data)
    pipeline = "default (with NER model)" if args.model else "lexicon-only"
    print(
        f"\n{len(texts)} notes ({len(texts) // args.repeat} ACI-Bench notes x {args.repeat}), "
        f"{chars / len(texts):,.0f} chars/note, pipeline {pipeline}, best of {args.rounds} "
        f"rounds, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})\n"
    )
    print(f"{'engine':<14} {'startup s':>10} {'total s':>9} {'steady notes/s':>15} "
          f"{'steady chars/s':>15} {'vs 1 process':>13}")  # fmt: skip
    print(
        f"{'nlp.pipe only':<14} {'-':>10} {'-':>9} {base_rate:>15.1f} "
        f"{base_rate * chars / len(texts):>15,.0f} {'(baseline)':>13}"
    )
    base = results[0][1].rate
    for name, s in results:
        ratio = s.rate / base if base else 0.0
        print(
            f"{name:<14} {cold[name]:>10.2f} {s.seconds:>9.2f} {s.rate:>15.1f} "
            f"{s.rate * chars / len(texts):>15,.0f} {ratio:>12.2f}x"
        )

    print(
        f"\nmachine headroom (control, bare lexicon pipeline, 120 notes): 1 process "
        f"{single:.1f} notes/s; 2 processes at once {both:.1f} notes/s together "
        f"({both / single:.2f}x)"
    )


if __name__ == "__main__":  # the guard matters: the pool's workers are spawned
    main()
