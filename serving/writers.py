"""Outputs derived from a batch run's JSONL: Parquet files, a DuckDB database, OMOP NOTE_NLP.

The JSONL written by the batch runner is the source of truth (it is what makes a run
resumable); everything here is rebuilt from it at the end of a run, in DuckDB, with the
explicit column types below, and replaced atomically (a killed rebuild leaves the old file).

OMOP CDM v5.4 `NOTE_NLP`, from eligo's entities (one row per entity):

- note_nlp_id: row number over (note_id, entity position), from 1.
- note_id: the OMOP `note.note_id` for OMOP input, else the note's 1-based position in the
  input (the `notes` table maps it to the input id).
- section_concept_id: 0 (no OMOP vocabulary is loaded; eligo's section is in term_modifiers).
- snippet: the sentence around the mention, whitespace collapsed, at most 250 characters.
- offset: the mention's start character offset in the note text.
- lexical_variant: the mention as written (at most 250 characters).
- note_nlp_concept_id, note_nlp_source_concept_id: 0, as no OMOP vocabulary is loaded; the
  source codes are in term_modifiers (`codes=ICD-10-CM:E11|UMLS:C0011860`), to map with the
  OMOP vocabulary's `concept` table.
- nlp_system: `eligo <version>` (and ` model <hash>` when the NER model ran).
- nlp_date, nlp_datetime: when the run started (kept across resumes).
- term_exists: `N` when the mention is negated, hypothetical, about a family member or
  uncertain (OMOP: negation, another subject, conditional or uncertain make it false), else `Y`.
- term_temporal: `past` for historical mentions, else `present`.
- term_modifiers: `negated=..,historical=..,hypothetical=..,family=..,uncertain=..,label=..,
  source=..[,section=..][,value=..|range=..|bp=..][,unit=..][,codes=SYSTEM:CODE|...]`, at
  most 2000 characters.

Ids are BIGINT (OMOP's DDL says integer; values fit it for fewer than 2^31 rows).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CODE = "STRUCT(system VARCHAR, code VARCHAR, display VARCHAR)"
ERROR = "STRUCT(code VARCHAR, message VARCHAR)"
PROVENANCE = "STRUCT(eligo VARCHAR, model VARCHAR)"
MEASUREMENT = (
    "STRUCT(value DOUBLE, low DOUBLE, high DOUBLE, comparator VARCHAR, unit VARCHAR, "
    'systolic DOUBLE, diastolic DOUBLE, "text" VARCHAR, "start" BIGINT, "end" BIGINT)'
)
ENTITY = (
    'STRUCT("start" BIGINT, "end" BIGINT, "text" VARCHAR, label VARCHAR, '
    f"codes {CODE}[], negated BOOLEAN, historical BOOLEAN, hypothetical BOOLEAN, "
    "family BOOLEAN, uncertain BOOLEAN, section VARCHAR, source VARCHAR, snippet VARCHAR, "
    f"value {MEASUREMENT})"
)

#: the review JSONL line (`eligo review`), result and error rows together
REVIEW_LINE = {
    "id": "VARCHAR",
    "note_id": "BIGINT",
    "patient_id": "VARCHAR",
    "date": "VARCHAR",
    "entities": f"{ENTITY}[]",
    "provenance": PROVENANCE,
    "error": ERROR,
}

SOURCE = 'STRUCT(kind VARCHAR, id VARCHAR, resource VARCHAR, "start" BIGINT, "end" BIGINT)'
EVIDENCE = (
    f'STRUCT("text" VARCHAR, source {SOURCE}, date VARCHAR, value DOUBLE, unit VARCHAR, '
    "matched_by VARCHAR, note VARCHAR)"
)
CRITERION = (
    f'STRUCT(kind VARCHAR, "text" VARCHAR, verdict VARCHAR, reason VARCHAR, '
    f"in_status BOOLEAN, evidence {EVIDENCE}[])"
)

#: the prescreen JSONL line (a `Screening`), result and error rows together
SCREENING_LINE = {
    "id": "VARCHAR",
    "trial": "VARCHAR",
    "status": "VARCHAR",
    "score": "DOUBLE",
    "index_date": "VARCHAR",
    "criteria": f"{CRITERION}[]",
    "provenance": PROVENANCE,
    "error": ERROR,
}

#: table name -> DDL columns (explicit schemas of every derived output)
REVIEW_TABLES: dict[str, str] = {
    "notes": """
        note_id BIGINT NOT NULL, id VARCHAR NOT NULL, patient_id VARCHAR, note_date VARCHAR,
        entities INTEGER NOT NULL, eligo VARCHAR""",
    "entities": f"""
        note_id BIGINT NOT NULL, id VARCHAR NOT NULL, patient_id VARCHAR, note_date VARCHAR,
        entity_index INTEGER NOT NULL, "start" BIGINT NOT NULL, "end" BIGINT NOT NULL,
        "text" VARCHAR NOT NULL, label VARCHAR NOT NULL, codes {CODE}[],
        negated BOOLEAN, historical BOOLEAN, hypothetical BOOLEAN, family BOOLEAN,
        uncertain BOOLEAN, section VARCHAR, source VARCHAR, snippet VARCHAR,
        value DOUBLE, value_low DOUBLE, value_high DOUBLE, comparator VARCHAR, unit VARCHAR,
        systolic DOUBLE, diastolic DOUBLE, value_text VARCHAR""",
    "note_nlp": """
        note_nlp_id BIGINT NOT NULL, note_id BIGINT NOT NULL, section_concept_id INTEGER,
        snippet VARCHAR, "offset" VARCHAR, lexical_variant VARCHAR NOT NULL,
        note_nlp_concept_id INTEGER, note_nlp_source_concept_id INTEGER, nlp_system VARCHAR,
        nlp_date DATE NOT NULL, nlp_datetime TIMESTAMP, term_exists VARCHAR,
        term_temporal VARCHAR, term_modifiers VARCHAR""",
    "errors": "id VARCHAR, code VARCHAR NOT NULL, message VARCHAR NOT NULL",
}

PRESCREEN_TABLES: dict[str, str] = {
    "screenings": """
        patient_id VARCHAR NOT NULL, trial VARCHAR, status VARCHAR NOT NULL,
        score DOUBLE NOT NULL, index_date VARCHAR, criteria_met INTEGER,
        criteria_not_met INTEGER, criteria_unknown INTEGER, eligo VARCHAR""",
    "criteria": """
        patient_id VARCHAR NOT NULL, trial VARCHAR, criterion_index INTEGER NOT NULL,
        kind VARCHAR NOT NULL, "text" VARCHAR NOT NULL, verdict VARCHAR NOT NULL,
        reason VARCHAR, in_status BOOLEAN, evidence_count INTEGER NOT NULL""",
    "evidence": """
        patient_id VARCHAR NOT NULL, trial VARCHAR, criterion_index INTEGER NOT NULL,
        evidence_index INTEGER NOT NULL, "text" VARCHAR, source_kind VARCHAR,
        source_id VARCHAR, resource VARCHAR, "start" BIGINT, "end" BIGINT, date VARCHAR,
        value DOUBLE, unit VARCHAR, matched_by VARCHAR, note VARCHAR""",
    "errors": "id VARCHAR, code VARCHAR NOT NULL, message VARCHAR NOT NULL",
}

#: the prescreen Parquet file: one row per screening, criteria and evidence nested
SCREENINGS_PARQUET = f"""
    patient_id VARCHAR NOT NULL, trial VARCHAR, status VARCHAR NOT NULL,
    score DOUBLE NOT NULL, index_date VARCHAR, criteria {CRITERION}[], eligo VARCHAR"""

_TERM_MODIFIERS = """
    left(concat_ws(',',
        'negated=' || lower(CAST(coalesce(e.negated, false) AS VARCHAR)),
        'historical=' || lower(CAST(coalesce(e.historical, false) AS VARCHAR)),
        'hypothetical=' || lower(CAST(coalesce(e.hypothetical, false) AS VARCHAR)),
        'family=' || lower(CAST(coalesce(e.family, false) AS VARCHAR)),
        'uncertain=' || lower(CAST(coalesce(e.uncertain, false) AS VARCHAR)),
        'label=' || e.label,
        'source=' || e.source,
        CASE WHEN e.section IS NOT NULL THEN 'section=' || e.section END,
        CASE WHEN e.value.value IS NOT NULL THEN 'value=' || CAST(e.value.value AS VARCHAR) END,
        CASE WHEN e.value.low IS NOT NULL
             THEN 'range=' || CAST(e.value.low AS VARCHAR) || '-' || CAST(e.value.high AS VARCHAR)
        END,
        CASE WHEN e.value.systolic IS NOT NULL
             THEN 'bp=' || CAST(e.value.systolic AS VARCHAR) || '/'
                  || CAST(e.value.diastolic AS VARCHAR)
        END,
        CASE WHEN e.value.unit IS NOT NULL THEN 'unit=' || e.value.unit END,
        CASE WHEN len(e.codes) > 0 THEN 'codes=' || array_to_string(
            list_transform(e.codes, lambda c: c.system || ':' || c.code), '|') END
    ), 2000)"""


def _create(con: Any, tables: Mapping[str, str]) -> None:
    for name, columns in tables.items():
        con.execute(f"CREATE TABLE {name} ({columns})")


def _load_jsonl(con: Any, jsonl: Path, columns: Mapping[str, str]) -> None:
    con.execute(
        "CREATE TEMP TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited', "
        "columns=?, maximum_object_size=1073741824)",
        [str(jsonl), dict(columns)],
    )


def _review_inserts(con: Any, *, nlp_datetime: str) -> None:
    con.execute(
        """
        INSERT INTO errors SELECT id, error.code, error.message FROM raw WHERE error IS NOT NULL;
        INSERT INTO notes SELECT note_id, id, patient_id, date, len(entities), provenance.eligo
            FROM raw WHERE error IS NULL;
        CREATE TEMP TABLE ents AS
            SELECT r.note_id, r.id, r.patient_id, r.date, i AS entity_index,
                   r.entities[i] AS e, r.provenance AS p
            FROM raw r, range(1, len(r.entities) + 1) t(i) WHERE r.error IS NULL;
        INSERT INTO entities SELECT note_id, id, patient_id, date, entity_index,
            e.start, e.end, e.text, e.label, e.codes, e.negated, e.historical, e.hypothetical,
            e.family, e.uncertain, e.section, e.source, e.snippet, e.value.value, e.value.low,
            e.value.high, e.value.comparator, e.value.unit, e.value.systolic,
            e.value.diastolic, e.value.text
            FROM ents ORDER BY note_id, entity_index;
        """
    )
    con.execute(
        f"""
        INSERT INTO note_nlp SELECT
            row_number() OVER (ORDER BY note_id, entity_index),
            note_id, 0, left(e.snippet, 250), CAST(e.start AS VARCHAR), left(e.text, 250), 0, 0,
            left('eligo ' || coalesce(p.eligo, '?')
                 || coalesce(' model ' || p.model, ''), 250),
            CAST(CAST(? AS TIMESTAMP) AS DATE), CAST(? AS TIMESTAMP),
            CASE WHEN e.negated OR e.hypothetical OR e.family OR e.uncertain THEN 'N'
                 ELSE 'Y' END,
            CASE WHEN e.historical THEN 'past' ELSE 'present' END,
            {_TERM_MODIFIERS}
        FROM ents
        ORDER BY note_id, entity_index
        """,
        [nlp_datetime, nlp_datetime],
    )


def write_review(jsonl: Path, out_dir: Path, *, nlp_datetime: str) -> dict[str, Path]:
    """`review.duckdb` (tables notes, entities, note_nlp, errors) and `notes.parquet`,
    `entities.parquet`, `note_nlp.parquet`, `errors.parquet` in `out_dir`, from the review
    JSONL. `nlp_datetime`: when the run started (ISO). Returns the files written."""
    import duckdb

    db = out_dir / "review.duckdb"
    tmp = out_dir / "review.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    written: dict[str, Path] = {}
    with duckdb.connect(str(tmp)) as con:
        _create(con, REVIEW_TABLES)
        _load_jsonl(con, jsonl, REVIEW_LINE)
        _review_inserts(con, nlp_datetime=nlp_datetime)
        for table in REVIEW_TABLES:
            written[table] = _copy_parquet(
                con, f"SELECT * FROM {table}", out_dir / f"{table}.parquet"
            )
    os.replace(tmp, db)
    written["duckdb"] = db
    return written


def _copy_parquet(con: Any, query: str, path: Path) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    con.execute(f"COPY ({query}) TO '{_sql_path(tmp)}' (FORMAT PARQUET, COMPRESSION ZSTD)")
    os.replace(tmp, path)
    return path


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _prescreen_inserts(con: Any) -> None:
    con.execute(
        """
        INSERT INTO errors SELECT id, error.code, error.message FROM raw WHERE error IS NOT NULL;
        INSERT INTO screenings SELECT id, trial, status, score, index_date,
            len(list_filter(criteria, lambda c: c.verdict = 'met')),
            len(list_filter(criteria, lambda c: c.verdict = 'not_met')),
            len(list_filter(criteria, lambda c: c.verdict = 'unknown')),
            provenance.eligo
            FROM raw WHERE error IS NULL;
        CREATE TEMP TABLE crit AS
            SELECT r.id, r.trial, i AS criterion_index, r.criteria[i] AS c
            FROM raw r, range(1, len(r.criteria) + 1) t(i) WHERE r.error IS NULL;
        INSERT INTO criteria SELECT id, trial, criterion_index, c.kind, c.text, c.verdict,
            c.reason, c.in_status, len(c.evidence) FROM crit;
        INSERT INTO evidence SELECT id, trial, criterion_index, j, c.evidence[j].text,
            c.evidence[j].source.kind, c.evidence[j].source.id, c.evidence[j].source.resource,
            c.evidence[j].source.start, c.evidence[j].source.end, c.evidence[j].date,
            c.evidence[j].value, c.evidence[j].unit, c.evidence[j].matched_by,
            c.evidence[j].note
            FROM crit, range(1, len(c.evidence) + 1) t(j);
        """
    )


def write_prescreen(
    jsonl: Path, *, duckdb_path: Path | None = None, parquet_path: Path | None = None
) -> dict[str, Path]:
    """From the prescreen JSONL: a DuckDB file (tables screenings, criteria, evidence,
    errors) and/or a Parquet file of screenings (criteria and evidence nested)."""
    import duckdb

    written: dict[str, Path] = {}
    if duckdb_path is None and parquet_path is None:
        return written
    target = duckdb_path.with_name(duckdb_path.name + ".tmp") if duckdb_path else None
    if target is not None:
        target.unlink(missing_ok=True)
    with duckdb.connect(str(target) if target else ":memory:") as con:
        _create(con, PRESCREEN_TABLES)
        _load_jsonl(con, jsonl, SCREENING_LINE)
        _prescreen_inserts(con)
        if parquet_path is not None:
            con.execute(f"CREATE TEMP TABLE screenings_nested ({SCREENINGS_PARQUET})")
            con.execute(
                "INSERT INTO screenings_nested SELECT id, trial, status, score, index_date, "
                "criteria, provenance.eligo FROM raw WHERE error IS NULL"
            )
            written["parquet"] = _copy_parquet(con, "SELECT * FROM screenings_nested", parquet_path)
    if duckdb_path is not None and target is not None:
        os.replace(target, duckdb_path)
        written["duckdb"] = duckdb_path
    return written


# ---------------------------------------------------------------------------------------------
# the prescreen HTML report

#: screenings shown in detail (all are counted; the JSONL has every one)
REPORT_DETAIL_LIMIT = 2000

_STATUS_COLOURS = {"eligible": "#2e7d32", "needs_review": "#b26a00", "excluded": "#c62828"}
_VERDICT_COLOURS = {"met": "#2e7d32", "not_met": "#c62828", "unknown": "#777"}

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:.9em}
details{margin:.6em 0;border:1px solid #ddd;border-radius:4px;padding:.4em .8em}
summary{cursor:pointer}.ev{color:#444;font-size:.92em}.muted{color:#777}
"""


