"""`eligo extract` end to end: output contract, order, and every error path with its message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eligo.serving.cli import main

NOTE = "Patient denies chest pain. History of hypertension. Started metformin 500 mg daily."


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]], str]:
    code = main(argv)
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, lines, captured.err


def write_jsonl(path: Path, lines: list[str | bytes]) -> Path:
    with path.open("wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode())
            f.write(b"\n")
    return path


def test_plain_file_output_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    code, lines, _ = run(["extract", str(note)], capsys)
    assert code == 0
    (line,) = lines
    assert line["id"] == str(note)
    assert line["provenance"]["eligo"]
    by_text = {e["text"].lower(): e for e in line["entities"]}
    pain = by_text["chest pain"]
    assert pain["label"] == "condition" and pain["negated"] is True
    assert NOTE[pain["start"] : pain["end"]] == pain["text"]
    assert by_text["hypertension"]["historical"] is True
    assert by_text["hypertension"]["negated"] is False
    assert by_text["metformin"]["label"] == "drug"
    assert any(c["system"] == "DrugBank" for c in by_text["metformin"]["codes"])
    for entity in line["entities"]:
        assert set(entity) >= {
            "start",
            "end",
            "text",
            "label",
            "codes",
            "negated",
            "historical",
            "hypothetical",
            "family",
            "uncertain",
            "section",
        }


def test_jsonl_errors_are_records_and_order_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(
        tmp_path / "notes.jsonl",
        [
            json.dumps({"id": "ok-1", "text": NOTE}),
            "{not json",
            json.dumps(["a", "list"]),
            json.dumps({"id": "no-text"}),
            json.dumps({"id": "num-text", "text": 42}),
            json.dumps({"id": "blank", "text": "   \n "}),
            json.dumps({"id": "bad-targets", "text": NOTE, "targets": [[5, 2]]}),
            b'{"id": "latin1", "text": "caf\xe9"}',
            "",
            json.dumps({"text": NOTE}),
            json.dumps({"id": 7, "text": "No fever."}),
            json.dumps({"id": "ok-2", "text": NOTE}),
        ],
    )
    code, lines, err = run(["extract", "--input", str(path)], capsys)
    assert code == 1
    ids = [line["id"] for line in lines]
    src = str(path)
    assert ids == [
        "ok-1",
        f"{src}:2",
        f"{src}:3",
        "no-text",
        "num-text",
        "blank",
        "bad-targets",
        f"{src}:8",
        f"{src}:10",
        "7",
        "ok-2",
    ]
    errors = {line["id"]: line["error"] for line in lines if "error" in line}
    assert errors[f"{src}:2"]["code"] == "invalid_json"
    assert "line 2 is not valid JSON" in errors[f"{src}:2"]["message"]
    assert errors[f"{src}:3"]["code"] == "invalid_record"
    assert errors["no-text"] == {"code": "missing_text", "message": 'line 4 has no "text" field'}
    assert errors["num-text"]["code"] == "invalid_text"
    assert "must be a string, got int" in errors["num-text"]["message"]
    assert errors["blank"]["code"] == "empty_text"
    assert errors["bad-targets"]["code"] == "invalid_targets"
    assert "[5, 2]" in errors["bad-targets"]["message"]
    assert errors[f"{src}:8"]["code"] == "invalid_encoding"
    assert f"{src}:10" not in errors  # no id: a fallback id, processed normally
    assert "error" not in lines[-2] and "error" not in lines[-1]
    assert "7 of 11 records failed" in err


def test_too_large_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [json.dumps({"id": "big", "text": "x " * 100})])
    code, (line,), _ = run(["extract", "--input", str(path), "--max-chars", "50"], capsys)
    assert code == 1
    assert line["error"]["code"] == "too_large"
    assert "over the limit of 50" in line["error"]["message"]


def test_lone_surrogate_is_an_error_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # json.dumps writes "\ud800" as an escape: valid JSON, not valid Unicode
    lines = [
        json.dumps({"id": "s", "text": "Fever \ud800 and cough."}),
        json.dumps({"id": "ok", "text": NOTE}),
    ]
    path = write_jsonl(tmp_path / "s.jsonl", lines)
    code, (bad, good), _ = run(["extract", "--input", str(path)], capsys)
    assert code == 1
    assert bad["error"]["code"] == "invalid_text"
    assert "unpaired UTF-16 surrogate at character 6" in bad["error"]["message"]
    assert "error" not in good


def test_bad_files_become_error_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.txt"
    good.write_text(NOTE, encoding="utf-8")
    binary = tmp_path / "scan.pdf"
    binary.write_bytes(b"%PDF-1.4\x00\x01\x02")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Fièvre".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    argv = ["extract", str(good), str(binary), str(latin1), str(empty), str(missing), str(tmp_path)]
    code, lines, err = run(argv, capsys)
    assert code == 1
    assert [line.get("error", {}).get("code") for line in lines] == [
        None,
        "binary_input",
        "invalid_encoding",
        "empty_text",
        "file_not_found",
        "not_a_file",
    ]
    assert "byte 0xe8 at offset 2" in lines[2]["error"]["message"]
    assert "5 of 6 records failed" in err


def test_targets_get_assertions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "Mother had breast cancer. The patient denies palpitations."
    targets = [
        [text.index("breast cancer"), text.index("breast cancer") + 13],
        [text.index("palpitations"), text.index("palpitations") + 12],
    ]
    path = write_jsonl(
        tmp_path / "t.jsonl", [json.dumps({"id": "t", "text": text, "targets": targets})]
    )
    code, (line,), _ = run(["extract", "--input", str(path)], capsys)
    assert code == 0
    found = [e for e in line["entities"] if e["label"] == "target"]
    assert [(e["start"], e["end"]) for e in found] == [tuple(t) for t in targets]
    cancer, palpitations = found
    assert cancer["family"] is True and cancer["negated"] is False
    assert "condition" in cancer["also"]
    assert palpitations["negated"] is True


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "n.txt"
    note.write_text(NOTE, encoding="utf-8")
    assert main(["extract", str(note), "--input", str(note)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["extract", "--input", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read --input" in capsys.readouterr().err
    assert main(["extract", str(note), "--output", str(tmp_path / "no" / "dir.jsonl")]) == 2
    assert "cannot write --output" in capsys.readouterr().err
    assert main([]) == 2


def test_output_file_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "n.txt"
    note.write_text(NOTE, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["extract", str(note), "--output", str(out)]) == 0
    assert json.loads(out.read_text())["id"] == str(note)
    assert main(["extract", str(note), "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert "chest pain" in table and "negated" in table


def test_console_script_reads_stdin_jsonl() -> None:
    """The installed `eligo` command, as a user runs it, with JSONL on stdin."""
    eligo = Path(sys.executable).parent / "eligo"
    record = json.dumps({"id": "s1", "text": "No evidence of pneumonia."})
    done = subprocess.run(
        [str(eligo), "extract"], input=record + "\n", capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    (pneumonia,) = [e for e in line["entities"] if e["text"] == "pneumonia"]
    assert pneumonia["negated"] is True
    assert "pneumonia" not in done.stderr  # never log note text
