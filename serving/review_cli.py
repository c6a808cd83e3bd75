"""`eligo review`: extraction over a corpus of notes, resumable, on local processes or Ray.

Input (`--notes PATH`): JSONL or CSV or Parquet rows `{"id", "text", "date"?, "patient_id"?}`,
a folder of FHIR R4 JSON (DocumentReference notes with base64 text), or an OMOP CDM DuckDB
file (its `note` table). Output (`--output DIR`): `review.jsonl`, one line per note, in input
order: `{"id", "note_id", "patient_id", "date", "entities": [...], "provenance"}` (entities as
`eligo extract` writes them, each with the `snippet` around it) or `{"id", "error": {"code",
"message"}}`; then, rebuilt from it at the end, `review.duckdb` (tables notes, entities,
note_nlp, errors) and a Parquet file per table, `note_nlp.parquet` in the OMOP CDM v5.4
NOTE_NLP layout (see `eligo.serving.writers`). Killed, the same command resumes.
Exit codes: 0 all notes processed; 1 some became error rows; 2 the command could not run.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eligo.serving.batch import (
    BatchError,
    Progress,
    input_signature,
    read_notes,
    review_processor,
    run_job,
    want_progress,
)
from eligo.serving.records import EXIT_OK, EXIT_RECORD_ERRORS, EXIT_USAGE, MAX_CHARS, UsageError

log = logging.getLogger("eligo")

RESULTS = "review.jsonl"


def add_parser(subparsers: Any) -> None:
    """Register `review` on the `eligo` command's subparsers."""
    review = subparsers.add_parser(
        "review",
        help="extract concepts from a corpus of notes (resumable, parallel)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    review.add_argument(
        "--notes",
        required=True,
        metavar="PATH",
        help="JSONL/CSV/Parquet file, FHIR folder, or OMOP .duckdb file",
    )
    review.add_argument("--output", required=True, metavar="DIR", help="output folder")
    add_engine_arguments(review)
    review.add_argument(
        "--no-model",
        action="store_true",
        help="lexicon-only pipeline (no transformer): fastest, no adverse_event labels",
    )
    review.add_argument(
        "--max-chars", type=int, default=MAX_CHARS, help="largest note accepted (characters)"
    )
    review.set_defaults(handler=run)


def add_engine_arguments(parser: Any) -> None:
    """--workers, --engine, --quiet (shared with `eligo prescreen`)."""
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (or Ray actors); default 1"
    )
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local processes, or Ray actors (RAY_ADDRESS: an existing cluster)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--chunk-size", type=int, default=8, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run `eligo review`; returns the exit code."""
    try:
        return _review(args)
    except (UsageError, BatchError) as err:
        print(f"eligo review: error: {err}", file=sys.stderr)
        return EXIT_USAGE


def _review(args: argparse.Namespace) -> int:
    if args.max_chars < 1:
        raise UsageError("--max-chars must be a positive number of characters")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    notes_path, out_dir = Path(args.notes), Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output {out_dir} exists and is not a folder")
    items, total = read_notes(notes_path, max_chars=args.max_chars)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create --output {out_dir}: {err.strerror}") from err
    output = out_dir / RESULTS
    fingerprint = {
        "command": "review",
        "notes": input_signature(notes_path),
        "model": not args.no_model,
        "max_chars": args.max_chars,
    }
    started = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    progress = Progress.open(output, fingerprint=fingerprint, meta={"started": started})
    if progress.resumed:
        log.info("review: resuming after %d records", progress.done)
    factory = functools.partial(
        review_processor, model=not args.no_model, threads=1 if args.workers > 1 else 0
    )
    summary = run_job(
        items,
        factory,
        progress,
        workers=args.workers,
        engine=args.engine,
        chunk_size=args.chunk_size,
        total=total,
        show_progress=want_progress(args.quiet),
        label="notes",
    )
    from eligo.serving.writers import write_review

    write_review(output, out_dir, nlp_datetime=str(progress.meta.get("started", started)))
    if summary.failed:
        print(
            f"eligo review: {summary.failed} of {summary.ok + summary.failed} notes failed "
            "(see errors.parquet or the error rows)",
            file=sys.stderr,
        )
        return EXIT_RECORD_ERRORS
    return EXIT_OK
