"""Concept matching between criterion nodes and patient facts (synthetic terms)."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

import pytest
from spacy.language import Language

from eligo.criteria.evaluate import evaluate
from eligo.criteria.match import (
    ConceptMatcher,
    Crosswalk,
    DrugClasses,
    DrugClassTableError,
    class_key,
    code_keys,
    codes_match,
    concept_text,
    normalize_system,
)
from eligo.criteria.types import (
    ConceptNode,
    Criteria,
    Criterion,
    Fact,
    FactSource,
    MeasurementNode,
    MedicationNode,
    OrNode,
    PatientFacts,
)
from eligo.criteria.types import ValueConstraint as VC
from eligo.nlp.types import Code

SRC = FactSource(kind="fhir", id="r1")
INDEX = date(2026, 6, 15)


def code(system: str, value: str) -> Code:
    return Code(system=system, code=value, display=value)


def fact(text: str, kind: Any = "condition", codes: list[Code] | None = None) -> Fact:
    return Fact(kind=kind, text=text, codes=codes or [], source=SRC)


def cond(text: str, codes: list[Code] | None = None) -> ConceptNode:
    return ConceptNode(domain="condition", text=text, codes=codes or [])


@pytest.fixture(scope="module")
def plain() -> ConceptMatcher:
    """No tables at all: code and text matching only."""
    return ConceptMatcher(
        lexicon=False, semantic=False, crosswalk=Crosswalk(), drug_classes=DrugClasses()
    )


@pytest.fixture(scope="module")
def classes() -> ConceptMatcher:
    """Code, drug-class and text matching (the shipped class table, no lexicons)."""
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


# -- drug classes ------------------------------------------------------------------------------


def drug(text: str, display: str | None = None) -> Fact:
    codes = [Code(system="RxNorm", code="999", display=display)] if display else []
    return fact(text, kind="drug", codes=codes)


@pytest.mark.parametrize(
    ("criterion", "chart", "expected"),
    [
        ("ACE inhibitor", "Lisinopril 10 MG Oral Tablet", True),
        ("an ACE inhibitor", "Zestril", True),
        ("ACE inhibitors", "losartan potassium 50 MG Oral Tablet", False),
        ("ARB", "losartan potassium 50 MG Oral Tablet", True),
        ("RAAS inhibitors", "sacubitril 49 MG / valsartan 51 MG Oral Tablet [Entresto]", True),
        ("biologic DMARD", "Humira", True),
        ("biologic", "Humira", True),  # "prior biologic DMARD" may reach here as "biologic"
        ("biologics", "insulin glargine 100 UNT/ML Injectable Solution", False),
        ("biologics", "osimertinib 80 MG Oral Tablet", False),
        ("biologic DMARDs", "methotrexate 2.5 MG Oral Tablet", False),
        ("SNRI", "duloxetine 60 MG Delayed Release Oral Capsule", True),
        ("SSRI", "duloxetine 60 MG Delayed Release Oral Capsule", False),
        ("SSRIs", "sertraline 50 MG Oral Tablet", True),
        ("SSRI", "bupropion hydrochloride 150 MG Extended Release Oral Tablet", False),
        ("SNRI", "bupropion hydrochloride 150 MG Extended Release Oral Tablet", False),
        ("systemic corticosteroids", "predniSONE 20 MG Oral Tablet", True),
        ("systemic corticosteroids", "hydrocortisone 10 MG/ML Topical Cream", False),
        ("systemic corticosteroids", "fluticasone propionate 0.05 MG/ACTUAT Nasal Spray", False),
        ("inhaled corticosteroids", "budesonide 0.25 MG/ML Inhalation Suspension", True),
        ("inhaled corticosteroids", "budesonide 3 MG Delayed Release Oral Capsule", False),
        ("anticoagulants", "apixaban 5 MG Oral Tablet", True),
        ("DOAC", "apixaban 5 MG Oral Tablet", True),
        ("vitamin K antagonists", "apixaban 5 MG Oral Tablet", False),
        ("anticoagulants", "aspirin 81 MG Oral Tablet", False),
        ("antiplatelet agents", "aspirin 81 MG Oral Tablet", True),
        ("NSAIDs", "aspirin 81 MG Oral Tablet", False),  # ATC M01A excludes aspirin
        ("strong CYP3A4 inhibitors", "ketoconazole 200 MG Oral Tablet", True),
        ("strong CYP3A4 inhibitors", "ketoconazole 20 MG/ML Medicated Shampoo", False),
        ("strong CYP3A4 inducers", "rifampin 300 MG Oral Capsule", True),
        ("checkpoint inhibitors", "pembrolizumab 25 MG/ML Injectable Solution", True),
        ("anti-PD-1", "Keytruda", True),
        ("anti-PD-L1", "pembrolizumab", False),
        ("anti-CTLA-4", "ipilimumab", True),
        ("statin therapy", "atorvastatin 40 MG Oral Tablet", True),
        ("statins", "ezetimibe 10 MG Oral Tablet", False),
        # whole words only: cortisone is a member, hydrocortisone cream must not become it
        ("systemic corticosteroids", "hydrocortisone 20 MG Oral Tablet", True),
    ],
)
def test_class_node_matches_member_facts(
    classes: ConceptMatcher, criterion: str, chart: str, expected: bool
) -> None:
    node = MedicationNode(text=criterion)
    assert classes.drug_class(node) is not None
    assert classes.match(node, drug(chart)) == ("crosswalk" if expected else None)


def test_class_member_found_in_code_display(classes: ConceptMatcher) -> None:
    # a chart row whose own text is opaque; the RxNorm display names the product
    node = MedicationNode(text="prior biologic DMARD")
    humira = drug("study medication", "adalimumab 40 MG/0.4 ML Prefilled Syringe [Humira]")
    other = drug("study medication", "lisinopril 10 MG Oral Tablet")
    assert classes.match(node, humira) == "crosswalk"
    # same text and code, another display: the pair cache must tell them apart
    assert classes.match(node, other) is None
    ids = classes.fact_ids([humira, other, humira])
    assert classes.matches(node, ids) == ["crosswalk", None, "crosswalk"]


def test_drug_concept_node_names_a_class_too(classes: ConceptMatcher) -> None:
    node = ConceptNode(domain="drug", text="anticoagulants")
    assert classes.match(node, drug("Eliquis 5 MG Oral Tablet")) == "crosswalk"
    # a condition node with a class-like text is not a drug class
    assert classes.drug_class(ConceptNode(domain="condition", text="anticoagulants")) is None


def test_class_wording_variants() -> None:
    table = DrugClasses.shipped()
    for text, name in [
        ("an ACE inhibitor", "ACE inhibitors"),
        ("ACEi", "ACE inhibitors"),
        ("any SSRIs", "SSRIs"),
        ("concomitant anticoagulant therapy", "anticoagulants"),
        ("Current use of strong CYP3A4 inhibitors", "strong CYP3A4 inhibitors"),
        ("TNF-alpha inhibitors", "TNF inhibitors"),
        ("beta-blockers", "beta blockers"),
        ("checkpoint inhibitors", "immune checkpoint inhibitors"),
        ("ICS", "inhaled corticosteroids"),
        ("prior biologic therapy", "biologic agents"),
    ]:
        found = table.lookup(text)
        assert found is not None and found.name == name, text
    # single drugs and words that are not classes stay ordinary nodes
    for text in ("metformin", "aspirin", "heparin", "chemotherapy", "lithium", "DMARD-free"):
        assert table.lookup(text) is None, text
    assert class_key("SSRIs") == class_key("SSRI") == "ssri"
    assert class_key("EGFR-TKIs") == class_key("EGFR TKI") == "egfr tki"
    assert class_key("metastasis") == "metastasis"


def test_ordinary_drug_nodes_behave_as_before(plain: ConceptMatcher) -> None:
    """A node naming one drug gives what the matcher without the class table gives."""
    with_classes = ConceptMatcher(lexicon=False, semantic=False, crosswalk=Crosswalk())
    charts = [
        drug("Metformin hydrochloride 500 MG Oral Tablet", "metformin 500 MG Oral Tablet"),
        drug("lisinopril 10 MG Oral Tablet"),
        drug("aspirin 81 MG Oral Tablet"),
        drug("warfarin sodium 5 MG Oral Tablet [Coumadin]"),
        drug("Humira"),
    ]
    for text in ("metformin", "lisinopril", "aspirin", "warfarin", "adalimumab", "heparin"):
        node = MedicationNode(text=text)
        assert with_classes.drug_class(node) is None
        for chart in charts:
            assert with_classes.match(node, chart) == plain.match(node, chart), (text, chart.text)


def test_class_nodes_skip_the_semantic_step(lexical: ConceptMatcher) -> None:
    # lexicon codes of "SSRI" (a class slug) and "duloxetine" (DrugBank) share no system,
    # so without the table the embeddings would be asked; the table says no
    semantic = ConceptMatcher(nlp=lexical._nlp, crosswalk=Crosswalk(), semantic_threshold=0.0)
    node = MedicationNode(text="SSRI")
    assert semantic.match(node, drug("duloxetine 30 MG Oral Capsule")) is None
    assert semantic.match(node, drug("fluoxetine 20 MG Oral Capsule")) == "crosswalk"
    assert semantic.similarities == []
    assert lexical.match(node, drug("duloxetine 30 MG Oral Capsule")) is None


# -- the table itself ---------------------------------------------------------------------------

# Classes whose members must not overlap: a drug listed under both would be mis-screened.
EXCLUSIVE = [
    ("SSRIs", "SNRIs", "tricyclic antidepressants", "MAO inhibitors"),
    ("ACE inhibitors", "angiotensin receptor blockers",
     "angiotensin receptor-neprilysin inhibitors"),
    ("beta blockers", "calcium channel blockers"),
    ("loop diuretics", "thiazide diuretics", "mineralocorticoid receptor antagonists"),
    ("vitamin K antagonists", "direct oral anticoagulants", "low molecular weight heparins"),
    ("typical antipsychotics", "atypical antipsychotics"),
    ("anti-PD-1 antibodies", "anti-PD-L1 antibodies", "anti-CTLA-4 antibodies"),
    ("strong CYP3A4 inhibitors", "strong CYP3A4 inducers"),
    ("SGLT2 inhibitors", "GLP-1 receptor agonists", "DPP-4 inhibitors", "sulfonylureas",
     "biguanides", "thiazolidinediones", "insulins"),
    ("proton pump inhibitors", "H2 receptor antagonists"),
    ("macrolides", "fluoroquinolones"),
    ("TNF inhibitors", "IL-6 inhibitors", "IL-17 inhibitors", "IL-12/23 inhibitors",
     "IL-23 inhibitors"),
    ("conventional synthetic DMARDs", "biologic DMARDs", "JAK inhibitors"),
    ("EGFR tyrosine kinase inhibitors", "anti-EGFR antibodies"),
    ("benzodiazepines", "opioids"),
    ("NSAIDs", "antiplatelet agents"),
    ("systemic corticosteroids", "inhaled corticosteroids"),
    ("anthracyclines", "platinum agents", "taxanes"),
]  # fmt: skip

# Union classes: every member of each part is a member of the whole.
UNIONS = {
    "RAAS inhibitors": ("ACE inhibitors", "angiotensin receptor blockers",
                        "angiotensin receptor-neprilysin inhibitors", "direct renin inhibitors"),
    "anticoagulants": ("vitamin K antagonists", "direct oral anticoagulants",
                       "low molecular weight heparins"),
    "oral anticoagulants": ("vitamin K antagonists", "direct oral anticoagulants"),
    "antiplatelet agents": ("P2Y12 inhibitors",),
    "diuretics": ("loop diuretics", "thiazide diuretics"),
    "antipsychotics": ("typical antipsychotics", "atypical antipsychotics"),
    "antidepressants": ("SSRIs", "SNRIs", "tricyclic antidepressants"),
    "biologic DMARDs": ("TNF inhibitors", "IL-6 inhibitors", "IL-17 inhibitors",
                        "IL-12/23 inhibitors", "IL-23 inhibitors"),
    "immune checkpoint inhibitors": ("anti-PD-1 antibodies", "anti-PD-L1 antibodies",
                                     "anti-CTLA-4 antibodies"),
    "PD-1/PD-L1 inhibitors": ("anti-PD-1 antibodies", "anti-PD-L1 antibodies"),
    "immunosuppressants": ("calcineurin inhibitors",),
    "EGFR inhibitors": ("EGFR tyrosine kinase inhibitors", "anti-EGFR antibodies"),
    "DMARDs": ("conventional synthetic DMARDs", "biologic DMARDs"),
    "biologic agents": ("biologic DMARDs", "anti-CD20 antibodies", "immune checkpoint inhibitors",
                        "anti-EGFR antibodies"),
    "oral antidiabetic agents": ("biguanides", "sulfonylureas", "DPP-4 inhibitors",
                                 "SGLT2 inhibitors", "thiazolidinediones"),
}  # fmt: skip

# What criteria name, each resolving to a class of the table.
REQUIRED = [
    "ACE inhibitor", "ARB", "RAAS blocker", "beta blocker", "calcium channel blocker",
    "loop diuretic", "thiazide diuretic", "MRA", "statin", "anticoagulant", "DOAC",
    "antiplatelet", "P2Y12 inhibitor", "NSAID", "PPI", "SGLT2 inhibitor", "GLP-1 RA",
    "DPP-4 inhibitor", "sulfonylurea", "insulin", "biguanide", "systemic corticosteroid",
    "inhaled corticosteroid", "LABA", "LAMA", "PDE4 inhibitor", "macrolide", "fluoroquinolone",
    "SSRI", "SNRI", "TCA", "MAOI", "antipsychotic", "typical antipsychotic",
    "atypical antipsychotic", "benzodiazepine", "opioid", "antiepileptic", "anticonvulsant",
    "csDMARD", "biologic DMARD", "TNF inhibitor", "IL-6 inhibitor", "IL-17 inhibitor",
    "IL-12/23 inhibitor", "JAK inhibitor", "immunosuppressant", "calcineurin inhibitor",
    "checkpoint inhibitor", "anti-PD-1", "anti-PD-L1", "anti-CTLA-4", "anthracycline",
    "platinum-based chemotherapy", "taxane", "EGFR TKI", "aromatase inhibitor",
    "bisphosphonate", "strong CYP3A4 inhibitor", "strong CYP3A4 inducer", "antiretroviral",
]  # fmt: skip


def test_table_rows_are_valid() -> None:
    from eligo.nlp.resources import read_tsv

    table = DrugClasses.shipped()
    rows = read_tsv("crosswalk", "drug_classes.tsv")
    assert len(table) == len(rows) >= 45
    for row in rows:
        assert len(row) == 3, row[:1]
        name, _synonyms, members = row
        assert name and members and name in table.classes
        for member in members.split("|"):
            assert member == member.lower().strip() and member, (name, member)
            # every member is found by its own name (no word lost to normalisation)
            assert table.member_in(table.classes[name], member) is not None, (name, member)
    for text in REQUIRED:
        assert table.lookup(text) is not None, text
    # the route rules in match.py name classes of the table
    from eligo.criteria.match import _INHALED_CLASSES, _SYSTEMIC_CLASSES

    assert set(table.classes) >= (_SYSTEMIC_CLASSES | _INHALED_CLASSES)


def test_exclusive_classes_share_no_member() -> None:
    table = DrugClasses.shipped()
    for group in EXCLUSIVE:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                shared = set(table.classes[a].members) & set(table.classes[b].members)
                assert not shared, (a, b, shared)


def test_union_classes_hold_their_parts() -> None:
    table = DrugClasses.shipped()
    for whole, parts in UNIONS.items():
        members = set(table.classes[whole].members)
        for part in parts:
            missing = set(table.classes[part].members) - members
            assert not missing, (whole, part, missing)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\tsynonyms\tmembers\n", "header"),
        ("class\tsynonyms\tmembers\nstatins\tstatin\n", "line 2: expected 3"),
        ("class\tsynonyms\tmembers\n# c\nstatins\tstatin\tAtorvastatin\n", "line 3: members"),
        ("class\tsynonyms\tmembers\nstatins\tstatin\tatorvastatin||simvastatin\n", "empty"),
        ("class\tsynonyms\tmembers\nstatins\tstatin\t\n", "no members"),
        (
            "class\tsynonyms\tmembers\nSSRIs\tSSRI\tsertraline\nSNRIs\tSSRI\tduloxetine\n",
            "line 3: 'SSRI' of 'SNRIs' is also a name of 'SSRIs' (line 2)",
        ),
        ("class\tsynonyms\tmembers\nx\t\ta|a\n", "listed twice"),
    ],
)
def test_table_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(DrugClassTableError, match=re.escape(message)):
        DrugClasses.from_text(text)
    assert issubclass(DrugClassTableError, ValueError)


# -- end to end through evaluate -------------------------------------------------------------

CURRENT = FactSource(kind="fhir", id="m1", resource="MedicationRequest")


def test_evaluate_screens_drug_classes(classes: ConceptMatcher) -> None:
    ace_or_arb = OrNode(
        children=[
            MedicationNode(
                text="ACE inhibitor",
                timing="current",
                codes=[Code(system="eligo", code="drug-class:ace-inhibitor", display="ACEi")],
            ),
            MedicationNode(
                text="ARB",
                timing="current",
                codes=[Code(system="eligo", code="drug-class:arb", display="ARBs")],
            ),
        ]
    )
    trial = Criteria(
        id="T-class",
        criteria=[
            Criterion(kind="inclusion", text="Prior SSRI", start=0, end=10,
                      rule=MedicationNode(text="SSRI", timing="prior")),
            Criterion(kind="exclusion", text="Current use of an ACE inhibitor or ARB",
                      start=11, end=49, rule=ace_or_arb),
        ],
    )  # fmt: skip

    def chart(*drugs: tuple[str, bool]) -> PatientFacts:
        facts = [
            Fact(kind="drug", text=text, date="2025-01-10", active=active, source=CURRENT)
            for text, active in drugs
        ]
        return PatientFacts(id="p", facts=facts)

    on_lisinopril = evaluate(
        trial,
        chart(("sertraline 50 MG Oral Tablet", False), ("Lisinopril 10 MG Oral Tablet", True)),
        index_date=INDEX,
        matcher=classes,
    )
    assert on_lisinopril.status == "excluded"
    ssri, acei = on_lisinopril.criteria
    assert ssri.verdict == "met" and ssri.evidence[0].matched_by == "crosswalk"
    assert acei.verdict == "met" and acei.evidence[0].matched_by == "crosswalk"

    # amlodipine is neither: the documented drug list rules the exclusion out
    on_amlodipine = evaluate(
        trial,
        chart(("sertraline 50 MG Oral Tablet", False), ("amlodipine 5 MG Oral Tablet", True)),
        index_date=INDEX,
        matcher=classes,
    )
    assert on_amlodipine.status == "eligible"
    assert on_amlodipine.criteria[1].verdict == "not_met"

    # duloxetine is an SNRI, not an SSRI: the inclusion stays open, never assumed
    on_duloxetine = evaluate(
        trial, chart(("duloxetine 60 MG Oral Capsule", True)), index_date=INDEX, matcher=classes
    )
    assert on_duloxetine.criteria[0].verdict == "unknown"
    assert on_duloxetine.status == "needs_review"


def test_malignancy_covers_every_malignant_neoplasm() -> None:
    from eligo.criteria.match import code_keys, codes_match

    node = code_keys([Code(system="ICD-10-CM", code="C80.1", display="Malignant neoplasm")])
    breast = code_keys([Code(system="ICD-10-CM", code="C50.911", display="Breast cancer")])
    lymphoma = code_keys([Code(system="ICD-10-CM", code="C85.90", display="Lymphoma")])
    benign = code_keys([Code(system="ICD-10-CM", code="D24.1", display="Benign breast")])
    assert codes_match(node, breast) and codes_match(node, lymphoma)
    assert not codes_match(node, benign)
