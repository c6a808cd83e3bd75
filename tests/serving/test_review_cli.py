"""`eligo review`: outputs, exit codes, logs, parallel equality and resume after SIGKILL.

Lexicon-only pipeline (`--no-model`); clinical text here is synthetic, written for these tests.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eligo.serving.cli import main

SENTENCES = [
    "Patient denies chest pain and shortness of breath.",
    "Mother had breast cancer at 50.",
    "History of type 2 diabetes mellitus, on metformin 500 mg twice daily.",
    "HbA1c 8.2% and creatinine 1.4 mg/dL last week.",
    "No evidence of pneumonia on chest x-ray.",
    "Return if fever or vomiting develops.",
]


def note_text(i: int) -> str:
    return " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(4))


def write_notes(path: Path, n: int, *, bad: bool = True) -> Path:
    lines = [json.dumps({"id": f"n{i}", "text": note_text(i), "patient_id": f"p{i % 3}"})
             for i in range(n)]  # fmt: skip
    if bad:
        lines[1] = json.dumps({"id": "n1", "text": ""})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows(out_dir: Path) -> list[dict[str, Any]]:
    text = (out_dir / "review.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_review_writes_every_output_and_exit_1_on_error_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    notes = write_notes(tmp_path / "notes.jsonl", 6)
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        code = main(["-v", "review", "--notes", str(notes), "--output", str(out), "--no-model"])
    assert code == 1
    assert "1 of 6 notes failed" in capsys.readouterr().err
    got = rows(out)
    assert [r["id"] for r in got] == [f"n{i}" for i in range(6)]
    assert got[1]["error"]["code"] == "empty_text"
    first = got[0]
    assert first["note_id"] == 1 and first["patient_id"] == "p0"
    pain = next(e for e in first["entities"] if e["text"] == "chest pain")
    assert pain["negated"] is True and "chest pain" in pain["snippet"]
    for name in ("review.duckdb", "notes.parquet", "entities.parquet", "note_nlp.parquet",
                 "errors.parquet"):  # fmt: skip
        assert (out / name).is_file(), name
    with duckdb.connect(str(out / "review.duckdb"), read_only=True) as con:
        n_entities = sum(len(r.get("entities", [])) for r in got)
        assert con.execute("SELECT count(*) FROM note_nlp").fetchone() == (n_entities,)
        assert con.execute(
            "SELECT term_exists FROM note_nlp n JOIN notes USING (note_id) "
            "WHERE notes.id = 'n0' AND lexical_variant = 'chest pain'"
        ).fetchone() == ("N",)
    # logs: counts and timings, never note text or ids
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "records processed" in logged
    assert "chest pain" not in logged and "n0" not in logged and "p0" not in logged


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--notes", "{tmp}/missing.jsonl"], "no such file"),
        (["--notes", "{tmp}/notes.txt"], "unknown format .txt"),
        (["--notes", "{tmp}/notes.jsonl", "--workers", "0"], "--workers must be at least 1"),
        (["--notes", "{tmp}/notes.jsonl", "--max-chars", "0"], "--max-chars"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write_notes(tmp_path / "notes.jsonl", 2)
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    argv = ["review", *[a.format(tmp=tmp_path) for a in args], "--output", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eligo review: error:") and message in err and "\n" not in err


def test_output_of_another_run_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = write_notes(tmp_path / "notes.jsonl", 3)
    other = write_notes(tmp_path / "other.jsonl", 4)
    out = str(tmp_path / "out")
    assert main(["review", "--notes", str(notes), "--output", out, "--no-model"]) == 1
    assert main(["review", "--notes", str(other), "--output", out, "--no-model"]) == 2
    assert "other inputs or options" in capsys.readouterr().err


def test_killed_run_resumes_without_losing_or_duplicating(tmp_path: Path) -> None:
    """SIGKILL a run midway (a subprocess), rerun the same command: each note exactly once,
    and the same lines as an uninterrupted run."""
    n = 160
    notes = write_notes(tmp_path / "notes.jsonl", n)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "eligo.serving.cli", "review", "--notes", str(notes),
            "--output", str(out), "--no-model", "--quiet", "--chunk-size", "2"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "review.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    written = results.read_bytes().count(b"\n")
    assert 20 <= written < n
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr  # n1 is an error row
    got = rows(out)
    counts = Counter(r["id"] for r in got)
    assert len(got) == n and set(counts.values()) == {1}
    assert [r["id"] for r in got] == [f"n{i}" for i in range(n)]
    # identical to an uninterrupted run
    fresh = tmp_path / "fresh"
    assert main(["review", "--notes", str(notes), "--output", str(fresh), "--no-model"]) == 1
    assert rows(fresh) == got
