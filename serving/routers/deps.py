"""What the routers share: the loaded service, API errors, metrics, batch-item validation.

Nothing here holds note text longer than a request, and nothing logs it.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field, StrictInt, StringConstraints, ValidationError

from eligo.serving.logging import log_event
from eligo.serving.microbatch import MicroBatcher
from eligo.serving.records import InputError, RecordError, check_text
from eligo.serving.settings import Settings

if TYPE_CHECKING:
    from spacy.language import Language

    from eligo.nlp.meddra import MeddraRelease

log = logging.getLogger("eligo.serving")

#: a record id as the CLI accepts it: a non-empty string or an integer (echoed as a string)
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=1024)] | StrictInt


# ---------------------------------------------------------------------------------------------
# errors


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable reason, e.g. too_large, invalid_targets")
    message: str = Field(description="what was wrong and what is valid")


class ErrorResponse(BaseModel):
    """Every non-2xx response: `{"error": {"code", "message"}}`."""

    error: ErrorBody


class ItemError(BaseModel):
    """A batch item that could not be processed; the other items are unaffected."""

    id: str | None
    error: ErrorBody


class ApiError(Exception):
    """An error response: HTTP status, machine-readable code, message for the caller."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_content(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _described(status: int, text: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": text}


#: the error statuses every /v1 endpoint can answer, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described(400, "malformed JSON, non-UTF-8 body, or an invalid field value"),
    401: _described(401, "missing or invalid API key (when keys are configured)"),
    413: _described(413, "document, batch or request body over the configured limits"),
    415: _described(415, "content type other than application/json"),
    422: _described(422, "body or parameters do not match the schema"),
    429: _described(429, "over the per-client rate limit (ELIGO_RATE_LIMIT); see Retry-After"),
    503: _described(503, "the pipeline is not loaded yet"),
}

#: pydantic error location (first field) -> the CLI's per-record error code
_FIELD_CODES = {"id": "invalid_id", "text": "invalid_text", "targets": "invalid_targets"}


def field_error_code(loc: Sequence[int | str], kind: str) -> str:
    """The CLI's error code for a schema error at `loc` (relative to one document)."""
    names = [part for part in loc if isinstance(part, str)]
    if not names or kind == "extra_forbidden" or kind in ("model_type", "model_attributes_type"):
        return "invalid_record"
    if names[0] == "text" and kind == "missing":
        return "missing_text"
    return _FIELD_CODES.get(names[0], "invalid_record")


def describe_errors(errors: Iterable[Any], *, limit: int = 5) -> str:
    """`loc: msg; ...` for pydantic/FastAPI errors; never the offending input itself."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    shown = "; ".join(parts[:limit])
    if len(parts) > limit:
        shown += f"; and {len(parts) - limit} more"
    return shown


def text_error(err: InputError, *, max_chars: int) -> tuple[int, str, str]:
    """(status, code, message) of a `check_text` failure, worded for the API."""
    if err.code == "too_large":
        return (
            413,
            "too_large",
            f"{err.message.split(';')[0]}; split the document (the limit is "
            f"ELIGO_MAX_DOCUMENT_CHARS={max_chars:,})",
        )
    return 400, err.code, err.message


# ---------------------------------------------------------------------------------------------
# the loaded service


class _ModelCollector(Collector):
    """Seconds the NER component spent in ONNX inference, read from its own timings."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        nlp = self.service.nlp
        if nlp is None or "eligo_ner" not in nlp.pipe_names:
            return
        timings = getattr(nlp.get_pipe("eligo_ner"), "timings", None) or {}
        if "inference_s" in timings:
            yield CounterMetricFamily(
                "eligo_model_inference_seconds",
                "Seconds spent in NER model inference (ONNX Runtime), all requests",
                value=float(timings["inference_s"]),
            )
        if "windows" in timings:
            yield CounterMetricFamily(
                "eligo_model_windows",
                "Token windows run through the NER model",
                value=float(timings["windows"]),
            )


