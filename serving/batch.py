"""The batch runner: records in, one result row (or one error row) per record out.

A *job* is an iterable of `Task`s (or `RecordError`s for inputs that could not even be read)
and a picklable *factory* that builds the per-worker processor once (it loads the pipeline,
parses the trial, ...). The runner sends chunks of tasks to workers (this process, local
processes, or Ray actors), writes the rows of each chunk in input order to an append-only
JSONL file, and commits its progress after every chunk, so a killed run restarted with the
same arguments continues where it stopped without losing or duplicating a record.

Resumability: `<output>.progress` is a JSONL file whose first line names the job (its
fingerprint: command, inputs, options) and whose later lines each record, after the output
chunk was flushed and fsynced, how many input records are done and the byte length of the
output at that point. On restart the output is truncated to the last committed length (this
drops a partly written chunk or line) and the first `done` records are skipped. Because rows
are written in input order, the records done are always a prefix of the input.

Nothing here logs note text or record ids: only counts and timings.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from eligo.serving.records import MAX_CHARS, InputError, RecordError, UsageError, check_text

log = logging.getLogger("eligo.batch")

Engine = Literal["local", "ray"]

#: rows a processor returns for one task: one row (review), or one per trial (prescreen)
Rows = list[dict[str, Any]]
#: per-worker processor: a chunk of task payloads -> per payload its rows or its error
Processor = Callable[[Sequence[Any]], list["Rows | RecordError"]]
#: picklable zero-argument callable (a module-level function or a functools.partial of
#: one) that builds a `Processor`; it runs once in each worker
Factory = Callable[[], Processor]

PROGRESS_SUFFIX = ".progress"
_PROGRESS_VERSION = 1


@dataclass(frozen=True)
class Task:
    """One input record ready for a worker: `id` names it in an error row."""

    id: str
    payload: Any


Item = Task | RecordError


class BatchError(ValueError):
    """A job that cannot run or resume (reported as a usage error by the CLIs)."""


# ---------------------------------------------------------------------------------------------
# progress file (resumability)


@dataclass
class Progress:
    """The committed state of a job's output: records done and output bytes."""

    output: Path
    fingerprint: dict[str, Any]
    meta: dict[str, Any]
    done: int = 0
    offset: int = 0
    ok: int = 0
    failed: int = 0
    resumed: bool = False
    _file: IO[str] | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.output.with_name(self.output.name + PROGRESS_SUFFIX)

    @classmethod
    def open(
        cls, output: Path, *, fingerprint: dict[str, Any], meta: dict[str, Any] | None = None
    ) -> Progress:
        """Resume the job at `output` if its progress file names the same job, else start it.

        `meta` are values fixed at the job's first start (e.g. a default index date): a
        resumed job gets the stored ones back. Raises BatchError when `output` holds a
        different job's results or was changed since its last commit.
        """
        fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        state = cls(output, fingerprint, dict(meta or {}))
        header, commit = state._read()
        if header is not None and output.exists():
            if header.get("fingerprint") != fingerprint:
                raise BatchError(
                    f"{output} holds the results of a run with other inputs or options "
                    f"(see {state.path.name}); rerun with the same arguments to resume it, or "
                    "remove both files (or choose another output) to start over"
                )
            size = output.stat().st_size
            offset = int(commit.get("bytes", 0)) if commit else 0
            if size < offset:
                raise BatchError(
                    f"{output} is shorter than its progress file records ({size:,} < "
                    f"{offset:,} bytes): it was changed; remove it and {state.path.name} to "
                    "start over"
                )
            state.meta = dict(header.get("meta") or {})
            if commit:
                state.done, state.offset = int(commit["records"]), offset
                state.ok, state.failed = int(commit.get("ok", 0)), int(commit.get("failed", 0))
            state.resumed = True
        return state

    def _read(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The header and the last complete commit line (a torn last line is ignored)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError) as err:
            raise BatchError(f"cannot read {self.path}: {err}") from err
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # the last line of a killed run may be torn
            if isinstance(entry, dict):
                entries.append(entry)
        if not entries or entries[0].get("eligo_progress") != _PROGRESS_VERSION:
            return None, None
        commits = [e for e in entries[1:] if "records" in e and "bytes" in e]
        return entries[0], (commits[-1] if commits else None)

    def start(self) -> IO[bytes]:
        """Open the output for appending at the committed offset (truncating what follows)."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if not self.resumed:
            with self.path.open("w", encoding="utf-8") as f:
                header = {
                    "eligo_progress": _PROGRESS_VERSION,
                    "fingerprint": self.fingerprint,
                    "meta": self.meta,
                }
                f.write(json.dumps(header) + "\n")
                _sync(f)
        out = self.output.open("r+b" if self.output.exists() else "w+b")
        out.truncate(self.offset)
        out.seek(self.offset)
        self._file = self.path.open("a", encoding="utf-8")
        return out

    def commit(self, done: int, offset: int, ok: int, failed: int) -> None:
        """Record that `done` records are in the output's first `offset` bytes (durably)."""
        assert self._file is not None
        self.done, self.offset, self.ok, self.failed = done, offset, ok, failed
        entry = {"records": done, "bytes": offset, "ok": ok, "failed": failed}
        self._file.write(json.dumps(entry) + "\n")
        _sync(self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _sync(f: IO[Any]) -> None:
    f.flush()
    os.fsync(f.fileno())


def input_signature(path: Path) -> dict[str, Any]:
    """What identifies an input between runs: its resolved path and size (a folder: the
    names and sizes of its files), so that a resumed run reads the same records."""
    resolved = path.resolve()
    if resolved.is_dir():
        digest = hashlib.sha256()
        for child in sorted(resolved.iterdir()):
            if child.is_file():
                digest.update(f"{child.name}\0{child.stat().st_size}\n".encode())
        return {"path": str(resolved), "files": digest.hexdigest()[:16]}
    try:
        size = resolved.stat().st_size
    except OSError:
        size = None
    return {"path": str(resolved), "size": size}


# ---------------------------------------------------------------------------------------------
# running a job


@dataclass
class Summary:
    """Counts and timings of one run (this invocation; `resumed_from` records were skipped)."""

    ok: int = 0
    failed: int = 0
    resumed_from: int = 0
    startup_s: float = 0.0
    seconds: float = 0.0
    records: int = 0  # processed by this invocation
    first_chunk: int = 0  # records in the first result, which `startup_s` includes

    @property
    def rate(self) -> float:
        """Records per second after the first result (workers started, pipeline loaded)."""
        steady = self.seconds - self.startup_s
        done = self.records - self.first_chunk
        return done / steady if steady > 0 and done > 0 else 0.0


def run_job(
    items: Iterable[Item],
    factory: Factory,
    progress: Progress,
    *,
    workers: int = 1,
    engine: Engine = "local",
    chunk_size: int = 8,
    total: int | None = None,
    show_progress: bool = False,
    label: str = "records",
) -> Summary:
    """Process every item not yet done, writing its rows to `progress.output` in input order.

    Each item yields at least one row: a processor's rows, or `{"id", "error": {"code",
    "message"}}`. `workers` > 1 (local) runs that many processes, each building its processor
    once; `engine="ray"` runs `workers` Ray actors. Returns the counts and timings.
    """
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    if chunk_size < 1:
        raise BatchError("chunk size must be at least 1")
    started = time.perf_counter()
    summary = Summary(resumed_from=progress.done, ok=progress.ok, failed=progress.failed)
    remaining = _skip(iter(items), progress.done)
    chunks = _chunked(remaining, chunk_size)
    out = progress.start()
    first_result: list[float] = []
    bar = _ProgressBar(
        show_progress,
        total=None if total is None else max(total, progress.done),
        done=progress.done,
        label=label,
    )
    try:
        with bar:
            for chunk, results in _results(chunks, factory, workers=workers, engine=engine):
                if not first_result:
                    first_result.append(time.perf_counter())
                    summary.first_chunk = len(chunk)
                data = bytearray()
                for item, rows in zip(chunk, results, strict=True):
                    if isinstance(rows, RecordError):
                        summary.failed += 1
                        rows = [rows.to_json()]
                    elif not rows:  # a processor must answer every record
                        summary.failed += 1
                        rows = [RecordError(item.id, "no_result", "no result rows").to_json()]
                    else:
                        summary.ok += 1
                    for row in rows:
                        data += json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n"
                out.write(data)
                _sync(out)
                summary.records += len(chunk)
                progress.commit(progress.done + len(chunk), out.tell(), summary.ok, summary.failed)
                bar.advance(len(chunk))
    finally:
        out.close()
        progress.close()
    summary.seconds = time.perf_counter() - started
    summary.startup_s = (first_result[0] - started) if first_result else summary.seconds
    log.info(
        "batch: %d records processed (%d skipped as already done), %d ok, %d errors in total; "
        "%.2f s (startup %.2f s), %.1f records/s steady",
        summary.records,
        summary.resumed_from,
        summary.ok,
        summary.failed,
        summary.seconds,
        summary.startup_s,
        summary.rate,
    )
    return summary


def _skip(items: Iterator[Item], count: int) -> Iterator[Item]:
    for _ in range(count):
        if next(items, None) is None:
            raise BatchError(
                "the input has fewer records than the run being resumed had done: it changed; "
                "remove the output and its .progress file to start over"
            )
    return items


def _chunked(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


ChunkResult = list["Rows | RecordError"]


def _results(
    chunks: Iterator[list[Item]], factory: Factory, *, workers: int, engine: Engine
) -> Iterator[tuple[list[Item], ChunkResult]]:
    """Each chunk with its results, in input order."""
    if engine == "ray":
        yield from _ray_results(chunks, factory, workers=workers)
    elif workers == 1:
        processor = factory()
        for chunk in chunks:
            yield chunk, run_chunk(processor, chunk)
    else:
        yield from _pool_results(chunks, factory, workers=workers)


def run_chunk(processor: Processor, chunk: Sequence[Item]) -> ChunkResult:
    """A chunk's results: error items pass through; a processor failure on the whole chunk
    is retried record by record so only the failing record becomes an error row."""
    results: ChunkResult = [item for item in chunk]  # type: ignore[misc]
    tasks = [(i, item) for i, item in enumerate(chunk) if isinstance(item, Task)]
    try:
        done = processor([task.payload for _, task in tasks])
        if len(done) != len(tasks):
            raise RuntimeError("processor returned a wrong number of results")
    except Exception:  # one bad record must not sink its chunk
        done = []
        for _, task in tasks:
            try:
                (one,) = processor([task.payload])
            except Exception as err:  # becomes the record's error row
                one = _failure(task.id, err)
            done.append(one)
    for (i, task), result in zip(tasks, done, strict=True):
        if isinstance(result, RecordError) and result.id is None:
            result = RecordError(task.id, result.code, result.message)
        results[i] = result
    return results


def _failure(rid: str, err: Exception) -> RecordError:
    if isinstance(err, InputError):
        return RecordError(rid, err.code, err.message)
    # the class only: an exception message could quote the record's text
    return RecordError(rid, "processing_failed", f"processing failed ({type(err).__name__})")


# local processes ------------------------------------------------------------------------------

_PROCESSOR: Processor | None = None


def _init_worker(factory: Factory) -> None:
    """Process-pool initializer: build the processor once per worker process."""
    global _PROCESSOR
    _PROCESSOR = factory()


def _worker_chunk(chunk: list[Item]) -> ChunkResult:
    assert _PROCESSOR is not None, "worker not initialised"
    return run_chunk(_PROCESSOR, chunk)


def _pool_results(
    chunks: Iterator[list[Item]], factory: Factory, *, workers: int
) -> Iterator[tuple[list[Item], ChunkResult]]:
    import multiprocessing

    # spawn: a fresh interpreter per worker, safe with the threads this process runs
    # (the progress bar, ONNX Runtime); each worker then loads the pipeline once.
    context = multiprocessing.get_context("spawn")
    window: deque[tuple[list[Item], Future[ChunkResult]]] = deque()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(factory,)
    ) as pool:
        try:
            for chunk in chunks:
                window.append((chunk, pool.submit(_worker_chunk, chunk)))
                if len(window) >= workers * 3:  # bounded read-ahead; results leave in order
                    head, future = window.popleft()
                    yield head, future.result()
            while window:
                head, future = window.popleft()
                yield head, future.result()
        except BrokenProcessPool as err:
            raise BatchError(
                "a worker process died (out of memory, killed, or its pipeline failed to "
                "load); the records done so far are kept: rerun the same command to resume"
            ) from err


# Ray --------------------------------------------------------------------------------------------


class RayWorker:
    """A Ray actor holding one processor (built once, when the actor starts)."""

    def __init__(self, factory: Factory) -> None:
        self.processor = factory()

    def run(self, chunk: list[Item]) -> ChunkResult:
        return run_chunk(self.processor, chunk)


def _ray_results(
    chunks: Iterator[list[Item]], factory: Factory, *, workers: int
) -> Iterator[tuple[list[Item], ChunkResult]]:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as err:
        raise BatchError("--engine ray needs Ray: pip install 'eligo[distributed]'") from err
    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        if address:  # an existing cluster: its resources are its own
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:  # a local instance sized to --workers, without the dashboard
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                object_store_memory=256 * 1024 * 1024,
            )
    actor: Any = ray.remote(num_cpus=1)(RayWorker)
    actors = [actor.remote(factory) for _ in range(workers)]
    pool = ActorPool(actors)
    window: deque[list[Item]] = deque()
    try:
        for chunk in chunks:
            pool.submit(lambda a, c: a.run.remote(c), chunk)
            window.append(chunk)
            if len(window) >= workers * 3:
                yield window.popleft(), pool.get_next()
        while window:
            yield window.popleft(), pool.get_next()
    finally:
        for a in actors:
            ray.kill(a)
        if started_here:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------