def _badge(text: str, colour: str) -> str:
    import html

    return f'<span class="badge" style="background:{colour}">{html.escape(text)}</span>'


def _bars(rows: list[tuple[str, int, str]], *, width: int = 520) -> str:
    """An inline SVG horizontal bar chart (label, count, colour)."""
    import html

    if not rows:
        return '<p class="muted">none</p>'
    top = max(count for _, count, _ in rows) or 1
    height = 22 * len(rows) + 4
    parts = [f'<svg width="{width + 320}" height="{height}" role="img">']
    for i, (label, count, colour) in enumerate(rows):
        y = 2 + 22 * i
        bar = max(1, round(width * count / top))
        short = label if len(label) <= 48 else label[:47] + "…"
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{html.escape(short)}</text>'
            f'<rect x="300" y="{y}" width="{bar}" height="18" fill="{colour}"/>'
            f'<text x="{306 + bar}" y="{y + 14}" font-size="12">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _evidence_html(evidence: list[dict[str, Any]]) -> str:
    import html

    items = []
    for ev in evidence:
        bits = [f"“{html.escape(str(ev.get('text') or ''))}”"]
        if ev.get("value") is not None:
            bits.append(html.escape(f"{ev['value']:g} {ev.get('unit') or ''}".strip()))
        if ev.get("date"):
            bits.append(html.escape(str(ev["date"])))
        source = ev.get("source") or {}
        if source.get("kind"):
            where = source["kind"] + (f" {source['resource']}" if source.get("resource") else "")
            where += f" {source['id']}" if source.get("id") else ""
            bits.append(html.escape(where))
        if ev.get("matched_by"):
            bits.append(html.escape(f"matched by {ev['matched_by']}"))
        if ev.get("note"):
            bits.append(f"<em>{html.escape(str(ev['note']))}</em>")
        items.append(" · ".join(bits))
    return "<br>".join(items) or '<span class="muted">no evidence</span>'


