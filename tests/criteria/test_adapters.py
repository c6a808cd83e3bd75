"""Chart adapters: JSONL records, FHIR R4 bundles and OMOP tables -> PatientFacts.

Charts are synthetic, written for these tests (tests/data/charts/README.md).
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from spacy.language import Language

from eligo.criteria.adapters import (
    AdapterError,
    ChartSourceError,
    crosswalk,
    from_fhir,
    from_notes,
    from_record,
    read_chart_jsonl,
    read_fhir_folder,
    read_omop,
    strip_semantic_tag,
)
from eligo.criteria.types import Fact, PatientFacts
from tests.conftest import REPO, needs_shared

CHARTS = REPO / "tests" / "data" / "charts"


@pytest.fixture(scope="module")
def nlp() -> Language:
    import eligo.nlp

    return eligo.nlp.load(model=None)  # lexicon-only: the adapters do not depend on the model


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHARTS / "bundle_basic.json").read_text())
    return data


@pytest.fixture(scope="module")
def patient(bundle: dict[str, Any], nlp: Language) -> PatientFacts:
    return from_fhir(bundle, nlp=nlp)


def _fact(patient: PatientFacts, source_id: str, n: int = 0) -> Fact:
    found = [f for f in patient.facts if f.source.id == source_id]
    assert len(found) > n, f"no fact {n} from {source_id}"
    return found[n]


def _codes(fact: Fact) -> dict[tuple[str, str], str | None]:
    return {(c.system, c.code): fact.code_origin(c) for c in fact.codes}


def _with_resource(bundle: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    changed["entry"].append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return changed


# --- FHIR ----------------------------------------------------------------------------------


def test_fhir_patient_demographics_and_notes(patient: PatientFacts) -> None:
    assert (patient.id, patient.birth_date, patient.sex) == ("pt-0001", "1961-05-17", "female")
    # The DiagnosticReport repeats the DocumentReference's text (as Synthea writes it): one note.
    assert list(patient.notes) == ["doc-1"]
    assert patient.notes["doc-1"].startswith("Follow-up visit for type 2 diabetes.")


def test_fhir_condition_status_dates_and_crosswalk_codes(patient: PatientFacts) -> None:
    dm2 = _fact(patient, "cond-dm2")
    assert (dm2.kind, dm2.text, dm2.date, dm2.active) == (
        "condition",
        "Diabetes mellitus type 2",  # SNOMED semantic tag stripped
        "2015-03-02",
        True,
    )
    assert dm2.source.kind == "fhir" and dm2.source.resource == "Condition"
    codes = _codes(dm2)
    assert codes[("SNOMED CT", "44054006")] == "record"
    assert codes[("ICD-10-CM", "E11")] == "crosswalk"

    bronchitis = _fact(patient, "cond-bronchitis")
    assert (bronchitis.active, bronchitis.date, bronchitis.end_date) == (
        False,
        "2023-01-05",
        "2023-01-20",
    )
    refuted = _fact(patient, "cond-refuted")
    assert refuted.negated and refuted.date == "2022-11-30"  # recordedDate when no onset
    assert not [f for f in patient.facts if f.source.id == "cond-error"]  # entered-in-error


def test_fhir_code_outside_crosswalk_is_coded_by_the_lexicon(patient: PatientFacts) -> None:
    htn = _fact(patient, "cond-htn")
    assert ("SNOMED CT", "371125006") not in crosswalk()
    assert _codes(htn)[("ICD-10-CM", "I10")] == "lexicon"
    assert htn.date == "2018-06-01"  # onsetPeriod.start "2018-06": first day of the month


def test_fhir_medications(patient: PatientFacts) -> None:
    metformin = _fact(patient, "med-metformin")
    assert (metformin.kind, metformin.active, metformin.date) == ("drug", True, "2015-03-02")
    assert _codes(metformin)[("DrugBank", "DB00331")] == "crosswalk"
    clopidogrel = _fact(patient, "med-ref")  # through medicationReference
    assert clopidogrel.text == "Clopidogrel 75 MG Oral Tablet" and clopidogrel.active is False
    simvastatin = _fact(patient, "stmt-simva")
    assert (simvastatin.active, simvastatin.date, simvastatin.end_date) == (
        False,
        "2016-01-01",
        "2019-12-31",
    )
    assert _fact(patient, "stmt-notaken").negated  # MedicationStatement not-taken
    assert not [f for f in patient.facts if f.source.id == "med-cancelled"]


def test_fhir_observations(patient: PatientFacts) -> None:
    a1c = _fact(patient, "obs-a1c")
    assert (a1c.kind, a1c.value, a1c.unit, a1c.date) == ("measurement", 8.1, "%", "2024-01-10")
    assert a1c.reference_low is None and a1c.reference_high is None
    creatinine = _fact(patient, "obs-creatinine")
    assert (creatinine.value, creatinine.reference_low, creatinine.reference_high) == (
        1.6,
        0.6,
        1.2,
    )
    systolic, diastolic = _fact(patient, "obs-bp", 0), _fact(patient, "obs-bp", 1)
    assert (systolic.value, systolic.unit) == (134.0, "mm[Hg]")
    assert ("LOINC", "8480-6") in _codes(systolic) and ("LOINC", "85354-9") in _codes(systolic)
    assert diastolic.value == 84.0 and ("LOINC", "8462-4") in _codes(diastolic)
    smoking = _fact(patient, "obs-smoking")
    assert smoking.kind == "observation"
    assert smoking.text == "Tobacco smoking status NHIS: Former smoker"
    assert _codes(smoking)[("ICD-10-CM", "Z87.891")] == "crosswalk"


def test_fhir_procedure(patient: PatientFacts) -> None:
    colonoscopy = _fact(patient, "proc-colonoscopy")
    assert (colonoscopy.kind, colonoscopy.date) == ("procedure", "2022-08-09")
    assert ("eligo", "proc:colonoscopy") in _codes(colonoscopy)


def test_fhir_note_facts_carry_assertions_values_and_spans(patient: PatientFacts) -> None:
    text = patient.notes["doc-1"]
    notes = [f for f in patient.facts if f.source.kind == "note"]
    assert all(f.source.id == "doc-1" and f.date == "2024-01-10" for f in notes)
    for fact in notes:
        assert fact.source.start is not None and fact.source.end is not None
        assert text[fact.source.start : fact.source.end] == fact.text
    by_text = {f.text: f for f in notes}
    assert by_text["chest pain"].negated
    assert by_text["breast cancer"].family and not by_text["breast cancer"].negated
    assert not by_text["type 2 diabetes"].negated
    assert _codes(by_text["type 2 diabetes"])[("ICD-10-CM", "E11")] == "lexicon"
    creatinine = by_text["Creatinine"]
    assert (creatinine.value, creatinine.unit) == (1.4, "mg/dL")
    bp = [f for f in notes if f.text == "BP"]
    assert sorted((f.value, f.codes[0].code) for f in bp) == [(90.0, "8462-4"), (142.0, "8480-6")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: {"resourceType": "Patient"}, "expected a FHIR Bundle, got 'Patient'"),
        (lambda b: [1, 2], "expected a FHIR Bundle, got 'list'"),
        (
            lambda b: {**b, "entry": [e for e in b["entry"] if e["resource"]["id"] != "pt-0001"]},
            "expected one Patient resource, found 0",
        ),
        (lambda b: {**b, "entry": [*b["entry"], {"fullUrl": "x"}]}, "has no resource"),
        (lambda b: {**b, "entry": {"a": 1}}, "Bundle.entry is not a list"),
    ],
)
def test_fhir_malformed_bundles(
    bundle: dict[str, Any], nlp: Language, change: Any, message: str
) -> None:
    with pytest.raises(AdapterError, match=message) as err:
        from_fhir(change(copy.deepcopy(bundle)), nlp=nlp)
    assert err.value.code == "invalid_bundle"


def test_fhir_bad_date_names_the_resource(nlp: Language) -> None:
    bad = json.loads((CHARTS / "bundle_bad_date.json").read_text())
    with pytest.raises(AdapterError) as err:
        from_fhir(bad, nlp=nlp)
    assert err.value.id == "pt-0002"
    assert err.value.code == "invalid_date"
    assert "Observation/obs-bad effectiveDateTime: '2024-02-30' is not a date" in str(err.value)
    assert err.value.to_json()["error"]["code"] == "invalid_date"


def test_fhir_bad_attachment_and_dangling_reference(bundle: dict[str, Any], nlp: Language) -> None:
    note = {
        "resourceType": "DocumentReference",
        "id": "doc-bad",
        "date": "2024-01-01",
        "content": [{"attachment": {"contentType": "text/plain", "data": "@@not base64@@"}}],
    }
    with pytest.raises(AdapterError, match="DocumentReference/doc-bad: attachment data is not"):
        from_fhir(_with_resource(bundle, note), nlp=nlp)
    latin1 = {**note, "content": [{"attachment": {"data": base64.b64encode(b"caf\xe9").decode()}}]}
    with pytest.raises(AdapterError, match="not base64-encoded UTF-8"):
        from_fhir(_with_resource(bundle, latin1), nlp=nlp)
    dangling = {
        "resourceType": "MedicationRequest",
        "id": "med-dangling",
        "status": "active",
        "medicationReference": {"reference": "Medication/nowhere"},
    }
    with pytest.raises(AdapterError, match="'Medication/nowhere' is not in the bundle"):
        from_fhir(_with_resource(bundle, dangling), nlp=nlp)


def test_fhir_other_statuses(bundle: dict[str, Any], nlp: Language) -> None:
    intended = {
        "resourceType": "MedicationStatement",
        "id": "stmt-intended",
        "status": "intended",
        "medicationCodeableConcept": {"text": "insulin glargine"},
        "effectiveDateTime": "2024-02-01",
    }
    pdf = {
        "resourceType": "DocumentReference",
        "id": "doc-pdf",
        "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0="}}],
    }
    patient = from_fhir(_with_resource(_with_resource(bundle, intended), pdf), nlp=nlp)
    insulin = _fact(patient, "stmt-intended")
    assert insulin.hypothetical and insulin.active is None
    assert ("DrugBank", "DB00030") not in _codes(insulin)  # "insulin glargine" is not human insulin
    assert any(origin == "lexicon" for origin in _codes(insulin).values())
    assert "doc-pdf" not in patient.notes  # only text/plain attachments are notes


def test_read_fhir_folder_yields_errors_as_values(tmp_path: Path, nlp: Language) -> None:
    shutil.copy(CHARTS / "bundle_basic.json", tmp_path / "a.json")
    shutil.copy(CHARTS / "bundle_bad_date.json", tmp_path / "b.json")
    (tmp_path / "c.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("ignored: not a .json file")
    results = list(read_fhir_folder(tmp_path, nlp=nlp))
    assert [type(r).__name__ for r in results] == ["PatientFacts", "AdapterError", "AdapterError"]
    assert isinstance(results[1], AdapterError) and results[1].id == "pt-0002"
    assert isinstance(results[2], AdapterError)
    assert (results[2].id, results[2].code) == ("c.json", "invalid_json")
    with pytest.raises(ChartSourceError, match="does not exist"):
        list(read_fhir_folder(tmp_path / "missing", nlp=nlp))


# --- JSONL records and notes ---------------------------------------------------------------


def test_read_chart_jsonl(nlp: Language) -> None:
    results = list(read_chart_jsonl(CHARTS / "records.jsonl", nlp=nlp))
    assert len(results) == 5  # the blank line is skipped
    first, second, no_id, bad_note, bad_json = results
    assert isinstance(first, PatientFacts) and isinstance(second, PatientFacts)
    assert (first.id, first.sex, first.birth_date) == ("rec-1", "female", "1980-02-29")
    assert list(first.notes) == ["n1", "note-2"]  # a note without an id is named by position
    by_text = {f.text: f for f in first.facts}
    assert by_text["breast cancer"].historical and by_text["breast cancer"].date == "2024-03-01"
    assert (by_text["ANC"].value, by_text["ANC"].unit) == (1800.0, "/uL")
    # "Creatinine < 1.5" is a bound, not a measured value
    assert by_text["Creatinine"].value is None and by_text["Creatinine"].unit is None
    assert {(f.text, f.negated, f.family) for f in second.facts} == {
        ("diabetes", True, False),
        ("myocardial infarction", False, True),
    }
    assert isinstance(no_id, AdapterError)
    assert (no_id.id, no_id.code) == ("records.jsonl:4", "invalid_id")
    assert isinstance(bad_note, AdapterError)
    assert (bad_note.id, bad_note.code) == ("rec-4", "invalid_note")
    assert "note 1 has no text" in bad_note.message
    assert isinstance(bad_json, AdapterError) and bad_json.code == "invalid_json"
    with pytest.raises(ChartSourceError, match="cannot read chart file"):
        list(read_chart_jsonl(CHARTS / "missing.jsonl", nlp=nlp))


def test_from_record_merges_notes_and_fhir(bundle: dict[str, Any], nlp: Language) -> None:
    record = {
        "id": "combined",
        "sex": "M",
        "notes": [{"id": "n1", "date": "2024-02-01", "text": "Started apixaban for AFib."}],
        "fhir": bundle,
    }
    patient = from_record(record, nlp=nlp)
    assert patient.id == "combined"  # the record's id and sex win over the bundle's Patient
    assert patient.sex == "male" and patient.birth_date == "1961-05-17"
    assert set(patient.notes) == {"n1", "doc-1"}
    assert {f.source.kind for f in patient.facts} == {"note", "fhir"}
    assert any(f.text == "apixaban" and f.kind == "drug" for f in patient.facts)


@pytest.mark.parametrize(
    ("record", "code", "message"),
    [
        ({"notes": []}, "invalid_id", "chart record has no id"),
        ({"id": "", "notes": []}, "invalid_id", "chart record has no id"),
        (
            {"id": "p", "sex": "unknown"},
            "invalid_record",
            "sex 'unknown' is not one of male, female",
        ),
        ({"id": "p", "birth_date": "17/05/1961"}, "invalid_date", "birth_date: '17/05/1961'"),
        ({"id": "p", "dob": "1961"}, "invalid_record", "unknown field(s) dob; valid: id,"),
        ({"id": "p", "notes": "text"}, "invalid_record", "notes must be a list of objects"),
        (
            {"id": "p", "notes": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]},
            "invalid_note",
            "note id 'a' appears twice",
        ),
        (
            {"id": "p", "notes": [{"text": "x", "date": "yesterday"}]},
            "invalid_date",
            "note 'note-1' date: 'yesterday' is not a date",
        ),
        ({"id": "p", "fhir": {"resourceType": "Patient"}}, "invalid_bundle", "fhir: expected"),
    ],
)
def test_from_record_errors(nlp: Language, record: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(AdapterError) as err:
        from_record(record, nlp=nlp)
    assert err.value.code == code
    assert message in err.value.message
    if record.get("id"):
        assert err.value.id == record["id"]


def test_from_notes_batches_and_dates(nlp: Language) -> None:
    facts = from_notes(
        "p1",
        [
            {"id": 7, "date": "2023-09-14T10:00:00Z", "text": "No history of stroke."},
            {"text": "Hemoglobin 9.8 g/dL. Temp range 37-38."},
        ],
        nlp=nlp,
    )
    stroke = next(f for f in facts if f.text == "stroke")
    assert stroke.negated and stroke.source.id == "7" and stroke.date == "2023-09-14"
    hemoglobin = next(f for f in facts if f.text == "Hemoglobin")
    assert (hemoglobin.value, hemoglobin.unit, hemoglobin.source.id) == (9.8, "g/dL", "note-2")
    assert all(f.code_sources and set(f.code_sources.values()) == {"lexicon"} for f in facts)


def test_strip_semantic_tag() -> None:
    assert strip_semantic_tag("Diabetes mellitus type 2 (disorder)") == "Diabetes mellitus type 2"
    assert strip_semantic_tag("Cognitive therapy (regime/therapy)") == "Cognitive therapy"
    assert strip_semantic_tag("Dander (animal) allergy") == "Dander (animal) allergy"


# --- OMOP ----------------------------------------------------------------------------------


def _omop_db(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE person (person_id BIGINT, gender_concept_id INTEGER, year_of_birth INTEGER,
            month_of_birth INTEGER, day_of_birth INTEGER, birth_datetime TIMESTAMP);
        INSERT INTO person VALUES (1, 8532, 1958, 4, 2, NULL), (2, 8507, 1990, NULL, NULL, NULL),
            (3, 0, 1970, 13, 1, NULL);
        CREATE TABLE concept (concept_id INTEGER, concept_name VARCHAR, domain_id VARCHAR,
            vocabulary_id VARCHAR, concept_class_id VARCHAR, standard_concept VARCHAR,
            concept_code VARCHAR);
        INSERT INTO concept VALUES
            (201826, 'Type 2 diabetes mellitus', 'Condition', 'SNOMED', 'Clinical Finding', 'S',
             '44054006'),
            (1503297, 'metformin', 'Drug', 'RxNorm', 'Ingredient', 'S', '6809'),
            (3004410, 'Hemoglobin A1c/Hemoglobin.total in Blood', 'Measurement', 'LOINC',
             'Lab Test', 'S', '4548-4'),
            (8554, 'percent', 'Unit', 'UCUM', 'Unit', 'S', '%'),
            (4249893, 'Colonoscopy', 'Procedure', 'SNOMED', 'Procedure', 'S', '73761001');
        CREATE TABLE condition_occurrence (condition_occurrence_id BIGINT, person_id BIGINT,
            condition_concept_id INTEGER, condition_start_date DATE, condition_end_date DATE,
            condition_source_value VARCHAR);
        INSERT INTO condition_occurrence VALUES (10, 1, 201826, '2012-06-01', NULL, 'E11.9'),
            (11, 2, 0, '2020-01-01', NULL, 'asthma');
        CREATE TABLE drug_exposure (drug_exposure_id BIGINT, person_id BIGINT,
            drug_concept_id INTEGER, drug_exposure_start_date DATE, drug_exposure_end_date DATE,
            drug_source_value VARCHAR, stop_reason VARCHAR);
        INSERT INTO drug_exposure VALUES (20, 1, 1503297, '2012-06-02', '2030-01-01', 'metformin',
            NULL), (21, 1, 1503297, '2010-01-01', '2010-03-01', 'metformin', 'side effects');
        CREATE TABLE measurement (measurement_id BIGINT, person_id BIGINT,
            measurement_concept_id INTEGER, measurement_date DATE, value_as_number DOUBLE,
            unit_concept_id INTEGER, unit_source_value VARCHAR, measurement_source_value VARCHAR);
        INSERT INTO measurement VALUES (30, 1, 3004410, '2024-01-05', 7.6, 8554, '%', 'HbA1c');
        CREATE TABLE procedure_occurrence (procedure_occurrence_id BIGINT, person_id BIGINT,
            procedure_concept_id INTEGER, procedure_date DATE, procedure_source_value VARCHAR);
        INSERT INTO procedure_occurrence VALUES (40, 2, 4249893, '2021-03-03', '45378');
        CREATE TABLE note (note_id BIGINT, person_id BIGINT, note_date DATE, note_text VARCHAR);
        INSERT INTO note VALUES
            (50, 2, '2021-03-04', 'Denies abdominal pain. Mother had colon cancer.');
    """)
    con.close()
    return path


