"""The review page: `GET /` and its assets under `GET /static/{name}`, read from the package.

The assets ship inside `eligo.serving` (no CDN, no build step) and are read through
`importlib.resources`, so the page works from a wheel, a zip or an editable install. Every
response carries a Content-Security-Policy that allows only eligo's own script and styles:
the page never needs inline code, so an injected `<script>` could not run even if one got in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

router = APIRouter(include_in_schema=False, tags=["review page"])

STATIC_PACKAGE = "eligo.serving"
STATIC_FOLDER = "static"
INDEX = "index.html"

#: what a browser may load or run on the page: eligo's own files and API, nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# A plain file name with a known extension: no folders, no dots before the extension, so no
# `..` and nothing outside the static folder can be named.
_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.html|\.js|\.css|\.svg)$")


@dataclass(frozen=True)
class Asset:
    """One static file, read once: its bytes, media type and ETag."""

    body: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=32)
def load_asset(name: str) -> Asset | None:
    """The packaged static file `name`, or None when there is no such file."""
    match = _NAME.match(name)
    if match is None:
        return None
    node = resources.files(STATIC_PACKAGE).joinpath(STATIC_FOLDER, name)
    if not node.is_file():
        return None
    body = node.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, _MEDIA_TYPES[match.group(1)], etag)


def _serve(request: Request, name: str) -> Response:
    asset = load_asset(name)
    if asset is None:
        raise HTTPException(404)
    headers = {
        "ETag": asset.etag,
        # revalidate every time (a cheap 304): a new eligo version must show its new page
        "Cache-Control": "no-cache",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/")
async def index(request: Request) -> Response:
    """The review page: notes, AE reports, criteria and prescreening in the browser."""
    return _serve(request, INDEX)


@router.get("/static/{name}")
async def static(request: Request, name: str) -> Response:
    """A packaged asset of the page (script, styles)."""
    return _serve(request, name)
