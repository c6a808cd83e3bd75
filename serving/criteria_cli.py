"""`eligo criteria parse`: eligibility sections -> computable rules (a thin layer over
`eligo.criteria.parse.parse` and `eligo.criteria.render`).

Input as `eligo extract`: plain-text FILEs, each one trial's eligibility section (`-` for one
on stdin), or `--input` JSONL lines `{"id", "text"}`; with neither, JSONL from stdin.
Output: one JSON line per input record, in input order (`{"id", "demographics",
"criteria": [{"kind", "text", "start", "end", "entities", "rule", "parent"}], "provenance"}`,
offsets into the input text), a table of rule summaries (`--format table`), or an OMOP CDM
cohort query per record (`--format sql`, DuckDB, parameter `$index_date`). A bad record
becomes `{"id", "error": {"code", "message"}}` (in sql format: a comment line). Exit codes:
0 all parsed; 1 some records became error records; 2 the command could not run. Logs hold
counts and timings only.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, Any

from eligo.serving.records import (
    EXIT_OK,
    EXIT_RECORD_ERRORS,
    EXIT_USAGE,
    Note,
    RecordError,
    UsageError,
    add_io_arguments,
    open_output,
    read_inputs,
    write_results,
)

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger("eligo")

#: `CriteriaError.code` -> the record error code (the input checks' own names where the
#: two mean the same thing, so one condition has one code everywhere).
ERROR_CODES = {"empty": "empty_text", "not_text": "invalid_text"}


def add_parser(subparsers: Any) -> None:
    """Register `criteria` (with its `parse` subcommand) on the `eligo` command's subparsers."""
    criteria = subparsers.add_parser(
        "criteria", help="eligibility criteria -> computable rules, summaries, OMOP SQL"
    )
    criteria.set_defaults(handler=run)
    commands = criteria.add_subparsers(dest="criteria_command", metavar="SUBCOMMAND")
    parse = commands.add_parser(
        "parse",
        help="parse eligibility sections into inclusion/exclusion rules",
        description=(
            "Parse a trial's eligibility section: inclusion and exclusion criteria with their "
            "spans, entities (codes, values, time windows, qualifiers) and a rule tree each; "
            "trial demographics. Input: plain-text FILEs (- for one section on stdin) or "
            '--input JSONL {"id", "text"}; with neither, JSONL is read from stdin. '
            "--format sql writes an OMOP CDM v5.4 cohort query per trial (DuckDB; bind "
            "$index_date); it is a superset filter (see eligo.criteria.render)."
        ),
    )
    add_io_arguments(parse, noun="eligibility section", fields='{"id", "text"}')
    parse.add_argument(
        "--format",
        choices=["json", "table", "sql"],
        default="json",
        help="json: one JSON line per trial; table: rule summaries; sql: OMOP cohort query",
    )
    parse.add_argument(
        "--no-model",
        action="store_true",
        help="lexicon-only concept pipeline (no transformer): faster",
    )
    parse.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run `eligo criteria ...`; returns the exit code (usage errors are reported here)."""
    try:
        if getattr(args, "criteria_command", None) != "parse":
            raise UsageError(
                "give a subcommand: eligo criteria parse [FILE|-] [--input JSONL] "
                "[--format json|table|sql]"
            )
        return _parse(args)
    except UsageError as err:
        print(f"eligo criteria: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


def parse_result(
    rid: str | None,
    text: str,
    nlp: Language,
    *,
    min_age: str | float | None = None,
    max_age: str | float | None = None,
    sex: str | None = None,
) -> dict[str, Any]:
    """The JSON of one parsed section, or its error record: the parser's own errors keep
    their code (`no_criteria`, `bad_field`, ...), anything else is `processing_failed` (class
    name only: a message could quote the text). `min_age`/`max_age`/`sex` are
    ClinicalTrials.gov's structured fields ("18 Years", "All"). Shared by the CLI and
    `POST /v1/criteria/parse`."""
    from eligo.criteria.parse import CriteriaError, parse

    try:
        criteria = parse(text, id=rid, nlp=nlp, min_age=min_age, max_age=max_age, sex=sex)
    except CriteriaError as err:
        return RecordError(rid, ERROR_CODES.get(err.code, err.code), str(err)).to_json()
    except Exception as err:  # one bad section must not sink the run
        message = f"parsing failed on this section ({type(err).__name__})"
        return RecordError(rid, "processing_failed", message).to_json()
    return criteria.model_dump(mode="json")


def parse_records(records: Iterable[Note | RecordError], nlp: Language) -> Iterator[dict[str, Any]]:
    """One output dict per input record, in input order."""
    for record in records:
        if isinstance(record, RecordError):
            yield record.to_json()
        else:
            fields = record.fields or {}
            yield parse_result(
                record.id,
                record.text,
                nlp,
                min_age=fields.get("min_age"),
                max_age=fields.get("max_age"),
                # ClinicalTrials.gov exports call it "gender"
                sex=fields.get("sex", fields.get("gender")),
            )


def _parse(args: argparse.Namespace) -> int:
    from eligo.nlp import load

    started = time.perf_counter()
    with ExitStack() as stack:
        records = read_inputs(args.files, args.input, max_chars=args.max_chars, stack=stack)
        out = open_output(args.output, stack)
        nlp = load(model=None) if args.no_model else load()
        results = parse_records(records, nlp)
        if args.format == "sql":
            code = write_sql(results, out)
        else:
            code = write_results(results, out, table=_table if args.format == "table" else None)
    log.info("criteria parse: exit %d, %.2f s", code, time.perf_counter() - started)
    return code


def write_sql(results: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """One OMOP cohort query per parsed record, each ending in `;`; an error record becomes a
    comment line in its place. Returns the exit code, as `write_results` does."""
    from eligo.criteria.render import RenderError, comment, to_sql
    from eligo.criteria.types import Criteria

    ok = failed = 0
    for result in results:
        error = result.get("error")
        if not error:
            try:
                sql = to_sql(Criteria.model_validate(result))
            except RenderError as err:
                error = {"code": "render_failed", "message": str(err)}
        if error:
            failed += 1
            rid = comment(str(result.get("id")))
            out.write(f"-- {rid}: error {error['code']}: {comment(error['message'])}\n\n")
            continue
        ok += 1
        out.write(sql.rstrip() + ";\n\n")
    if failed:
        print(
            f"eligo: {failed} of {ok + failed} records failed (see their error comments)",
            file=sys.stderr,
        )
    return EXIT_RECORD_ERRORS if failed else EXIT_OK


def _table(result: dict[str, Any]) -> Any:
    """One trial as a rich table: each criterion's text beside the rule it became."""
    from rich.markup import escape
    from rich.table import Table

    from eligo.criteria.render import demographics_text, summary
    from eligo.criteria.types import Criteria

    criteria = Criteria.model_validate(result)
    title = f"{criteria.id}  {demographics_text(criteria)}"
    table = Table(title=escape(title), title_justify="left", show_lines=True)
    for column in ("#", "kind", "criterion", "rule", "entities"):
        table.add_column(column, overflow="fold")
    for index, criterion in enumerate(criteria.criteria):
        number = str(index + 1)
        if criterion.parent is not None:
            number = f"{criterion.parent + 1}.{number}"
        entities = "; ".join(f"{e.text} ({e.domain})" for e in criterion.entities)
        table.add_row(
            number,
            criterion.kind,
            escape(" ".join(criterion.text.split())),
            escape(summary(criterion).split(": ", 1)[1]),
            escape(" ".join(entities.split())),
        )
    return table
