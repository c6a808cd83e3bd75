"""Patient charts -> `PatientFacts`: JSONL chart records, FHIR R4 bundles, OMOP CDM tables.

Every fact is coded in the chart's own vocabulary ("SNOMED CT", "RxNorm", "LOINC", ...) and,
so that it can meet a criterion coded by eligo, in eligo's vocabularies (ICD-10-CM, HPO/UMLS,
DrugBank, LOINC, CTCAE/MedDRA, eligo slugs): from the reviewed table in
`corpora/crosswalk/crosswalk.tsv` when it lists the chart's code, otherwise by running
eligo's pipeline over the code's display text. `Fact.code_sources` records which. Notes
(JSONL `notes`, FHIR DocumentReference, OMOP `note`) go through the pipeline, batched.

Readers (`read_chart_jsonl`, `read_fhir_folder`, `read_omop`) yield one `PatientFacts` or
one `AdapterError` per patient: a bad record never stops the iteration. A source that cannot
be read at all (missing file, not a DuckDB database) raises `ChartSourceError`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from spacy.language import Language

from eligo.criteria.types import CodeOrigin, Fact, FactKind, FactSource, PatientFacts
from eligo.nlp.extract import make_doc, pipe_isolating, to_entities
from eligo.nlp.resources import read_tsv
from eligo.nlp.types import Code, Entity
from eligo.nlp.values import normalize_unit

# Code system names: eligo's lexicons name theirs "ICD-10-CM", "LOINC", "DrugBank", "HPO",
# "UMLS", ...; chart vocabularies follow the same style.
SNOMED = "SNOMED CT"
RXNORM = "RxNorm"
LOINC = "LOINC"
FHIR_SYSTEMS = {
    "http://snomed.info/sct": SNOMED,
    "http://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "http://loinc.org": LOINC,
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://www.nlm.nih.gov/research/umls": "UMLS",
    "http://purl.obolibrary.org/obo/hp": "HPO",
    "http://unitsofmeasure.org": "UCUM",
}
OMOP_VOCABULARIES = {
    "SNOMED": SNOMED,
    "RxNorm": RXNORM,
    "RxNorm Extension": "RxNorm Extension",
    "LOINC": LOINC,
    "ICD10CM": "ICD-10-CM",
    "ICD9CM": "ICD-9-CM",
    "CVX": "CVX",
    "NDC": "NDC",
    "HPO": "HPO",
}
OMOP_GENDER = {8507: "male", 8532: "female"}

# Which lexicon labels may code a structured fact of each kind: a procedure's display
# ("Screening for malignant neoplasm of breast") names a condition the patient need not have.
KIND_LABELS: dict[str, frozenset[str]] = {
    "condition": frozenset({"condition", "adverse_event"}),
    "drug": frozenset({"drug"}),
    "procedure": frozenset({"procedure"}),
    "measurement": frozenset({"measurement"}),
    "observation": frozenset({"condition", "adverse_event"}),
    "device": frozenset({"procedure", "condition"}),
}
# SNOMED CT fully specified names end in a semantic tag: "Diabetes mellitus type 2 (disorder)".
_SEMANTIC_TAG = re.compile(r"\s*\((?:[a-z][a-z /-]*)\)\s*$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")


class AdapterError(ValueError):
    """One chart record, bundle or OMOP person that could not be turned into facts."""

    def __init__(self, message: str, *, id: str | None = None, code: str = "invalid_record"):
        super().__init__(message)
        self.id = id
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        """The batch error-record shape: `{"id", "error": {"code", "message"}}`."""
        return {"id": self.id, "error": {"code": self.code, "message": self.message}}


class ChartSourceError(ValueError):
    """A whole chart source (file, folder, database) cannot be read."""


# --- dates ---------------------------------------------------------------------------------


def _iso_date(value: object, where: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from a FHIR date/dateTime or a date; None when absent.

    A partial date ("2019", "2019-04") becomes the first day of that year/month: eligo's
    facts carry day dates, and the precision lost is at most that period.
    """
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    if isinstance(value, str):
        match = _DATE.match(value.strip())
        if match:
            year, month, day = match.groups()
            try:
                return date(int(year), int(month or 1), int(day or 1)).isoformat()
            except ValueError:
                pass
    raise AdapterError(
        f"{where}: {str(value)[:40]!r} is not a date (expected YYYY-MM-DD or an ISO dateTime)",
        code="invalid_date",
    )


# --- concept coding: crosswalk, then lexicon -----------------------------------------------


@functools.cache
def crosswalk() -> dict[tuple[str, str], tuple[Code, ...]]:
    """The reviewed code cross-reference (`corpora/crosswalk/crosswalk.tsv`).

    (chart system, code) -> eligo codes; an entry with no codes means "reviewed: nothing in
    eligo's vocabularies", so the lexicon is not asked again for that code.
    """
    table: dict[tuple[str, str], list[Code]] = {}
    for row in read_tsv("crosswalk", "crosswalk.tsv"):
        source_system, source_code, _display, system, code, display = row[:6]
        codes = table.setdefault((source_system, source_code), [])
        if system and code:
            codes.append(Code(system=system, code=code, display=display))
    return {key: tuple(codes) for key, codes in table.items()}


def strip_semantic_tag(text: str) -> str:
    """ "Diabetes mellitus type 2 (disorder)" -> "Diabetes mellitus type 2"."""
    return _SEMANTIC_TAG.sub("", text).strip()


@dataclass
class _Lookup:
    """Codes a structured fact still needs: crosswalk by `keys`, else the lexicon on `text`."""

    keys: list[Code]
    text: str
    labels: frozenset[str]


@dataclass
class _Draft:
    fact: Fact
    lookups: list[_Lookup] = field(default_factory=list)


