"""The one JSON shape of an extracted concept, shared by the CLI, the API and batch writers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Label = Literal["condition", "drug", "procedure", "measurement", "adverse_event", "target"]
Source = Literal["lexicon", "model", "both", "target"]
Comparator = Literal["<", "<=", ">", ">=", "="]


class Code(BaseModel):
    """A concept code in one vocabulary, e.g. ICD-10-CM E11 "Type 2 diabetes mellitus"."""

    model_config = ConfigDict(frozen=True)

    system: str
    code: str
    display: str


class Measurement(BaseModel):
    """A value attached to a measurement concept: "creatinine 1.4 mg/dL", "BP 142/90"."""

    value: float | None = None
    low: float | None = Field(default=None, description="range start, e.g. 7.0 in '7.0-10.5%'")
    high: float | None = Field(default=None, description="range end")
    comparator: Comparator | None = None
    unit: str | None = Field(default=None, description="unit in canonical (UCUM-like) spelling")
    systolic: float | None = None
    diastolic: float | None = None
    text: str = Field(description="the value as written, e.g. '65,000/uL'")
    start: int
    end: int


class Entity(BaseModel):
    """A concept mention with its codes and assertion status; offsets index the input text."""

    start: int
    end: int
    text: str
    label: Label
    codes: list[Code] = Field(default_factory=list)
    negated: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    uncertain: bool = False
    section: str | None = None
    value: Measurement | None = None
    source: Source = "lexicon"
    also: list[Label] = Field(
        default_factory=list,
        description="for a target span: the labels of concepts found at the same span",
    )

    def to_json(self) -> dict[str, object]:
        """The CLI/API JSON shape: `section` always present (null outside sections), `value`
        only on measurements that have one, `also` only on targets."""
        data = self.model_dump(exclude={"value", "also"})
        if self.value is not None:
            data["value"] = self.value.model_dump(exclude_none=True)
        if self.label == "target":
            data["also"] = list(self.also)
        return data


class Provenance(BaseModel):
    """What produced a result: eligo version and the versions of the lexicons and rules it used."""

    eligo: str
    lexicons: dict[str, str]
    model: str | None = None
