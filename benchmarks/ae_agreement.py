"""How far two people agree when coding the same AE narratives, and where eligo stands.

Each blind gold set (`benchmarks/data/ae_blindN.jsonl`) was written by one annotator from the
guideline in `benchmarks/data/AE_GUIDELINE.md`. A second annotator, blind to the first and
to eligo, coded the same narratives from the same guideline (`ae_blindN_b.jsonl`). This
script scores, in one run and with `eval_ae.py`'s own matching (span overlap plus the same
CTCAE term):

- annotator B against annotator A, and A against B (event F1 is the same both ways up to the
  "repeat of a found term" rule; P and R swap);
- eligo against A and against B;
- seriousness (exact criteria), outcome and action agreement for each pair.

Human agreement is the ceiling a coder can be expected to reach on such a set: where two
careful annotators following one guideline disagree, no system can match both.

Usage:

    .venv/bin/python benchmarks/ae_agreement.py benchmarks/data/ae_blind20.jsonl \
        benchmarks/data/ae_blind20_b.jsonl [more A B pairs ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _eval_ae() -> Any:
    spec = importlib.util.spec_from_file_location("eval_ae", HERE / "eval_ae.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_ae"] = module
    spec.loader.exec_module(module)
    return module


def as_system(item: dict[str, Any], gold_spans: Any) -> dict[str, Any]:
    """An annotation read as a system output (events as spans with one candidate term)."""
    return {
        "events": [(s, e, [term]) for s, e, term in gold_spans(item)],
        "serious": item["serious"],
        "seriousness": sorted(item["seriousness"]),
        "outcome": item["outcome"],
        "action_taken": item["action_taken"],
    }


def agreement(
    ev: Any, gold: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> dict[str, float]:
    m = ev.score_events([ev.gold_spans(i) for i in gold], [o["events"] for o in outputs])
    n = len(gold)
    pairs = list(zip(outputs, gold, strict=True))
    m["seriousness acc"] = sum(o["seriousness"] == sorted(g["seriousness"]) for o, g in pairs) / n
    m["outcome acc"] = sum(o["outcome"] == g["outcome"] for o, g in pairs) / n
    m["action acc"] = sum(o["action_taken"] == g["action_taken"] for o, g in pairs) / n
    return m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="pairs: annotator A, annotator B")
    args = parser.parse_args(argv)
    if len(args.files) % 2:
        parser.error("give the files in pairs: A B [A B ...]")
    ev = _eval_ae()
    eligo = ev.eligo_system()
    print(
        "| set | scored | against | reports | event P | event R | event F1 | seriousness | "
        "outcome | action |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for a_path, b_path in zip(args.files[::2], args.files[1::2], strict=True):
        a = [json.loads(line) for line in a_path.open(encoding="utf-8")]
        b = [json.loads(line) for line in b_path.open(encoding="utf-8")]
        if [(x["id"], x["text"]) for x in a] != [(x["id"], x["text"]) for x in b]:
            raise SystemExit(f"{a_path} and {b_path} do not hold the same narratives")
        system = [eligo(item["text"]) for item in a]
        rows = [
            (
                "annotator B",
                "annotator A",
                agreement(ev, a, [as_system(x, ev.gold_spans) for x in b]),
            ),
            (
                "annotator A",
                "annotator B",
                agreement(ev, b, [as_system(x, ev.gold_spans) for x in a]),
            ),
            ("eligo", "annotator A", agreement(ev, a, system)),
            ("eligo", "annotator B", agreement(ev, b, system)),
        ]
        for scored, against, m in rows:
            print(
                f"| {a_path.stem} | {scored} | {against} | {len(a)} | {m['event P']:.3f} | "
                f"{m['event R']:.3f} | {m['event F1']:.3f} | {m['seriousness acc']:.3f} | "
                f"{m['outcome acc']:.3f} | {m['action acc']:.3f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
