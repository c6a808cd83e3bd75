"""`eligo ae code` end to end through `run()`: formats, MedDRA, and every error path."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from eligo.serving import ae_cli

FAKE = Path(__file__).resolve().parents[1] / "data" / "fake_meddra"
REPORT = "She threw up twice after the infusion of oxaliplatin and was admitted overnight."


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eligo")
    commands = parser.add_subparsers(dest="command")
    ae_cli.add_parser(commands)
    return parser.parse_args(argv)


def call(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]], str]:
    code = ae_cli.run(parse(argv))
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, lines, captured.err


def test_plain_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text(REPORT, encoding="utf-8")
    code, (line,), _ = call(["ae", "code", str(path)], capsys)
    assert code == 0
    assert line["id"] == str(path)
    (event,) = line["events"]
    assert (event["text"], event["ctcae_term"], event["negated"]) == ("threw up", "Vomiting", False)
    assert line["serious"] is True
    assert line["seriousness"][0]["criterion"] == "hospitalization"
    assert line["drugs"][0]["role"] == "suspect"
    assert "provenance" in line


def test_code_signs_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text("Anaphylaxis with hives and wheeze ten minutes into the infusion.", "utf-8")
    _, (line,), _ = call(["ae", "code", str(path)], capsys)
    assert [e["ctcae_term"] for e in line["events"] if e["coded"]] == ["Anaphylaxis"]
    _, (line,), _ = call(["ae", "code", str(path), "--code-signs"], capsys)
    assert {e["ctcae_term"] for e in line["events"] if e["coded"]} > {"Anaphylaxis"}


def test_jsonl_with_error_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps({"id": "a", "text": "Patient died of sepsis."})
        + "\n"
        + '{"id": "b"}\n'
        + "not json\n"
        + json.dumps({"id": "d", "text": "   "})
        + "\n"
        + json.dumps({"id": "e", "text": "Grade 3 diarrhea."})
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    code, _, err = call(["ae", "code", "--input", str(path), "--output", str(out)], capsys)
    assert code == 1
    assert "3 of 5 records failed" in err
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", f"{path}:3", "d", "e"]
    assert lines[0]["outcome"] == "fatal"
    assert lines[1]["error"]["code"] == "missing_text"
    assert lines[2]["error"]["code"] == "invalid_json"
    assert lines[3]["error"]["code"] == "empty_text"
    assert lines[4]["events"][0]["grade"] == 3
    assert "sepsis" not in err and "diarrhea" not in err  # never log text


def test_stdin_dash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(REPORT.encode())))
    code, (line,), _ = call(["ae", "code", "-"], capsys)
    assert code == 0 and line["id"] == "stdin"


def test_e2b_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text(REPORT + " Oxaliplatin was discontinued.", encoding="utf-8")
    code, (line,), _ = call(["ae", "code", str(path), "--format", "e2b"], capsys)
    assert code == 0
    (reaction,) = line["E.i"]
    assert reaction["E.i.1.1a"] == "threw up"
    assert reaction["E.i.3.2c"] is True
    assert line["G.k"][0]["G.k.8"] == 1


def test_table_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text(REPORT, encoding="utf-8")
    code = ae_cli.run(parse(["ae", "code", str(path), "--format", "table"]))
    out = capsys.readouterr().out
    assert code == 0
    assert "Vomiting" in out and "hospitalization" in out


def test_meddra_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text(REPORT, encoding="utf-8")
    code, (line,), _ = call(["ae", "code", str(path), "--meddra", str(FAKE)], capsys)
    assert code == 0
    assert line["events"][0]["meddra"]["llt_name"] == "Threw up"
    assert line["events"][0]["meddra"]["version"] == "99.0"


def test_bad_meddra_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.txt"
    path.write_text(REPORT, encoding="utf-8")
    code, lines, err = call(["ae", "code", str(path), "--meddra", str(tmp_path / "none")], capsys)
    assert code == 2 and lines == []
    assert "--meddra: MedDRA directory" in err and "does not exist" in err


def test_missing_file_is_an_error_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, (line,), _ = call(["ae", "code", str(tmp_path / "missing.txt")], capsys)
    assert code == 1
    assert line["error"]["code"] == "file_not_found"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ae"], "give a subcommand: eligo ae code"),
        (["ae", "code", "x.txt", "--input", "y.jsonl"], "not both"),
        (
            ["ae", "code", "--input", "/no/such/file.jsonl"],
            "cannot read --input /no/such/file.jsonl",
        ),
        (["ae", "code", "-", "--max-chars", "0"], "--max-chars must be a positive"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = call(argv, capsys)
    assert code == 2 and lines == []
    assert message in err


def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.txt"
    path.write_text(REPORT, encoding="utf-8")
    code, _, err = call(
        ["ae", "code", str(path), "--output", str(tmp_path / "no" / "out.jsonl")], capsys
    )
    assert code == 2
    assert "cannot write --output" in err
