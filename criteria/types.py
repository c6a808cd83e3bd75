"""The typed shape of parsed eligibility criteria: criteria, entities, and rule trees.

A criterion's rule is a tree of typed nodes that `eligo.criteria.evaluate` can check against a
patient's facts. Every node serialises to JSON with a `type` discriminator and back without
loss. What the parser cannot structure stays in the tree as an `unstructured` node, so a
criterion is never silently dropped.

Semantics, stated once so the parser, the renderers and the evaluator agree:
- A rule describes the *criterion as written*: for an exclusion it describes what excludes
  ("history of stroke" -> concept stroke present). `met` on an exclusion means excluded.
- `ConceptNode.present=False` means the criterion asks for the concept's absence
  ("no history of stroke"); a `NotNode` negates any subtree.
- A `TimeWindow` bounds when the supporting fact happened, in days before the index date
  (screening date): "within 6 months" -> max_days_before=183; "at least 3 months ago" ->
  min_days_before=91. `None` bounds are open.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from eligo.nlp.types import Code, Comparator, Provenance

Kind = Literal["inclusion", "exclusion"]
Domain = Literal[
    "condition", "drug", "procedure", "measurement", "observation", "device", "demographic"
]
Timing = Literal["current", "prior", "ever"]
Sex = Literal["male", "female", "all"]


class Span(BaseModel):
    """Character offsets into the input text (`text[start:end]`)."""

    start: int
    end: int


class TimeWindow(BaseModel):
    """When a supporting fact must have happened, relative to the index date."""

    min_days_before: float | None = Field(
        default=None, description="the fact is at least this many days before the index date"
    )
    max_days_before: float | None = Field(
        default=None, description="the fact is at most this many days before the index date"
    )
    text: str = Field(default="", description="the temporal expression as written")
    start: int | None = None
    end: int | None = None


class ValueConstraint(BaseModel):
    """A comparison on a number: "HbA1c 7.0-10.5%", "ANC >= 1,500/uL", "<= 1.5 x ULN"."""

    comparator: Comparator | Literal["between"]
    value: float | None = Field(default=None, description="the bound for <, <=, >, >=, =")
    low: float | None = Field(default=None, description="range start (inclusive) for between")
    high: float | None = Field(default=None, description="range end (inclusive) for between")
    unit: str | None = Field(default=None, description="canonical (UCUM-like) unit")
    reference: Literal["ULN", "LLN"] | None = Field(
        default=None, description="the value is a multiple of the upper/lower limit of normal"
    )
    text: str = ""
    start: int | None = None
    end: int | None = None


class CriterionEntity(BaseModel):
    """A concept mention in a criterion, with its domain, codes and modifiers."""

    start: int
    end: int
    text: str
    domain: Domain
    codes: list[Code] = Field(default_factory=list)
    negated: bool = False
    qualifiers: list[str] = Field(
        default_factory=list, description='e.g. "active", "untreated", "stage IV", "severe"'
    )
    value: ValueConstraint | None = None
    window: TimeWindow | None = None
    timing: Timing | None = None
    source: Literal["lexicon", "model", "both", "pattern"] = "lexicon"


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # `type` is the discriminator: keep it even in `model_dump(exclude_defaults=True)`, or
    # the JSON could not be read back. (No return annotation: pydantic would then describe
    # the serialised shape by the annotation instead of the fields.)
    @model_serializer(mode="wrap")
    def _keep_type(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if isinstance(data, dict) and "type" not in data:
            data = {"type": getattr(self, "type"), **data}  # noqa: B009 (set on subclasses)
        return data


class ConceptNode(_Node):
    """A condition, procedure, observation or device that must be present (or absent)."""

    type: Literal["concept"] = "concept"
    domain: Domain
    text: str
    codes: list[Code] = Field(default_factory=list)
    present: bool = True
    qualifiers: list[str] = Field(default_factory=list)
    window: TimeWindow | None = None
    timing: Timing | None = None
    entity: int | None = Field(default=None, description="index into the criterion's entities")


class MedicationNode(_Node):
    """A drug the patient takes now (`current`), took before (`prior`) or ever took."""

    type: Literal["medication"] = "medication"
    text: str
    codes: list[Code] = Field(default_factory=list)
    present: bool = True
    timing: Timing = "ever"
    window: TimeWindow | None = None
    entity: int | None = None


class MeasurementNode(_Node):
    """A measurement whose latest value (within the window) must satisfy a constraint."""

    type: Literal["measurement"] = "measurement"
    text: str
    codes: list[Code] = Field(default_factory=list)
    constraint: ValueConstraint
    window: TimeWindow | None = None
    entity: int | None = None


class DemographicNode(_Node):
    """Age (years at the index date), sex, pregnancy or breastfeeding."""

    type: Literal["demographic"] = "demographic"
    attribute: Literal["age", "sex", "pregnant", "breastfeeding"]
    constraint: ValueConstraint | None = Field(default=None, description="for age")
    sex: Sex | None = Field(default=None, description="for sex")
    present: bool = Field(default=True, description="for pregnant/breastfeeding")
    text: str = ""


class UnstructuredNode(_Node):
    """Text the parser could not turn into a computable rule; evaluates to unknown."""

    type: Literal["unstructured"] = "unstructured"
    text: str
    reason: str = Field(default="", description="why it stayed text")


class AndNode(_Node):
    type: Literal["and"] = "and"
    children: list[Rule]


class OrNode(_Node):
    type: Literal["or"] = "or"
    children: list[Rule]


class NotNode(_Node):
    type: Literal["not"] = "not"
    child: Rule


Rule = Annotated[
    ConceptNode
    | MedicationNode
    | MeasurementNode
    | DemographicNode
    | UnstructuredNode
    | AndNode
    | OrNode
    | NotNode,
    Field(discriminator="type"),
]

AndNode.model_rebuild()
OrNode.model_rebuild()
NotNode.model_rebuild()


class Criterion(BaseModel):
    """One inclusion or exclusion criterion, its entities and its rule tree."""

    kind: Kind
    text: str
    start: int
    end: int
    entities: list[CriterionEntity] = Field(default_factory=list)
    rule: Rule
    parent: int | None = Field(
        default=None, description="index of the criterion this one is a sub-bullet of"
    )


class Demographics(BaseModel):
    """Trial-level demographics, from the criteria text or ClinicalTrials.gov's fields."""

    min_age: float | None = Field(default=None, description="years, inclusive")
    max_age: float | None = Field(default=None, description="years, inclusive")
    sex: Sex = "all"
    pregnancy_excluded: bool = False
    breastfeeding_excluded: bool = False