# progress bar


class _ProgressBar:
    """rich progress on stderr (rate and ETA), or nothing when disabled."""

    def __init__(self, enabled: bool, *, total: int | None, done: int, label: str) -> None:
        self.progress: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self.task = self.progress.add_task(label, total=total, completed=done, rate="")
        self.first: float | None = None  # the rate counts from the first result (not startup)
        self.counted = 0

    def __enter__(self) -> _ProgressBar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def advance(self, count: int) -> None:
        if self.progress is None:
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = now
            self.progress.update(self.task, advance=count)
            return
        self.counted += count
        rate = self.counted / max(now - self.first, 1e-9)
        self.progress.update(self.task, advance=count, rate=f"{rate:.1f}/s")


def want_progress(quiet: bool) -> bool:
    """The progress bar shows on an interactive stderr unless --quiet."""
    return not quiet and sys.stderr.isatty()


# ---------------------------------------------------------------------------------------------
# notes for `eligo review`


@dataclass(frozen=True)
class ReviewNote:
    """A note to review with the metadata the outputs carry (OMOP NOTE_NLP needs an
    integer `note_id`: the OMOP note_id, else the note's 1-based position in the input)."""

    id: str
    text: str
    note_id: int
    date: str | None = None
    patient_id: str | None = None


NoteFormat = Literal["jsonl", "csv", "parquet", "fhir", "omop"]