class Metrics:
    """Prometheus metrics of one app (own registry: several apps may share a process)."""

    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "eligo_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "eligo_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.pipeline = Histogram(
            "eligo_pipeline_seconds",
            "Seconds in the NLP pipeline per request (all its documents)",
            ["route"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.documents = Counter(
            "eligo_documents",
            "Documents processed, by route and outcome (ok or error)",
            ["route", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "eligo_errors",
            "Errors by code: error responses and error items in batches",
            ["code"],
            registry=self.registry,
        )
        self.registry.register(_ModelCollector(service))


@dataclass
class Service:
    """What the app loads once (in its lifespan) and shares across requests, read-only."""

    settings: Settings
    nlp: Language | None = None
    meddra: MeddraRelease | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    load_error: str | None = None
    batcher: MicroBatcher | None = None
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self)

    def load(self) -> None:
        """Load the pipeline (and the MedDRA release if configured); blocking, call it once.

        The pipeline becomes visible (`ready`) only when everything has loaded; a failure is
        kept as `load_error` (its exception class only) and logged.
        """
        started = time.perf_counter()
        settings = self.settings
        try:
            import eligo.nlp
            from eligo.nlp.provenance import for_pipeline

            nlp = eligo.nlp.load(model=settings.pipeline_model, threads=settings.ort_threads or 0)
            meddra = None
            if settings.meddra_path:
                from eligo.nlp.meddra import load_release

                meddra = load_release(settings.meddra_path)
            nlp("Warm-up sentence.")  # first-call initialisation happens here, not in a request
            self.provenance = for_pipeline(nlp).model_dump(exclude_none=True)
        except Exception as exc:  # reported by /ready; the class only: messages may hold paths
            self.load_error = type(exc).__name__
            log_event(log, "load_failed", logging.ERROR, exception=self.load_error)
            return
        self.meddra = meddra
        if "eligo_ner" in nlp.pipe_names and settings.microbatch_docs > 1:
            # opt-in: the model runs batches ~1.5x faster in-process (see microbatch.py)
            self.batcher = MicroBatcher(
                nlp, max_docs=settings.microbatch_docs, max_wait=settings.microbatch_ms / 1000
            )
        self.nlp = nlp
        log_event(
            log,
            "loaded",
            pipeline=list(nlp.pipe_names),
            meddra=meddra is not None,
            seconds=round(time.perf_counter() - started, 3),
        )

    @property
    def ready(self) -> bool:
        return self.nlp is not None

    def close(self) -> None:
        """Stop the micro-batcher (at shutdown)."""
        if self.batcher is not None:
            self.batcher.close()


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def ready_service(service: Annotated[Service, Depends(get_service)]) -> Service:
    """The service, or 503 while the pipeline is loading (or failed to load)."""
    if service.load_error is not None:
        raise ApiError(
            503, "load_failed", f"the pipeline failed to load ({service.load_error}); see the logs"
        )
    if not service.ready:
        raise ApiError(503, "not_ready", "the pipeline is still loading; retry shortly")
    return service


# Declared for the OpenAPI document (the "Authorize" button in /docs); the middleware
# enforces keys before the body is read.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
_bearer = HTTPBearer(auto_error=False, description="an API key as a bearer token")


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key a request carries: X-API-Key, else `Authorization: Bearer <key>`."""
    if x_api_key:
        return x_api_key
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def key_accepted(key: str | None, keys: Sequence[str]) -> bool:
    """Constant-time comparison against every configured key."""
    if key is None:
        return False
    matched = False
    for candidate in keys:
        matched |= hmac.compare_digest(key.encode(), candidate.encode())
    return matched


async def api_key(
    request: Request,
    x_api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 without a valid key when keys are configured (also checked by the middleware)."""
    keys = get_service(request).settings.api_keys
    if not keys:
        return
    key = x_api_key or (bearer.credentials if bearer else None)
    if not key_accepted(key, keys):
        raise ApiError(401, "unauthorized", "missing or invalid API key")


# ---------------------------------------------------------------------------------------------
# batch items

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Item:
    """One validated document of a request, with its position in the batch (None: single)."""

    index: int | None
    id: str | None
    text: str
    record: BaseModel


def _raw_id(raw: object) -> str | None:
    """A usable id from an invalid item, for its error record (None if it has none)."""
    if isinstance(raw, dict):
        rid = raw.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool):
            return str(rid)
        if isinstance(rid, str) and 0 < len(rid) <= 1024:
            return rid
    return None


def record_id(rid: str | int | None) -> str | None:
    return str(rid) if isinstance(rid, int) else rid


def document_or_batch(value: Any) -> str:
    """The request-body discriminator: `{"documents": [...]}` is a batch, else one document."""
    return "batch" if isinstance(value, dict) and "documents" in value else "document"


def validate_items(
    raw_items: Sequence[object], model: type[M], *, max_chars: int
) -> list[Item | RecordError]:
    """Each raw batch item -> an `Item`, or a `RecordError` with the CLI's code in its place."""
    out: list[Item | RecordError] = []
    for index, raw in enumerate(raw_items):
        where = f"documents[{index}]"
        try:
            record = model.model_validate(raw)
        except ValidationError as err:
            errors = err.errors(include_input=False, include_url=False)
            first = errors[0]
            code = field_error_code(first["loc"], first["type"])
            out.append(RecordError(_raw_id(raw), code, f"{where}: {describe_errors(errors)}"))
            continue
        rid = record_id(getattr(record, "id", None))
        try:
            text = check_text(getattr(record, "text", None), max_chars=max_chars)
        except InputError as err:
            _, code, message = text_error(err, max_chars=max_chars)
            out.append(RecordError(rid, code, f"{where}: {message}"))
            continue
        out.append(Item(index, rid, text, record))
    return out


def check_single(record: BaseModel, *, max_chars: int) -> Item:
    """A single-document request -> an `Item`, or ApiError 400/413 with the CLI's code."""
    try:
        text = check_text(getattr(record, "text", None), max_chars=max_chars)
    except InputError as err:
        raise ApiError(*text_error(err, max_chars=max_chars)) from err
    return Item(None, record_id(getattr(record, "id", None)), text, record)


def check_batch_size(count: int, *, max_batch: int) -> None:
    if count > max_batch:
        raise ApiError(
            413,
            "too_many_documents",
            f"the batch has {count} documents, over the limit of {max_batch} "
            "(ELIGO_MAX_BATCH); split it into smaller requests",
        )


def count_item_errors(service: Service, request: Request, route: str, results: list[Any]) -> None:
    """Metrics and the access log's counters for a request's results (codes only)."""
    failed = 0
    for result in results:
        error = result.get("error") if isinstance(result, dict) else None
        if error:
            failed += 1
            service.metrics.errors.labels(code=error["code"]).inc()
    ok = len(results) - failed
    if ok:
        service.metrics.documents.labels(route=route, outcome="ok").inc(ok)
    if failed:
        service.metrics.documents.labels(route=route, outcome="error").inc(failed)
    request.state.documents = len(results)
    request.state.item_errors = failed