def test_read_omop(tmp_path: Path, nlp: Language) -> None:
    results = list(read_omop(_omop_db(tmp_path / "cdm.duckdb"), nlp=nlp))
    assert len(results) == 3
    first, second, bad = results
    assert isinstance(first, PatientFacts) and isinstance(second, PatientFacts)
    assert (first.id, first.sex, first.birth_date) == ("1", "female", "1958-04-02")
    assert (second.sex, second.birth_date) == ("male", "1990-01-01")
    dm2 = _fact(first, "10")
    assert (dm2.kind, dm2.text, dm2.date, dm2.source.resource) == (
        "condition",
        "Type 2 diabetes mellitus",
        "2012-06-01",
        "condition_occurrence",
    )
    assert _codes(dm2)[("SNOMED CT", "44054006")] == "record"
    assert _codes(dm2)[("ICD-10-CM", "E11")] == "crosswalk"
    current, stopped = _fact(first, "20"), _fact(first, "21")
    assert current.active is None and current.end_date == "2030-01-01"
    assert stopped.active is False  # a stop reason was recorded
    assert ("DrugBank", "DB00331") in _codes(current)  # RxNorm ingredient, via the lexicon
    a1c = _fact(first, "30")
    assert (a1c.value, a1c.unit, a1c.codes[0].code) == (7.6, "%", "4548-4")
    unmapped = _fact(second, "11")  # concept 0: no standard concept, the source value stays
    assert unmapped.text == "asthma" and ("ICD-10-CM", "J45") in _codes(unmapped)
    assert ("eligo", "proc:colonoscopy") in _codes(_fact(second, "40"))
    assert second.notes == {"50": "Denies abdominal pain. Mother had colon cancer."}
    by_text = {f.text: f for f in second.facts if f.source.kind == "note"}
    assert by_text["abdominal pain"].negated and by_text["colon cancer"].family
    assert isinstance(bad, AdapterError) and bad.id == "3"
    assert "month must be in 1..12" in bad.message