class ConceptCoder:
    """Adds eligo codes to structured facts; caches the lexicon's answer per display text."""

    max_cache = 100_000

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._cache: dict[str, list[tuple[str, list[Code]]]] = {}

    def lexicon_codes(self, texts: Iterable[str]) -> None:
        """Run the pipeline once over the texts not seen yet, batched."""
        todo = sorted({t for t in texts if t not in self._cache})
        if not todo:
            return
        if len(self._cache) + len(todo) > self.max_cache:
            self._cache.clear()
        docs = pipe_isolating(self.nlp, [make_doc(self.nlp, text) for text in todo])
        for text, doc in zip(todo, docs, strict=True):
            found: list[tuple[str, list[Code]]] = []
            if not isinstance(doc, Exception):
                for ent in to_entities(doc):
                    # A display such as "Suspected COVID-19" or "not HIV positive" does not
                    # say the patient has the concept; "History of ..." does (historical).
                    if ent.negated or ent.hypothetical or ent.family or ent.uncertain:
                        continue
                    if ent.codes:
                        found.append((ent.label, list(ent.codes)))
            self._cache[text] = found

    def cached(self, text: str) -> list[tuple[str, list[Code]]]:
        """(label, codes) of each asserted concept in `text`, after `lexicon_codes`."""
        return self._cache.get(text, [])

    def finish(self, drafts: Sequence[_Draft]) -> list[Fact]:
        """Facts with crosswalk or lexicon codes added and every code's origin recorded."""
        table = crosswalk()
        pending: list[tuple[Fact, _Lookup]] = []
        # A resource with neither a code nor words (no `code` element) says nothing.
        drafts = [d for d in drafts if d.fact.codes or d.fact.text]
        for draft in drafts:
            for code in draft.fact.codes:
                draft.fact.code_sources.setdefault(f"{code.system}|{code.code}", "record")
            for lookup in draft.lookups:
                hits = [
                    table[(k.system, k.code)] for k in lookup.keys if (k.system, k.code) in table
                ]
                if hits:
                    _add_codes(draft.fact, [c for codes in hits for c in codes], "crosswalk")
                elif lookup.text:
                    pending.append((draft.fact, lookup))
        self.lexicon_codes(lookup.text for _, lookup in pending)
        for fact, lookup in pending:
            for label, codes in self._cache.get(lookup.text, []):
                if label in lookup.labels:
                    _add_codes(fact, codes, "lexicon")
        return [draft.fact for draft in drafts]


def _add_codes(fact: Fact, codes: Iterable[Code], origin: CodeOrigin) -> None:
    for code in codes:
        key = f"{code.system}|{code.code}"
        if key not in fact.code_sources:
            fact.codes.append(code)
            fact.code_sources[key] = origin


_coders: weakref.WeakKeyDictionary[Language, ConceptCoder] = weakref.WeakKeyDictionary()


def _coder(nlp: Language) -> ConceptCoder:
    """One coder (and display cache) per pipeline."""
    coder = _coders.get(nlp)
    if coder is None:
        coder = _coders[nlp] = ConceptCoder(nlp)
    return coder


# --- notes ---------------------------------------------------------------------------------

_NOTE_KINDS: dict[str, FactKind] = {
    "condition": "condition",
    "adverse_event": "condition",
    "drug": "drug",
    "procedure": "procedure",
    "measurement": "measurement",
}
_SYSTOLIC = Code(system=LOINC, code="8480-6", display="Systolic blood pressure")
_DIASTOLIC = Code(system=LOINC, code="8462-4", display="Diastolic blood pressure")


@dataclass
class _Note:
    id: str
    date: str | None
    text: str


def _note_items(patient_id: str, notes: object) -> list[_Note]:
    """Validated notes; a note without an id gets "note-<n>" (1-based position)."""
    if not isinstance(notes, Sequence) or isinstance(notes, str | bytes):
        raise AdapterError(
            f"notes must be a list of objects, got {type(notes).__name__}", id=patient_id
        )
    items: list[_Note] = []
    seen: set[str] = set()
    for n, note in enumerate(notes, 1):
        if not isinstance(note, Mapping):
            raise AdapterError(f"note {n} is not an object", id=patient_id, code="invalid_note")
        text = note.get("text")
        if not isinstance(text, str):
            raise AdapterError(
                f"note {n} has no text (a string under 'text')", id=patient_id, code="invalid_note"
            )
        note_id = note.get("id")
        if note_id is None:
            note_id = f"note-{n}"
        elif not isinstance(note_id, str | int) or isinstance(note_id, bool) or note_id == "":
            raise AdapterError(
                f"note {n}: id must be a non-empty string", id=patient_id, code="invalid_note"
            )
        note_id = str(note_id)
        if note_id in seen:
            raise AdapterError(
                f"note id {note_id!r} appears twice", id=patient_id, code="invalid_note"
            )
        seen.add(note_id)
        try:
            when = _iso_date(note.get("date"), f"note {note_id!r} date")
        except AdapterError as err:
            err.id = patient_id
            raise
        items.append(_Note(note_id, when, text))
    return items


