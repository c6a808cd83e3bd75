"""Snapshot of the service's OpenAPI schema: a change to the API contract is a visible diff.

Regenerate after an intended change:

    ELIGO_UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/pytest tests/serving/test_openapi.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eligo.serving.app import create_app
from eligo.serving.settings import Settings

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
REGENERATE = "ELIGO_UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/pytest tests/serving/test_openapi.py"


def current_schema() -> dict[str, Any]:
    schema = create_app(Settings(model="none")).openapi()
    schema["info"].pop("version", None)  # the package version is not part of the contract
    # through JSON, so the comparison sees what the file holds (tuples -> lists, ...)
    loaded: dict[str, Any] = json.loads(json.dumps(schema, sort_keys=True))
    return loaded


def _paths_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    changed = []
    for section in ("paths", "components"):
        before, after = old.get(section, {}), new.get(section, {})
        inner_before = before.get("schemas", before) if section == "components" else before
        inner_after = after.get("schemas", after) if section == "components" else after
        for key in sorted(set(inner_before) | set(inner_after)):
            if inner_before.get(key) != inner_after.get(key):
                changed.append(f"{section}: {key}")
    return ", ".join(changed) or "info/metadata"


def test_openapi_matches_snapshot() -> None:
    schema = current_schema()
    if os.environ.get("ELIGO_UPDATE_OPENAPI_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert SNAPSHOT.exists(), f"no OpenAPI snapshot at {SNAPSHOT}; create it with: {REGENERATE}"
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert schema == snapshot, (
        f"the OpenAPI schema changed ({_paths_diff(snapshot, schema)}). If the API change is "
        f"intended, regenerate the snapshot and commit it: {REGENERATE}"
    )


def test_openapi_documents_every_endpoint_and_error() -> None:
    schema = current_schema()
    assert set(schema["paths"]) == {
        "/v1/extract",
        "/v1/ae/code",
        "/v1/criteria/parse",
        "/v1/prescreen",
        "/health",
        "/ready",
        "/metrics",
    }
    for path in ("/v1/extract", "/v1/ae/code", "/v1/criteria/parse", "/v1/prescreen"):
        responses = set(schema["paths"][path]["post"]["responses"])
        assert {"200", "400", "401", "413", "415", "422", "503"} <= responses, path
    assert "ExtractDocument" in schema["components"]["schemas"]
    assert "Entity" in schema["components"]["schemas"]  # the core type, not a copy
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schema["components"]["securitySchemes"])
