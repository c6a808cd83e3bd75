"""`POST /v1/criteria/parse`: eligibility sections -> computable rules (the CLI's JSON)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SkipValidation,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
)

from eligo.criteria.types import Criteria
from eligo.serving.criteria_cli import parse_result
from eligo.serving.records import RecordError
from eligo.serving.routers.deps import (
    ERROR_RESPONSES,
    ApiError,
    Item,
    ItemError,
    RecordId,
    Service,
    api_key,
    check_batch_size,
    check_single,
    count_item_errors,
    document_or_batch,
    ready_service,
    validate_items,
)

ROUTE = "/v1/criteria/parse"

router = APIRouter(prefix="/v1/criteria", tags=["criteria"], dependencies=[Depends(api_key)])


class CriteriaDocument(BaseModel):
    """One trial's eligibility section: the CLI's JSONL record."""

    model_config = ConfigDict(extra="forbid")

    id: RecordId | None = Field(default=None, description="echoed in the result (as a string)")
    text: str = Field(
        description="the eligibility section (inclusion and exclusion criteria), at most "
        "ELIGO_MAX_DOCUMENT_CHARS characters"
    )
    # strict: a JSON true is not an age of 1
    min_age: StrictStr | StrictInt | StrictFloat | None = Field(
        default=None, description='ClinicalTrials.gov minimum age: "18 Years", "6 Months", 18'
    )
    max_age: StrictStr | StrictInt | StrictFloat | None = Field(
        default=None, description='e.g. "75 Years", "N/A"'
    )
    sex: StrictStr | None = Field(default=None, description='"All", "Female" or "Male"')


class CriteriaBatch(BaseModel):
    """Several sections; an invalid one becomes an error item, the others are parsed."""

    model_config = ConfigDict(extra="forbid")

    documents: list[SkipValidation[CriteriaDocument]] = Field(
        min_length=1, description="at most ELIGO_MAX_BATCH documents"
    )


CriteriaRequest = Annotated[
    Annotated[CriteriaDocument, Tag("document")] | Annotated[CriteriaBatch, Tag("batch")],
    Discriminator(document_or_batch),
]


class CriteriaBatchResult(BaseModel):
    results: list[Criteria | ItemError] = Field(description="in input order")


def run_parse(service: Service, items: list[Item | RecordError]) -> list[dict[str, Any]]:
    """One parsed section (or error item) per item, in order."""
    nlp = service.nlp
    assert nlp is not None
    results = []
    for item in items:
        if isinstance(item, RecordError):
            results.append(item.to_json())
            continue
        record = item.record
        result = parse_result(
            item.id,
            item.text,
            nlp,
            min_age=getattr(record, "min_age", None),
            max_age=getattr(record, "max_age", None),
            sex=getattr(record, "sex", None),
        )
        error = result.get("error")
        if error and item.index is not None:
            error["message"] = f"documents[{item.index}]: {error['message']}"
        results.append(result)
    return results


@router.post(
    "/parse",
    summary="Parse eligibility criteria into computable rules",
    response_model=None,
    responses={200: {"model": Criteria | CriteriaBatchResult}, **ERROR_RESPONSES},
)
def parse(
    request: Request,
    body: Annotated[CriteriaRequest, Body()],
    service: Annotated[Service, Depends(ready_service)],
) -> JSONResponse:
    """One section `{"id"?, "text"}` -> its criteria (kind, text, span, entities, rule tree)
    and trial demographics, as the CLI writes them; a batch `{"documents": [...]}` ->
    `{"results": [...]}` in input order, with an error item in place of each section that
    failed (e.g. `no_criteria`). Runs in the threadpool (a plain `def`)."""
    settings = service.settings
    max_chars = settings.max_document_chars
    started = time.perf_counter()
    if isinstance(body, CriteriaBatch):
        check_batch_size(len(body.documents), max_batch=settings.max_batch)
        items = validate_items(body.documents, CriteriaDocument, max_chars=max_chars)
        results = run_parse(service, items)
        _observe(service, request, started, results)
        return JSONResponse({"results": results})
    (result,) = run_parse(service, [check_single(body, max_chars=max_chars)])
    if "error" in result:  # the error response is counted by its exception handler
        code, message = result["error"]["code"], result["error"]["message"]
        raise ApiError(500 if code == "processing_failed" else 400, code, message)
    _observe(service, request, started, [result])
    return JSONResponse(result)


def _observe(service: Service, request: Request, started: float, results: list[Any]) -> None:
    service.metrics.pipeline.labels(route=ROUTE).observe(time.perf_counter() - started)
    count_item_errors(service, request, ROUTE, results)