def _entity_facts(ent: Entity, note: _Note) -> list[Fact]:
    kind = _NOTE_KINDS.get(ent.label)
    if kind is None:  # caller targets are not concepts
        return []
    flags: dict[str, Any] = {
        "negated": ent.negated,
        "historical": ent.historical,
        "hypothetical": ent.hypothetical,
        "family": ent.family,
        "uncertain": ent.uncertain,
    }
    source = FactSource(kind="note", id=note.id, start=ent.start, end=ent.end)
    value = ent.value
    number: float | None = None
    unit = value.unit if value is not None else None
    if value is not None and value.systolic is not None and value.diastolic is not None:
        # "BP 142/90": one fact per component, as FHIR and OMOP record blood pressure.
        return [
            Fact(
                kind=kind,
                text=ent.text,
                codes=[component, *ent.codes],
                date=note.date,
                value=reading,
                unit=unit,
                source=source,
                code_sources={f"{c.system}|{c.code}": "lexicon" for c in [component, *ent.codes]},
                **flags,
            )
            for component, reading in ((_SYSTOLIC, value.systolic), (_DIASTOLIC, value.diastolic))
        ]
    # A range or an inequality ("creatinine < 1.5") is not one measured value.
    if value is not None and value.comparator in (None, "="):
        number = value.value
    reference: dict[str, Any] = {}
    if number is not None and value is not None:
        # "ALT 118 U/L (ULN 40)", "(reference 7-40 U/L)": the lab's own limits, so criteria
        # written as multiples of the ULN/LLN can be checked
        ref = _REFERENCE.match(note.text, value.end)
        if ref is not None and ref["uln"]:
            reference["reference_high"] = float(ref["uln"])
        elif ref is not None and ref["high"]:
            reference["reference_low"] = float(ref["low"])
            reference["reference_high"] = float(ref["high"])
    readings = [(number, unit if number is not None else None)]
    if number is not None and value is not None:
        # "FEV1 1.62 L (58% predicted)", "Hgb 9.0 g/dL (90 g/L)": the same result in a second
        # unit; a criterion may ask for either
        also = _SECOND_VALUE.match(note.text, value.end)
        second_unit = normalize_unit(also["unit"]) if also else None
        if also and second_unit and second_unit != unit:
            readings.append((float(also["value"].replace(",", "")), second_unit))
    return [
        Fact(
            kind=kind,
            text=ent.text,
            codes=list(ent.codes),
            date=note.date,
            value=reading,
            unit=reading_unit,
            source=source,
            section=ent.section,
            code_sources={f"{c.system}|{c.code}": "lexicon" for c in ent.codes},
            **(reference if reading_unit == unit else {}),
            **flags,
        )
        for reading, reading_unit in readings
    ]


_REFERENCE = re.compile(
    r"\s*[(\[,;]\s*(?:(?:ULN|upper limit(?: of normal)?)\s*(?:=|:|of|is)?\s*"
    r"(?P<uln>\d+(?:\.\d+)?)"
    r"|(?:ref(?:erence)?(?: range)?|normal(?: range)?|RR|nl)\s*:?\s*"
    r"(?P<low>\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(?P<high>\d+(?:\.\d+)?))",
    re.IGNORECASE,
)
_SECOND_VALUE = re.compile(
    r"\s*[(\[,;]\s*(?:or\s+|=\s*)?(?P<value>\d[\d,]*(?:\.\d+)?)\s*"
    r"(?P<unit>%|[A-Za-zµμ][A-Za-z0-9µμ/^*.]*)(?:\s+(?:of\s+)?pred(?:icted)?\b)?"
)


def _note_facts(patient_id: str, notes: Sequence[_Note], nlp: Language) -> list[Fact]:
    docs = pipe_isolating(nlp, [make_doc(nlp, note.text) for note in notes])
    facts: list[Fact] = []
    for note, doc in zip(notes, docs, strict=True):
        if isinstance(doc, Exception):
            raise AdapterError(
                f"note {note.id!r} could not be processed ({type(doc).__name__})",
                id=patient_id,
                code="processing_failed",
            ) from doc
        for ent in to_entities(doc):
            facts.extend(_entity_facts(ent, note))
    return facts


def from_notes(patient_id: str, notes: Sequence[Mapping[str, Any]], *, nlp: Language) -> list[Fact]:
    """Facts from notes `{"id"?, "date"?, "text"}`: every concept eligo finds, with its
    assertion flags, value and unit, dated by the note, sourced to the note id and span.

    Raises:
        AdapterError: a note is malformed (no text, bad date, repeated id) or fails to process.
    """
    return _note_facts(patient_id, _note_items(patient_id, notes), nlp)


# --- FHIR R4 -------------------------------------------------------------------------------


def _codes(concept: object) -> list[Code]:
    """Codes of a CodeableConcept; systems named as eligo names them."""
    if not isinstance(concept, Mapping):
        return []
    codes = []
    for coding in concept.get("coding") or []:
        if not isinstance(coding, Mapping) or not coding.get("code"):
            continue
        uri = str(coding.get("system") or "")
        codes.append(
            Code(
                system=FHIR_SYSTEMS.get(uri.rstrip("/"), uri or "unknown"),
                code=str(coding["code"]),
                display=str(coding.get("display") or concept.get("text") or ""),
            )
        )
    return codes


def _text(concept: object) -> str:
    """What a CodeableConcept says in words: its text, else its first coding's display."""
    if not isinstance(concept, Mapping):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"]:
        return strip_semantic_tag(concept["text"])
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("display"):
            return strip_semantic_tag(str(coding["display"]))
    return ""


