"""Derived outputs: DuckDB tables, Parquet files, OMOP NOTE_NLP, the HTML report (schemas and
the field mapping), built from JSONL rows written here (no pipeline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from eligo.serving.writers import write_prescreen, write_report, write_review

#: OMOP CDM v5.4 NOTE_NLP, in the CDM's column order
NOTE_NLP_COLUMNS = [
    ("note_nlp_id", "BIGINT"),
    ("note_id", "BIGINT"),
    ("section_concept_id", "INTEGER"),
    ("snippet", "VARCHAR"),
    ("offset", "VARCHAR"),
    ("lexical_variant", "VARCHAR"),
    ("note_nlp_concept_id", "INTEGER"),
    ("note_nlp_source_concept_id", "INTEGER"),
    ("nlp_system", "VARCHAR"),
    ("nlp_date", "DATE"),
    ("nlp_datetime", "TIMESTAMP"),
    ("term_exists", "VARCHAR"),
    ("term_temporal", "VARCHAR"),
    ("term_modifiers", "VARCHAR"),
]


def entity(text: str, start: int, **flags: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "start": start,
        "end": start + len(text),
        "text": text,
        "label": flags.pop("label", "condition"),
        "codes": flags.pop("codes", [{"system": "ICD-10-CM", "code": "R07.9", "display": "x"}]),
        "negated": False,
        "historical": False,
        "hypothetical": False,
        "family": False,
        "uncertain": False,
        "section": flags.pop("section", None),
        "source": "lexicon",
        "snippet": f"... {text} ...",
    }
    base.update(flags)
    return base


PROVENANCE = {"eligo": "0.1.0", "lexicons": {"curated": "abc"}}
REVIEW_ROWS: list[dict[str, Any]] = [
    {
        "id": "note-a",
        "note_id": 1,
        "patient_id": "p1",
        "date": "2024-01-02",
        "entities": [
            entity("chest pain", 7, negated=True),
            entity("breast cancer", 30, family=True, section="family_history"),
            entity(
                "HbA1c",
                50,
                label="measurement",
                codes=[{"system": "LOINC", "code": "4548-4", "display": "HbA1c"}],
                value={"value": 8.2, "unit": "%", "text": "8.2%", "start": 56, "end": 60},
            ),
            entity("stroke", 70, historical=True),
        ],
        "provenance": PROVENANCE,
    },
    {"id": "note-b", "error": {"code": "empty_text", "message": "text is empty"}},
    {
        "id": "note-c",
        "note_id": 3,
        "patient_id": None,
        "date": None,
        "entities": [],
        "provenance": PROVENANCE,
    },
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def review(tmp_path: Path) -> dict[str, Path]:
    jsonl = write_jsonl(tmp_path / "review.jsonl", REVIEW_ROWS)
    return write_review(jsonl, tmp_path, nlp_datetime="2024-06-01T10:20:30")


def columns(con: Any, table: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_review_writes_duckdb_tables_and_parquet(review: dict[str, Path]) -> None:
    assert set(review) == {"notes", "entities", "note_nlp", "errors", "duckdb"}
    with duckdb.connect(str(review["duckdb"]), read_only=True) as con:
        assert columns(con, "note_nlp") == NOTE_NLP_COLUMNS
        assert con.execute(
            "SELECT id, note_id, entities FROM notes ORDER BY note_id"
        ).fetchall() == [
            ("note-a", 1, 4),
            ("note-c", 3, 0),
        ]
        assert con.execute("SELECT * FROM errors").fetchall() == [
            ("note-b", "empty_text", "text is empty")
        ]
        ent_cols = dict(columns(con, "entities"))
        assert ent_cols["codes"] == 'STRUCT("system" VARCHAR, code VARCHAR, display VARCHAR)[]'
        assert ent_cols["value"] == "DOUBLE" and ent_cols["negated"] == "BOOLEAN"
        hba1c = con.execute(
            "SELECT value, unit, value_text, codes[1].code FROM entities WHERE label='measurement'"
        ).fetchone()
        assert hba1c == (8.2, "%", "8.2%", "4548-4")
    # the Parquet files carry the same schema as the tables
    schema = pq.read_schema(review["note_nlp"])
    assert schema.names == [name for name, _ in NOTE_NLP_COLUMNS]
    assert str(schema.field("nlp_date").type) == "date32[day]"
    assert str(schema.field("note_nlp_id").type) == "int64"
    assert pq.read_table(review["entities"]).num_rows == 4


def test_note_nlp_maps_assertions_to_omop_fields(review: dict[str, Path]) -> None:
    with duckdb.connect(str(review["duckdb"]), read_only=True) as con:
        rows = con.execute(
            'SELECT note_nlp_id, note_id, "offset", lexical_variant, term_exists, term_temporal, '
            "term_modifiers, note_nlp_concept_id, section_concept_id, nlp_system, "
            "CAST(nlp_date AS VARCHAR), snippet FROM note_nlp ORDER BY note_nlp_id"
        ).fetchall()
    assert [r[:6] for r in rows] == [
        (1, 1, "7", "chest pain", "N", "present"),  # negated
        (2, 1, "30", "breast cancer", "N", "present"),  # a family member's
        (3, 1, "50", "HbA1c", "Y", "present"),
        (4, 1, "70", "stroke", "Y", "past"),  # historical: the patient had it
    ]
    assert rows[0][6].startswith("negated=true,historical=false,hypothetical=false,family=false")
    assert "section=family_history" in rows[1][6] and "family=true" in rows[1][6]
    assert "value=8.2" in rows[2][6] and "unit=%" in rows[2][6]
    assert rows[2][6].endswith("codes=LOINC:4548-4")
    assert all(r[7] == 0 and r[8] == 0 for r in rows)  # no OMOP vocabulary loaded
    assert rows[0][9] == "eligo 0.1.0" and rows[0][10] == "2024-06-01"
    assert rows[0][11] == "... chest pain ..."


def test_review_outputs_are_rebuilt_not_appended(tmp_path: Path, review: dict[str, Path]) -> None:
    again = write_review(tmp_path / "review.jsonl", tmp_path, nlp_datetime="2024-06-01T10:20:30")
    with duckdb.connect(str(again["duckdb"]), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM note_nlp").fetchone() == (4,)
    assert not list(tmp_path.glob("*.tmp"))


def screening(pid: str, trial: str, status: str, verdicts: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "id": pid,
        "trial": trial,
        "status": status,
        "score": 1.0 if status == "eligible" else 0.0,
        "index_date": "2024-06-01",
        "criteria": [
            {
                "kind": kind,
                "text": f"{kind} {i}",
                "verdict": verdict,
                "reason": "because",
                "evidence": [
                    {
                        "text": "HbA1c <b>8.1%</b>",
                        "source": {
                            "kind": "note",
                            "id": "n1",
                            "resource": None,
                            "start": 3,
                            "end": 8,
                        },
                        "date": "2024-05-01",
                        "value": 8.1,
                        "unit": "%",
                        "matched_by": "code",
                        "note": None,
                    }
                ]
                if verdict == "met"
                else [],
            }
            for i, (kind, verdict) in enumerate(verdicts)
        ],
        "provenance": PROVENANCE,
    }


SCREENINGS = [
    screening("p1", "T1", "eligible", [("inclusion", "met"), ("exclusion", "not_met")]),
    screening("p2", "T1", "excluded", [("inclusion", "met"), ("exclusion", "met")]),
    screening("p3", "T1", "needs_review", [("inclusion", "unknown"), ("exclusion", "not_met")]),
    {"id": "p4", "error": {"code": "invalid_date", "message": "birth_date is not a date"}},
]


def test_prescreen_duckdb_and_parquet(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "s.jsonl", SCREENINGS)
    written = write_prescreen(
        jsonl, duckdb_path=tmp_path / "s.duckdb", parquet_path=tmp_path / "s.parquet"
    )
    assert set(written) == {"duckdb", "parquet"}
    with duckdb.connect(str(written["duckdb"]), read_only=True) as con:
        assert [c for c, _ in columns(con, "screenings")] == [
            "patient_id", "trial", "status", "score", "index_date", "criteria_met",
            "criteria_not_met", "criteria_unknown", "eligo",
        ]  # fmt: skip
        assert con.execute(
            "SELECT patient_id, status, criteria_met, criteria_unknown FROM screenings "
            "ORDER BY patient_id"
        ).fetchall() == [("p1", "eligible", 1, 0), ("p2", "excluded", 2, 0),
                         ("p3", "needs_review", 0, 1)]  # fmt: skip
        assert con.execute("SELECT count(*) FROM criteria").fetchone() == (6,)
        assert con.execute(
            "SELECT patient_id, criterion_index, source_kind, source_id, value, matched_by "
            "FROM evidence ORDER BY patient_id, criterion_index"
        ).fetchall() == [("p1", 1, "note", "n1", 8.1, "code"), ("p2", 1, "note", "n1", 8.1, "code"),
                         ("p2", 2, "note", "n1", 8.1, "code")]  # fmt: skip
        assert con.execute("SELECT * FROM errors").fetchall() == [
            ("p4", "invalid_date", "birth_date is not a date")
        ]
    schema = pq.read_schema(written["parquet"])
    assert schema.names == ["patient_id", "trial", "status", "score", "index_date", "criteria",
                            "eligo"]  # fmt: skip
    crit = schema.field("criteria").type.value_type
    assert [crit.field(i).name for i in range(crit.num_fields)] == [
        "kind", "text", "verdict", "reason", "in_status", "evidence",
    ]  # fmt: skip
    assert pq.read_table(written["parquet"]).num_rows == 3


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "s.jsonl", SCREENINGS)
    html = write_report(jsonl, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert "http://" not in html and "https://" not in html
    assert "3 screenings" in html and "invalid_date (1)" in html
    assert "<svg" in html  # the status and screen-failure charts
    assert "T1: exclusion 1" in html  # the exclusion that excluded p2
    assert "HbA1c &lt;b&gt;8.1%&lt;/b&gt;" in html  # evidence text is escaped
