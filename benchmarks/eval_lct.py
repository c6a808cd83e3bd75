"""Age, value and temporal constraints recovered by `eligo.criteria.parse` on LCT seq2seq.

Data: ../shared/data/lct_seq2seq/train.json, a list of pairs: one criterion's text and its
logical form (LF), e.g. "-  Age <18 years" -> `age().num_filter(eq().op(LT).val('18')
.temporal_unit(YEAR))`. (In this file the text is under "intent" and the LF under
"snippet"; the script tells them apart by shape.) Each text is parsed alone (no header:
an inclusion criterion).

Gold constraints, read from the LF (each `eq()` chain with at least one `val`):
- age: `age().num_filter(eq()...)`: comparator, numbers, unit -> years.
- value: any other `num_filter(eq()...)`: comparator and numbers (the LF's `unit()` is
  always empty, so units are not compared).
- temporal: `temporal_filter(eq()...)` and `duration(eq()...)` with a number and a unit:
  the number of days (hour = 1/24 day, month = 30.4375, year = 365.25) and the side of
  the bound (no op, LT, LTEQ: at most that long ago -> `max_days_before`; GT, GTEQ: at least
  -> `min_days_before`).
- numbers: "50 , 000" -> 50000; number words ("six") -> 6; the LF lists range ends in any
  order, so they are compared as sets.

Predicted constraints, read from the parsed `Criteria` only (what a user gets):
age = `DemographicNode(attribute="age")` constraints (years); value = every entity's
`ValueConstraint` that is not an age; temporal = every entity's `TimeWindow`.

Matching: a gold constraint is recovered when a predicted one of the same kind has the
same numbers (relative tolerance 1% for values and ages, 2% for days: a month is
30.4375 days) and a compatible comparator: GTEQ ">=", GT ">", LT "<", LTEQ "<=", BETWEEN
"between"; an LF without op accepts any comparator. For temporal, the bound side must
agree. Reported per kind (recall over gold constraints) and per criterion (the share of
criteria with gold constraints whose every gold constraint is recovered), plus the share of
predicted constraints that match a gold one (a lower bound on precision: the LF is not
exhaustive). Baseline, same run: values from the plain pipeline (`eligo.nlp` measurement
values, `eligo_values`); eligo.nlp reads no ages or time windows.

    .venv/bin/python benchmarks/eval_lct.py [--data FILE] [--model none|default] [--show N]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from spacy.language import Language

import eligo.nlp
from eligo.criteria import CriteriaError, parse
from eligo.criteria.constraints import patterns
from eligo.criteria.types import Criteria, DemographicNode
from eligo.nlp.extract import to_entities

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "lct_seq2seq"
OPS = {"GTEQ": ">=", "GT": ">", "LT": "<", "LTEQ": "<=", "BETWEEN": "between", "EQ": "="}
DAYS = {"MINUTE": 1 / 1440, "HOUR": 1 / 24, "DAY": 1.0, "WEEK": 7.0, "MONTH": 30.4375,
        "YEAR": 365.25}  # fmt: skip
_CHAIN = re.compile(r"eq\(\)((?:\.\w+\((?:'[^']*'|[^()]*)\))*)")
_CALL = re.compile(r"\.(\w+)\(('([^']*)'|[^()]*)\)")


@dataclass(frozen=True)
class Constraint:
    kind: str  # "age" | "value" | "temporal"
    comparator: str | None  # symbol; None: any
    numbers: tuple[float, ...]  # sorted; years for age, days for temporal
    side: str | None = None  # temporal: "max" | "min"


def _num(written: str) -> float | None:
    w = written.replace(" ", "").replace(",", "").lower()
    words = {k.lower(): v for k, v in patterns().number_words.items()}
    if w in words:
        return words[w]
    try:
        return float(w)
    except ValueError:
        return None


def _balanced(text: str, open_at: int) -> str:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return text[open_at + 1 :]


def gold_constraints(lf: str) -> list[Constraint]:
    out: list[Constraint] = []
    for m in re.finditer(r"(age\(\)\.)?(num_filter|temporal_filter|duration)\(", lf):
        body = _balanced(lf, m.end() - 1)
        fn = m.group(2)
        for chain in _CHAIN.finditer(body):
            calls = [(c.group(1), c.group(3) if c.group(3) is not None else c.group(2))
                     for c in _CALL.finditer(chain.group(1))]  # fmt: skip
            op = next((v for k, v in calls if k == "op"), None)
            vals = [n for k, v in calls if k == "val" and (n := _num(v)) is not None]
            unit = next((v for k, v in calls if k == "temporal_unit"), None)
            if not vals:
                continue
            cmp = OPS.get(op) if op else None
            if fn == "num_filter" and m.group(1):
                years = [v * DAYS[unit] / DAYS["YEAR"] if unit in DAYS else v for v in vals]
                out.append(Constraint("age", cmp, tuple(sorted(set(years)))))
            elif fn == "num_filter":
                out.append(Constraint("value", cmp, tuple(sorted(set(vals)))))
            elif unit in DAYS:
                side = "min" if op in ("GT", "GTEQ") else "max"
                days = tuple(sorted({v * DAYS[unit] for v in vals}))
                out.append(Constraint("temporal", None, days, side))
    return out


def predicted_constraints(result: Criteria) -> list[Constraint]:
    out: list[Constraint] = []
    for c in result.criteria:
        nodes = [c.rule]
        while nodes:
            node = nodes.pop()
            for attr in ("children",):
                nodes.extend(getattr(node, attr, []) or [])
            if getattr(node, "child", None) is not None:
                nodes.append(node.child)  # type: ignore[union-attr]
            if isinstance(node, DemographicNode) and node.constraint is not None:
                vc = node.constraint
                nums = (vc.low, vc.high) if vc.comparator == "between" else (vc.value,)
                out.append(
                    Constraint(
                        "age", vc.comparator, tuple(sorted(n for n in nums if n is not None))
                    )
                )
        for e in c.entities:
            if e.domain != "demographic" and e.value is not None:
                vc = e.value
                nums = (vc.low, vc.high) if vc.comparator == "between" else (vc.value,)
                out.append(
                    Constraint(
                        "value", vc.comparator, tuple(sorted(n for n in nums if n is not None))
                    )
                )
            if e.window is not None:
                w = e.window
                if w.max_days_before is not None:
                    out.append(Constraint("temporal", None, (w.max_days_before,), "max"))
                if w.min_days_before is not None:
                    out.append(Constraint("temporal", None, (w.min_days_before,), "min"))
    return list(dict.fromkeys(out))


def baseline_constraints(nlp: Language, text: str) -> list[Constraint]:
    out = []
    for e in to_entities(nlp(text)):
        if e.value is not None:
            v = e.value
            cmp: str = "between" if v.low is not None else (v.comparator or "=")
            nums = (v.low, v.high) if v.low is not None else (v.value,)
            out.append(Constraint("value", cmp, tuple(sorted(n for n in nums if n is not None))))
    return out


def _close(a: tuple[float, ...], b: tuple[float, ...], tol: float) -> bool:
    return len(a) == len(b) and all(
        abs(x - y) <= tol * max(abs(x), abs(y), 1e-9) for x, y in zip(a, b, strict=True)
    )


def matches(gold: Constraint, pred: Constraint) -> bool:
    if gold.kind != pred.kind:
        return False
    if gold.kind == "temporal":
        return gold.side == pred.side and _close(gold.numbers, pred.numbers, 0.02)
    if (
        gold.comparator is not None
        and gold.comparator != "="
        and gold.comparator != pred.comparator
    ):
        return False
    return _close(gold.numbers, pred.numbers, 0.01)


def _pairs(path: Path) -> list[tuple[str, str]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for row in rows:
        a, b = row["intent"], row["snippet"]
        lf_like = lambda s: bool(re.match(r"^[a-z_]+\(", s.strip()))  # noqa: E731
        text, lf = (b, a) if lf_like(a) and not lf_like(b) else (a, b)
        out.append((text, lf))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA / "train.json")
    ap.add_argument("--model", choices=("none", "default"), default="none")
    ap.add_argument("--show", type=int, default=0, help="print N missed gold constraints")
    args = ap.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data")
    nlp = eligo.nlp.load(model=None if args.model == "none" else "default")
    pairs = _pairs(args.data)

    gold_n: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    base_hit: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    pred_ok: Counter[str] = Counter()
    with_gold = full = base_full = 0
    errors: Counter[str] = Counter()
    missed: list[str] = []
    for text, lf in pairs:
        gold = gold_constraints(lf)
        try:
            pred = predicted_constraints(parse(text, nlp=nlp))
        except CriteriaError as err:
            errors[err.code] += 1
            pred = []
        base = baseline_constraints(nlp, text)
        for p in pred:
            pred_n[p.kind] += 1
            pred_ok[p.kind] += any(matches(g, p) for g in gold)
        if not gold:
            continue
        with_gold += 1
        ok_all = base_all = True
        for g in gold:
            gold_n[g.kind] += 1
            ok = any(matches(g, p) for p in pred)
            b_ok = any(matches(g, p) for p in base)
            hit[g.kind] += ok
            base_hit[g.kind] += b_ok
            ok_all &= ok
            base_all &= b_ok
            if not ok and len(missed) < args.show:
                missed.append(f"{g.kind:<8} {g} <- {text.strip()[:90]!r}  pred={pred}")
        full += ok_all
        base_full += base_all

    print(
        f"LCT seq2seq: {len(pairs)} criteria, {with_gold} with age/value/temporal constraints "
        f"in the LF; pipeline load(model={'None' if args.model == 'none' else repr(args.model)})"
    )
    print(
        f"{'kind':<10}{'gold':>6}{'eligo':>8}{'recall':>8}{'baseline':>10}{'recall':>8}"
        f"{'predicted':>11}{'matched':>9}"
    )
    for kind in ("age", "value", "temporal"):
        n = gold_n[kind]
        print(
            f"{kind:<10}{n:>6}{hit[kind]:>8}{hit[kind] / max(n, 1):>8.3f}{base_hit[kind]:>10}"
            f"{base_hit[kind] / max(n, 1):>8.3f}{pred_n[kind]:>11}"
            f"{pred_ok[kind] / max(pred_n[kind], 1):>9.3f}"
        )
    total, total_hit = sum(gold_n.values()), sum(hit.values())
    print(
        f"{'all':<10}{total:>6}{total_hit:>8}{total_hit / max(total, 1):>8.3f}"
        f"{sum(base_hit.values()):>10}{sum(base_hit.values()) / max(total, 1):>8.3f}"
    )
    print(
        f"criteria with every gold constraint recovered: {full}/{with_gold} = "
        f"{full / max(with_gold, 1):.3f} (baseline {base_full / max(with_gold, 1):.3f})"
    )
    if errors:
        print(f"CriteriaError by code: {dict(errors)}")
    for line in missed:
        print("  missed", line)


if __name__ == "__main__":
    main()