def _status(concept: object) -> str | None:
    """The first code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    for code in _codes(concept):
        return code.code
    return None


def _period(resource: Mapping[str, Any], prefix: str, where: str) -> tuple[str | None, str | None]:
    """Start and end of `<prefix>DateTime` / `<prefix>Period` / `<prefix>Instant`."""
    period = resource.get(f"{prefix}Period")
    if isinstance(period, Mapping):
        return (
            _iso_date(period.get("start"), f"{where} {prefix}Period.start"),
            _iso_date(period.get("end"), f"{where} {prefix}Period.end"),
        )
    for suffix in ("DateTime", "Instant", "Date"):
        if f"{prefix}{suffix}" in resource:
            return _iso_date(resource[f"{prefix}{suffix}"], f"{where} {prefix}{suffix}"), None
    return None, None


def _draft(
    kind: FactKind,
    concept: object,
    resource: Mapping[str, Any],
    *,
    text: str | None = None,
    **fields: Any,
) -> _Draft:
    codes = _codes(concept)
    display = text if text is not None else _text(concept)
    fact = Fact(
        kind=kind,
        text=display,
        codes=codes,
        source=FactSource(
            kind="fhir", id=str(resource.get("id") or "") or None, resource=resource["resourceType"]
        ),
        **fields,
    )
    return _Draft(fact, [_Lookup(codes, _text(concept), KIND_LABELS[kind])])


# Condition.clinicalStatus: active / recurrence / relapse are current; the rest are not.
_CONDITION_ACTIVE = {"active": True, "recurrence": True, "relapse": True}
_CONDITION_INACTIVE = {"inactive", "remission", "resolved"}


def _onset(resource: Mapping[str, Any], where: str) -> str | None:
    """Onset (dateTime or Period start), else the date it was recorded."""
    onset, _ = _period(resource, "onset", where)
    if onset is None:
        onset = _iso_date(resource.get("recordedDate"), f"{where} recordedDate")
    return onset


def _condition(resource: Mapping[str, Any], where: str) -> list[_Draft]:
    verification = _status(resource.get("verificationStatus"))
    if verification == "entered-in-error":
        return []
    clinical = _status(resource.get("clinicalStatus"))
    onset = _onset(resource, where)
    abatement_start, abatement_end = _period(resource, "abatement", where)
    end = abatement_end or abatement_start
    active: bool | None = _CONDITION_ACTIVE.get(clinical or "")
    if clinical in _CONDITION_INACTIVE or (clinical is None and end is not None):
        active = False
    return [
        _draft(
            "condition",
            resource.get("code"),
            resource,
            date=onset,
            end_date=end,
            active=active,
            # A refuted diagnosis is evidence of absence; a provisional or differential one is
            # not yet evidence of presence.
            negated=verification == "refuted",
            uncertain=verification in ("unconfirmed", "provisional", "differential"),
        )
    ]


def _allergy(resource: Mapping[str, Any], where: str) -> list[_Draft]:
    verification = _status(resource.get("verificationStatus"))
    if verification == "entered-in-error":
        return []
    clinical = _status(resource.get("clinicalStatus"))
    onset = _onset(resource, where)
    text = _text(resource.get("code"))
    if text and "allerg" not in text.lower():
        text = f"Allergy to {text}"  # "Penicillin V" as an allergy is not the drug itself
    draft = _draft(
        "condition",
        resource.get("code"),
        resource,
        text=text,
        date=onset,
        active={"active": True, "inactive": False, "resolved": False}.get(clinical or ""),
        negated=verification == "refuted",
        uncertain=verification == "unconfirmed",
    )
    draft.lookups[0].text = text
    return [draft]


# Medication statuses -> (active, negated, hypothetical); None: the resource is dropped.
_MED_STATUS: dict[str, dict[str, tuple[bool | None, bool, bool] | None]] = {
    "MedicationRequest": {
        "active": (True, False, False),
        "on-hold": (None, False, False),
        "completed": (False, False, False),
        "stopped": (False, False, False),
        # A cancelled or draft order may never have been taken: it is not a prior use.
        "cancelled": None,
        "draft": None,
        "entered-in-error": None,
    },
    "MedicationStatement": {
        "active": (True, False, False),
        "on-hold": (None, False, False),
        "completed": (False, False, False),
        "stopped": (False, False, False),
        "intended": (None, False, True),  # planned, not taken yet
        "not-taken": (None, True, False),  # the patient did not take it
        "entered-in-error": None,
    },
    "MedicationAdministration": {
        "in-progress": (True, False, False),
        "completed": (False, False, False),
        "stopped": (False, False, False),
        "on-hold": (None, False, False),
        "not-done": (None, True, False),
        "entered-in-error": None,
    },
}


def _medication(
    resource: Mapping[str, Any], where: str, index: Mapping[str, Mapping[str, Any]]
) -> list[_Draft]:
    kind = resource["resourceType"]
    status = str(resource.get("status") or "unknown")
    flags = _MED_STATUS[kind].get(status, (None, False, False))
    if flags is None:
        return []
    active, negated, hypothetical = flags
    concept = resource.get("medicationCodeableConcept")
    if concept is None and isinstance(resource.get("medicationReference"), Mapping):
        reference = str(resource["medicationReference"].get("reference") or "")
        medication = index.get(reference) or _contained(resource, reference)
        if medication is None:
            raise AdapterError(
                f"{where}: medicationReference {reference[:60]!r} is not in the bundle",
                code="invalid_bundle",
            )
        concept = medication.get("code")
    if kind == "MedicationRequest":
        start = _iso_date(resource.get("authoredOn"), f"{where} authoredOn")
        end = None
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod")
        if isinstance(validity, Mapping):
            start = start or _iso_date(validity.get("start"), f"{where} validityPeriod.start")
            end = _iso_date(validity.get("end"), f"{where} validityPeriod.end")
    else:
        start, end = _period(resource, "effective", where)
        if start is None and kind == "MedicationStatement":
            start = _iso_date(resource.get("dateAsserted"), f"{where} dateAsserted")
    return [
        _draft(
            "drug",
            concept,
            resource,
            date=start,
            end_date=end,
            active=active,
            negated=negated,
            hypothetical=hypothetical,
        )
    ]


def _contained(resource: Mapping[str, Any], reference: str) -> Mapping[str, Any] | None:
    if not reference.startswith("#"):
        return None
    for inner in resource.get("contained") or []:
        if isinstance(inner, Mapping) and inner.get("id") == reference[1:]:
            return inner
    return None


def _quantity(quantity: object) -> tuple[float | None, str | None]:
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        return None, None
    value = quantity["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(f"valueQuantity.value {str(value)[:20]!r} is not a number")
    # The UCUM code is the canonical unit; `unit` is the human-readable form.
    unit = quantity.get("code") if quantity.get("system") == "http://unitsofmeasure.org" else None
    return float(value), str(unit or quantity.get("unit") or "") or None


def _reference_range(ranges: object) -> tuple[float | None, float | None]:
    """The normal range (LLN, ULN) of a result: the first referenceRange that is untyped
    or typed "normal" (others are e.g. therapeutic or age-specific recommended ranges)."""
    if not isinstance(ranges, list):
        return None, None
    for item in ranges:
        if not isinstance(item, Mapping):
            continue
        kind = _status(item.get("type"))
        if kind not in (None, "normal"):
            continue
        return _quantity(item.get("low"))[0], _quantity(item.get("high"))[0]
    return None, None


def _observation(resource: Mapping[str, Any], where: str) -> list[_Draft]:
    if resource.get("status") in ("entered-in-error", "cancelled"):
        return []
    when, _ = _period(resource, "effective", where)
    if when is None:
        when = _iso_date(resource.get("issued"), f"{where} issued")
    name = _text(resource.get("code"))
    drafts: list[_Draft] = []
    try:
        for part in resource.get("component") or []:
            if isinstance(part, Mapping):
                drafts.extend(_observation_value(resource, part, when, parent=resource))
        if not drafts or any(k.startswith("value") for k in resource):
            drafts.extend(_observation_value(resource, resource, when, parent=None))
    except AdapterError as err:
        raise AdapterError(f"{where} ({name}): {err}", code="invalid_bundle") from err
    return drafts


def _observation_value(
    resource: Mapping[str, Any],
    part: Mapping[str, Any],
    when: str | None,
    *,
    parent: Mapping[str, Any] | None,
) -> list[_Draft]:
    """One fact for an Observation's value (or one component's)."""
    concept = part.get("code")
    name = _text(concept)
    extra = _codes(parent.get("code")) if parent is not None else []
    if "valueQuantity" in part:
        value, unit = _quantity(part["valueQuantity"])
        if value is None:
            return []
        low, high = _reference_range(part.get("referenceRange"))
        draft = _draft(
            "measurement",
            concept,
            resource,
            date=when,
            value=value,
            unit=unit,
            reference_low=low,
            reference_high=high,
        )
    elif isinstance(part.get("valueInteger"), int) and not isinstance(part["valueInteger"], bool):
        draft = _draft(
            "measurement", concept, resource, date=when, value=float(part["valueInteger"])
        )
    elif "valueCodeableConcept" in part:
        # "Tobacco smoking status: Former smoker": the meaning is in the value, which is
        # coded (SNOMED) and looked up as a condition ("Former smoker" -> Z87.891).
        answer = part["valueCodeableConcept"]
        draft = _draft("observation", concept, resource, text=f"{name}: {_text(answer)}", date=when)
        value_codes = _codes(answer)
        draft.fact.codes.extend(value_codes)
        draft.lookups = [_Lookup(value_codes, _text(answer), KIND_LABELS["observation"])]
    elif isinstance(part.get("valueString"), str):
        answer_text = part["valueString"]
        draft = _draft("observation", concept, resource, text=f"{name}: {answer_text}", date=when)
        draft.lookups = [_Lookup([], answer_text, KIND_LABELS["observation"])]
    elif isinstance(part.get("valueBoolean"), bool):
        draft = _draft(
            "observation", concept, resource, text=name, date=when, negated=not part["valueBoolean"]
        )
        draft.lookups = []
    else:
        return []
    for code in extra:  # a component also carries its panel's code (BP 85354-9)
        if code not in draft.fact.codes:
            draft.fact.codes.append(code)
    return [draft]


def _procedure(resource: Mapping[str, Any], where: str) -> list[_Draft]:
    status = resource.get("status")
    if status == "entered-in-error":
        return []
    start, end = _period(resource, "performed", where)
    return [
        _draft(
            "procedure",
            resource.get("code"),
            resource,
            date=start,
            end_date=end,
            active=True if status == "in-progress" else None,
            negated=status == "not-done",
            hypothetical=status == "preparation",
        )
    ]


def _immunization(resource: Mapping[str, Any], where: str) -> list[_Draft]:
    status = resource.get("status")
    if status == "entered-in-error":
        return []
    when = _iso_date(resource.get("occurrenceDateTime"), f"{where} occurrenceDateTime")
    # A vaccine is a drug for eligibility ("live vaccine within 30 days").
    return [
        _draft(
            "drug",
            resource.get("vaccineCode"),
            resource,
            date=when,
            active=False,
            negated=status == "not-done",
        )
    ]


def _device(resource: Mapping[str, Any], where: str) -> list[_Draft]:
    status = resource.get("status")
    if status == "entered-in-error":
        return []
    return [
        _draft(
            "device",
            resource.get("type"),
            resource,
            active={"active": True, "inactive": False}.get(str(status)),
        )
    ]


def _attachment_text(attachment: object, where: str) -> str | None:
    """The text of a base64 text/plain attachment; None for other content (PDF, URL only)."""
    if not isinstance(attachment, Mapping) or "data" not in attachment:
        return None
    content_type = str(attachment.get("contentType") or "text/plain").lower()
    if not content_type.startswith("text/plain"):
        return None
    try:
        raw = base64.b64decode(str(attachment["data"]), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError) as err:
        raise AdapterError(
            f"{where}: attachment data is not base64-encoded UTF-8 text", code="invalid_note"
        ) from err


def _document_notes(resource: Mapping[str, Any], where: str) -> list[_Note]:
    kind = resource["resourceType"]
    if resource.get("status") == "entered-in-error":
        return []
    if kind == "DocumentReference":
        when = _iso_date(resource.get("date"), f"{where} date")
        if when is None:
            period = (resource.get("context") or {}).get("period") or {}
            when = _iso_date(period.get("start"), f"{where} context.period.start")
        attachments = [
            c.get("attachment") for c in resource.get("content") or [] if isinstance(c, Mapping)
        ]
    else:  # DiagnosticReport.presentedForm
        when, _ = _period(resource, "effective", where)
        attachments = list(resource.get("presentedForm") or [])
    texts = [t for a in attachments if (t := _attachment_text(a, where)) is not None]
    base = str(resource.get("id") or where)
    return [
        _Note(base if len(texts) == 1 else f"{base}#{i}", when, text)
        for i, text in enumerate(texts, 1)
    ]


_SEX = {"male": "male", "female": "female"}


def from_fhir(bundle: Mapping[str, Any], *, nlp: Language) -> PatientFacts:
    """Facts from one patient's FHIR R4 Bundle (Patient, Condition, MedicationRequest/
    Statement/Administration, Observation, Procedure, Immunization, AllergyIntolerance,
    Device; DocumentReference and DiagnosticReport text/plain attachments as notes).

    Raises:
        AdapterError: not a Bundle, no single Patient, a bad date, undecodable note text.
    """
    return _from_fhir(bundle, nlp=nlp)


def _from_fhir(bundle: object, *, nlp: Language, where: str = "bundle") -> PatientFacts:
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, Mapping) else type(bundle).__name__
        raise AdapterError(
            f"{where}: expected a FHIR Bundle, got {str(found)[:40]!r}", code="invalid_bundle"
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise AdapterError(f"{where}: Bundle.entry is not a list", code="invalid_bundle")
    resources: list[Mapping[str, Any]] = []
    index: dict[str, Mapping[str, Any]] = {}
    for n, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
            raise AdapterError(
                f"{where}: entry {n} has no resource with a resourceType", code="invalid_bundle"
            )
        resources.append(resource)
        if isinstance(entry.get("fullUrl"), str):
            index[entry["fullUrl"]] = resource
        if resource.get("id"):
            index[f"{resource['resourceType']}/{resource['id']}"] = resource
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    if len(patients) != 1:
        raise AdapterError(
            f"{where}: expected one Patient resource, found {len(patients)}",
            code="invalid_bundle",
        )
    patient = patients[0]
    patient_id = str(patient.get("id") or "") or where
    try:
        birth = _iso_date(patient.get("birthDate"), "Patient.birthDate")
        drafts: list[_Draft] = []
        notes: list[_Note] = []
        reports: list[_Note] = []
        for n, resource in enumerate(resources):
            kind = resource["resourceType"]
            at = f"{kind}/{resource.get('id') or n}"
            if kind == "Condition":
                drafts.extend(_condition(resource, at))
            elif kind == "AllergyIntolerance":
                drafts.extend(_allergy(resource, at))
            elif kind in _MED_STATUS:
                drafts.extend(_medication(resource, at, index))
            elif kind == "Observation":
                drafts.extend(_observation(resource, at))
            elif kind == "Procedure":
                drafts.extend(_procedure(resource, at))
            elif kind == "Immunization":
                drafts.extend(_immunization(resource, at))
            elif kind == "Device":
                drafts.extend(_device(resource, at))
            elif kind == "DocumentReference":
                notes.extend(_document_notes(resource, at))
            elif kind == "DiagnosticReport":
                reports.extend(_document_notes(resource, at))
        # Synthea writes each note twice, as a DocumentReference and as the DiagnosticReport
        # it points to: a report's text already in a DocumentReference is not a second note.
        # (Two DocumentReferences with the same text, on different dates, stay two notes.)
        texts = {note.text for note in notes}
        ids = {note.id for note in notes}
        for note in reports:
            if note.text not in texts:
                if note.id in ids:  # resource ids are unique per type only
                    note.id = f"DiagnosticReport/{note.id}"
                notes.append(note)
        facts = _coder(nlp).finish(drafts)
        facts.extend(_note_facts(patient_id, notes, nlp))
    except AdapterError as err:
        err.id = err.id or patient_id
        raise
    gender = patient.get("gender")
    return PatientFacts(
        id=patient_id,
        birth_date=birth,
        sex=_SEX.get(str(gender)),  # type: ignore[arg-type]
        facts=facts,
        notes={note.id: note.text for note in notes},
    )


# --- JSONL chart records -------------------------------------------------------------------


def _sex(value: object, patient_id: str) -> Literal["male", "female"] | None:
    if value is None or value == "":
        return None
    sex = {"male": "male", "m": "male", "female": "female", "f": "female"}.get(
        str(value).strip().lower()
    )
    if sex is None:
        raise AdapterError(
            f"sex {str(value)[:20]!r} is not one of male, female (or M, F)", id=patient_id
        )
    return sex  # type: ignore[return-value]


def from_record(record: Mapping[str, Any], *, nlp: Language) -> PatientFacts:
    """Facts from a chart record `{"id", "birth_date"?, "sex"?, "notes": [...], "fhir"?}`.

    The record's id, birth date and sex win over the bundle's Patient; notes from both
    are kept (ids must not collide).

    Raises:
        AdapterError: no id, a bad field, a bad note or a bad bundle.
    """
    if not isinstance(record, Mapping):
        raise AdapterError(f"a chart record must be an object, got {type(record).__name__}")
    patient_id = record.get("id")
    if not isinstance(patient_id, str | int) or isinstance(patient_id, bool) or patient_id == "":
        raise AdapterError(
            "chart record has no id (a non-empty string under 'id')", code="invalid_id"
        )
    patient_id = str(patient_id)
    unknown = set(record) - {"id", "birth_date", "sex", "notes", "fhir"}
    if unknown:
        raise AdapterError(
            f"unknown field(s) {', '.join(sorted(unknown))}; "
            "valid: id, birth_date, sex, notes, fhir",
            id=patient_id,
        )
    try:
        birth = _iso_date(record.get("birth_date"), "birth_date")
    except AdapterError as err:
        err.id = patient_id
        raise
    sex = _sex(record.get("sex"), patient_id)
    notes = _note_items(patient_id, record.get("notes", []))
    facts = _note_facts(patient_id, notes, nlp)
    texts = {note.id: note.text for note in notes}
    if record.get("fhir") is not None:
        try:
            chart = _from_fhir(record["fhir"], nlp=nlp, where="fhir")
        except AdapterError as err:
            err.id = patient_id
            raise
        clash = set(texts) & set(chart.notes)
        if clash:
            raise AdapterError(
                f"note id {sorted(clash)[0]!r} is in both notes and the FHIR bundle",
                id=patient_id,
                code="invalid_note",
            )
        facts.extend(chart.facts)
        texts.update(chart.notes)
        birth = birth or chart.birth_date
        sex = sex or chart.sex
    return PatientFacts(id=patient_id, birth_date=birth, sex=sex, facts=facts, notes=texts)


def read_chart_jsonl(path: str | Path, *, nlp: Language) -> Iterator[PatientFacts | AdapterError]:
    """One result per non-blank line of a JSONL file of chart records.

    A line without a usable id is named "<file>:<line>" in its error.

    Raises:
        ChartSourceError: the file cannot be opened.
    """
    path = Path(path)
    try:
        handle = path.open("rb")  # decoded line by line: one bad line is one error
    except OSError as err:
        raise ChartSourceError(f"cannot read chart file {path}: {err.strerror}") from err
    with handle:
        for lineno, raw in enumerate(handle, 1):
            where = f"{path.name}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield AdapterError("line is not UTF-8 text", id=where, code="invalid_encoding")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                yield AdapterError(f"invalid JSON: {err.msg}", id=where, code="invalid_json")
                continue
            yield _guarded(functools.partial(from_record, record, nlp=nlp), where)


def _guarded(build: Callable[[], PatientFacts], where: str) -> PatientFacts | AdapterError:
    """Run one record's adapter; any failure becomes that record's AdapterError."""
    try:
        return build()
    except AdapterError as err:
        err.id = err.id or where
        return err
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        # pydantic validation and malformed nesting: the record, not the run, is at fault
        return AdapterError(f"{type(err).__name__}: {str(err)[:200]}", id=where)


def read_fhir_folder(path: str | Path, *, nlp: Language) -> Iterator[PatientFacts | AdapterError]:
    """One result per `*.json` FHIR Bundle in a folder (sorted by name; one patient each).

    Raises:
        ChartSourceError: the folder does not exist.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ChartSourceError(f"FHIR folder {folder} does not exist or is not a folder")
    for file in sorted(folder.glob("*.json")):
        try:
            bundle = json.loads(file.read_bytes())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            yield AdapterError(
                f"cannot read {file.name} as JSON: {type(err).__name__}",
                id=file.name,
                code="invalid_json",
            )
            continue
        yield _guarded(functools.partial(_from_fhir, bundle, nlp=nlp, where=file.name), file.name)