def note_format(path: Path) -> NoteFormat:
    """The input format of `review --notes PATH`, from its suffix (a folder: FHIR)."""
    if path.is_dir():
        return "fhir"
    suffix = path.suffix.lower()
    formats: dict[str, NoteFormat] = {
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".csv": "csv",
        ".parquet": "parquet",
        ".duckdb": "omop",
        ".db": "omop",
    }
    if suffix not in formats:
        raise UsageError(
            f"--notes {path}: unknown format {suffix or '(no suffix)'}; give a .jsonl, .csv, "
            ".parquet or OMOP .duckdb file, or a folder of FHIR JSON files"
        )
    return formats[suffix]


def read_notes(path: Path, *, max_chars: int = MAX_CHARS) -> tuple[Iterator[Item], int | None]:
    """The notes of `path` as tasks (payload `ReviewNote`) or error items, and their count
    when it is cheap to know. Raises UsageError when the input cannot be opened at all."""
    if not path.exists():
        raise UsageError(f"--notes {path}: no such file or folder")
    fmt = note_format(path)
    if fmt == "jsonl":
        return _jsonl_notes(path, max_chars), _count_lines(path)
    if fmt == "csv":
        return _csv_notes(path, max_chars), None
    if fmt == "parquet":
        return _parquet_notes(path, max_chars), _parquet_rows(path)
    if fmt == "fhir":
        return _fhir_notes(path, max_chars), None
    return _omop_notes(path, max_chars), _omop_count(path)