def test_read_omop_source_errors(tmp_path: Path, nlp: Language) -> None:
    with pytest.raises(ChartSourceError, match="does not exist"):
        list(read_omop(tmp_path / "none.duckdb", nlp=nlp))
    (tmp_path / "text.duckdb").write_text("not a database")
    with pytest.raises(ChartSourceError, match="cannot open"):
        list(read_omop(tmp_path / "text.duckdb", nlp=nlp))
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    con.execute("CREATE TABLE note (note_id BIGINT)")
    con.close()
    with pytest.raises(ChartSourceError, match=r"has no OMOP person table.*tables: note"):
        list(read_omop(tmp_path / "empty.duckdb", nlp=nlp))


# --- crosswalk data ------------------------------------------------------------------------

ELIGO_SYSTEMS = {"ICD-10-CM", "HPO", "UMLS", "CTCAE", "MedDRA", "DrugBank", "MeSH", "MedlinePlus"}


def test_crosswalk_rows_are_well_formed() -> None:
    lines = (REPO / "corpora" / "crosswalk" / "crosswalk.tsv").read_text().splitlines()
    assert lines[0].split("\t") == [
        "source_system",
        "source_code",
        "source_display",
        "system",
        "code",
        "display",
        "via",
    ]
    for line in lines[1:]:
        fields = line.split("\t")
        assert len(fields) == 7, line
        assert fields[0] in {"SNOMED CT", "RxNorm", "LOINC", "CVX"}, line
        assert fields[6] in {"lexicon", "review"}, line
        assert not fields[3] or fields[3] in ELIGO_SYSTEMS | {"LOINC", "eligo"}, line
    table = crosswalk()
    assert ("SNOMED CT", "44054006") in table and ("RxNorm", "860975") in table
    review = (REPO / "corpora" / "crosswalk" / "review.tsv").read_text().splitlines()
    assert all(len(line.split("\t")) == 7 and line.split("\t")[6] for line in review[1:])


