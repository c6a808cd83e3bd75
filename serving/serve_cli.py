"""`eligo serve`: run the HTTP service (uvicorn over `eligo.serving.app.create_app`).

Settings come from `ELIGO_*` environment variables (see `eligo.serving.settings`); with
several workers each process loads its own pipeline.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2

NO_KEYS_WARNING = """\
***********************************************************************************
* eligo serve: WARNING: no API keys are configured (ELIGO_API_KEYS is empty).     *
* Anyone who can reach this port can send notes to the service. Set               *
* ELIGO_API_KEYS=key1,key2 before exposing it beyond this machine.                *
***********************************************************************************"""


def add_parser(subparsers: Any) -> None:
    """Register `serve` on the `eligo` command's subparsers."""
    serve = subparsers.add_parser(
        "serve",
        help="run the HTTP API (FastAPI on uvicorn)",
        description=(
            "Serve /v1/extract and /v1/ae/code over HTTP, with /health, /ready, /metrics and "
            "the OpenAPI document at /docs. Settings come from ELIGO_* environment variables: "
            "ELIGO_API_KEYS, ELIGO_MAX_DOCUMENT_CHARS, ELIGO_MAX_BATCH, ELIGO_CORS_ORIGINS, "
            "ELIGO_MEDDRA_PATH, ELIGO_MODEL (default | none | a model folder)."
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: %(default)s)"
    )
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start the server and block until it stops; returns the exit code."""
    from pydantic import ValidationError

    from eligo.serving.settings import get_settings

    if not 0 < args.port < 65536:
        print(f"eligo serve: error: --port {args.port} is not a port (1-65535)", file=sys.stderr)
        return EXIT_USAGE
    if args.workers < 1:
        print("eligo serve: error: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = get_settings()
    except ValidationError as err:
        fields = ", ".join(
            "ELIGO_" + str(e["loc"][0]).upper() for e in err.errors(include_input=False)
        )
        print(f"eligo serve: error: invalid settings: {fields}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.api_keys:
        print(NO_KEYS_WARNING, file=sys.stderr)
    import uvicorn

    uvicorn.run(
        "eligo.serving.serve_cli:served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,  # eligo's access log records route templates, not raw paths
        log_config=None,  # keep the JSON logging configured above
        server_header=False,
    )
    return EXIT_OK


def served_app() -> Any:
    """The app as `eligo serve` runs it, in each worker: JSON logs, then `create_app()`."""
    from eligo.serving import logging as serving_logging
    from eligo.serving.app import create_app

    serving_logging.configure()
    return create_app()
