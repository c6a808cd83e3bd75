"""Criteria concept extraction: domains, spans, codes and negation on criteria written here."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest
from spacy.language import Language

from eligo.criteria import entities as ent_mod
from eligo.criteria.entities import (
    DOMAINS,
    EntityTableError,
    criterion_entities,
    pipeline_entities,
    tables,
)
from eligo.criteria.types import CriterionEntity
from tests.conftest import REPO, needs_shared

CRITERIA = [
    "No history of myocardial infarction or stroke within 6 months.",
    "ECOG performance status of 0 or 1.",
    "Life expectancy of at least 12 weeks.",
    "Patients with a cardiac pacemaker or an implantable cardioverter defibrillator.",
    "Prior chemotherapy for metastatic breast cancer is allowed.",
    "Total bilirubin <= 1.5 x ULN and serum creatinine < 1.5 mg/dL.",
    "Current use of warfarin or other anticoagulants.",
    "Known hypersensitivity to penicillin.",
    "Type 2 diabetes mellitus with HbA1c between 7.0% and 10.5%.",
    "Does not have active tuberculosis.",
    "Patients on hemodialysis.",
]


@pytest.fixture(scope="module")
def found(nlp: Language) -> list[list[CriterionEntity]]:
    return criterion_entities(nlp, CRITERIA)


def by_text(ents: list[CriterionEntity]) -> dict[str, CriterionEntity]:
    return {e.text.lower(): e for e in ents}


def test_one_list_per_text_and_offsets_index_the_text(
    found: list[list[CriterionEntity]],
) -> None:
    assert len(found) == len(CRITERIA)
    for text, ents in zip(CRITERIA, found, strict=True):
        assert ents, text
        for e in ents:
            assert text[e.start : e.end] == e.text
            assert e.domain in DOMAINS
            # The parser attaches these; concept extraction leaves them empty.
            assert e.value is None and e.window is None and e.timing is None
            assert not e.qualifiers
        starts = [(e.start, e.end) for e in ents]
        assert starts == sorted(starts)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(starts)), "no overlapping spans"


def test_conditions_are_coded_and_negated(found: list[list[CriterionEntity]]) -> None:
    ents = by_text(found[0])
    mi, stroke = ents["myocardial infarction"], ents["stroke"]
    assert mi.domain == stroke.domain == "condition"
    assert mi.negated and stroke.negated  # "No history of ... or ..."
    assert any(c.system.startswith("ICD-10") and c.code.startswith("I21") for c in mi.codes)
    tb = by_text(found[9])["tuberculosis"]
    assert tb.negated  # "Does not have"


def test_affirmed_mentions_are_not_negated(found: list[list[CriterionEntity]]) -> None:
    for e in found[6] + found[7]:
        assert not e.negated, e.text


def test_performance_status_is_one_measurement(found: list[list[CriterionEntity]]) -> None:
    [ecog] = found[1]
    assert (ecog.text, ecog.domain) == ("ECOG performance status", "measurement")


def test_life_expectancy_is_an_observation_from_the_patterns(
    found: list[list[CriterionEntity]],
) -> None:
    [life] = found[2]
    assert (life.text, life.domain, life.source) == ("Life expectancy", "observation", "pattern")


def test_devices(found: list[list[CriterionEntity]]) -> None:
    ents = by_text(found[3])
    assert ents["cardiac pacemaker"].domain == "device"
    assert ents["implantable cardioverter defibrillator"].domain == "device"


def test_prior_chemotherapy_is_a_procedure(found: list[list[CriterionEntity]]) -> None:
    ents = by_text(found[4])
    assert ents["chemotherapy"].domain == "procedure"
    assert ents["breast cancer"].domain == "condition"


def test_lab_names_keep_their_specimen_and_modifier(found: list[list[CriterionEntity]]) -> None:
    ents = by_text(found[5])
    assert ents["total bilirubin"].domain == "measurement"
    assert ents["serum creatinine"].domain == "measurement"
    assert all(e.codes for e in found[5])


def test_drugs_and_classes(found: list[list[CriterionEntity]]) -> None:
    ents = by_text(found[6])
    assert ents["warfarin"].domain == "drug" and ents["warfarin"].codes
    assert ents["anticoagulants"].domain == "drug"
    assert by_text(found[7])["penicillin"].domain == "drug"


def test_condition_and_measurement_in_one_criterion(found: list[list[CriterionEntity]]) -> None:
    ents = by_text(found[8])
    assert ents["type 2 diabetes mellitus"].domain == "condition"
    assert ents["hba1c"].domain == "measurement"


def test_empty_inputs(nlp: Language) -> None:
    assert criterion_entities(nlp, []) == []
    assert criterion_entities(nlp, ["", "   "]) == [[], []]


def test_pipeline_entities_maps_labels_without_criteria_changes(nlp: Language) -> None:
    [raw] = pipeline_entities(nlp, ["Life expectancy of at least 12 weeks."])
    assert all(e.domain != "observation" for e in raw)  # the tables add observations


def test_lexicon_only_pipeline_works() -> None:
    import eligo.nlp

    lexicon_nlp = eligo.nlp.load(model=None)
    [ents] = criterion_entities(lexicon_nlp, ["Known hypersensitivity to penicillin."])
    assert {e.text: e.domain for e in ents}["penicillin"] == "drug"


def test_every_table_row_loads(nlp: Language) -> None:
    tabs = tables(nlp)
    assert tabs.terms and tabs.relabel and tabs.extend
    assert set(tabs.terms.values()) <= DOMAINS
    assert {d for d in tabs.relabel.values() if d is not None} <= DOMAINS
    assert {d for _, _, d in tabs.extend | tabs.trim} <= DOMAINS


class _Fake:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_bytes(self) -> bytes:
        return self.data


def test_bad_domain_in_a_table_names_the_valid_ones(
    nlp: Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(*parts: str) -> _Fake:
        if parts[-1] == "curated.tsv":
            return _Fake(b"term\tdomain\nlife expectancy\tprognosis\n")
        return _Fake(b"header\n")

    monkeypatch.setattr(ent_mod, "resource", fake)
    with pytest.raises(EntityTableError, match=r"unknown domain 'prognosis'; valid: condition"):
        ent_mod._tables.__wrapped__(nlp)


def test_short_row_is_reported_with_its_line(
    nlp: Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ent_mod, "resource", lambda *parts: _Fake(b"h\na\tb\tc\nonly\n"))
    with pytest.raises(EntityTableError, match=r"terms.tsv line 3: expected 3"):
        ent_mod._tables.__wrapped__(nlp)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vaccine(s", "vaccine"),
        ("TDF)", "TDF"),
        ("(DNR) status", "(DNR) status"),
        ("carboplatin-", "carboplatin"),
        ("enzyme [", "enzyme"),
        ("-", ""),
    ],
)
def test_span_cleanup(text: str, expected: str) -> None:
    start, end = ent_mod._clean(text, 0, len(text))
    assert text[start:end] == expected


# --- the Chia evaluation, on a few trials ---------------------------------------------------


def _eval_chia() -> ModuleType:
    path = REPO / "benchmarks" / "eval_chia.py"
    spec = importlib.util.spec_from_file_location("eval_chia", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_chia"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_chia_eval_smoke(nlp: Language) -> None:
    data: Path = needs_shared("chia").parent
    m = _eval_chia()
    trials, files = m.load_dev(data, limit=3)
    assert len(trials) == 3 and files
    lines = [line for f in files for line in f.lines]
    for line in lines:
        for g in line.gold:  # gold offsets are relative to the criterion
            if len(g.frags) == 1:
                assert line.text[g.extent[0] : g.extent[1]] == g.text
    errors: list[str] = []
    counts = m.score(lines, criterion_entities(nlp, [x.text for x in lines]), errors)
    tp_p, n_p, tp_g, n_g = (sum(counts["overlap"][d][i] for d in m.MAIN) for i in range(4))
    assert n_g > 0 and n_p > 0
    p, r, f1 = m.prf(tp_p, n_p, tp_g, n_g)
    assert f1 > 0.5, (p, r, f1)
    exact = sum(counts["exact"][d][0] for d in m.MAIN)
    assert exact <= tp_p  # an exact match is also an overlap match
