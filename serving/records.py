"""Reading notes for extraction: plain files, JSONL lines, stdin; bad input becomes an error record.

Every input yields exactly one record: a `Note` ready to process, or a `RecordError` that is
written out in its place. Nothing here logs note text or record ids.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: spaCy's own default `nlp.max_length`; larger texts should be split by the caller.
MAX_CHARS = 1_000_000


@dataclass(frozen=True)
class Note:
    id: str
    text: str
    targets: Any = None  # raw JSON, validated by eligo.nlp.targets.check_targets
    #: the record's other fields, for commands that read more than text (trial age/sex)
    fields: dict[str, Any] | None = None


@dataclass(frozen=True)
class RecordError:
    id: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "error": {"code": self.code, "message": self.message}}


def decode_text(data: bytes, *, max_chars: int = MAX_CHARS) -> str:
    """Bytes of a note -> text, or ValueError with a code-bearing message (see `check_text`)."""
    if b"\x00" in data:
        raise InputError("binary_input", "input contains NUL bytes: it looks binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            "invalid_encoding",
            f"input is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "convert it to UTF-8",
        ) from err
    return check_text(text, max_chars=max_chars)


class InputError(ValueError):
    """An input record eligo cannot process; `code` is the machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_text(text: object, *, max_chars: int = MAX_CHARS) -> str:
    if not isinstance(text, str):
        raise InputError("invalid_text", f'"text" must be a string, got {type(text).__name__}')
    if not text.strip():
        raise InputError("empty_text", "text is empty or only whitespace")
    if len(text) > max_chars:
        raise InputError(
            "too_large",
            f"text has {len(text):,} characters, over the limit of {max_chars:,}; "
            "split the note or raise --max-chars",
        )
    if "\x00" in text:
        raise InputError("binary_input", "text contains NUL characters: it looks binary")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # a JSON "\ud800" escape decodes to a lone surrogate
        raise InputError(
            "invalid_text",
            f"text has an unpaired UTF-16 surrogate at character {err.start} "
            "(a lone \\ud800-\\udfff escape): not valid Unicode",
        ) from None
    return text


def read_files(paths: list[str], *, max_chars: int = MAX_CHARS) -> Iterator[Note | RecordError]:
    """Each plain-text file is one note whose id is the path as given."""
    for name in paths:
        try:
            data = Path(name).read_bytes()
        except FileNotFoundError:
            yield RecordError(name, "file_not_found", f"no such file: {name}")
            continue
        except IsADirectoryError:
            yield RecordError(name, "not_a_file", f"{name} is a directory, not a text file")
            continue
        except OSError as err:
            yield RecordError(name, "unreadable", f"cannot read {name}: {err.strerror}")
            continue
        try:
            yield Note(name, decode_text(data, max_chars=max_chars))
        except InputError as err:
            yield RecordError(name, err.code, err.message)


def read_jsonl(
    stream: IO[bytes], *, source: str, max_chars: int = MAX_CHARS
) -> Iterator[Note | RecordError]:
    """JSONL lines {"id", "text", "targets"?}; blank lines are skipped, bad lines become errors.

    A line without an id gets "<source>:<line number>" so its error can be found.
    """
    for lineno, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        fallback_id = f"{source}:{lineno}"
        try:
            line = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            yield RecordError(
                fallback_id, "invalid_encoding", f"line {lineno} is not valid UTF-8 ({err.reason})"
            )
            continue
        if len(line) > max_chars * 2 + 1024:
            yield RecordError(
                fallback_id,
                "too_large",
                f"line {lineno} has {len(line):,} characters, over the limit for a "
                f"{max_chars:,}-character note",
            )
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            yield RecordError(
                fallback_id, "invalid_json", f"line {lineno} is not valid JSON: {err.msg}"
            )
            continue
        if not isinstance(obj, dict):
            yield RecordError(
                fallback_id,
                "invalid_record",
                f'line {lineno} must be a JSON object {{"id", "text"}}, got {type(obj).__name__}',
            )
            continue
        rid = obj.get("id", fallback_id)
        if isinstance(rid, int) and not isinstance(rid, bool):
            rid = str(rid)
        if not isinstance(rid, str) or not rid:
            yield RecordError(
                fallback_id,
                "invalid_id",
                f'line {lineno}: "id" must be a non-empty string or integer',
            )
            continue
        if "text" not in obj:
            yield RecordError(rid, "missing_text", f'line {lineno} has no "text" field')
            continue
        try:
            text = check_text(obj["text"], max_chars=max_chars)
        except InputError as err:
            yield RecordError(rid, err.code, f"line {lineno}: {err.message}")
            continue
        rest = {k: v for k, v in obj.items() if k not in ("id", "text", "targets")}
        yield Note(rid, text, obj.get("targets"), rest or None)


