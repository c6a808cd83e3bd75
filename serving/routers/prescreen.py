"""`POST /v1/prescreen`: screen patient charts against one trial, the CLI's lines per patient."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    StrictFloat,
    StrictInt,
    model_validator,
)

from eligo.criteria.types import Criteria, Screening
from eligo.serving.batch import screen
from eligo.serving.records import RecordError
from eligo.serving.routers.deps import (
    ERROR_RESPONSES,
    ApiError,
    ItemError,
    RecordId,
    Service,
    api_key,
    check_batch_size,
    count_item_errors,
    ready_service,
    record_id,
)

if TYPE_CHECKING:
    from eligo.criteria.match import ConceptMatcher

ROUTE = "/v1/prescreen"

router = APIRouter(prefix="/v1", tags=["prescreen"], dependencies=[Depends(api_key)])

AgeField = str | StrictInt | StrictFloat


class TrialText(BaseModel):
    """A trial's eligibility section with ClinicalTrials.gov's structured fields."""

    model_config = ConfigDict(extra="forbid")

    id: RecordId | None = Field(default=None, description="trial id, echoed as `trial`")
    text: str = Field(description="the eligibility criteria text")
    min_age: AgeField | None = Field(default=None, description='e.g. "18 Years"')
    max_age: AgeField | None = Field(default=None, description='e.g. "75 Years", "N/A"')
    sex: str | None = Field(default=None, description='"All", "Male" or "Female"')


class PrescreenRequest(BaseModel):
    """A trial (text, or already-parsed `rules`) and the charts to screen against it."""

    model_config = ConfigDict(extra="forbid")

    trial: TrialText | None = Field(default=None, description="criteria text to parse")
    rules: Criteria | None = Field(default=None, description="parsed criteria (criteria JSON)")
    # Validated one by one (`eligo.criteria.adapters.from_record`): one bad chart becomes one
    # error item.
    patients: list[SkipValidation[dict[str, Any]]] = Field(
        min_length=1,
        description='chart records {"id", "birth_date"?, "sex"?, "notes": [{"id"?, "date"?, '
        '"text"}], "fhir"?}; at most ELIGO_MAX_BATCH',
    )
    index_date: date | None = Field(default=None, description="screening date (default: today)")

    @model_validator(mode="after")
    def _one_trial(self) -> PrescreenRequest:
        if (self.trial is None) == (self.rules is None):
            raise ValueError('give exactly one of "trial" (criteria text) or "rules"')
        return self


class PrescreenResult(BaseModel):
    results: list[Screening | ItemError] = Field(description="one per patient, in input order")


_matchers: dict[int, ConceptMatcher] = {}
_matchers_lock = threading.Lock()


def _matcher(service: Service) -> ConceptMatcher:
    """One concept matcher per loaded pipeline (its concept-pair cache is shared)."""
    from eligo.criteria.match import ConceptMatcher

    nlp = service.nlp
    with _matchers_lock:
        matcher = _matchers.get(id(nlp))
        if matcher is None:
            matcher = _matchers[id(nlp)] = ConceptMatcher(nlp=nlp)
        return matcher


def _criteria(service: Service, body: PrescreenRequest) -> Criteria:
    """The request's criteria: `rules` as given, or `trial` parsed (400 when it cannot be)."""
    from eligo.criteria.parse import CriteriaError, parse

    if body.rules is not None:
        return body.rules
    trial = body.trial
    assert trial is not None
    max_chars = service.settings.max_document_chars
    if len(trial.text) > max_chars:
        raise ApiError(
            413,
            "too_large",
            f"trial.text has {len(trial.text):,} characters, over the limit of {max_chars:,} "
            "(ELIGO_MAX_DOCUMENT_CHARS)",
        )
    try:
        return parse(
            trial.text,
            id=record_id(trial.id),
            nlp=service.nlp,
            min_age=trial.min_age,
            max_age=trial.max_age,
            sex=trial.sex,
        )
    except CriteriaError as err:
        raise ApiError(400, f"invalid_trial_{err.code}", f"trial: {err}") from err


def _oversized(raw: dict[str, Any], max_chars: int) -> str | None:
    """Why a chart is over the document limit (a note longer than it), or None."""
    notes = raw.get("notes")
    if not isinstance(notes, list):
        return None
    for i, note in enumerate(notes):
        text = note.get("text") if isinstance(note, dict) else None
        if isinstance(text, str) and len(text) > max_chars:
            return (
                f"notes[{i}] has {len(text):,} characters, over the limit of {max_chars:,} "
                "(ELIGO_MAX_DOCUMENT_CHARS)"
            )
    return None


def run_prescreen(
    service: Service, criteria: Criteria, patients: list[Any], *, index_date: date
) -> list[dict[str, Any]]:
    """One screening (or error item) per chart, in order."""
    from eligo.criteria.adapters import AdapterError, from_record

    nlp = service.nlp
    assert nlp is not None  # ready_service guarantees it
    matcher = _matcher(service)
    max_chars = service.settings.max_document_chars
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(patients):
        where = f"patients[{index}]"
        rid = raw.get("id") if isinstance(raw, dict) else None
        rid = str(rid) if isinstance(rid, str | int) and not isinstance(rid, bool) else None
        if isinstance(raw, dict) and (why := _oversized(raw, max_chars)):
            results.append(RecordError(rid, "too_large", f"{where}: {why}").to_json())
            continue
        try:
            patient = from_record(raw, nlp=nlp)
            (row,) = screen([criteria], patient, index_date=index_date, matcher=matcher)
        except AdapterError as err:
            results.append(RecordError(err.id or rid, err.code, f"{where}: {err}").to_json())
            continue
        except Exception as err:  # one bad chart must not sink the batch
            results.append(
                RecordError(
                    rid, "processing_failed", f"{where}: screening failed ({type(err).__name__})"
                ).to_json()
            )
            continue
        results.append(row)
    return results


@router.post(
    "/prescreen",
    summary="Screen patient charts against a trial's eligibility criteria",
    response_model=None,
    responses={200: {"model": PrescreenResult}, **ERROR_RESPONSES},
)
def prescreen(
    request: Request,
    body: Annotated[PrescreenRequest, Body()],
    service: Annotated[Service, Depends(ready_service)],
) -> JSONResponse:
    """`{"trial": {"id"?, "text", "min_age"?, "max_age"?, "sex"?} | "rules": <criteria>,
    "patients": [chart, ...], "index_date"?}` -> `{"results": [...]}`: per patient, in order,
    the CLI's screening line (`{"id", "trial", "status", "score", "criteria": [...]}`) or an
    error item `{"id", "error": {"code", "message"}}`. Runs in the threadpool."""
    settings = service.settings
    check_batch_size(len(body.patients), max_batch=settings.max_batch)
    started = time.perf_counter()
    criteria = _criteria(service, body)
    index_date = body.index_date or date.today()
    results = run_prescreen(service, criteria, body.patients, index_date=index_date)
    service.metrics.pipeline.labels(route=ROUTE).observe(time.perf_counter() - started)
    count_item_errors(service, request, ROUTE, results)
    return JSONResponse({"results": results})
