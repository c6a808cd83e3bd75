"""Shared loaders for benchmark and evaluation scripts (corpora are read in place)."""

from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
ACI = SHARED / "clinical_notes" / "aci-bench" / "challenge_data"


def aci_notes(folder: Path = ACI) -> list[str]:
    """The ACI-Bench visit notes (`note` column of every split; metadata files skipped)."""
    csv.field_size_limit(1 << 30)
    files = sorted(p for p in folder.glob("*.csv") if "metadata" not in p.name)
    if not files:
        raise SystemExit(f"no ACI-Bench CSV files under {folder}; pass --data")
    notes = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            notes.extend(row["note"] for row in csv.DictReader(f))
    return notes
