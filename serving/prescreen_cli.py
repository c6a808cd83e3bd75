"""`eligo prescreen`: screen patient charts against one trial or many (patient-to-trial matching).

Trials: `--trial FILE` (eligibility text, parsed by `eligo.criteria.parse`, or a `.json`
file of parsed criteria) or `--trials trials.jsonl` (lines `{"id", "text", "min_age"?,
"max_age"?, "sex"?}` with ClinicalTrials.gov's structured fields such as "18 Years", "All";
`{"id", "rules": <criteria JSON>}` also works, and so do the `nct_id`, `eligibility_text` and
`gender` names of ClinicalTrials.gov exports). Patients (`--patients PATH`): a JSONL file of
chart records `{"id", "birth_date"?, "sex"?, "notes": [{"id"?, "date"?, "text"}], "fhir"?}`,
a folder of FHIR R4 bundles, or an OMOP CDM DuckDB file.

Output (`--output results.jsonl`): per patient and trial one line `{"id", "trial", "status",
"score", "index_date", "criteria": [{"kind", "text", "verdict", "evidence", "reason"}],
"provenance"}` (with `--top K`, a patient's K best trials, best first), or one error line
`{"id", "error": {"code", "message"}}` per patient that could not be read. `--duckdb`,
`--parquet` and `--report` are rebuilt from it at the end. Killed, the same command resumes.
Exit codes: 0 every patient screened; 1 some became error rows; 2 the command could not run.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

from eligo.serving.batch import (
    BatchError,
    Progress,
    input_signature,
    prescreen_processor,
    read_charts,
    run_job,
    today,
    want_progress,
)
from eligo.serving.records import EXIT_OK, EXIT_RECORD_ERRORS, EXIT_USAGE, UsageError
from eligo.serving.review_cli import add_engine_arguments

log = logging.getLogger("eligo")


def add_parser(subparsers: Any) -> None:
    """Register `prescreen` on the `eligo` command's subparsers."""
    cmd = subparsers.add_parser(
        "prescreen",
        help="screen patient charts against trials' eligibility criteria",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trial = cmd.add_mutually_exclusive_group(required=True)
    trial.add_argument("--trial", metavar="FILE", help="criteria text, or parsed criteria .json")
    trial.add_argument("--trials", metavar="JSONL", help="one trial per line (see above)")
    cmd.add_argument(
        "--patients", required=True, metavar="PATH", help="charts: .jsonl, FHIR folder, .duckdb"
    )
    cmd.add_argument("--output", required=True, metavar="JSONL", help="screenings, one per line")
    cmd.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    cmd.add_argument("--duckdb", metavar="FILE", help="write tables screenings, criteria, ...")
    cmd.add_argument("--parquet", metavar="FILE", help="write screenings as Parquet")
    cmd.add_argument(
        "--index-date", metavar="YYYY-MM-DD", help="screening date for ages and windows (today)"
    )
    cmd.add_argument("--top", type=int, metavar="K", help="keep each patient's K best trials")
    cmd.add_argument(
        "--no-model",
        action="store_true",
        help="lexicon-only pipeline for notes (no transformer): fastest",
    )
    add_engine_arguments(cmd)
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run `eligo prescreen`; returns the exit code."""
    try:
        return _prescreen(args)
    except (UsageError, BatchError) as err:
        print(f"eligo prescreen: error: {err}", file=sys.stderr)
        return EXIT_USAGE


def _check_args(args: argparse.Namespace) -> None:
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.top is not None and args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.index_date is not None:
        try:
            date.fromisoformat(args.index_date)
        except ValueError as err:
            raise UsageError(
                f"--index-date {args.index_date!r} is not a date; give YYYY-MM-DD"
            ) from err
    output = Path(args.output)
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder; give a .jsonl file")
    for name in ("report", "duckdb", "parquet"):
        value = getattr(args, name)
        if value and Path(value).resolve() == output.resolve():
            raise UsageError(f"--{name} must not be the --output file")


def _prescreen(args: argparse.Namespace) -> int:
    _check_args(args)
    from eligo.nlp import load

    patients = Path(args.patients)
    trial_path = Path(args.trial or args.trials)
    nlp = load(model=None) if args.no_model else load()
    trials = load_trials(trial_path, many=args.trials is not None, nlp=nlp)
    items, total = read_charts(patients, nlp=nlp)
    output = Path(args.output)
    fingerprint = {
        "command": "prescreen",
        "patients": input_signature(patients),
        "trials": input_signature(trial_path),
        "index_date": args.index_date,
        "top": args.top,
        "model": not args.no_model,
    }
    progress = Progress.open(
        output, fingerprint=fingerprint, meta={"index_date": args.index_date or today()}
    )
    index_date = str(progress.meta.get("index_date") or args.index_date or today())
    factory = functools.partial(
        prescreen_processor,
        trials=trials,
        index_date=index_date,
        top=args.top,
        model=not args.no_model,
        threads=1 if args.workers > 1 else 0,
    )
    try:
        summary = run_job(
            items,
            factory,
            progress,
            workers=args.workers,
            engine=args.engine,
            chunk_size=args.chunk_size,
            total=total,
            show_progress=want_progress(args.quiet),
            label="patients",
        )
    except OSError as err:
        raise UsageError(f"cannot write --output {output}: {err.strerror}") from err
    _derived(args, output)
    if summary.failed:
        print(
            f"eligo prescreen: {summary.failed} of {summary.ok + summary.failed} patients "
            "failed (see their error rows)",
            file=sys.stderr,
        )
        return EXIT_RECORD_ERRORS
    return EXIT_OK


def _derived(args: argparse.Namespace, output: Path) -> None:
    from eligo.serving.writers import write_prescreen, write_report

    try:
        write_prescreen(
            output,
            duckdb_path=Path(args.duckdb) if args.duckdb else None,
            parquet_path=Path(args.parquet) if args.parquet else None,
        )
        if args.report:
            write_report(output, Path(args.report))
    except OSError as err:
        raise UsageError(f"cannot write an output: {err}") from err


def load_trials(path: Path, *, many: bool, nlp: Any) -> list[Any]:
    """The trials to screen against, parsed once (raises UsageError with what is wrong)."""
    from pydantic import ValidationError

    from eligo.criteria.parse import CriteriaError, parse
    from eligo.criteria.types import Criteria

    flag = "--trials" if many else "--trial"
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {flag} {path}: {err.strerror}") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(f"{flag} {path} is not UTF-8 text") from err
    if not many:
        try:
            if path.suffix.lower() == ".json":
                criteria = Criteria.model_validate_json(text)
                return [criteria if criteria.id else criteria.model_copy(update={"id": path.stem})]
            return [parse(text, id=path.stem, nlp=nlp)]
        except ValidationError as err:
            raise UsageError(f"{flag} {path} is not criteria JSON: {_first_error(err)}") from err
        except CriteriaError as err:
            raise UsageError(f"{flag} {path}: {err}") from err
    trials = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{flag} {path} line {lineno}"
        try:
            trial = _trial(json.loads(line), nlp=nlp)
        except json.JSONDecodeError as err:
            raise UsageError(f"{where} is not valid JSON: {err.msg}") from err
        except ValidationError as err:
            raise UsageError(f"{where}: rules are not criteria JSON: {_first_error(err)}") from err
        except (CriteriaError, UsageError) as err:
            raise UsageError(f"{where}: {err}") from err
        if trial.id in seen:
            raise UsageError(f"{where}: trial id {trial.id!r} appears twice")
        seen.add(trial.id)
        trials.append(trial)
    if not trials:
        raise UsageError(f"{flag} {path} has no trials")
    return trials


def _trial(obj: Any, *, nlp: Any) -> Any:
    from eligo.criteria.parse import parse
    from eligo.criteria.types import Criteria

    if not isinstance(obj, dict):
        raise UsageError('a trial line must be an object {"id", "text", ...}')
    tid = obj.get("id", obj.get("nct_id"))
    if isinstance(tid, int) and not isinstance(tid, bool):
        tid = str(tid)
    if not isinstance(tid, str) or not tid:
        raise UsageError('"id" must be a non-empty string')
    if "rules" in obj:
        criteria = Criteria.model_validate(obj["rules"])
        return criteria.model_copy(update={"id": tid})
    text = obj.get("text", obj.get("eligibility_text"))
    if not isinstance(text, str):
        raise UsageError('"text" (the eligibility section) must be a string')
    return parse(
        text,
        id=tid,
        nlp=nlp,
        min_age=_field(obj.get("min_age")),
        max_age=_field(obj.get("max_age")),
        sex=_sex(obj.get("sex", obj.get("gender"))),
    )


def _field(value: Any) -> str | float | None:
    """A structured age/sex field as given ("18 Years", 18, "All"), or None."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    raise UsageError(f"age/sex fields must be text or numbers, got {type(value).__name__}")


def _sex(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise UsageError(f'"sex" must be text such as "All", got {type(value).__name__}')


def _first_error(err: Any) -> str:
    first = err.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
