"""The `eligo` command line: thin wrappers over eligo.nlp (and later criteria, AE, prescreening).

Exit codes: 0 every record processed; 1 some records became error records (the run went
on); 2 the command itself could not run (bad arguments, unwritable output).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, Any

from eligo.serving.records import MAX_CHARS, Note, RecordError, read_files, read_jsonl

if TYPE_CHECKING:
    from spacy.tokens import Doc

log = logging.getLogger("eligo")

EXIT_OK, EXIT_RECORD_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command cannot run at all; reported as one line on stderr, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eligo", description="Clinical NLP for clinical trials.")
    parser.add_argument("--version", action="version", version=f"eligo {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress (counts and timings only)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    extract = commands.add_parser(
        "extract",
        help="coded concepts with assertion status from clinical notes",
        description=(
            "Extract conditions, drugs, procedures and measurements with codes and assertion "
            "status. Input: plain-text FILEs (use - for one note on stdin), or --input JSONL "
            'lines {"id", "text", "targets"?}; with neither, JSONL is read from stdin.'
        ),
    )
    extract.add_argument("files", nargs="*", metavar="FILE", help="plain-text notes")
    extract.add_argument("--input", metavar="JSONL", help='JSONL lines {"id", "text", "targets"?}')
    extract.add_argument("--output", metavar="JSONL", help="write JSONL here (default: stdout)")
    extract.add_argument(
        "--format", choices=["jsonl", "table"], default="jsonl", help="output format"
    )
    extract.add_argument(
        "--max-chars", type=int, default=MAX_CHARS, help="largest note accepted (characters)"
    )
    extract.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eligo")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _records(args: argparse.Namespace, stack: ExitStack) -> Iterator[Note | RecordError]:
    if args.input and args.files:
        raise UsageError("give plain-text FILEs or --input JSONL, not both")
    if args.input:
        if args.input == "-":
            yield from read_jsonl(sys.stdin.buffer, source="stdin", max_chars=args.max_chars)
            return
        try:
            stream = stack.enter_context(open(args.input, "rb"))  # noqa: SIM115
        except OSError as err:
            raise UsageError(f"cannot read --input {args.input}: {err.strerror}") from err
        yield from read_jsonl(stream, source=args.input, max_chars=args.max_chars)
    elif args.files == ["-"]:
        from eligo.serving.records import InputError, decode_text

        try:
            yield Note("stdin", decode_text(sys.stdin.buffer.read(), max_chars=args.max_chars))
        except InputError as err:
            yield RecordError("stdin", err.code, err.message)
    elif args.files:
        yield from read_files(args.files, max_chars=args.max_chars)
    else:
        if sys.stdin.isatty():
            raise UsageError("no input: give FILEs, --input JSONL, or pipe JSONL to stdin")
        yield from read_jsonl(sys.stdin.buffer, source="stdin", max_chars=args.max_chars)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _extract(records: Iterable[Note | RecordError], batch_size: int) -> Iterator[dict[str, Any]]:
    """One output dict per input record, in input order."""
    from eligo.nlp import load, make_doc, to_entities
    from eligo.nlp.provenance import provenance
    from eligo.nlp.targets import TargetError

    nlp = load()
    stamp = provenance().model_dump(exclude_none=True)
    for batch in _batches(records, batch_size):
        results: list[dict[str, Any] | None] = []
        pending = []
        for record in batch:
            if isinstance(record, RecordError):
                results.append(record.to_json())
                continue
            try:
                doc = make_doc(nlp, record.text, record.targets)
            except TargetError as err:
                results.append(RecordError(record.id, "invalid_targets", str(err)).to_json())
                continue
            pending.append((len(results), record.id, doc))
            results.append(None)
        processed: list[Doc | RecordError] = []
        try:
            processed.extend(nlp.pipe([doc for _, _, doc in pending]))
        except Exception:  # one bad doc must not sink the batch: retry one by one
            processed = []
            for _, rid, doc in pending:
                try:
                    processed.append(nlp(doc))
                except Exception as err:
                    processed.append(RecordError(rid, "processing_failed", type(err).__name__))
        for (slot, rid, _), done in zip(pending, processed, strict=True):
            if isinstance(done, RecordError):
                results[slot] = done.to_json()
            else:
                results[slot] = {
                    "id": rid,
                    "entities": [e.to_json() for e in to_entities(done)],
                    "provenance": stamp,
                }
        for result in results:
            assert result is not None
            yield result


def _flags(entity: dict[str, Any]) -> str:
    names = ("negated", "historical", "hypothetical", "family", "uncertain")
    return ", ".join(n for n in names if entity.get(n)) or "present"


def _print_table(results: Iterable[dict[str, Any]], out: IO[str]) -> tuple[int, int]:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=160)
    ok = failed = 0
    for result in results:
        if "error" in result:
            failed += 1
            err = result["error"]
            console.print(f"[bold red]{result['id']}[/]: {err['code']}: {err['message']}")
            continue
        ok += 1
        table = Table(title=str(result["id"]), title_justify="left", show_lines=False)
        for column in ("text", "label", "assertion", "section", "value", "codes"):
            table.add_column(column, overflow="fold")
        for ent in result["entities"]:
            value = ent.get("value")
            shown_value = ""
            if value:
                shown_value = value["text"] + (f" → {value['unit']}" if value.get("unit") else "")
            codes = "; ".join(f"{c['system']} {c['code']}" for c in ent["codes"][:3])
            if len(ent["codes"]) > 3:
                codes += f"; +{len(ent['codes']) - 3}"
            table.add_row(
                ent["text"].replace("\n", " "),
                ent["label"],
                _flags(ent),
                ent.get("section") or "",
                shown_value,
                codes,
            )
        console.print(table)
    return ok, failed


def _cmd_extract(args: argparse.Namespace) -> int:
    if args.max_chars < 1:
        raise UsageError("--max-chars must be a positive number of characters")
    started = time.perf_counter()
    with ExitStack() as stack:
        out: IO[str] = sys.stdout
        if args.output:
            try:
                out = stack.enter_context(open(args.output, "w", encoding="utf-8"))
            except OSError as err:
                raise UsageError(f"cannot write --output {args.output}: {err.strerror}") from err
        results = _extract(_records(args, stack), args.batch_size)
        if args.format == "table":
            ok, failed = _print_table(results, out)
        else:
            ok = failed = 0
            for result in results:
                if "error" in result:
                    failed += 1
                else:
                    ok += 1
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
    log.info(
        "extract: %d records processed, %d errors, %.2f s",
        ok,
        failed,
        time.perf_counter() - started,
    )
    if failed:
        print(
            f"eligo: {failed} of {ok + failed} records failed (see their error records)",
            file=sys.stderr,
        )
    return EXIT_RECORD_ERRORS if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "extract":
            return _cmd_extract(args)
    except UsageError as err:
        print(f"eligo {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("eligo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
