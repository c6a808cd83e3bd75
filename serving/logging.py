"""Structured logs for the service: one JSON object per line, never note text or record ids.

The access log (`eligo.serving.access`) writes one line per request whose message is already
a JSON object (request id, method, route template, status, sizes, duration, error code);
`JsonFormatter` renders every other record (uvicorn's, eligo's) the same way, without
tracebacks: an exception is logged by its class name only, since its message or locals
could quote a note.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

ACCESS_LOGGER = "eligo.serving.access"


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", ...}` with the fields of a JSON message merged in."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        fields = None
        if message.startswith("{"):
            try:
                fields = json.loads(message)
            except ValueError:
                fields = None
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = message
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    """Send eligo's and uvicorn's logs to stderr as JSON lines (used by `eligo serve`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("eligo", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # uvicorn's access log prints raw paths and query strings; eligo's own access log
    # records the route template instead.
    logging.getLogger("uvicorn.access").disabled = True


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event; callers pass counts, sizes, timings and codes only."""
    logger.log(level, json.dumps({"event": event, **fields}, ensure_ascii=False, default=str))