@pytest.mark.slow
def test_crosswalk_is_up_to_date() -> None:
    from eligo.corpora.crosswalk.build import main

    synthea = needs_shared("synthea")
    assert main(["--synthea", str(synthea), "--check"]) == 0


@pytest.mark.slow
def test_all_synthea_bundles_read_without_errors(nlp: Language) -> None:
    folder = needs_shared("synthea", "fhir")
    results = list(read_fhir_folder(folder, nlp=nlp))
    assert len(results) == 25
    errors = [r.to_json() for r in results if isinstance(r, AdapterError)]
    assert not errors
    patients = [r for r in results if isinstance(r, PatientFacts)]
    kinds = {f.kind for p in patients for f in p.facts}
    assert {"condition", "drug", "procedure", "measurement", "observation"} <= kinds
    assert all(p.birth_date and p.sex and p.notes for p in patients)
    origins = {o for p in patients for f in p.facts for o in f.code_sources.values()}
    assert origins == {"record", "crosswalk", "lexicon"}


def test_read_omop_on_the_cdm_ddl(tmp_path: Path, nlp: Language) -> None:
    """The OMOP CDM v5.4 DDL shipped in corpora/omop, with operator, coded-answer,
    observation and device rows."""
    ddl = REPO / "corpora" / "omop" / "cdm_v54_duckdb.sql"
    if not ddl.is_file():
        pytest.skip("corpora/omop/cdm_v54_duckdb.sql not present")
    path = tmp_path / "cdm54.duckdb"
    con = duckdb.connect(str(path))
    con.execute(ddl.read_text())
    con.execute("""
        INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth,
            day_of_birth, race_concept_id, ethnicity_concept_id)
            VALUES (7, 8507, 1949, 11, 3, 0, 0);
        INSERT INTO concept VALUES
            (3016723, 'Creatinine [Mass/volume] in Serum or Plasma', 'Measurement', 'LOINC',
             'Lab Test', 'S', '2160-0', '1970-01-01', '2099-12-31', NULL),
            (4330152, 'Tobacco smoking status', 'Observation', 'SNOMED', 'Observable Entity',
             'S', '365981007', '1970-01-01', '2099-12-31', NULL),
            (45883458, 'Former smoker', 'Meas Value', 'SNOMED', 'Answer', 'S', '8517006',
             '1970-01-01', '2099-12-31', NULL),
            (4051944, 'Cardiac pacemaker', 'Device', 'SNOMED', 'Physical Object', 'S',
             '14106009', '1970-01-01', '2099-12-31', NULL);
        INSERT INTO measurement (measurement_id, person_id, measurement_concept_id,
            measurement_date, measurement_type_concept_id, operator_concept_id, value_as_number,
            unit_source_value, range_low, range_high)
            VALUES (1, 7, 3016723, '2024-05-01', 0, 4171756, 0.5, 'mg/dL', NULL, NULL),
            (2, 7, 3016723, '2024-06-01', 0, NULL, 1.25, 'mg/dL', 0.7, 1.3);
        INSERT INTO observation (observation_id, person_id, observation_concept_id,
            observation_date, observation_type_concept_id, value_as_concept_id)
            VALUES (3, 7, 4330152, '2024-05-01', 0, 45883458);
        INSERT INTO device_exposure (device_exposure_id, person_id, device_concept_id,
            device_exposure_start_date, device_type_concept_id)
            VALUES (4, 7, 4051944, '2019-02-02', 0);
    """)
    con.close()
    (patient,) = list(read_omop(path, nlp=nlp))
    assert isinstance(patient, PatientFacts)
    assert (patient.sex, patient.birth_date) == ("male", "1949-11-03")
    bound, exact = _fact(patient, "1"), _fact(patient, "2")
    assert bound.value is None  # "< 0.5": a bound, not a measured value
    assert (exact.value, exact.unit, exact.date) == (1.25, "mg/dL", "2024-06-01")
    assert (exact.reference_low, exact.reference_high) == (0.7, 1.3)
    smoking = _fact(patient, "3")
    assert (smoking.kind, smoking.text) == ("observation", "Tobacco smoking status: Former smoker")
    assert _codes(smoking)[("ICD-10-CM", "Z87.891")] == "crosswalk"
    device = _fact(patient, "4")
    assert (device.kind, device.source.resource) == ("device", "device_exposure")