def _note(
    obj: dict[str, Any], *, position: int, fallback_id: str, where: str, max_chars: int
) -> Item:
    """A row {"id", "text", "date"?, "patient_id"?} -> Task, or its error record."""
    rid = obj.get("id")
    if rid is None or rid == "":
        rid = fallback_id
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    if not isinstance(rid, str):
        return RecordError(fallback_id, "invalid_id", f'{where}: "id" must be a string or integer')
    if "text" not in obj or obj["text"] is None:
        return RecordError(rid, "missing_text", f'{where} has no "text"')
    text = obj["text"]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return RecordError(rid, "invalid_encoding", f"{where}: text is not valid UTF-8")
    try:
        if isinstance(text, str) and any("\udc80" <= ch <= "\udcff" for ch in text):
            # surrogateescape'd bytes of a CSV row that is not UTF-8
            raise InputError("invalid_encoding", "text is not valid UTF-8")
        text = check_text(text, max_chars=max_chars)
    except InputError as err:
        return RecordError(rid, err.code, f"{where}: {err.message}")
    patient = obj.get("patient_id")
    date = obj.get("date")
    note = ReviewNote(
        id=rid,
        text=text,
        note_id=position,
        date=None if date in (None, "") else str(date),
        patient_id=None if patient in (None, "") else str(patient),
    )
    return Task(rid, note)


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                count += 1
    return count