# --- OMOP CDM in DuckDB --------------------------------------------------------------------

# table -> (fact kind, row id column, concept id, start date, end date, source value)
_OMOP_TABLES: dict[str, tuple[FactKind, str, str, str, str | None, str]] = {
    "condition_occurrence": (
        "condition",
        "condition_occurrence_id",
        "condition_concept_id",
        "condition_start_date",
        "condition_end_date",
        "condition_source_value",
    ),
    "drug_exposure": (
        "drug",
        "drug_exposure_id",
        "drug_concept_id",
        "drug_exposure_start_date",
        "drug_exposure_end_date",
        "drug_source_value",
    ),
    "measurement": (
        "measurement",
        "measurement_id",
        "measurement_concept_id",
        "measurement_date",
        None,
        "measurement_source_value",
    ),
    "procedure_occurrence": (
        "procedure",
        "procedure_occurrence_id",
        "procedure_concept_id",
        "procedure_date",
        None,
        "procedure_source_value",
    ),
    "observation": (
        "observation",
        "observation_id",
        "observation_concept_id",
        "observation_date",
        None,
        "observation_source_value",
    ),
    "device_exposure": (
        "device",
        "device_exposure_id",
        "device_concept_id",
        "device_exposure_start_date",
        "device_exposure_end_date",
        "device_source_value",
    ),
}
_VALUE_COLUMNS = [
    "range_low",
    "range_high",
    "value_as_number",
    "value_as_concept_id",
    "unit_concept_id",
    "unit_source_value",
    "operator_concept_id",
    "value_as_string",
]
# OMOP "Meas Value Operator" concepts; only "=" (or none) makes value_as_number a measured value.
_OMOP_EQUALS = {None, 0, 4172703}


