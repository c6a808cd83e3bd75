"""`POST /v1/extract`: coded concepts with assertion status, the CLI's JSON per document."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Discriminator, Field, SkipValidation, StrictInt, Tag
from spacy.tokens import Doc

from eligo.nlp import make_doc, to_entities
from eligo.nlp.extract import pipe_isolating
from eligo.nlp.targets import TargetError
from eligo.nlp.types import Entity, Provenance
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

ROUTE = "/v1/extract"

router = APIRouter(prefix="/v1", tags=["extract"], dependencies=[Depends(api_key)])


class ExtractDocument(BaseModel):
    """One note: the CLI's JSONL record."""

    model_config = ConfigDict(extra="forbid")

    id: RecordId | None = Field(default=None, description="echoed in the result (as a string)")
    text: str = Field(description="the note, at most ELIGO_MAX_DOCUMENT_CHARS characters")
    targets: list[tuple[StrictInt, StrictInt]] | None = Field(
        default=None,
        description="[start, end] character spans (your own NER) to assess in context",
    )


class ExtractBatch(BaseModel):
    """Several notes; an invalid one becomes an error item, the others are processed."""

    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one (`validate_items`) so one bad item cannot fail the batch.
    documents: list[SkipValidation[ExtractDocument]] = Field(
        min_length=1, description="at most ELIGO_MAX_BATCH documents"
    )


ExtractRequest = Annotated[
    Annotated[ExtractDocument, Tag("document")] | Annotated[ExtractBatch, Tag("batch")],
    Discriminator(document_or_batch),
]


class ExtractResult(BaseModel):
    """The CLI's output line: `value` only on measurements that have one, `also` on targets."""

    id: str | None
    entities: list[Entity]
    provenance: Provenance


class ExtractBatchResult(BaseModel):
    results: list[ExtractResult | ItemError] = Field(description="in input order")


def run_extract(service: Service, items: list[Item | RecordError]) -> list[dict[str, Any]]:
    """One result per item, in order; a failing document becomes an error item."""
    nlp = service.nlp
    assert nlp is not None
    results: list[dict[str, Any] | None] = []
    pending: list[tuple[int, Item, Doc]] = []
    for item in items:
        if isinstance(item, RecordError):
            results.append(item.to_json())
            continue
        try:
            doc = make_doc(nlp, item.text, getattr(item.record, "targets", None))
        except TargetError as err:
            where = "" if item.index is None else f"documents[{item.index}]: "
            results.append(RecordError(item.id, "invalid_targets", f"{where}{err}").to_json())
            continue
        pending.append((len(results), item, doc))
        results.append(None)
    docs = [doc for _, _, doc in pending]
    # concurrent requests share model batches (serving/microbatch.py) when the model is loaded
    processed = service.batcher.run(docs) if service.batcher else pipe_isolating(nlp, docs)
    for (slot, item, _), done in zip(pending, processed, strict=True):
        if isinstance(done, Exception):
            message = f"the pipeline failed on this document ({type(done).__name__})"
            results[slot] = RecordError(item.id, "processing_failed", message).to_json()
        else:
            results[slot] = {
                "id": item.id,
                "entities": [ent.to_json() for ent in to_entities(done)],
                "provenance": service.provenance,
            }
    return [result for result in results if result is not None]


@router.post(
    "/extract",
    summary="Extract coded concepts with assertion status",
    response_model=None,
    responses={200: {"model": ExtractResult | ExtractBatchResult}, **ERROR_RESPONSES},
)
def extract(
    request: Request,
    body: Annotated[ExtractRequest, Body()],
    service: Annotated[Service, Depends(ready_service)],
) -> JSONResponse:
    """One document `{"id"?, "text", "targets"?}` -> the CLI's result for it; a batch
    `{"documents": [...]}` -> `{"results": [...]}` in input order, an error item
    `{"id", "error": {"code", "message"}}` in place of each document that failed.

    Runs in the threadpool (a plain `def`): the pipeline is CPU-bound.
    """
    settings = service.settings
    max_chars = settings.max_document_chars
    started = time.perf_counter()
    if isinstance(body, ExtractBatch):
        check_batch_size(len(body.documents), max_batch=settings.max_batch)
        items = validate_items(body.documents, ExtractDocument, max_chars=max_chars)
        results = run_extract(service, items)
        _observe(service, request, started, results)
        return JSONResponse({"results": results})
    (result,) = run_extract(service, [check_single(body, max_chars=max_chars)])
    if "error" in result:  # the error response is counted by its exception handler
        code, message = result["error"]["code"], result["error"]["message"]
        raise ApiError(400 if code == "invalid_targets" else 500, code, message)
    _observe(service, request, started, [result])
    return JSONResponse(result)


def _observe(service: Service, request: Request, started: float, results: list[Any]) -> None:
    service.metrics.pipeline.labels(route=ROUTE).observe(time.perf_counter() - started)
    count_item_errors(service, request, ROUTE, results)
