"""The assembled pipeline on whole synthetic notes, and its save/load round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.language import Language

import eligo.nlp
from eligo.nlp.pipeline import PIPELINE, shipped_model
from eligo.nlp.resources import read_text
from eligo.nlp.types import Entity


def find(entities: list[Entity], text: str, section: str | None = None) -> Entity:
    hits = [
        e
        for e in entities
        if e.text.lower() == text.lower() and (section is None or e.section == section)
    ]
    assert hits, f"{text!r} not found in {[(e.text, e.section) for e in entities]}"
    return hits[0]


def test_pipeline_components(nlp: Language) -> None:
    with_model = [name for name in PIPELINE]
    without = [name for name in PIPELINE if name != "eligo_ner"]
    assert nlp.pipe_names == (with_model if shipped_model() else without)
    assert eligo.nlp.load() is nlp  # cached: loaded once per process
    assert eligo.nlp.load(model=None).pipe_names == without  # lexicon-only


def test_clinic_note_end_to_end(nlp: Language) -> None:
    text = read_text("examples", "notes", "clinic_visit.txt")
    entities = eligo.nlp.to_entities(nlp(text))
    for e in entities:
        assert text[e.start : e.end] == e.text

    pain = find(entities, "chest pain", "history_of_present_illness")
    assert pain.negated and not pain.hypothetical
    assert find(entities, "HTN").label == "condition"
    assert {"ICD-10-CM", "HPO"} <= {c.system for c in find(entities, "HTN").codes}
    assert find(entities, "Hyperlipidemia", "past_medical_history").historical
    cancer = find(entities, "breast cancer", "family_history")
    assert cancer.family and not cancer.negated
    assert find(entities, "fever", "review_of_systems").negated
    assert find(entities, "headaches", "review_of_systems").negated is False

    bp = find(entities, "BP", "vital_signs")
    assert bp.label == "measurement" and bp.value is not None
    assert (bp.value.systolic, bp.value.diastolic, bp.value.unit) == (142, 90, "mm[Hg]")
    a1c = find(entities, "HbA1c", "labs_and_studies")
    assert a1c.value is not None and (a1c.value.value, a1c.value.unit) == (8.2, "%")
    creatinine = find(entities, "Creatinine", "labs_and_studies")
    assert creatinine.value is not None and creatinine.value.unit == "mg/dL"

    plan = [e for e in entities if e.section == "assessment_and_plan"]
    assert find(plan, "empagliflozin").hypothetical  # "If HbA1c remains above 8%, consider"
    assert find(plan, "dizziness").hypothetical  # "Return if she develops ..."
    assert find(plan, "renal artery stenosis").uncertain  # "R/o": uncertain, not negated
    assert not find(plan, "renal artery stenosis").negated
    assert find(plan, "metformin").label == "drug"


def test_oncology_note_end_to_end(nlp: Language) -> None:
    text = read_text("examples", "notes", "oncology_followup.txt")
    entities = eligo.nlp.to_entities(nlp(text))
    assert find(entities, "diarrhea").negated
    assert find(entities, "nausea").negated is False
    platelets = find(entities, "platelets")
    assert platelets.value is not None and platelets.value.value == 65000
    assert find(entities, "pleural effusion").uncertain  # "Possible small left pleural effusion"
    assert find(entities, "colon cancer").family  # "brother died of colon cancer"
    assert find(entities, "Penicillin").label == "drug"


def test_saved_pipeline_round_trips(nlp: Language, tmp_path: Path) -> None:
    text = "Denies chest pain. Hx of HTN. Mother had breast cancer. HbA1c 8.2%."
    nlp.to_disk(tmp_path / "eligo")
    reloaded = spacy.load(tmp_path / "eligo")  # factories found through entry points
    assert reloaded.pipe_names == nlp.pipe_names
    before = eligo.nlp.to_entities(nlp(text))
    after = eligo.nlp.to_entities(reloaded(text))
    assert after == before and len(before) == 4


def test_runtime_imports_no_torch() -> None:
    """The runtime needs neither torch nor transformers (they live in the `train` extra)."""
    import subprocess
    import sys

    code = (
        "import sys, eligo.nlp; eligo.nlp.load()('No fever.'); "
        "heavy = sorted({'torch', 'transformers'} & set(sys.modules)); "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_model_adverse_event_is_reported_as_written_and_coded_by_the_lexicon(
    nlp: Language,
) -> None:
    if not shipped_model():
        pytest.skip("no NER model shipped")
    text = "Fatal intracranial hemorrhage occurred on warfarin."
    bleed = eligo.nlp.to_entities(nlp(text))[0]
    assert (bleed.text, bleed.label, bleed.source) == (
        "Fatal intracranial hemorrhage",
        "adverse_event",
        "both",
    )
    assert {c.display for c in bleed.codes if c.system == "CTCAE"} == {"Intracranial hemorrhage"}
    # ConText reads the concept, so a cue inside the model's reading still applies
    seizures = eligo.nlp.to_entities(
        nlp("Maternal seizures were reported after the lamotrigine dose was raised.")
    )[0]
    assert seizures.text == "Maternal seizures" and seizures.family