class UsageError(Exception):
    """A command cannot run at all; reported as one line on stderr, exit code 2."""


def read_inputs(
    files: list[str], input_path: str | None, *, max_chars: int, stack: ExitStack
) -> Iterator[Note | RecordError]:
    """The records of a command's input: plain-text FILEs (`-`: one text on stdin), an
    --input JSONL file (`-`: stdin), or, with neither, JSONL piped to stdin."""
    if max_chars < 1:
        raise UsageError("--max-chars must be a positive number of characters")
    if input_path and files:
        raise UsageError("give plain-text FILEs or --input JSONL, not both")
    if input_path:
        if input_path == "-":
            yield from read_jsonl(sys.stdin.buffer, source="stdin", max_chars=max_chars)
            return
        try:
            stream = stack.enter_context(open(input_path, "rb"))  # noqa: SIM115
        except OSError as err:
            raise UsageError(f"cannot read --input {input_path}: {err.strerror}") from err
        yield from read_jsonl(stream, source=input_path, max_chars=max_chars)
    elif files == ["-"]:
        try:
            yield Note("stdin", decode_text(sys.stdin.buffer.read(), max_chars=max_chars))
        except InputError as err:
            yield RecordError("stdin", err.code, err.message)
    elif files:
        yield from read_files(files, max_chars=max_chars)
    else:
        if sys.stdin.isatty():
            raise UsageError("no input: give FILEs, --input JSONL, or pipe JSONL to stdin")
        yield from read_jsonl(sys.stdin.buffer, source="stdin", max_chars=max_chars)


def open_output(path: str | None, stack: ExitStack) -> IO[str]:
    """stdout, or the --output file opened for writing (UTF-8)."""
    if not path:
        return sys.stdout
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"cannot write --output {path}: {err.strerror}") from err


def add_io_arguments(parser: Any, *, noun: str, fields: str) -> None:
    """The input/output options every record-processing command shares."""
    parser.add_argument("files", nargs="*", metavar="FILE", help=f"plain-text {noun}s")
    parser.add_argument("--input", metavar="JSONL", help=f"JSONL lines {fields} (- for stdin)")
    parser.add_argument("--output", metavar="JSONL", help="write here (default: stdout)")
    parser.add_argument(
        "--max-chars", type=int, default=MAX_CHARS, help=f"largest {noun} accepted (characters)"
    )


EXIT_OK, EXIT_RECORD_ERRORS, EXIT_USAGE = 0, 1, 2


def write_results(
    results: Iterable[dict[str, Any]],
    out: IO[str],
    *,
    table: Callable[[dict[str, Any]], Any] | None = None,
) -> int:
    """Write one JSON line per result, or with `table` (a result -> rich renderable) a
    readable table per record and one red line per error record; report failures on
    stderr in one line and return the exit code: 0 all processed, 1 some records failed."""
    console = None
    if table is not None:
        from rich.console import Console

        console = Console(file=out, width=160)
    ok = failed = 0
    for result in results:
        error = result.get("error")
        if error:
            failed += 1
        else:
            ok += 1
        if console is None:
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        elif error:
            console.print(f"[bold red]{result['id']}[/]: {error['code']}: {error['message']}")
        else:
            assert table is not None
            console.print(table(result))
    if failed:
        print(
            f"eligo: {failed} of {ok + failed} records failed (see their error records)",
            file=sys.stderr,
        )
    return EXIT_RECORD_ERRORS if failed else EXIT_OK
