"""The JSON shape of a coded adverse-event report (`AeReport`), shared by the CLI, API and batch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from eligo.nlp.types import Code, Provenance

Criterion = Literal[
    "death",
    "life_threatening",
    "hospitalization",
    "disability",
    "congenital_anomaly",
    "other_medically_important",
]
Role = Literal["suspect", "concomitant", "treatment"]
Outcome = Literal[
    "recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"
]
Action = Literal[
    "withdrawn", "dose_reduced", "dose_increased", "interrupted", "unchanged", "not_applicable"
]
Relatedness = Literal[
    "related",
    "definitely_related",
    "probably_related",
    "possibly_related",
    "unlikely_related",
    "not_related",
]
MatchKind = Literal["exact", "synonym", "consumer", "lab", "fuzzy", "semantic"]


class Candidate(BaseModel):
    """One CTCAE term proposed for a mention; `code` is its MedDRA code."""

    term: str
    code: str
    score: float
    match: MatchKind


class MeddraCoding(BaseModel):
    """The mention coded in a licensed MedDRA release: LLT with its hierarchy (primary SOC)."""

    version: str
    llt_code: str
    llt_name: str
    pt_code: str
    pt_name: str
    hlt_code: str | None = None
    hlt_name: str | None = None
    hlgt_code: str | None = None
    hlgt_name: str | None = None
    soc_code: str | None = None
    soc_name: str | None = None


class AeEvent(BaseModel):
    """An adverse-event mention. `coded` is false for negated, hypothetical, family and
    historical mentions: they are listed with their flags and candidates, but carry no
    CTCAE term or MedDRA code and are not events of the report."""

    start: int
    end: int
    text: str
    coded: bool
    ctcae_term: str | None
    meddra_code: str | None
    soc: str | None
    specified: str | None = Field(
        default=None,
        description='the condition a "<SOC> - Other, specify" term stands for (CTCAE asks for '
        'it): "Tendon rupture"',
    )
    grade: int | None = Field(default=None, description="stated CTCAE grade, or from a lab value")
    grade_source: Literal["stated", "lab"] | None = None
    severity: str | None = Field(default=None, description="severity word as written: mild ...")
    negated: bool = False
    hypothetical: bool = False
    historical: bool = False
    family: bool = False
    uncertain: bool = False
    value: str | None = Field(default=None, description="lab value as written, for lab events")
    candidates: list[Candidate] = Field(default_factory=list)
    meddra: MeddraCoding | None = None


class Seriousness(BaseModel):
    """One ICH E2A seriousness criterion with the words that support it."""

    criterion: Criterion
    evidence: str
    start: int
    end: int


class AeDrug(BaseModel):
    text: str
    start: int
    end: int
    codes: list[Code] = Field(default_factory=list)
    role: Role


class Evidence(BaseModel):
    """A value read from the text with the words it came from."""

    value: str
    evidence: str
    start: int
    end: int


class AeReport(BaseModel):
    """A coded adverse-event narrative (see README "eligo ae code")."""

    id: str | None = None
    events: list[AeEvent] = Field(default_factory=list)
    serious: bool = False
    seriousness: list[Seriousness] = Field(default_factory=list)
    drugs: list[AeDrug] = Field(default_factory=list)
    outcome: Outcome = "unknown"
    action_taken: Action | None = None
    onset: str | None = None
    relatedness: Relatedness | None = None
    evidence: dict[str, Evidence] = Field(
        default_factory=dict, description="words behind outcome, action_taken, onset, relatedness"
    )
    provenance: Provenance | None = None


def json_schema() -> dict[str, object]:
    """The published JSON Schema of `AeReport` (`corpora/ae/ae_report.schema.json`)."""
    return AeReport.model_json_schema()