def _jsonl_notes(path: Path, max_chars: int) -> Iterator[Item]:
    with path.open("rb") as f:
        position = 0
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            position += 1
            fallback = f"{path.name}:{lineno}"
            where = f"line {lineno}"
            try:
                obj = json.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError:
                yield RecordError(fallback, "invalid_encoding", f"{where} is not valid UTF-8")
                continue
            except json.JSONDecodeError as err:
                yield RecordError(fallback, "invalid_json", f"{where} is not valid JSON: {err.msg}")
                continue
            if not isinstance(obj, dict):
                yield RecordError(fallback, "invalid_record", f"{where} must be a JSON object")
                continue
            yield _note(
                obj, position=position, fallback_id=fallback, where=where, max_chars=max_chars
            )


def _csv_notes(path: Path, max_chars: int) -> Iterator[Item]:
    csv.field_size_limit(max(max_chars * 4, 1 << 20))
    # surrogateescape keeps a non-UTF-8 row readable so that it becomes one error row
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise UsageError(f"--notes {path}: a CSV file needs a header with id,text columns")
        for position, row in enumerate(reader, 1):
            where = f"row {position}"
            fallback = f"{path.name}:{position}"
            yield _note(
                dict(row), position=position, fallback_id=fallback, where=where, max_chars=max_chars
            )


def _duckdb_connect(path: Path, *, what: str) -> Any:
    import duckdb

    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise UsageError(f"{what} {path}: cannot open it as a DuckDB database") from err


def _parquet_rows(path: Path) -> int | None:
    import duckdb

    try:
        row = (
            duckdb.connect()
            .execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)", [str(path)])
            .fetchone()
        )
    except duckdb.Error as err:
        raise UsageError(f"--notes {path}: not a readable Parquet file") from err
    return int(row[0]) if row and row[0] is not None else None


def _parquet_notes(path: Path, max_chars: int) -> Iterator[Item]:
    import duckdb

    con = duckdb.connect()
    try:
        relation = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
    except duckdb.Error as err:
        raise UsageError(f"--notes {path}: not a readable Parquet file") from err
    columns = [d[0] for d in relation.description]
    if "text" not in columns:
        raise UsageError(f"--notes {path}: the Parquet file needs id and text columns")
    position = 0
    while batch := relation.fetchmany(256):
        for values in batch:
            position += 1
            yield _note(
                dict(zip(columns, values, strict=True)),
                position=position,
                fallback_id=f"{path.name}:{position}",
                where=f"row {position}",
                max_chars=max_chars,
            )


