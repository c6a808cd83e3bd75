"""`eligo criteria parse` end to end through `eligo.serving.cli.main`: the output contract,
table and SQL formats, and every error path. Criteria text here is synthetic.

Runs on the lexicon-only pipeline (`--no-model`) to stay fast; the parser is the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eligo.criteria.render import omop_ddl
from eligo.serving.cli import main

SECTION = """Inclusion Criteria:
- Age 18 to 75 years
- Type 2 diabetes mellitus
Exclusion Criteria:
- History of stroke
- eGFR < 45 mL/min/1.73 m2
"""

OTHER = """Key Inclusion Criteria:
1. Histologically confirmed breast cancer
Key Exclusion Criteria:
1. Pregnant or breastfeeding
"""


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]], str]:
    code = main(argv)
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, lines, captured.err


def criteria_by_text(line: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["text"]: c for c in line["criteria"]}


def test_plain_file_output_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trial.txt"
    path.write_text(SECTION, encoding="utf-8")
    code, (line,), err = run(["criteria", "parse", str(path), "--no-model"], capsys)
    assert code == 0, err
    assert list(line) == ["id", "demographics", "criteria", "provenance"]
    assert line["id"] == str(path)
    assert line["demographics"]["min_age"] == 18 and line["demographics"]["max_age"] == 75
    assert line["demographics"]["sex"] == "all"
    assert line["provenance"]["eligo"] and line["provenance"]["lexicons"]
    kinds = [(c["kind"], c["text"]) for c in line["criteria"]]
    assert kinds == [
        ("inclusion", "Age 18 to 75 years"),
        ("inclusion", "Type 2 diabetes mellitus"),
        ("exclusion", "History of stroke"),
        ("exclusion", "eGFR < 45 mL/min/1.73 m2"),
    ]
    for criterion in line["criteria"]:
        assert set(criterion) >= {"kind", "text", "start", "end", "entities", "rule"}
        assert SECTION[criterion["start"] : criterion["end"]] == criterion["text"]
        for entity in criterion["entities"]:  # offsets into the input text
            assert set(entity) >= {"start", "end", "text", "domain", "codes", "negated"}
            assert SECTION[entity["start"] : entity["end"]] == entity["text"]
    by_text = criteria_by_text(line)
    stroke = by_text["History of stroke"]["rule"]
    assert stroke["type"] == "concept" and stroke["domain"] == "condition"
    egfr = by_text["eGFR < 45 mL/min/1.73 m2"]["rule"]
    assert egfr["type"] == "measurement"
    assert (egfr["constraint"]["comparator"], egfr["constraint"]["value"]) == ("<", 45)


def test_jsonl_with_bad_records_keeps_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    with path.open("wb") as f:
        f.write(json.dumps({"id": "t1", "text": SECTION}).encode() + b"\n")
        f.write(json.dumps({"id": "t2", "text": "   \n  "}).encode() + b"\n")
        f.write(json.dumps({"id": "t3", "text": "Inclusion Criteria:\n-\n*\n"}).encode() + b"\n")
        f.write(b'{"id": "t4", "text": "caf\xe9"}\n')  # Latin-1, not UTF-8
        f.write(json.dumps({"id": "t5", "text": 42}).encode() + b"\n")
        f.write(json.dumps({"id": 6, "text": OTHER}).encode() + b"\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run(
        ["criteria", "parse", "--input", str(path), "--output", str(out), "--no-model"], capsys
    )
    assert code == 1
    assert "4 of 6 records failed" in err
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["t1", "t2", "t3", f"{path}:4", "t5", "6"]
    assert lines[1]["error"]["code"] == "empty_text"
    assert lines[2]["error"]["code"] == "no_criteria"
    assert "no criteria found" in lines[2]["error"]["message"]
    assert lines[3]["error"]["code"] == "invalid_encoding"
    assert lines[4]["error"]["code"] == "invalid_text"
    assert "criteria" in lines[0] and "criteria" in lines[5]
    assert [c["kind"] for c in lines[5]["criteria"]] == ["inclusion", "exclusion"]
    assert "stroke" not in err and "breast" not in err  # never log text


def test_bad_files_become_error_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(
        "Inclusion Criteria:\n- Patients with caf\xe9 au lait spots".encode("latin-1")
    )
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    good = tmp_path / "good.txt"
    good.write_text(SECTION, encoding="utf-8")
    missing = tmp_path / "missing.txt"
    code, lines, err = run(
        ["criteria", "parse", str(latin1), str(binary), str(missing), str(good), "--no-model"],
        capsys,
    )
    assert code == 1 and "3 of 4 records failed" in err
    assert [x.get("error", {}).get("code") for x in lines] == [
        "invalid_encoding",
        "binary_input",
        "file_not_found",
        None,
    ]
    assert "not valid UTF-8" in lines[0]["error"]["message"]
    assert lines[3]["id"] == str(good)


def test_table_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps({"id": "t1", "text": SECTION}) + "\n" + json.dumps({"id": "t2", "text": " "}),
        encoding="utf-8",
    )
    code = main(["criteria", "parse", "--input", str(path), "--format", "table", "--no-model"])
    out = capsys.readouterr().out
    assert code == 1
    assert "age 18 to 75 years" in out  # the trial's demographics in the title
    assert "History of stroke" in out and "eGFR < 45 mL/min/1.73m2" in out  # rule summaries
    assert "exclusion" in out
    assert "t2: empty_text" in out


def test_sql_format_runs_on_duckdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {"id": "t1", "text": SECTION},
                {"id": "bad\nid", "text": ""},
                {"id": "t3", "text": OTHER},
            )
        ),
        encoding="utf-8",
    )
    out = tmp_path / "cohort.sql"
    argv = ["criteria", "parse", "--input", str(path), "--format", "sql", "--no-model"]
    code = main([*argv, "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "1 of 3 records failed" in err
    sql = out.read_text(encoding="utf-8")
    assert "\n-- bad id: error empty_text: line 2: text is empty or only whitespace\n" in sql
    statements = [s for s in sql.split(";\n") if "SELECT" in s]
    assert len(statements) == 2
    # A vocabulary with the ICD-10-CM codes the parser gave the two conditions, and four
    # persons: 1 diabetic, 40; 2 diabetic, 80 (over 75); 3 diabetic with a stroke; 4 neither.
    parsed = {c["text"]: c["rule"] for c in parse_json(tmp_path, SECTION)["criteria"]}
    diabetes = icd10cm(parsed["Type 2 diabetes mellitus"])
    stroke = icd10cm(parsed["History of stroke"])
    db = duckdb.connect()
    db.execute(omop_ddl())
    for concept_id, icd in ((10, diabetes), (20, stroke)):
        db.execute(
            "INSERT INTO concept VALUES (?, 'x', 'Condition', 'ICD10CM', 'x', NULL, ?, "
            "DATE '1970-01-01', DATE '2099-12-31', NULL)",
            [concept_id, icd],
        )
    db.execute(
        "INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, "
        "day_of_birth, race_concept_id, ethnicity_concept_id) VALUES "
        "(1, 8532, 1985, 1, 1, 0, 0), (2, 8507, 1945, 1, 1, 0, 0), "
        "(3, 8532, 1985, 1, 1, 0, 0), (4, 8507, 1985, 1, 1, 0, 0)"
    )
    for row_id, (person, concept) in enumerate(((1, 10), (2, 10), (3, 10), (3, 20)), 1):
        db.execute(
            "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, "
            "condition_concept_id, condition_source_concept_id, condition_start_date, "
            "condition_type_concept_id) VALUES (?, ?, 0, ?, DATE '2020-01-01', 32817)",
            [row_id, person, concept],
        )
    assert db.execute(statements[0], {"index_date": "2025-06-30"}).fetchall() == [(1,)]
    # breast cancer inclusion: nobody has it; the query runs all the same
    assert db.execute(statements[1], {"index_date": "2025-06-30"}).fetchall() == []


def parse_json(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "section.txt"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "section.jsonl"
    assert main(["criteria", "parse", str(path), "--output", str(out), "--no-model"]) == 0
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def icd10cm(rule: dict[str, Any]) -> str:
    (code,) = [c["code"] for c in rule["codes"] if c["system"] == "ICD-10-CM"][:1]
    return str(code)


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["criteria"]) == 2
    assert "give a subcommand: eligo criteria parse" in capsys.readouterr().err
    path = tmp_path / "t.txt"
    path.write_text(SECTION, encoding="utf-8")
    assert main(["criteria", "parse", str(path), "--input", str(path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["criteria", "parse", "--input", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read --input" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["criteria", "parse", str(path), "--format", "xml"])
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_console_script_reads_stdin() -> None:
    """The installed `eligo` command, as a user runs it: one section on stdin."""
    eligo = Path(sys.executable).parent / "eligo"
    done = subprocess.run(
        [str(eligo), "criteria", "parse", "-", "--no-model"],
        input=SECTION,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert line["id"] == "stdin"
    assert len(line["criteria"]) == 4
    assert "stroke" not in done.stderr


def test_jsonl_structured_age_and_sex_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ClinicalTrials.gov's structured fields override and complete what the text says
    records = [
        {"id": "ct1", "text": OTHER, "min_age": "21 Years", "max_age": "N/A", "gender": "Female"},
        {"id": "ct2", "text": OTHER, "min_age": "eighteen-ish"},
    ]
    path = tmp_path / "trials.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    code, (good, bad), _ = run(["criteria", "parse", "--input", str(path), "--no-model"], capsys)
    assert code == 1
    assert good["demographics"]["min_age"] == 21 and good["demographics"]["max_age"] is None
    assert good["demographics"]["sex"] == "female"
    assert bad["id"] == "ct2" and bad["error"]["code"] == "bad_field"
    assert "eighteen-ish" in bad["error"]["message"]