def read_omop(
    duckdb_path: str | Path, *, nlp: Language, batch: int = 500
) -> Iterator[PatientFacts | AdapterError]:
    """One result per `person` row of an OMOP CDM database in DuckDB, in person_id order.

    Reads condition_occurrence, drug_exposure, measurement, procedure_occurrence,
    observation, device_exposure and note where present; concept (when present) gives
    names, vocabularies and codes, otherwise a fact carries the OMOP concept id (system
    "OMOP") and the row's source value.

    Raises:
        ChartSourceError: the file is missing, not a DuckDB database, or has no person table.
    """
    import duckdb

    path = Path(duckdb_path)
    if not path.is_file():
        raise ChartSourceError(f"OMOP database {path} does not exist")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise ChartSourceError(f"cannot open {path} as a DuckDB database: {err}") from err
    try:
        columns: dict[str, set[str]] = {}
        for table, column in con.execute(
            "SELECT lower(table_name), lower(column_name) FROM information_schema.columns"
        ).fetchall():
            columns.setdefault(table, set()).add(column)
        if "person_id" not in columns.get("person", set()):
            raise ChartSourceError(
                f"{path} has no OMOP person table (with person_id); tables: "
                f"{', '.join(sorted(columns)) or 'none'}"
            )
        ids = [
            row[0]
            for row in con.execute("SELECT person_id FROM person ORDER BY person_id").fetchall()
        ]
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            yield from _omop_chunk(con, columns, chunk, nlp)
    finally:
        con.close()


