"""The batch runner: input readers (one item per record), ordering, errors, resume, engines.

Toy processors (no pipeline) keep most tests fast; one test runs the review processor on
a local Ray instance. Clinical text here is synthetic, written for these tests.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eligo.serving.batch import (
    BatchError,
    Progress,
    RecordError,
    ReviewNote,
    Rows,
    Task,
    chart_format,
    read_charts,
    read_notes,
    run_job,
    snippet,
)
from eligo.serving.records import UsageError

NOTE = "Denies chest pain. Mother had breast cancer. HbA1c 8.2%."


def upper_processor(*, fail_on: str = "") -> Any:
    """A toy processor: one row per note with its text upper-cased; `fail_on` raises."""

    def process(notes: Sequence[Any]) -> list[Rows | RecordError]:
        out: list[Rows | RecordError] = []
        for note in notes:
            if fail_on and fail_on in note.text:
                raise RuntimeError("boom")  # the runner retries record by record
            out.append([{"id": note.id, "upper": note.text.upper()}])
        return out

    return process


def tasks(n: int, *, bad: set[int] = frozenset()) -> list[Task | RecordError]:  # type: ignore[assignment]
    items: list[Task | RecordError] = []
    for i in range(n):
        if i in bad:
            items.append(RecordError(f"r{i}", "empty_text", "text is empty"))
        else:
            items.append(Task(f"r{i}", ReviewNote(f"r{i}", f"note {i}", i + 1)))
    return items


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(tmp_path: Path, items: list[Any], *, workers: int = 1, **kw: Any) -> list[dict[str, Any]]:
    out = tmp_path / "out.jsonl"
    progress = Progress.open(out, fingerprint={"job": "toy"})
    run_job(
        items, functools.partial(upper_processor, **kw), progress, workers=workers, chunk_size=3
    )
    return lines(out)


# --- readers ---------------------------------------------------------------------------------


def ids(items: Any) -> list[tuple[str | None, str]]:
    """(id, "ok" or the error code) per item."""
    return [
        (item.id, item.code) if isinstance(item, RecordError) else (item.id, "ok") for item in items
    ]


def test_jsonl_reader_yields_one_item_per_line_with_error_codes(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "Denies fever.", "date": "2024-01-02", "patient_id": 7}\n'
        b'{"id": "b", "text": "   "}\n'
        b"not json\n"
        b"\n"
        b'{"id": "c", "text": "caf\xe9"}\n'
        b'{"id": "d"}\n'
        b'["a list"]\n'
        b'{"id": 5, "text": "Hx of HTN."}\n'
    )
    items, total = read_notes(path)
    got = list(items)
    assert total == 7
    assert ids(got) == [
        ("a", "ok"),
        ("b", "empty_text"),
        ("notes.jsonl:3", "invalid_json"),
        ("notes.jsonl:5", "invalid_encoding"),
        ("d", "missing_text"),
        ("notes.jsonl:7", "invalid_record"),
        ("5", "ok"),
    ]
    first = got[0]
    assert isinstance(first, Task)
    assert first.payload == ReviewNote("a", "Denies fever.", 1, "2024-01-02", "7")
    assert got[-1].payload.note_id == 7  # type: ignore[union-attr]


def test_csv_reader_handles_quoted_newlines_and_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_bytes(
        b'id,text,date\nn1,"Chest pain.\nNo fever.",2024-02-01\nn2,"caf\xe9 au lait",\nn3,,\n'
    )
    got = list(read_notes(path)[0])
    assert ids(got) == [("n1", "ok"), ("n2", "invalid_encoding"), ("n3", "empty_text")]
    assert got[0].payload.text == "Chest pain.\nNo fever."  # type: ignore[union-attr]


def test_csv_without_text_column_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("id,body\n1,x\n", encoding="utf-8")
    with pytest.raises(UsageError, match="id,text"):
        list(read_notes(path)[0])


def test_parquet_reader(tmp_path: Path) -> None:
    path = tmp_path / "notes.parquet"
    duckdb.connect().execute(
        "COPY (SELECT * FROM (VALUES ('p1', 'Denies cough.', '2024-03-01', 'pt1'), "
        "('p2', NULL, NULL, NULL), ('p3', '', NULL, NULL)) t(id, text, date, patient_id)) "
        f"TO '{path}' (FORMAT PARQUET)"
    )
    items, total = read_notes(path)
    assert total == 3
    assert ids(items) == [("p1", "ok"), ("p2", "missing_text"), ("p3", "empty_text")]


def fhir_bundle(patient: str, notes: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {"resource": {"resourceType": "Patient", "id": patient, "gender": "female"}}
    ]
    for rid, data, content_type in notes:
        entries.append(
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": rid,
                    "subject": {"reference": f"urn:uuid:{patient}"},
                    "date": "2023-05-04T10:00:00-04:00",
                    "content": [
                        {
                            "attachment": {
                                "contentType": content_type,
                                "data": base64.b64encode(data).decode(),
                            }
                        }
                    ],
                }
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_fhir_folder_reader(tmp_path: Path) -> None:
    folder = tmp_path / "fhir"
    folder.mkdir()
    bundle = fhir_bundle(
        "pat-1",
        [
            ("doc-1", NOTE.encode(), "text/plain; charset=utf-8"),
            ("doc-2", b"%PDF-1.4", "application/pdf"),
            ("doc-3", b"\xff\xfe bad", "text/plain"),
        ],
    )
    (folder / "a.json").write_text(json.dumps(bundle), encoding="utf-8")
    (folder / "b.json").write_text("{not json", encoding="utf-8")
    got = list(read_notes(folder)[0])
    assert ids(got) == [
        ("doc-1", "ok"),
        ("doc-2", "unsupported_content"),
        ("doc-3", "invalid_encoding"),
        ("b.json", "invalid_json"),
    ]
    note = got[0].payload  # type: ignore[union-attr]
    assert (note.text, note.patient_id, note.date) == (NOTE, "pat-1", "2023-05-04")


def test_omop_note_table_reader(tmp_path: Path) -> None:
    db = tmp_path / "cdm.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE note (note_id BIGINT, person_id BIGINT, note_date DATE, "
            "note_text VARCHAR)"
        )
        con.execute(
            "INSERT INTO note VALUES (42, 1, '2022-01-01', 'Denies dyspnea.'), "
            "(7, 2, '2022-02-02', ''), (9, 2, NULL, NULL)"
        )
    items, total = read_notes(db)
    got = list(items)
    assert total == 3
    assert ids(got) == [("7", "empty_text"), ("9", "missing_text"), ("42", "ok")]
    assert got[2].payload.note_id == 42  # type: ignore[union-attr]


def test_unknown_or_missing_inputs_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_notes(tmp_path / "missing.jsonl")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown format \.txt"):
        read_notes(tmp_path / "notes.txt")
    with pytest.raises(UsageError, match="unknown format"):
        chart_format(tmp_path / "notes.txt")
    (tmp_path / "bad.duckdb").write_text("not a database", encoding="utf-8")
    with pytest.raises(UsageError, match="DuckDB"):
        read_notes(tmp_path / "bad.duckdb")


def test_chart_readers_send_raw_lines_and_files(tmp_path: Path) -> None:
    path = tmp_path / "charts.jsonl"
    path.write_text('{"id": "p1"}\n\n{"id": "p2"}\n', encoding="utf-8")
    items, total = read_charts(path)
    assert total == 2
    assert [item.id for item in items] == ["charts.jsonl:1", "charts.jsonl:3"]


def test_snippet_is_the_sentence_and_at_most_250_chars() -> None:
    text = "First one. Second has the target word here. Third."
    start = text.index("target")
    assert snippet(text, start, start + 6, [(0, 10), (11, 43), (44, 50)]) == (
        "Second has the target word here."
    )
    long = "x " * 300 + "target" + " y" * 300
    cut = snippet(long, 600, 606, [(0, len(long))])
    assert len(cut) <= 250 and "target" in cut


# --- the runner ------------------------------------------------------------------------------


def test_every_item_gives_one_row_in_input_order(tmp_path: Path) -> None:
    rows = run(tmp_path, tasks(10, bad={3}), fail_on="note 6")
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(10)]
    assert rows[3]["error"]["code"] == "empty_text"
    # a processor failure becomes that record's error only (class name, never its text)
    assert rows[6]["error"] == {
        "code": "processing_failed",
        "message": "processing failed (RuntimeError)",
    }
    assert rows[5] == {"id": "r5", "upper": "NOTE 5"}


def test_two_worker_processes_keep_the_order(tmp_path: Path) -> None:
    rows = run(tmp_path, tasks(20, bad={0}), workers=2)
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(20)]
    assert rows[19]["upper"] == "NOTE 19"


def test_resume_truncates_a_torn_chunk_and_skips_done_records(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    progress = Progress.open(out, fingerprint={"job": "toy"})
    run_job(tasks(6), upper_processor, progress, chunk_size=2)
    # simulate a kill after 4 records were committed, while a chunk was being written
    progress_file = out.with_name("out.jsonl.progress")
    entries = progress_file.read_text(encoding="utf-8").splitlines()
    commit = json.loads(entries[2])
    assert commit["records"] == 4
    with out.open("r+b") as f:
        f.truncate(commit["bytes"])
        f.seek(commit["bytes"])
        f.write(b'{"id": "r4", "upper": "NO')  # a torn line
    progress_file.write_text("\n".join(entries[:3]) + '\n{"records": 6, "byt', encoding="utf-8")
    resumed = Progress.open(out, fingerprint={"job": "toy"})
    assert (resumed.resumed, resumed.done) == (True, 4)
    summary = run_job(tasks(6), upper_processor, resumed, chunk_size=2)
    assert (summary.records, summary.resumed_from) == (2, 4)
    assert [row["id"] for row in lines(out)] == [f"r{i}" for i in range(6)]


def test_a_finished_job_rerun_does_nothing(tmp_path: Path) -> None:
    run(tmp_path, tasks(4))
    out = tmp_path / "out.jsonl"
    before = out.read_bytes()
    again = Progress.open(out, fingerprint={"job": "toy"})
    summary = run_job(tasks(4), upper_processor, again)
    assert summary.records == 0 and out.read_bytes() == before


def test_other_job_or_changed_output_refuses_to_resume(tmp_path: Path) -> None:
    run(tmp_path, tasks(4))
    out = tmp_path / "out.jsonl"
    with pytest.raises(BatchError, match="other inputs or options"):
        Progress.open(out, fingerprint={"job": "another"})
    out.write_bytes(b"")
    with pytest.raises(BatchError, match="shorter than its progress file"):
        Progress.open(out, fingerprint={"job": "toy"})


def test_a_shorter_input_on_resume_is_an_error(tmp_path: Path) -> None:
    run(tmp_path, tasks(4))
    progress = Progress.open(tmp_path / "out.jsonl", fingerprint={"job": "toy"})
    with pytest.raises(BatchError, match="fewer records"):
        run_job(tasks(2), upper_processor, progress)


def test_meta_is_kept_across_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = Progress.open(out, fingerprint={"job": "toy"}, meta={"index_date": "2024-01-01"})
    run_job(tasks(2), upper_processor, first)
    again = Progress.open(out, fingerprint={"job": "toy"}, meta={"index_date": "2030-12-31"})
    assert again.meta == {"index_date": "2024-01-01"}


def test_workers_must_be_positive(tmp_path: Path) -> None:
    progress = Progress.open(tmp_path / "o.jsonl", fingerprint={})
    with pytest.raises(BatchError, match="at least 1"):
        run_job([], upper_processor, progress, workers=0)


def test_ray_engine_keeps_order_and_errors(tmp_path: Path) -> None:
    """A small job on a local Ray instance (2 actors)."""
    pytest.importorskip("ray")
    out = tmp_path / "ray.jsonl"
    progress = Progress.open(out, fingerprint={"job": "ray"})
    summary = run_job(
        tasks(7, bad={2}),
        functools.partial(upper_processor, fail_on="note 4"),
        progress,
        workers=2,
        engine="ray",
        chunk_size=2,
    )
    rows = lines(out)
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(7)]
    assert (summary.ok, summary.failed) == (5, 2)
    assert rows[4]["error"]["code"] == "processing_failed"
    assert rows[6] == {"id": "r6", "upper": "NOTE 6"}


def broken_processor() -> Any:
    raise RuntimeError("cannot load")


def test_a_worker_that_cannot_start_is_a_batch_error(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    progress = Progress.open(out, fingerprint={"job": "broken"})
    with pytest.raises(BatchError, match="rerun the same command to resume"):
        run_job(tasks(4), broken_processor, progress, workers=2, chunk_size=1)
