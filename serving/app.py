"""The eligo HTTP service: `create_app()` builds the FastAPI app over eligo.nlp.

The pipeline loads once, in the lifespan, on a worker thread: `/health` answers at once,
`/ready` and the `/v1` endpoints answer 503 until the pipeline is loaded. Requests to `/v1`
pass the guard middleware first (API key, content type, body size, UTF-8), so a request is
refused before its body is read or parsed. Every error is `{"error": {"code", "message"}}`;
the access log holds one JSON line per request with codes, sizes and timings only.

With `ELIGO_RATE_LIMIT` set, each client (its API key when it presents a valid one, else its
address) gets a token bucket on `/v1`: past it, 429 with `Retry-After`. The buckets live in
the process, so with `--workers N` a client may get up to N times the rate. The review page
(`/`, `/static/*`) is served by `routers.pages` and needs no key: it holds no data.
"""

from __future__ import annotations

import asyncio
import email.message
import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from eligo.serving.logging import ACCESS_LOGGER, log_event
from eligo.serving.routers import ae, criteria, extract, health, pages, prescreen
from eligo.serving.routers.deps import (
    ApiError,
    Service,
    describe_errors,
    error_content,
    field_error_code,
    key_accepted,
    presented_key,
)
from eligo.serving.settings import Settings, get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("eligo.serving")
access_log = logging.getLogger(ACCESS_LOGGER)