def _select(
    con: Any, table: str, columns: set[str], wanted: Sequence[str], ids: Sequence[Any]
) -> list[dict[str, Any]]:
    """Rows of `table` for the persons in `ids`; absent columns come back as None."""
    present = [c for c in wanted if c in columns]
    sql = (
        f"SELECT {', '.join(present)} FROM {table} "  # names come from fixed lists above
        f"WHERE person_id IN (SELECT unnest(?)) ORDER BY person_id"
    )
    rows = con.execute(sql, [list(ids)]).fetchall()
    return [dict.fromkeys(wanted) | dict(zip(present, row, strict=True)) for row in rows]


def _omop_chunk(
    con: Any, columns: dict[str, set[str]], ids: Sequence[Any], nlp: Language
) -> Iterator[PatientFacts | AdapterError]:
    persons = _select(
        con,
        "person",
        columns["person"],
        [
            "person_id",
            "gender_concept_id",
            "year_of_birth",
            "month_of_birth",
            "day_of_birth",
            "birth_datetime",
        ],
        ids,
    )
    rows: dict[Any, list[tuple[str, dict[str, Any]]]] = {pid: [] for pid in ids}
    concept_ids: set[int] = set()
    for table, (_, row_id, concept, start, end, source) in _OMOP_TABLES.items():
        if "person_id" not in columns.get(table, set()):
            continue
        wanted = ["person_id", row_id, concept, start, source]
        if end:
            wanted.append(end)
        if table in ("measurement", "observation"):
            wanted += _VALUE_COLUMNS
        if table == "drug_exposure":
            wanted += ["stop_reason"]
        for row in _select(con, table, columns[table], wanted, ids):
            rows[row["person_id"]].append((table, row))
            for key in (concept, "unit_concept_id", "value_as_concept_id"):
                if isinstance(row.get(key), int) and row[key]:
                    concept_ids.add(row[key])
    notes_by_person: dict[Any, list[dict[str, Any]]] = {pid: [] for pid in ids}
    if "person_id" in columns.get("note", set()):
        for row in _select(
            con, "note", columns["note"], ["person_id", "note_id", "note_date", "note_text"], ids
        ):
            notes_by_person[row["person_id"]].append(row)
    concepts = _concepts(con, columns, concept_ids)
    for person in persons:
        pid = person["person_id"]
        build = functools.partial(
            _omop_person, person, rows[pid], notes_by_person[pid], concepts, nlp
        )
        yield _guarded(build, str(pid))


