"""`eligo prescreen`: each chart input (JSONL, FHIR folder, OMOP DuckDB), --trials/--top,
the derived outputs, resumability and usage errors. Lexicon-only pipeline (`--no-model`);
trials and charts here are synthetic, written for these tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eligo.serving.cli import main

TRIAL = """Inclusion Criteria:
- Age 18 years or older
- Diagnosis of type 2 diabetes mellitus

Exclusion Criteria:
- Prior pancreatitis
"""

ASTHMA_TRIAL = """Inclusion Criteria:
- Diagnosis of asthma

Exclusion Criteria:
- Current smoker
"""

CHARTS = [
    # all inclusions met, the exclusion denied: eligible
    {"id": "p-eligible", "birth_date": "1960-05-01", "sex": "female", "notes": [
        {"id": "a1", "date": "2024-05-01",
         "text": "Type 2 diabetes mellitus, on metformin. Denies pancreatitis."}]},
    # the exclusion is documented: excluded
    {"id": "p-pancreatitis", "birth_date": "1970-01-01", "sex": "male", "notes": [
        {"id": "b1", "date": "2024-05-01",
         "text": "Type 2 diabetes mellitus. History of pancreatitis in 2019."}]},
    # a child (age at the index date): excluded
    {"id": "p-child", "birth_date": "2015-01-01", "notes": [
        {"id": "c1", "date": "2024-04-01", "text": "Type 2 diabetes mellitus, new diagnosis."}]},
    # an unreadable record: one error row, the run goes on
    {"id": "p-bad", "birth_date": "not a date", "notes": []},
]  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows: list[Any]) -> Path:
    return write(path, "".join(json.dumps(r) + "\n" for r in rows))


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def prescreen(*args: str) -> int:
    return main(["prescreen", *args, "--index-date", "2024-06-01", "--no-model", "--quiet"])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cohort")
    trial = write(tmp / "t2dm.txt", TRIAL)
    charts = jsonl(tmp / "charts.jsonl", CHARTS)
    out = tmp / "results.jsonl"
    code = prescreen(
        "--trial", str(trial), "--patients", str(charts), "--output", str(out),
        "--report", str(tmp / "report.html"), "--duckdb", str(tmp / "s.duckdb"),
        "--parquet", str(tmp / "s.parquet"),
    )  # fmt: skip
    return {"tmp": tmp, "code": code, "rows": read(out), "trial": trial, "charts": charts}


def test_one_line_per_patient_with_known_statuses(cohort: dict[str, Any]) -> None:
    assert cohort["code"] == 1  # p-bad is an error row
    rows = {r["id"]: r for r in cohort["rows"]}
    assert list(rows) == ["p-eligible", "p-pancreatitis", "p-child", "p-bad"]
    assert rows["p-bad"]["error"]["code"] == "invalid_date"
    assert rows["p-eligible"]["status"] == "eligible"
    assert rows["p-pancreatitis"]["status"] == "excluded"
    assert rows["p-child"]["status"] == "excluded"
    line = rows["p-eligible"]
    assert line["trial"] == "t2dm" and line["index_date"] == "2024-06-01"
    assert {"kind", "text", "verdict", "evidence"} <= set(line["criteria"][0])
    pancreatitis = next(c for c in line["criteria"] if "pancreatitis" in c["text"])
    assert pancreatitis["verdict"] == "not_met"
    assert pancreatitis["evidence"][0]["source"]["id"] == "a1"


def test_derived_outputs(cohort: dict[str, Any]) -> None:
    tmp = cohort["tmp"]
    with duckdb.connect(str(tmp / "s.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT patient_id, status FROM screenings ORDER BY patient_id"
        ).fetchall() == [("p-child", "excluded"), ("p-eligible", "eligible"),
                         ("p-pancreatitis", "excluded")]  # fmt: skip
        assert con.execute("SELECT id, code FROM errors").fetchall() == [("p-bad", "invalid_date")]
        assert con.execute("SELECT count(*) FROM criteria").fetchone()[0] >= 9  # type: ignore[index]
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{tmp / 's.parquet'}'").fetchall() == [
        (3,)
    ]
    html = (tmp / "report.html").read_text(encoding="utf-8")
    assert "p-pancreatitis" in html and "Prior pancreatitis" in html
    assert "<script" not in html and "http" not in html


def test_rerun_with_same_arguments_resumes(cohort: dict[str, Any]) -> None:
    tmp = cohort["tmp"]
    out = tmp / "results.jsonl"
    before = out.read_bytes()
    code = prescreen(
        "--trial", str(cohort["trial"]), "--patients", str(cohort["charts"]), "--output", str(out)
    )
    assert code == 1 and out.read_bytes() == before


def test_many_trials_and_top(tmp_path: Path, cohort: dict[str, Any]) -> None:
    trials = jsonl(
        tmp_path / "trials.jsonl",
        [
            {
                "id": "NCT-T2DM",
                "text": TRIAL,
                "min_age": "18 Years",
                "max_age": "N/A",
                "sex": "All",
            },
            {"id": "NCT-ASTHMA", "text": ASTHMA_TRIAL, "min_age": "12 Years", "sex": "All"},
            {"nct_id": "NCT-MEN", "eligibility_text": TRIAL, "gender": "Male"},
        ],
    )
    all_out, top_out = tmp_path / "all.jsonl", tmp_path / "top.jsonl"
    charts = str(cohort["charts"])
    assert prescreen("--trials", str(trials), "--patients", charts, "--output", str(all_out)) == 1
    rows = [r for r in read(all_out) if "error" not in r]
    assert [(r["id"], r["trial"]) for r in rows[:3]] == [
        ("p-eligible", "NCT-T2DM"), ("p-eligible", "NCT-ASTHMA"), ("p-eligible", "NCT-MEN")
    ]  # fmt: skip
    by_key = {(r["id"], r["trial"]): r["status"] for r in rows}
    assert by_key[("p-eligible", "NCT-MEN")] == "excluded"  # structured sex field
    assert by_key[("p-eligible", "NCT-T2DM")] == "eligible"
    args = ["--trials", str(trials), "--patients", charts, "--output", str(top_out), "--top", "1"]
    assert prescreen(*args) == 1
    top = [r for r in read(top_out) if "error" not in r]
    assert next((r["id"], r["trial"]) for r in top) == ("p-eligible", "NCT-T2DM")
    assert len(top) == 3  # one trial per readable patient


def test_rules_json_trial(tmp_path: Path, cohort: dict[str, Any]) -> None:
    import eligo.nlp
    from eligo.criteria.parse import parse

    criteria = parse(TRIAL, id="from-json", nlp=eligo.nlp.load(model=None))
    rules = write(tmp_path / "rules.json", criteria.model_dump_json())
    out = tmp_path / "r.jsonl"
    code = prescreen(
        "--trial", str(rules), "--patients", str(cohort["charts"]), "--output", str(out)
    )
    assert code == 1
    assert [r.get("status") for r in read(out)] == [r.get("status") for r in cohort["rows"]]
    assert read(out)[0]["trial"] == "from-json"


def test_fhir_folder_patients(tmp_path: Path) -> None:
    folder = tmp_path / "fhir"
    folder.mkdir()
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "fhir-1", "gender": "male",
                          "birthDate": "1950-02-03"}},
            {"resource": {"resourceType": "Condition", "id": "c1",
                          "code": {"coding": [{"system": "http://snomed.info/sct",
                                               "code": "44054006",
                                               "display": "Diabetes mellitus type 2"}],
                                   "text": "Type 2 diabetes mellitus"},
                          "onsetDateTime": "2010-01-01"}},
        ],
    }  # fmt: skip
    write(folder / "a.json", json.dumps(bundle))
    write(folder / "b.json", "{broken")
    out = tmp_path / "f.jsonl"
    trial = write(tmp_path / "t.txt", TRIAL)
    assert prescreen("--trial", str(trial), "--patients", str(folder), "--output", str(out)) == 1
    first, second = read(out)
    assert first["id"] == "fhir-1"
    diabetes = next(c for c in first["criteria"] if "diabetes" in c["text"])
    assert diabetes["verdict"] == "met"
    assert second == {
        "id": "b.json",
        "error": {"code": "invalid_json", "message": second["error"]["message"]},
    }


def test_omop_patients(tmp_path: Path) -> None:
    db = tmp_path / "cdm.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            "CREATE TABLE person (person_id BIGINT, gender_concept_id INTEGER, "
            "year_of_birth INTEGER, month_of_birth INTEGER, day_of_birth INTEGER)"
        )
        con.execute("INSERT INTO person VALUES (1, 8532, 1965, 3, 4), (2, 8507, 2016, 1, 1)")
        con.execute(
            "CREATE TABLE note (note_id BIGINT, person_id BIGINT, note_date DATE, "
            "note_text VARCHAR)"
        )
        con.execute(
            "INSERT INTO note VALUES (10, 1, '2024-01-01', 'Type 2 diabetes mellitus. "
            "No history of pancreatitis.'), (11, 2, '2024-01-01', 'Well child visit.')"
        )
    out = tmp_path / "o.jsonl"
    trial = write(tmp_path / "t.txt", TRIAL)
    assert prescreen("--trial", str(trial), "--patients", str(db), "--output", str(out)) == 0
    rows = read(out)
    assert [(r["id"], r["status"]) for r in rows] == [("1", "eligible"), ("2", "excluded")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trial", "{tmp}/missing.txt"], "cannot read --trial"),
        (["--trial", "{tmp}/t.txt", "--index-date", "06/01/2024"], "is not a date"),
        (["--trial", "{tmp}/t.txt", "--top", "0"], "--top must be at least 1"),
        (["--trial", "{tmp}/empty.txt"], "empty"),
        (["--trial", "{tmp}/bad.json"], "not criteria JSON"),
        (["--trials", "{tmp}/trials.jsonl"], "line 2: trial id 'x' appears twice"),
        (["--trials", "{tmp}/broken.jsonl"], "line 1 is not valid JSON"),
        (["--trial", "{tmp}/t.txt", "--patients", "{tmp}/charts.csv"], "unknown format .csv"),
        (["--trial", "{tmp}/t.txt", "--patients", "{tmp}/missing.jsonl"], "no such file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write(tmp_path / "t.txt", TRIAL)
    write(tmp_path / "empty.txt", "  \n")
    write(tmp_path / "bad.json", '{"criteria": 5}')
    jsonl(tmp_path / "trials.jsonl", [{"id": "x", "text": TRIAL}, {"id": "x", "text": TRIAL}])
    write(tmp_path / "broken.jsonl", "{nope\n")
    write(tmp_path / "charts.csv", "id\n1\n")
    jsonl(tmp_path / "charts.jsonl", CHARTS[:1])
    argv = [a.format(tmp=tmp_path) for a in args]
    if "--patients" not in argv:
        argv += ["--patients", str(tmp_path / "charts.jsonl")]
    argv += ["--output", str(tmp_path / "out.jsonl")]
    if "--index-date" in argv:
        assert main(["prescreen", *argv, "--no-model"]) == 2
    else:
        assert prescreen(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eligo prescreen: error:") and message in err and "\n" not in err
