"""Concept matching between criterion nodes and patient facts (synthetic terms)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from spacy.language import Language

from eligo.criteria.match import (
    ConceptMatcher,
    Crosswalk,
    code_keys,
    codes_match,
    concept_text,
    normalize_system,
)
from eligo.criteria.types import ConceptNode, Fact, FactSource, MeasurementNode, MedicationNode
from eligo.criteria.types import ValueConstraint as VC
from eligo.nlp.types import Code

SRC = FactSource(kind="fhir", id="r1")


def code(system: str, value: str) -> Code:
    return Code(system=system, code=value, display=value)


def fact(text: str, kind: Any = "condition", codes: list[Code] | None = None) -> Fact:
    return Fact(kind=kind, text=text, codes=codes or [], source=SRC)


def cond(text: str, codes: list[Code] | None = None) -> ConceptNode:
    return ConceptNode(domain="condition", text=text, codes=codes or [])


@pytest.fixture(scope="module")
def plain() -> ConceptMatcher:
    return ConceptMatcher(lexicon=False, semantic=False, crosswalk=Crosswalk())


@pytest.fixture(scope="module")
def lexical() -> ConceptMatcher:
    import eligo.nlp

    nlp: Language = eligo.nlp.load(model=None)
    return ConceptMatcher(nlp=nlp, semantic=False, crosswalk=Crosswalk())


def test_systems_and_icd_hierarchy() -> None:
    assert normalize_system("http://snomed.info/sct") == "SNOMED"
    assert normalize_system("ICD10CM") == "ICD-10-CM"
    e11 = code_keys([code("ICD-10-CM", "E11")])
    assert codes_match(e11, code_keys([code("http://hl7.org/fhir/sid/icd-10-cm", "E11.9")]))
    assert not codes_match(code_keys([code("ICD-10-CM", "E11.9")]), e11)  # never upwards
    assert not codes_match(e11, code_keys([code("ICD-10-CM", "E10.9")]))
    diabetes = code_keys([code("ICD-10-CM", "E08-E13")])
    assert codes_match(diabetes, code_keys([code("ICD-10-CM", "E11.65")]))
    assert not codes_match(diabetes, code_keys([code("ICD-10-CM", "E14")]))
    assert not codes_match(code_keys([code("LOINC", "E11")]), e11)  # systems must agree


def test_code_route(plain: ConceptMatcher) -> None:
    node = cond("type 2 diabetes", [code("ICD-10-CM", "E11")])
    assert plain.match(node, fact("DM2", codes=[code("ICD10CM", "E11.9")])) == "code"
    assert plain.match(node, fact("T1DM", codes=[code("ICD-10-CM", "E10.9")])) is None


def test_kinds_must_be_compatible(plain: ConceptMatcher) -> None:
    node = MedicationNode(text="insulin")
    assert plain.match(node, fact("insulin", kind="drug")) == "text"
    assert plain.match(node, fact("insulin", kind="measurement")) is None
    lab = MeasurementNode(text="glucose", constraint=VC(comparator="<", value=200))
    assert plain.match(lab, fact("glucose", kind="measurement")) == "text"
    assert plain.match(lab, fact("glucose", kind="drug")) is None


def test_text_containment_is_one_way(plain: ConceptMatcher) -> None:
    assert plain.match(cond("history of stroke"), fact("ischemic strokes")) == "text"
    assert plain.match(cond("type 1 diabetes"), fact("diabetes")) is None
    assert plain.match(cond("diabetes"), fact("Type 1 diabetes (disorder)")) == "text"
    assert concept_text("Known history of heart failure") == "heart failure"
    assert concept_text("Hypertension (disorder)") == "Hypertension"


def test_crosswalk_route() -> None:
    walk = Crosswalk([(("SNOMED", "44054006"), ("ICD-10-CM", "E119"))])
    matcher = ConceptMatcher(lexicon=False, semantic=False, crosswalk=walk)
    node = cond("type 2 diabetes", [code("ICD-10-CM", "E11")])
    chart = fact("Diabetes mellitus type 2", codes=[code("http://snomed.info/sct", "44054006")])
    assert matcher.match(node, chart) == "crosswalk"
    assert len(Crosswalk.shipped()) >= 0  # reads corpora/crosswalk when it ships


def test_lexicon_route_codes_both_texts(lexical: ConceptMatcher) -> None:
    metformin = MedicationNode(text="metformin", codes=[code("DrugBank", "DB00331")])
    tablet = fact(
        "Metformin hydrochloride 500 MG Oral Tablet", kind="drug", codes=[code("RxNorm", "1")]
    )
    assert lexical.match(metformin, tablet) == "lexicon"
    # "Keytruda" and "pembrolizumab" share no word; the drug lexicon codes both DB09037
    pembro = MedicationNode(text="pembrolizumab")
    assert lexical.match(pembro, fact("Keytruda", kind="drug")) == "lexicon"
    # lexicon codes differ (E10 vs E11): not the same concept
    assert lexical.match(cond("type 1 diabetes"), fact("type 2 diabetes mellitus")) is None


def test_semantic_route_only_where_codes_cannot_compare() -> None:
    matcher = ConceptMatcher(crosswalk=Crosswalk(), semantic_threshold=0.5)
    sim = matcher.similarity("heart attack", "myocardial infarction")
    assert sim > matcher.similarity("heart attack", "broken ankle")
    # both sides coded in ICD-10-CM and different: embeddings are not consulted
    assert matcher.match(cond("type 1 diabetes"), fact("type 2 diabetes mellitus")) is None
    no_codes = ConceptMatcher(lexicon=False, crosswalk=Crosswalk(), semantic_threshold=0.5)
    assert no_codes.match(cond("heart attack"), fact("myocardial infarction")) == "semantic"


def test_pair_cache_makes_repeat_matches_fast(plain: ConceptMatcher) -> None:
    node = cond("stroke", [code("ICD-10-CM", "I63")])
    facts = [fact(f"finding {i % 50}", codes=[code("SNOMED", str(i % 50))]) for i in range(20000)]
    start = time.perf_counter()
    hits = sum(plain.match(node, f) is not None for f in facts)
    assert hits == 0
    assert time.perf_counter() - start < 2.0


def test_fact_ids_are_unique_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    matcher = ConceptMatcher(lexicon=False, semantic=False, crosswalk=Crosswalk())
    facts = [fact(f"finding {i}") for i in range(2000)]
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: matcher.fact_ids(facts), range(4)))
    assert all(run == runs[0] for run in runs)
    assert sorted(runs[0]) == list(range(2000))
    node = cond("finding 7")
    hits = [i for i, how in enumerate(matcher.matches(node, runs[0])) if how]
    assert hits == [7]