def _concepts(con: Any, columns: dict[str, set[str]], ids: set[int]) -> dict[int, Code]:
    needed = {"concept_id", "concept_name", "vocabulary_id", "concept_code"}
    if not ids or not needed <= columns.get("concept", set()):
        return {}
    rows = con.execute(
        "SELECT concept_id, concept_name, vocabulary_id, concept_code FROM concept "
        "WHERE concept_id IN (SELECT unnest(?))",
        [sorted(ids)],
    ).fetchall()
    return {
        cid: Code(system=OMOP_VOCABULARIES.get(vocab, vocab), code=str(code), display=name or "")
        for cid, name, vocab, code in rows
    }


def _omop_person(
    person: Mapping[str, Any],
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    notes: Sequence[Mapping[str, Any]],
    concepts: Mapping[int, Code],
    nlp: Language,
) -> PatientFacts:
    pid = str(person["person_id"])
    birth = _iso_date(person.get("birth_datetime"), "person.birth_datetime")
    if birth is None and person.get("year_of_birth"):
        # OMOP keeps the birth date in parts; a missing month/day means the first.
        birth = date(
            int(person["year_of_birth"]),
            int(person.get("month_of_birth") or 1),
            int(person.get("day_of_birth") or 1),
        ).isoformat()
    drafts: list[_Draft] = []
    for table, row in rows:
        kind, row_id, concept_col, start_col, end_col, source_col = _OMOP_TABLES[table]
        where = f"{table}/{row[row_id]}"
        concept_id = row.get(concept_col)
        code = concepts.get(concept_id) if isinstance(concept_id, int) else None
        codes: list[Code] = []
        if code is not None:
            codes.append(code)
        elif concept_id:  # 0 is OMOP's "no matching concept"
            codes.append(Code(system="OMOP", code=str(concept_id), display=""))
        source_value = str(row.get(source_col) or "")
        text = (
            strip_semantic_tag(code.display) if code is not None and code.display else source_value
        )
        end = _iso_date(row.get(end_col), f"{where} {end_col}") if end_col else None
        lookup_text = strip_semantic_tag(code.display) if code is not None else source_value
        lookups = [_Lookup(list(codes), lookup_text, KIND_LABELS[kind])]
        fields: dict[str, Any] = {}
        if table in ("measurement", "observation"):
            answer = concepts.get(row.get("value_as_concept_id") or 0)
            if row.get("value_as_number") is not None:
                # "< 0.5" (operator_concept_id) is a bound, not a measured value
                if row.get("operator_concept_id") in _OMOP_EQUALS:
                    unit = concepts.get(row.get("unit_concept_id") or 0)
                    fields["value"] = float(row["value_as_number"])
                    for column, name in (
                        ("range_low", "reference_low"),
                        ("range_high", "reference_high"),
                    ):
                        if row.get(column) is not None:
                            fields[name] = float(row[column])
                    fields["unit"] = (unit.code if unit is not None else None) or row.get(
                        "unit_source_value"
                    )
            elif answer is not None:
                # a coded answer ("Former smoker") carries the meaning, as in FHIR
                kind = "observation"
                text = f"{text}: {answer.display}"
                codes.append(answer)
                lookups = [_Lookup([answer], strip_semantic_tag(answer.display), KIND_LABELS[kind])]
            elif row.get("value_as_string"):
                kind = "observation"
                text = f"{text}: {row['value_as_string']}"
                lookups = [_Lookup([], str(row["value_as_string"]), KIND_LABELS[kind])]
        if table == "drug_exposure" and row.get("stop_reason"):
            # OMOP has no status; the end date (compared with the index date by evaluation)
            # says whether a drug is current, and a stop reason says it was stopped.
            fields["active"] = False
        fact = Fact(
            kind=kind,
            text=text,
            codes=codes,
            date=_iso_date(row.get(start_col), f"{where} {start_col}"),
            end_date=end,
            source=FactSource(kind="omop", id=str(row[row_id]), resource=table),
            **fields,
        )
        drafts.append(_Draft(fact, lookups))
    facts = _coder(nlp).finish(drafts)
    note_items = _note_items(
        pid,
        [
            {"id": str(n["note_id"]), "date": n.get("note_date"), "text": n.get("note_text") or ""}
            for n in notes
        ],
    )
    facts.extend(_note_facts(pid, note_items, nlp))
    return PatientFacts(
        id=pid,
        birth_date=birth,
        sex=OMOP_GENDER.get(person.get("gender_concept_id") or 0),  # type: ignore[arg-type]
        facts=facts,
        notes={note.id: note.text for note in note_items},
    )


__all__ = [
    "AdapterError",
    "ChartSourceError",
    "ConceptCoder",
    "crosswalk",
    "from_fhir",
    "from_notes",
    "from_record",
    "read_chart_jsonl",
    "read_fhir_folder",
    "read_omop",
    "strip_semantic_tag",
]
