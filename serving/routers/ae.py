"""`POST /v1/ae/code`: adverse-event narratives -> coded AE reports (or E2B(R3) elements)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, SkipValidation, Tag

from eligo.nlp.ae import code_report, report_json, to_e2b
from eligo.nlp.ae_types import AeReport
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

ROUTE = "/v1/ae/code"

router = APIRouter(prefix="/v1/ae", tags=["adverse events"], dependencies=[Depends(api_key)])


class AeDocument(BaseModel):
    """One adverse-event narrative: the CLI's JSONL record."""

    model_config = ConfigDict(extra="forbid")

    id: RecordId | None = Field(default=None, description="echoed in the result (as a string)")
    text: str = Field(description="the narrative, at most ELIGO_MAX_DOCUMENT_CHARS characters")


class AeBatch(BaseModel):
    """Several narratives; an invalid one becomes an error item, the others are coded."""

    model_config = ConfigDict(extra="forbid")

    documents: list[SkipValidation[AeDocument]] = Field(
        min_length=1, description="at most ELIGO_MAX_BATCH documents"
    )


AeRequest = Annotated[
    Annotated[AeDocument, Tag("document")] | Annotated[AeBatch, Tag("batch")],
    Discriminator(document_or_batch),
]


class AeBatchResult(BaseModel):
    results: list[AeReport | ItemError] = Field(
        description="in input order; with format=e2b each report is E2B(R3) data elements"
    )


def run_code(
    service: Service, items: list[Item | RecordError], *, e2b: bool, code_signs: bool = False
) -> list[dict[str, Any]]:
    """One coded report (or error item) per item, in order."""
    results = []
    for item in items:
        if isinstance(item, RecordError):
            results.append(item.to_json())
            continue
        try:
            report = code_report(
                item.text,
                meddra=service.meddra,
                nlp=service.nlp,
                id=item.id,
                diagnosis_components=not code_signs,
            )
        except Exception as err:  # one bad report must not sink the batch
            results.append(
                RecordError(
                    item.id,
                    "processing_failed",
                    f"coding failed on this document ({type(err).__name__})",
                ).to_json()
            )
            continue
        results.append(to_e2b(report) if e2b else report_json(report))
    return results


@router.post(
    "/code",
    summary="Code adverse-event narratives to CTCAE/MedDRA",
    response_model=None,
    responses={200: {"model": AeReport | AeBatchResult}, **ERROR_RESPONSES},
)
def code(
    request: Request,
    body: Annotated[AeRequest, Body()],
    service: Annotated[Service, Depends(ready_service)],
    format: Annotated[
        Literal["json", "e2b"],
        Query(description="json: the CLI's AE record; e2b: E2B(R3) data elements"),
    ] = "json",
    code_signs: Annotated[
        bool,
        Query(
            description="also code the signs and symptoms of a coded diagnosis as events "
            "(default: the diagnosis only, as MedDRA's Points to Consider advise)"
        ),
    ] = False,
) -> JSONResponse:
    """One narrative `{"id"?, "text"}` -> its coded report (events with CTCAE term, MedDRA
    code, grade; seriousness with evidence; drugs with roles; outcome, action, onset); a
    batch `{"documents": [...]}` -> `{"results": [...]}` with error items in place of
    narratives that failed. Runs in the threadpool (a plain `def`)."""
    settings = service.settings
    max_chars = settings.max_document_chars
    e2b = format == "e2b"
    started = time.perf_counter()
    if isinstance(body, AeBatch):
        check_batch_size(len(body.documents), max_batch=settings.max_batch)
        items = validate_items(body.documents, AeDocument, max_chars=max_chars)
        results = run_code(service, items, e2b=e2b, code_signs=code_signs)
        _observe(service, request, started, results)
        return JSONResponse({"results": results})
    (result,) = run_code(
        service, [check_single(body, max_chars=max_chars)], e2b=e2b, code_signs=code_signs
    )
    if "error" in result:  # the error response is counted by its exception handler
        raise ApiError(500, result["error"]["code"], result["error"]["message"])
    _observe(service, request, started, [result])
    return JSONResponse(result)


def _observe(service: Service, request: Request, started: float, results: list[Any]) -> None:
    service.metrics.pipeline.labels(route=ROUTE).observe(time.perf_counter() - started)
    count_item_errors(service, request, ROUTE, results)
