"""`eligo ae code`: adverse-event narratives -> coded AE records (a thin layer over
`eligo.nlp.ae.code_report`).

Input as `eligo extract`: plain-text FILEs (`-` for one report on stdin) or `--input` JSONL
lines `{"id", "text"}`; with neither, JSONL from stdin. Output: one line per input record,
in input order (JSON, or E2B(R3)-keyed JSON with `--format e2b`), or a table. A bad record
becomes `{"id", "error": {"code", "message"}}`. Exit codes: 0 all coded; 1 some records
became error records; 2 the command could not run. Logs hold counts and timings only.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from eligo.serving.records import (
    EXIT_OK,
    EXIT_USAGE,
    RecordError,
    UsageError,
    add_io_arguments,
    open_output,
    read_inputs,
    write_results,
)

log = logging.getLogger("eligo")


def add_parser(subparsers: Any) -> None:
    """Register `ae` (with its `code` subcommand) on the `eligo` command's subparsers."""
    ae = subparsers.add_parser("ae", help="adverse-event narratives -> coded AE records")
    ae.set_defaults(handler=run)
    commands = ae.add_subparsers(dest="ae_command", metavar="SUBCOMMAND")
    code = commands.add_parser(
        "code",
        help="code AE narratives to CTCAE/MedDRA with seriousness, drugs, outcome",
        description=(
            "Code adverse-event narratives: events (CTCAE v5 term, MedDRA code, SOC, grade), "
            "ICH E2A seriousness with evidence, drugs with roles, action taken, outcome, onset. "
            'Input: plain-text FILEs (- for one report on stdin) or --input JSONL {"id", "text"}; '
            "with neither, JSONL is read from stdin."
        ),
    )
    add_io_arguments(code, noun="report", fields='{"id", "text"}')
    code.add_argument(
        "--meddra", metavar="DIR", help="a licensed MedDRA ASCII release: code to LLT/PT/SOC"
    )
    code.add_argument(
        "--format", choices=["json", "table", "e2b"], default="json", help="output format"
    )
    code.add_argument(
        "--code-signs",
        action="store_true",
        help="also code the signs and symptoms of a coded diagnosis as events (default: the "
        "diagnosis only, as MedDRA's Points to Consider advise)",
    )
    code.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run `eligo ae ...`; returns the exit code (usage errors are reported here)."""
    try:
        if getattr(args, "ae_command", None) != "code":
            raise UsageError("give a subcommand: eligo ae code [FILE|-] [--input JSONL] ...")
        return _code(args)
    except UsageError as err:
        print(f"eligo ae: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


def _code(args: argparse.Namespace) -> int:
    from eligo.nlp import load
    from eligo.nlp.ae import code_report, report_json, to_e2b
    from eligo.nlp.meddra import MeddraError, load_release

    release = None
    if args.meddra:
        try:
            release = load_release(args.meddra)
        except MeddraError as err:
            raise UsageError(f"--meddra: {err}") from err
    started = time.perf_counter()
    with ExitStack() as stack:
        records = read_inputs(args.files, args.input, max_chars=args.max_chars, stack=stack)
        out = open_output(args.output, stack)
        nlp = load()

        def results() -> Iterator[dict[str, Any]]:
            for record in records:
                if isinstance(record, RecordError):
                    yield record.to_json()
                    continue
                try:
                    report = code_report(
                        record.text,
                        meddra=release,
                        nlp=nlp,
                        id=record.id,
                        diagnosis_components=not args.code_signs,
                    )
                except Exception as err:  # one bad report must not sink the run
                    yield RecordError(record.id, "processing_failed", type(err).__name__).to_json()
                    continue
                yield to_e2b(report) if args.format == "e2b" else report_json(report)

        table = _table if args.format == "table" else None
        code = write_results(results(), out, table=table)
    log.info("ae code: exit %d, %.2f s", code, time.perf_counter() - started)
    return code


def _table(result: dict[str, Any]) -> Any:
    """One record as a rich table."""
    from rich.table import Table

    serious = ", ".join(s["criterion"] for s in result["seriousness"]) or "no"
    drugs = "; ".join(f"{d['text']} ({d['role']})" for d in result["drugs"]) or "-"
    title = (
        f"{result['id']}  serious: {serious}  outcome: {result['outcome']}  "
        f"action: {result['action_taken'] or '-'}  onset: {result['onset'] or '-'}  "
        f"drugs: {drugs}"
    )
    table = Table(title=title, title_justify="left")
    for column in (
        "text",
        "status",
        "CTCAE term",
        "MedDRA",
        "SOC",
        "grade",
        "severity",
        "candidates",
    ):
        table.add_column(column, overflow="fold")
    for event in result["events"]:
        flags = [f for f in ("negated", "hypothetical", "historical", "family") if event[f]]
        status = "coded" if event["coded"] else ", ".join(flags) or "not coded"
        cands = "; ".join(f"{c['term']} {c['score']:.2f}" for c in event["candidates"])
        table.add_row(
            event["text"].replace("\n", " "),
            status,
            event["ctcae_term"] or "",
            event["meddra_code"] or "",
            event["soc"] or "",
            "" if event["grade"] is None else str(event["grade"]),
            event["severity"] or "",
            cands,
        )
    return table