def write_report(jsonl: Path, path: Path) -> Path:
    """A self-contained HTML report (no external assets) from the prescreen JSONL: counts by
    status, the most common screen-failure reasons, and per patient x trial each criterion's
    verdict with its evidence. Written atomically."""
    import html
    import json
    from collections import Counter

    status_counts: Counter[str] = Counter()
    reasons: Counter[tuple[str, str, str]] = Counter()
    errors: Counter[str] = Counter()
    details: list[str] = []
    shown = screenings = 0
    with jsonl.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("error"):
                errors[row["error"].get("code", "error")] += 1
                continue
            screenings += 1
            status = row.get("status", "needs_review")
            status_counts[status] += 1
            for crit in row.get("criteria") or []:
                failed = (crit["kind"] == "inclusion" and crit["verdict"] == "not_met") or (
                    crit["kind"] == "exclusion" and crit["verdict"] == "met"
                )
                if status == "excluded" and failed:
                    reasons[(str(row.get("trial") or ""), crit["kind"], crit["text"])] += 1
            if shown < REPORT_DETAIL_LIMIT:
                shown += 1
                details.append(_screening_html(row))
    status_rows = [
        (status, status_counts[status], _STATUS_COLOURS[status])
        for status in ("eligible", "needs_review", "excluded")
    ]
    reason_rows = [
        (f"{trial}: {'not ' if kind == 'inclusion' else ''}{text}".strip(": "), n, "#c62828")
        for (trial, kind, text), n in reasons.most_common(15)
    ]
    error_text = ", ".join(f"{code} ({n})" for code, n in errors.most_common()) or "none"
    more = (
        f'<p class="muted">First {shown:,} of {screenings:,} screenings shown; the JSONL '
        "has all of them.</p>"
        if screenings > shown
        else ""
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eligo prescreening report</title>
<style>{_CSS}</style></head><body>
<h1>eligo prescreening report</h1>
<p>{screenings:,} screenings (patient × trial) · patients that could not be read:
{sum(errors.values()):,} ({html.escape(error_text)}) · source: {html.escape(jsonl.name)}</p>
<h2>Status</h2>{_bars(status_rows)}
<h2>Most common screen-failure reasons</h2>
<p class="muted">Criteria that excluded patients: an inclusion not met (“not …”) or an
exclusion met.</p>{_bars(reason_rows)}
<h2>Patients</h2>{more}{"".join(details)}
</body></html>
"""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _screening_html(row: dict[str, Any]) -> str:
    import html

    status = str(row.get("status"))
    title = (
        f"{html.escape(str(row.get('id')))} × {html.escape(str(row.get('trial') or '(trial)'))} "
        f"{_badge(status, _STATUS_COLOURS.get(status, '#555'))} "
        f"score {float(row.get('score') or 0):.2f} · index date "
        f"{html.escape(str(row.get('index_date') or ''))}"
    )
    cells = []
    for crit in row.get("criteria") or []:
        verdict = str(crit.get("verdict"))
        cells.append(
            f"<tr><td>{html.escape(str(crit.get('kind')))}</td>"
            f"<td>{html.escape(str(crit.get('text')))}</td>"
            f"<td>{_badge(verdict, _VERDICT_COLOURS.get(verdict, '#555'))}</td>"
            f'<td class="ev">{html.escape(str(crit.get("reason") or ""))}<br>'
            f"{_evidence_html(crit.get('evidence') or [])}</td></tr>"
        )
    table = (
        "<table><tr><th>kind</th><th>criterion</th><th>verdict</th><th>why / evidence</th></tr>"
        + "".join(cells)
        + "</table>"
    )
    opened = " open" if status != "excluded" else ""
    return f"<details{opened}><summary>{title}</summary>{table}</details>"