def test_read_chart_jsonl_bad_encoding_is_one_error(tmp_path: Path, nlp: Language) -> None:
    path = tmp_path / "charts.jsonl"
    path.write_bytes(
        b'{"id": "a", "notes": [{"text": "caf\xe9 au lait spots"}]}\n'
        b'{"id": "b", "notes": [{"text": "Asthma since childhood."}]}\n'
    )
    bad, good = list(read_chart_jsonl(path, nlp=nlp))
    assert isinstance(bad, AdapterError)
    assert (bad.id, bad.code, bad.message) == (
        "charts.jsonl:1",
        "invalid_encoding",
        "line is not UTF-8 text",
    )
    assert isinstance(good, PatientFacts) and good.id == "b"


def test_note_values_in_a_second_unit_and_reference_limits(nlp: Language) -> None:
    text = (
        "Spirometry: FEV1 1.62 L (58% predicted). Hgb 9.0 g/dL (90 g/L).\n"
        "ALT 118 U/L (ULN 40 U/L), AST 74 U/L. Bilirubin 1.0 mg/dL (reference 0.3-1.2).\n"
        "HbA1c 8.1% (2026-03-01). Creatinine 1.1 mg/dL, eGFR 55."
    )
    facts = from_record({"id": "v", "notes": [{"date": "2026-05-01", "text": text}]}, nlp=nlp)
    got = {(f.text, f.value, f.unit, f.reference_low, f.reference_high) for f in facts.facts}
    assert {
        ("FEV1", 1.62, "L", None, None),
        ("FEV1", 58.0, "%", None, None),
        ("Hgb", 9.0, "g/dL", None, None),
        ("Hgb", 90.0, "g/L", None, None),
        ("ALT", 118.0, "U/L", None, 40.0),
        ("AST", 74.0, "U/L", None, None),
        ("Bilirubin", 1.0, "mg/dL", 0.3, 1.2),
        ("HbA1c", 8.1, "%", None, None),
        ("Creatinine", 1.1, "mg/dL", None, None),
    } <= got
    # a date in brackets and the next lab after a comma are not second values
    assert sum(1 for f in facts.facts if f.text in ("HbA1c", "Creatinine")) == 2
