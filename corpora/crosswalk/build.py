"""Build corpora/crosswalk/crosswalk.tsv: chart codes (SNOMED CT, RxNorm, LOINC, CVX) ->
eligo's codes (ICD-10-CM, HPO, UMLS, CTCAE/MedDRA, DrugBank, MeSH, LOINC, eligo slugs).

    python -m eligo.corpora.crosswalk.build [--synthea DIR] [--out FILE] [--check]

Every distinct (system, code, display) of the Synthea sample (`DIR/csv/*.csv` and the
FHIR bundles in `DIR/fhir/`) is coded the way the chart adapters code a display at run
time (semantic tag stripped, eligo's lexicon-only pipeline, the lexicon labels allowed for
the fact kind, negated/uncertain/hypothetical/family mentions dropped), then `review.tsv`
(written by hand, each line with its reason) drops wrong targets and adds missing ones.
ICD-10-CM targets are checked against `simple-icd-10-cm` and DrugBank targets against the
drugs lexicon (the `build` extra). Rows are sorted, so a rebuild is byte-identical.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eligo.criteria.adapters import (
    FHIR_SYSTEMS,
    KIND_LABELS,
    RXNORM,
    SNOMED,
    ConceptCoder,
    strip_semantic_tag,
)
from eligo.nlp.resources import read_tsv
from eligo.nlp.types import Code

HERE = Path(__file__).resolve().parent
HEADER = ("source_system", "source_code", "source_display", "system", "code", "display", "via")
DEFAULT_SYNTHEA = Path("../shared/data/synthea")
# Synthea CSV -> (code system, fact kind), as the FHIR adapter reads the same resources.
CSV_FILES = {
    "conditions.csv": (SNOMED, "condition"),
    "allergies.csv": (SNOMED, "condition"),
    "medications.csv": (RXNORM, "drug"),
    "procedures.csv": (SNOMED, "procedure"),
    "immunizations.csv": ("CVX", "drug"),
    "devices.csv": (SNOMED, "device"),
}


class CrosswalkBuildError(ValueError):
    """A review line is malformed or names a code that does not exist."""


@dataclass(frozen=True)
class Source:
    system: str
    code: str
    display: str
    kind: str
    lookup: str  # the text the adapter codes with the lexicon


def _allergy_text(text: str) -> str:
    return text if "allerg" in text.lower() else f"Allergy to {text}"


def synthea_codes(root: Path) -> dict[tuple[str, str], Source]:
    """Distinct codes of the Synthea sample; a FHIR display wins over the CSV's (the CSV
    writes commas as double spaces)."""
    found: dict[tuple[str, str], Source] = {}
    for bundle_path in sorted((root / "fhir").glob("*.json")):
        bundle = json.loads(bundle_path.read_bytes())
        for entry in bundle.get("entry", []):
            for source in _fhir_sources(entry["resource"]):
                found.setdefault((source.system, source.code), source)
    for name, (system, kind) in CSV_FILES.items():
        with (root / "csv" / name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                code, display = row["CODE"], row["DESCRIPTION"].replace("  ", ", ")
                text = strip_semantic_tag(display)
                lookup = _allergy_text(text) if name == "allergies.csv" else text
                found.setdefault((system, code), Source(system, code, display, kind, lookup))
    return found


def _fhir_sources(resource: Mapping[str, Any]) -> Iterator[Source]:
    kinds = {
        "Condition": ("code", "condition"),
        "AllergyIntolerance": ("code", "condition"),
        "MedicationRequest": ("medicationCodeableConcept", "drug"),
        "MedicationAdministration": ("medicationCodeableConcept", "drug"),
        "Medication": ("code", "drug"),
        "Procedure": ("code", "procedure"),
        "Immunization": ("vaccineCode", "drug"),
        "Device": ("type", "device"),
    }
    rtype = resource["resourceType"]
    if rtype in kinds:
        field, kind = kinds[rtype]
        yield from _codings(resource.get(field), kind, allergy=rtype == "AllergyIntolerance")
    elif rtype == "Observation":
        for part in [resource, *resource.get("component", [])]:
            if "valueQuantity" in part:
                yield from _codings(part.get("code"), "measurement")
            if "valueCodeableConcept" in part:
                yield from _codings(part["valueCodeableConcept"], "observation")


def _codings(concept: Any, kind: str, *, allergy: bool = False) -> Iterator[Source]:
    for coding in (concept or {}).get("coding", []):
        system = FHIR_SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
        display = coding.get("display", "")
        text = strip_semantic_tag(display)
        yield Source(
            system, coding["code"], display, kind, _allergy_text(text) if allergy else text
        )


@dataclass(frozen=True)
class Review:
    action: str  # drop | add | none
    target: Code | None
    reason: str


def read_review(path: Path) -> dict[tuple[str, str], list[Review]]:
    """review.tsv: source_system source_code action system code display reason."""
    reviews: dict[tuple[str, str], list[Review]] = defaultdict(list)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if lineno == 1 or not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise CrosswalkBuildError(
                f"{path.name} line {lineno}: expected 7 fields, got {len(fields)}"
            )
        source_system, source_code, action, system, code, display, reason = fields
        if action not in ("drop", "add", "none"):
            raise CrosswalkBuildError(
                f"{path.name} line {lineno}: action {action!r} is not one of drop, add, none"
            )
        if not reason:
            raise CrosswalkBuildError(f"{path.name} line {lineno}: a review line needs a reason")
        target = Code(system=system, code=code, display=display) if code else None
        if action in ("drop", "add") and target is None:
            raise CrosswalkBuildError(f"{path.name} line {lineno}: {action} needs a target code")
        reviews[(source_system, source_code)].append(Review(action, target, reason))
    return reviews


def _check_targets(codes: set[Code]) -> None:
    """ICD-10-CM codes must exist in ICD-10-CM; DrugBank ids in eligo's drugs lexicon."""
    import simple_icd_10_cm as icd

    drugbank = {row[4] for row in read_tsv("lexicons", "drugs.tsv.gz") if row[3] == "DrugBank"}
    for code in codes:
        if code.system == "ICD-10-CM" and not (
            icd.is_valid_item(code.code) or _is_block(code.code)
        ):
            raise CrosswalkBuildError(f"ICD-10-CM code {code.code!r} does not exist")
        if code.system == "DrugBank" and code.code not in drugbank:
            raise CrosswalkBuildError(f"DrugBank id {code.code!r} is not in the drugs lexicon")