def _omop_count(path: Path) -> int | None:
    con = _duckdb_connect(path, what="--notes")
    try:
        row = con.execute("SELECT count(*) FROM note").fetchone()
    except Exception as err:
        raise UsageError(f"--notes {path}: the database has no OMOP note table") from err
    finally:
        con.close()
    return int(row[0]) if row else None


def _omop_notes(path: Path, max_chars: int) -> Iterator[Item]:
    """OMOP CDM `note` rows, in note_id order; note_id is kept for NOTE_NLP."""
    con = _duckdb_connect(path, what="--notes")
    try:
        relation = con.execute(
            "SELECT note_id, person_id, CAST(note_date AS VARCHAR), note_text FROM note "
            "ORDER BY note_id"
        )
        while batch := relation.fetchmany(256):
            for note_id, person_id, date, text in batch:
                obj = {"id": str(note_id), "text": text, "date": date, "patient_id": person_id}
                item = _note(
                    obj,
                    position=int(note_id),
                    fallback_id=str(note_id),
                    where=f"note {note_id}",
                    max_chars=max_chars,
                )
                yield item
    finally:
        con.close()


def _fhir_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".ndjson"))


def _fhir_notes(path: Path, max_chars: int) -> Iterator[Item]:
    """DocumentReference resources of a folder of FHIR R4 JSON files (Bundles, single
    resources or NDJSON); note text is the base64 `content[].attachment.data` of a text/*
    attachment. A file that cannot be read is one error row."""
    position = 0
    for file in _fhir_files(path):
        try:
            resources = list(_fhir_resources(file))
        except InputError as err:
            position += 1
            yield RecordError(file.name, err.code, f"{file.name}: {err.message}")
            continue
        for resource in resources:
            if resource.get("resourceType") != "DocumentReference":
                continue
            position += 1
            yield _document_reference(
                resource, position=position, where=file.name, max_chars=max_chars
            )


def _fhir_resources(file: Path) -> Iterator[dict[str, Any]]:
    try:
        data = file.read_bytes()
    except OSError as err:
        raise InputError("unreadable", f"cannot read it: {err.strerror}") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError("invalid_encoding", "not valid UTF-8") from err
    if not text.strip():
        raise InputError("empty_text", "the file is empty")
    try:
        docs = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if file.suffix.lower() == ".ndjson"
            else [json.loads(text)]
        )
    except json.JSONDecodeError as err:
        raise InputError("invalid_json", f"not valid JSON: {err.msg}") from err
    for doc in docs:
        if not isinstance(doc, dict):
            raise InputError("invalid_record", "not a FHIR resource (a JSON object)")
        if doc.get("resourceType") == "Bundle":
            for entry in doc.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict):
                    yield resource
        else:
            yield doc