class Criteria(BaseModel):
    """A trial's parsed eligibility section."""

    id: str | None = None
    demographics: Demographics = Field(default_factory=Demographics)
    criteria: list[Criterion] = Field(default_factory=list)
    provenance: Provenance | None = None


# --- patient facts -------------------------------------------------------------------------

FactKind = Literal["condition", "drug", "procedure", "measurement", "observation", "device"]


class FactSource(BaseModel):
    """Where a fact came from: a span of a note, or a FHIR resource / OMOP row."""

    kind: Literal["note", "fhir", "omop", "record"]
    id: str | None = Field(default=None, description="note id, FHIR resource id or OMOP row id")
    resource: str | None = Field(
        default=None, description='FHIR resource type or OMOP table, e.g. "Condition"'
    )
    start: int | None = Field(default=None, description="span start in the note text")
    end: int | None = None


CodeOrigin = Literal["record", "crosswalk", "lexicon"]


class Fact(BaseModel):
    """One clinical fact about a patient, coded, dated and with its assertion status.

    Facts from notes carry the note's assertion flags; a negated, family or hypothetical
    mention is kept (it is evidence of absence or of nothing) but never counts as presence.
    """

    kind: FactKind
    text: str
    codes: list[Code] = Field(default_factory=list)
    date: str | None = Field(default=None, description="ISO date (onset / start / effective)")
    end_date: str | None = Field(default=None, description="ISO date the fact ended, if known")
    active: bool | None = Field(default=None, description="structured status: active/stopped")
    value: float | None = None
    unit: str | None = None
    reference_low: float | None = Field(
        default=None, description="lower limit of normal for this result (LLN), if given"
    )
    reference_high: float | None = Field(
        default=None, description="upper limit of normal for this result (ULN), if given"
    )
    negated: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    uncertain: bool = False
    section: str | None = Field(
        default=None, description='the note section of a mention, e.g. "past_medical_history"'
    )
    source: FactSource
    code_sources: dict[str, CodeOrigin] = Field(
        default_factory=dict,
        description='how the fact got each code, keyed "system|code": "record" (as the chart '
        'coded it), "crosswalk" (corpora/crosswalk table), "lexicon" (eligo\'s lexicons over '
        "the text: every code of a note fact, and the display of structured facts)",
    )

    def code_origin(self, code: Code) -> CodeOrigin | None:
        """How this fact got `code` (see `code_sources`); None when not recorded."""
        return self.code_sources.get(f"{code.system}|{code.code}")


class PatientFacts(BaseModel):
    """Everything evaluation may read about one patient; adapters build it from raw inputs."""

    id: str
    birth_date: str | None = None
    sex: Literal["male", "female"] | None = None
    facts: list[Fact] = Field(default_factory=list)
    notes: dict[str, str] = Field(
        default_factory=dict, description="note id -> text, for showing evidence in context"
    )


# --- screening results ---------------------------------------------------------------------

Verdict = Literal["met", "not_met", "unknown"]
Status = Literal["eligible", "excluded", "needs_review"]
MatchedBy = Literal["code", "crosswalk", "lexicon", "semantic", "text", "demographic"]


class Evidence(BaseModel):
    """A fact (or demographic) that decided a verdict, pointing back to where it came from."""

    text: str
    source: FactSource | None = None
    date: str | None = None
    value: float | None = None
    unit: str | None = None
    matched_by: (
        Literal["code", "crosswalk", "lexicon", "semantic", "text", "demographic"] | None
    ) = Field(default=None, description="how the fact was matched to the criterion's concept")
    note: str | None = Field(default=None, description='e.g. "negated", "outside window"')


class CriterionResult(BaseModel):
    kind: Kind
    text: str
    verdict: Verdict
    evidence: list[Evidence] = Field(default_factory=list)
    reason: str = Field(default="", description="one line: why this verdict")
    in_status: bool = Field(
        default=True,
        description="False for a sub-criterion (its parent's rule combines it) and for a "
        "criterion no chart can decide (consent, willingness, investigator judgement): "
        "listed for the coordinator, not counted in the status",
    )


class Screening(BaseModel):
    """A patient screened against one trial."""

    id: str = Field(description="patient id")
    trial: str | None = None
    status: Status
    score: float = Field(description="ranking score in [0, 1]; higher = more likely eligible")
    index_date: str
    criteria: list[CriterionResult] = Field(default_factory=list)
    provenance: Provenance | None = None