def _is_block(code: str) -> bool:
    """A chapter block such as E08-E13 (the curated lexicon's untyped diabetes)."""
    import simple_icd_10_cm as icd

    return "-" in code and icd.is_valid_item(code)


def build(synthea: Path, review_path: Path) -> tuple[str, dict[str, dict[str, int]]]:
    """The crosswalk TSV text and coverage counts per source system."""
    import eligo.nlp

    sources = synthea_codes(synthea)
    reviews = read_review(review_path)
    unknown = set(reviews) - set(sources)
    if unknown:
        raise CrosswalkBuildError(
            f"review.tsv names codes not in the sample: {sorted(unknown)[:5]}"
        )
    coder = ConceptCoder(eligo.nlp.load(model=None))
    coder.lexicon_codes(s.lookup for s in sources.values())
    rows: list[tuple[str, ...]] = []
    coverage: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    targets_all: set[Code] = set()
    for key, source in sorted(sources.items()):
        found: list[tuple[Code, str]] = []
        for label, codes in coder.cached(source.lookup):
            if label in KIND_LABELS[source.kind]:
                found.extend((c, "lexicon") for c in codes if (c, "lexicon") not in found)
        for review in reviews.get(key, []):
            if review.action == "drop":
                assert review.target is not None
                before = len(found)
                found = [(c, via) for c, via in found if c.code != review.target.code]
                if len(found) == before:
                    raise CrosswalkBuildError(
                        f"review drops {review.target.code} from {key}, which the lexicon "
                        "does not give (stale review line)"
                    )
            elif review.action == "add":
                assert review.target is not None
                found.append((review.target, "review"))
        targets_all.update(c for c, _ in found)
        for group in (f"{source.system} ({source.kind})", f"{source.system} (all)"):
            stats = coverage[group]
            stats["codes"] += 1
            stats["mapped"] += bool(found)
            stats["lexicon"] += any(via == "lexicon" for _, via in found)
            stats["ICD-10-CM"] += any(c.system == "ICD-10-CM" for c, _ in found)
            stats["DrugBank"] += any(c.system == "DrugBank" for c, _ in found)
        reviewed = key in reviews
        if not found:
            rows.append((*key, source.display, "", "", "", "review" if reviewed else "lexicon"))
        for code, via in found:
            rows.append((*key, source.display, code.system, code.code, code.display, via))
    _check_targets(targets_all)
    out = io.StringIO()
    out.write("\t".join(HEADER) + "\n")
    for row in sorted(set(rows)):
        out.write("\t".join(row) + "\n")
    return out.getvalue(), {k: dict(v) for k, v in coverage.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eligo.corpora.crosswalk.build")
    parser.add_argument("--synthea", type=Path, default=DEFAULT_SYNTHEA)
    parser.add_argument("--review", type=Path, default=HERE / "review.tsv")
    parser.add_argument("--out", type=Path, default=HERE / "crosswalk.tsv")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text, coverage = build(args.synthea, args.review)
    print(
        "| source (kind) | distinct codes | lexicon alone | after review | ICD-10-CM | DrugBank |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, stats in sorted(coverage.items()):
        n = stats["codes"]
        print(
            f"| {name} | {n} | {stats['lexicon']} ({stats['lexicon'] / n:.0%}) | "
            f"{stats['mapped']} ({stats['mapped'] / n:.0%}) | "
            f"{stats['ICD-10-CM']} | {stats['DrugBank']} |"
        )
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: rebuild it", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