def _document_reference(
    resource: dict[str, Any], *, position: int, where: str, max_chars: int
) -> Item:
    rid = str(resource.get("id") or f"{where}#{position}")
    subject = (resource.get("subject") or {}).get("reference")
    patient = subject.rsplit("/", 1)[-1].removeprefix("urn:uuid:") if subject else None
    date = resource.get("date")
    attachments = [
        c.get("attachment") or {} for c in resource.get("content") or [] if isinstance(c, dict)
    ]
    texts = [a for a in attachments if str(a.get("contentType", "text/plain")).startswith("text/")]
    if not texts:
        kinds = ", ".join(sorted({str(a.get("contentType")) for a in attachments})) or "none"
        return RecordError(
            rid, "unsupported_content", f"{where}: no text/* attachment (content types: {kinds})"
        )
    attachment = texts[0]
    if "data" not in attachment:
        return RecordError(
            rid, "missing_text", f"{where}: the attachment has no inline data (only a url)"
        )
    try:
        raw = base64.b64decode(attachment["data"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        return RecordError(rid, "invalid_record", f"{where}: attachment data is not base64")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return RecordError(rid, "invalid_encoding", f"{where}: note text is not valid UTF-8")
    obj = {"id": rid, "text": text, "date": date[:10] if date else None, "patient_id": patient}
    return _note(obj, position=position, fallback_id=rid, where=where, max_chars=max_chars)


# ---------------------------------------------------------------------------------------------
# the review processor


def review_processor(*, model: bool = False, threads: int = 0) -> Processor:
    """Build (once per worker) the processor of `eligo review`: notes -> entity rows."""
    from eligo.nlp import load, make_doc, to_entities
    from eligo.nlp.extract import pipe_isolating
    from eligo.nlp.provenance import for_pipeline

    nlp = load(threads=threads) if model else load(model=None)
    stamp = for_pipeline(nlp).model_dump(exclude_none=True)

    def process(notes: Sequence[Any]) -> list[Rows | RecordError]:
        docs = [make_doc(nlp, note.text) for note in notes]
        results: list[Rows | RecordError] = []
        for note, done in zip(notes, pipe_isolating(nlp, docs), strict=True):
            if isinstance(done, Exception):
                results.append(_failure(note.id, done))
                continue
            sentences = [(s.start_char, s.end_char) for s in done.sents]
            entities = []
            for ent in to_entities(done):
                data = ent.to_json()
                data["snippet"] = snippet(note.text, ent.start, ent.end, sentences)
                entities.append(data)
            row = {
                "id": note.id,
                "note_id": note.note_id,
                "patient_id": note.patient_id,
                "date": note.date,
                "entities": entities,
                "provenance": stamp,
            }
            results.append([row])
        return results

    return process


#: OMOP NOTE_NLP.snippet is varchar(250)
SNIPPET_CHARS = 250


def snippet(text: str, start: int, end: int, sentences: Sequence[tuple[int, int]] = ()) -> str:
    """The sentence around text[start:end] (whitespace collapsed), cut to 250 characters
    around the mention when longer."""
    lo, hi = max(0, start - 120), min(len(text), end + 120)
    for s_start, s_end in sentences:
        if s_start <= start < s_end:
            lo, hi = s_start, max(s_end, end)
            break
    if hi - lo > SNIPPET_CHARS:
        room = max(0, SNIPPET_CHARS - (end - start)) // 2
        lo = max(lo, start - room)
        hi = min(hi, lo + SNIPPET_CHARS)
    return " ".join(text[lo:hi].split())[:SNIPPET_CHARS]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# ---------------------------------------------------------------------------------------------
# charts and the prescreen processor


@dataclass(frozen=True)
class ChartLine:
    """A JSONL chart record, parsed in the worker (the raw line is cheap to send)."""

    line: bytes
    where: str


@dataclass(frozen=True)
class FhirFile:
    """A FHIR R4 Bundle file (one patient), read and parsed in the worker."""

    path: str


ChartPayload = ChartLine | FhirFile | Any  # or a built PatientFacts (OMOP)

#: status order for ranking a patient's trials: eligible first, excluded last
_STATUS_RANK = {"eligible": 0, "needs_review": 1, "excluded": 2}


def chart_format(path: Path) -> Literal["jsonl", "fhir", "omop"]:
    """The input format of `prescreen --patients PATH`."""
    if path.is_dir():
        return "fhir"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".duckdb", ".db"):
        return "omop"
    raise UsageError(
        f"--patients {path}: unknown format {suffix or '(no suffix)'}; give a .jsonl file of "
        "chart records, a folder of FHIR R4 bundles (*.json), or an OMOP CDM .duckdb file"
    )


def read_charts(path: Path, *, nlp: Any = None) -> tuple[Iterator[Item], int | None]:
    """The patients of `path` as tasks (payloads for `prescreen_processor`) and their count.

    JSONL lines and FHIR files are parsed in the workers; OMOP persons are built here, in
    this process, by `eligo.criteria.adapters.read_omop` (it reads the tables in person
    batches; `nlp` runs over their notes). Raises UsageError when the input cannot be read.
    """
    if not path.exists():
        raise UsageError(f"--patients {path}: no such file or folder")
    fmt = chart_format(path)
    if fmt == "jsonl":
        return _chart_lines(path), _count_lines(path)
    if fmt == "fhir":
        files = sorted(p for p in path.glob("*.json"))
        return (Task(p.name, FhirFile(str(p))) for p in files), len(files)
    return _omop_charts(path, nlp), None


def _chart_lines(path: Path) -> Iterator[Item]:
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                where = f"{path.name}:{lineno}"
                yield Task(where, ChartLine(raw, where))


def _omop_charts(path: Path, nlp: Any) -> Iterator[Item]:
    from eligo.criteria.adapters import AdapterError, ChartSourceError, read_omop

    try:
        charts = read_omop(path, nlp=nlp)
        for chart in charts:
            if isinstance(chart, AdapterError):
                yield RecordError(chart.id, chart.code, chart.message)
            else:
                yield Task(chart.id, chart)
    except ChartSourceError as err:
        raise UsageError(f"--patients {path}: {err}") from err


def load_chart(payload: ChartPayload, *, nlp: Any) -> Any:
    """A payload -> PatientFacts (raises AdapterError / InputError for a bad record)."""
    from eligo.criteria.adapters import AdapterError, from_fhir, from_record

    if isinstance(payload, ChartLine):
        try:
            record = json.loads(payload.line.decode("utf-8-sig"))
        except UnicodeDecodeError as err:
            raise InputError("invalid_encoding", f"{payload.where}: not valid UTF-8") from err
        except json.JSONDecodeError as err:
            raise InputError("invalid_json", f"{payload.where}: not valid JSON: {err.msg}") from err
        return from_record(record, nlp=nlp)
    if isinstance(payload, FhirFile):
        name = Path(payload.path).name
        try:
            bundle = json.loads(Path(payload.path).read_bytes())
        except OSError as err:
            raise InputError("unreadable", f"{name}: cannot read it ({err.strerror})") from err
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError("invalid_json", f"{name}: not valid JSON") from err
        try:
            return from_fhir(bundle, nlp=nlp)
        except AdapterError as err:
            err.message = f"{name}: {err.message}"
            raise
    return payload


def screen(
    trials: Sequence[Any],
    patient: Any,
    *,
    index_date: Any,
    matcher: Any = None,
    top: int | None = None,
) -> Rows:
    """One screening row per trial (the Screening JSON); with `top`, the patient's `top`
    best trials, best first (eligible before needs_review before excluded, then score)."""
    from eligo.criteria.evaluate import evaluate

    screenings = [
        evaluate(criteria, patient, index_date=index_date, matcher=matcher) for criteria in trials
    ]
    if top is not None:
        screenings.sort(key=lambda s: (_STATUS_RANK.get(s.status, 3), -s.score))
        screenings = screenings[:top]
    return [s.model_dump(mode="json") for s in screenings]


def prescreen_processor(
    *,
    trials: Sequence[Any],
    index_date: str,
    top: int | None = None,
    model: bool = True,
    threads: int = 0,
) -> Processor:
    """Build (once per worker) the processor of `eligo prescreen`: charts -> screenings."""
    from datetime import date

    from eligo.criteria.adapters import AdapterError
    from eligo.criteria.match import ConceptMatcher
    from eligo.nlp import load

    nlp = load(threads=threads) if model else load(model=None)
    matcher = ConceptMatcher(nlp=nlp)  # one per worker: its concept-pair cache is shared
    day = date.fromisoformat(index_date)

    def process(payloads: Sequence[Any]) -> list[Rows | RecordError]:
        results: list[Rows | RecordError] = []
        for payload in payloads:
            try:
                patient = load_chart(payload, nlp=nlp)
            except AdapterError as err:
                results.append(RecordError(err.id, err.code, err.message))
                continue
            except InputError as err:
                results.append(RecordError(None, err.code, err.message))
                continue
            except (ValueError, TypeError, KeyError) as err:  # malformed nesting in a record
                results.append(
                    RecordError(None, "invalid_record", f"invalid chart ({type(err).__name__})")
                )
                continue
            results.append(screen(trials, patient, index_date=day, matcher=matcher, top=top))
        return results

    return process