#: paths whose requests pass the guard (API key, content type, size)
GUARDED_PREFIX = "/v1/"
#: FastAPI's detail when the body could not be decoded at all (json.loads raised)
_FASTAPI_PARSE_ERROR = "There was an error parsing the body"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "not_ready",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app. `settings` default to `get_settings()` (the `ELIGO_*` environment)."""
    settings = settings if settings is not None else get_settings()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load on a worker thread so /health answers (liveness) while a model loads.
        task = asyncio.create_task(asyncio.to_thread(service.load))
        yield
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        service.close()

    app = FastAPI(
        title="eligo",
        summary="Clinical NLP for clinical trials: coded concepts with assertion status, "
        "adverse-event coding.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = service
    app.dependency_overrides[get_settings] = lambda: settings
    app.include_router(extract.router)
    app.include_router(ae.router)
    app.include_router(criteria.router)
    app.include_router(prescreen.router)
    app.include_router(health.router)
    app.include_router(pages.router)
    _add_exception_handlers(app)
    limiter = (
        TokenBuckets(settings.rate_limit, settings.rate_limit_burst_size)
        if settings.rate_limit > 0
        else None
    )
    app.state.rate_limiter = limiter
    app.add_middleware(GuardMiddleware, service=service, limiter=limiter)
    if settings.cors_origins:  # outermost, so error responses carry CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
            expose_headers=["X-Request-ID"],
        )
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eligo")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


# ---------------------------------------------------------------------------------------------
# errors


def _error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    request.state.error_code = code
    request.app.state.service.metrics.errors.labels(code=code).inc()
    extra = dict(headers or {})
    if status == 401:
        extra["WWW-Authenticate"] = "Bearer"
    if status == 503:
        extra["Retry-After"] = "5"
    return JSONResponse(error_content(code, message), status_code=status, headers=extra or None)


def _add_exception_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _error_response(request, exc.status, exc.code, exc.message)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [dict(err) for err in exc.errors()]
        for err in errors:
            if err.get("type") == "json_invalid":
                detail = (err.get("ctx") or {}).get("error", "JSON decode error")
                pos = err.get("loc", ("body", None))[-1]
                where = f" at character {pos}" if isinstance(pos, int) else ""
                return _error_response(
                    request, 400, "invalid_json", f"request body is not valid JSON: {detail}{where}"
                )
        for err in errors:  # drop the union's tags: ("body", "document", "text") -> body.text
            loc = tuple(err.get("loc", ()))
            if loc[:1] == ("body",) and loc[1:2] in (("document",), ("batch",)):
                err["loc"] = ("body", *loc[2:])
        first = errors[0] if errors else {}
        loc = tuple(first.get("loc", ()))
        if loc[:1] == ("body",):
            # body.text -> the CLI's code for the field ("invalid_text")
            rest = list(loc[1:])
            code = (
                "invalid_request"
                if rest[:1] == ["documents"] or not rest
                else field_error_code(rest, str(first.get("type")))
            )
        else:
            code = "invalid_parameter"
        if loc == ("body",) and first.get("type") == "missing":
            message = 'request body is missing: send a JSON object {"text": ...}'
        else:
            message = f"request does not match the schema: {describe_errors(errors)}"
        return _error_response(request, 422, code, message)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = _STATUS_CODES.get(status, "http_error")
        if status == 404:
            message = "no such route; the API is described at /docs"
        elif status == 405:
            message = f"method {request.method} is not allowed on this route"
        elif status == 400 and exc.detail == _FASTAPI_PARSE_ERROR:
            # json.loads gave up (nesting too deep, a number too long): still malformed JSON
            code = "invalid_json"
            message = (
                "request body could not be parsed as JSON (nesting too deep or a number too "
                'long?); send a JSON object {"text": ...}'
            )
        else:
            message = str(exc.detail)
        # keep the exception's headers: 405 carries `Allow` (RFC 9110)
        return _error_response(request, status, code, message, exc.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


# ---------------------------------------------------------------------------------------------
# the guard and access-log middleware


class _Reject(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


class GuardMiddleware:
    """Access log, metrics and the `/v1` guard, as pure ASGI (no body buffering elsewhere).

    For `/v1` requests, in order: the client's rate limit (429), API key (401), content type
    (415), Content-Length and the body read up to the limit (413), empty or non-UTF-8 body
    (400). Any exception that escapes the app becomes a generic 500 here: logged by class
    name, never a traceback.
    """

    def __init__(self, app: ASGIApp, service: Service, limiter: TokenBuckets | None = None) -> None:
        self.app = app
        self.service = service
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex  # never the client's: it could carry an identifier
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        sent = {"status": 500, "bytes": 0, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"], sent["started"] = message["status"], True
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        request_bytes = 0
        try:
            if scope["path"].startswith(GUARDED_PREFIX) and scope["method"] != "OPTIONS":
                body = await self._guard(scope, receive)
                request_bytes = len(body) if body is not None else 0
                if body is not None:
                    receive = _replay(body, receive)
            await self.app(scope, receive, send_wrapper)
        except _Reject as rej:
            state["error_code"] = rej.code
            self.service.metrics.errors.labels(code=rej.code).inc()
            await _send_json(
                send_wrapper, rej.status, error_content(rej.code, rej.message), rej.headers
            )
        except Exception as exc:
            state["error_code"] = "internal_error"
            self.service.metrics.errors.labels(code="internal_error").inc()
            log_event(log, "unhandled_exception", logging.ERROR, exception=type(exc).__name__)
            if not sent["started"]:
                await _send_json(
                    send_wrapper,
                    500,
                    error_content("internal_error", "internal error; the request id is logged"),
                )
        finally:
            self._record(scope, state, sent, request_bytes, time.perf_counter() - started)

    async def _guard(self, scope: Scope, receive: Receive) -> bytes | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        keys = self.service.settings.api_keys
        key = presented_key(headers.get("x-api-key"), headers.get("authorization"))
        accepted = bool(keys) and key_accepted(key, keys)
        if self.limiter is not None:
            self._take_token(scope, key if accepted else None)
        if keys and not accepted:
            if key is None:
                raise _Reject(
                    401,
                    "unauthorized",
                    "missing API key: send it in the X-API-Key header or as "
                    "'Authorization: Bearer <key>'",
                )
            raise _Reject(401, "unauthorized", "invalid API key")
        if scope["method"] not in _BODY_METHODS:
            return None
        _check_content_type(headers.get("content-type"))
        limit = self.service.settings.max_request_bytes
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise _Reject(400, "bad_request", "Content-Length is not a number")
            if int(length) > limit:
                raise _Reject(
                    413,
                    "request_too_large",
                    f"the request body has {int(length):,} bytes, over the limit of {limit:,} "
                    "(ELIGO_MAX_REQUEST_BYTES); send fewer or smaller documents",
                )
        body = await _read_body(receive, limit)
        if not body.strip():
            raise _Reject(400, "invalid_json", 'request body is empty: send a JSON object {"text"}')
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise _Reject(
                400,
                "invalid_encoding",
                f"request body is not valid UTF-8 (byte 0x{body[err.start]:02x} at offset "
                f"{err.start}); send UTF-8 JSON",
            ) from err
        return _repair_surrogates(body)

    def _take_token(self, scope: Scope, key: str | None) -> None:
        """429 when the client's bucket is empty. A client is its valid API key (hashed: keys
        are not kept in memory), else its address: an unchecked key would let a caller pick
        a fresh bucket per request."""
        assert self.limiter is not None
        if key is not None:
            client = "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]
        else:
            peer = scope.get("client")
            client = "ip:" + (str(peer[0]) if peer else "unknown")
        wait = self.limiter.take(client)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            limiter = self.limiter
            raise _Reject(
                429,
                "too_many_requests",
                f"rate limit exceeded: {limiter.rate:g} requests/s per client, bursts of "
                f"{limiter.burst} (ELIGO_RATE_LIMIT, ELIGO_RATE_LIMIT_BURST); retry in {retry} s",
                {"Retry-After": str(retry)},
            )

    def _record(
        self,
        scope: Scope,
        state: dict[str, Any],
        sent: dict[str, Any],
        request_bytes: int,
        seconds: float,
    ) -> None:
        route_obj = scope.get("route")
        # the route template, never the raw path: a path could carry an identifier
        route = getattr(route_obj, "path", None) or "unmatched"
        status = int(sent["status"])
        metrics = self.service.metrics
        metrics.requests.labels(route=route, method=scope["method"], status=str(status)).inc()
        metrics.latency.labels(route=route).observe(seconds)
        fields: dict[str, Any] = {
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "route": route,
            "status": status,
            "request_bytes": request_bytes,
            "response_bytes": sent["bytes"],
            "duration_ms": round(seconds * 1000, 2),
        }
        for key in ("error_code", "documents", "item_errors"):
            if state.get(key) is not None:
                fields[key] = state[key]
        level = logging.WARNING if status >= 500 and status != 503 else logging.INFO
        log_event(access_log, "request", level, **fields)


def _check_content_type(value: str | None) -> None:
    if not value:
        raise _Reject(
            415, "unsupported_media_type", "Content-Type is missing: send application/json"
        )
    message = email.message.Message()
    message["content-type"] = value
    charset = message.get_param("charset")
    if message.get_content_type() != "application/json" or (
        isinstance(charset, str) and charset.lower().replace("-", "") != "utf8"
    ):
        raise _Reject(
            415,
            "unsupported_media_type",
            f"Content-Type {message.get_content_type()!r} is not supported: send "
            "application/json (UTF-8)",
        )


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (413) as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Reject(400, "bad_request", "the client disconnected before the body was read")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Reject(
                413,
                "request_too_large",
                f"the request body is over the limit of {limit:,} bytes "
                "(ELIGO_MAX_REQUEST_BYTES); send fewer or smaller documents",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the already-read body once, then defers to the server."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(
    send: Send, status: int, content: dict[str, Any], extra: Mapping[str, str] | None = None
) -> None:
    body = json.dumps(content, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    for name, value in (extra or {}).items():
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# A JSON escape: `\uXXXX` (group 1: the hex) or any other `\x`; scanning escapes left to
# right keeps an escaped backslash (`\\`) from being read as the start of a `\u`.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_REPLACEMENT = b"\\ufffd"


def _repair_surrogates(body: bytes) -> bytes:
    r"""`\uD800`-`\uDFFF` escapes that are not a high-low pair -> `\uFFFD`.

    JSON may escape a lone UTF-16 surrogate (JavaScript's JSON.stringify writes one when a
    string was cut inside an emoji); Python decodes it to a code point no UTF-8 text can hold,
    which the tokenizer and the JSON response then fail on. U+FFFD is what a browser's UTF-8
    encoder puts in its place, and it is one character too: every offset stays the same.
    The escape has the same length, so the body keeps its size.
    """
    if _SURROGATE_ESCAPE.search(body) is None:  # the common case: nothing to look at
        return body
    escapes = [
        (m.start(), m.end(), int(m.group(1), 16)) for m in _ESCAPE.finditer(body) if m.group(1)
    ]
    lone: list[int] = []
    i = 0
    while i < len(escapes):
        start, end, unit = escapes[i]
        if 0xD800 <= unit <= 0xDBFF:  # high: needs a low surrogate escape right after it
            follows = i + 1 < len(escapes) and escapes[i + 1][0] == end
            if follows and 0xDC00 <= escapes[i + 1][2] <= 0xDFFF:
                i += 2
                continue
            lone.append(start)
        elif 0xDC00 <= unit <= 0xDFFF:
            lone.append(start)
        i += 1
    if not lone:
        return body
    out = bytearray(body)
    for start in lone:
        out[start : start + 6] = _REPLACEMENT
    return bytes(out)


class TokenBuckets:
    """Per-client token buckets: `rate` tokens a second, at most `burst` held.

    Each request takes a token; a client with none waits. Buckets are kept for the
    `max_clients` most recently seen clients; one forgotten comes back with a full bucket,
    as it would have after `burst / rate` seconds idle. Used from the event loop only.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token: 0.0 if the request may go ahead, else seconds until a token is due."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)  # most recently seen last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
