"""Schema-driven fuzzing of the service (schemathesis over its own OpenAPI document, in process),
and hostile bodies the schema cannot describe.

Every operation gets generated valid and invalid requests; the checks are schemathesis's:
no 5xx, status codes, content types, headers and bodies as documented, invalid input refused,
auth not ignored. Bounded (`MAX_EXAMPLES` per operation, no example database, no coverage
phase) so the module stays under a minute on two cores. Clinical text here is synthetic,
written for these tests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from eligo.serving.app import _repair_surrogates, create_app
from eligo.serving.settings import Settings

#: examples per operation; a deeper run:
#: ELIGO_FUZZ_RANDOM=1 ELIGO_FUZZ_EXAMPLES=500 ELIGO_FUZZ_COVERAGE=1 pytest tests/serving/...
MAX_EXAMPLES = int(os.environ.get("ELIGO_FUZZ_EXAMPLES", "25"))
# The coverage phase (schemathesis's boundary values, run as explicit examples) is not
# bounded by max_examples: hundreds of requests per operation, minutes on two cores.
PHASES = (
    [Phase.explicit, Phase.generate] if os.environ.get("ELIGO_FUZZ_COVERAGE") else [Phase.generate]
)
API_KEY = "fuzz-key"
LIMITS: dict[str, Any] = {"model": "none", "max_document_chars": 2000, "max_batch": 4}

app = create_app(Settings(api_keys=[API_KEY], **LIMITS))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    """schemathesis runs the app's lifespan once; wait until it has loaded the pipeline."""
    from schemathesis.python import asgi

    with asgi.get_client(cast(Any, app)) as client:
        deadline = time.monotonic() + 120
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the pipeline did not load"
            time.sleep(0.05)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    # CI replays the same examples (a red run is reproducible); ELIGO_FUZZ_RANDOM=1 explores
    derandomize=not os.environ.get("ELIGO_FUZZ_RANDOM"),
    deadline=None,
    database=None,
    phases=PHASES,
    suppress_health_check=list(HealthCheck),
)
def test_openapi_fuzz(case: schemathesis.Case) -> None:
    # positive_data_acceptance is off: text that fits the schema can still be refused on
    # purpose (empty or whitespace-only, NUL characters, past the configured size), with a
    # documented 400/413 and the CLI's error code.
    excluded: list[Any] = [positive_data_acceptance]
    items = _batch_items(case.body)
    if items is not None:
        # A batch answers 200 with an error item in place of each invalid item, by design:
        # one bad document must not sink the others. So an invalid item is not "accepted";
        # check instead that every item got its result or its error.
        excluded.append(negative_data_rejection)
    response = case.call_and_validate(headers={"X-API-Key": API_KEY}, excluded_checks=excluded)
    if items is not None and response.status_code == 200:
        assert len(response.json()["results"]) == len(items)


def _batch_items(body: object) -> list[Any] | None:
    """The items of a batch body (`documents`, or prescreen's `patients`), if it is one."""
    if isinstance(body, dict):
        for key in ("documents", "patients"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return None


# ---------------------------------------------------------------------------------------------
# bodies a JSON schema cannot express


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(**LIMITS)), raise_server_exceptions=False) as c:
        deadline = time.monotonic() + 120
        while c.get("/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield c


JSON = {"content-type": "application/json"}
ROUTES = ("/v1/extract", "/v1/ae/code", "/v1/criteria/parse")


def served(client: TestClient, path: str) -> None:
    """Skip when `path` is not served (yet): other routers are still being built."""
    if path not in client.get("/openapi.json").json()["paths"]:
        pytest.skip(f"{path} is not served")


def post(client: TestClient, path: str, body: bytes) -> Any:
    served(client, path)
    return client.post(path, content=body, headers=JSON)


@pytest.mark.parametrize("path", ROUTES)
def test_unpaired_surrogates_become_replacement_characters(client: TestClient, path: str) -> None:
    # JSON.stringify writes "\ud83d" when a string was cut inside an emoji; such a code point
    # cannot be tokenized or written back as UTF-8.
    text = "Denies chest pain \\ud83d; fever \\udc00 since \\ud83d\\ude42 Monday."
    response = post(client, path, ('{"id": "s1", "text": "' + text + '"}').encode())
    assert response.status_code == 200, response.text
    if path == "/v1/extract":
        (chest,) = [e for e in response.json()["entities"] if e["text"] == "chest pain"]
        assert chest["negated"] is True and (chest["start"], chest["end"]) == (7, 17)
        (fever,) = [e for e in response.json()["entities"] if e["text"] == "fever"]
        assert fever["start"] == len("Denies chest pain \ufffd; ")


def test_surrogate_repair_keeps_pairs_escaped_backslashes_and_length() -> None:
    body = rb'{"text": "a \ud83d\ude42 b \\ud800 c \ud800\ud800\udc00 d \udfff"}'
    repaired = _repair_surrogates(body)
    assert len(repaired) == len(body)
    assert json.loads(repaired)["text"] == "a \U0001f642 b \\ud800 c \ufffd\U00010000 d \ufffd"
    plain = b'{"text": "caf\\u00e9"}'
    assert _repair_surrogates(plain) is plain


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "x", "id": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",  # nesting too deep
        b'{"text": "x", "id": 1' + b"0" * 5000 + b"}",  # an integer past Python's digit limit
    ],
    ids=["deep-nesting", "huge-integer"],
)
def test_unparseable_json_is_400(client: TestClient, path: str, body: bytes) -> None:
    response = post(client, path, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert "could not be parsed as JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "invalid_json"),
        (b"  \n", 400, "invalid_json"),
        (b'{"text": ', 400, "invalid_json"),
        (b"\xff\xfe{\x00}\x00", 400, "invalid_encoding"),
        (b'{"text": "\xe9"}', 400, "invalid_encoding"),
        (b"null", 422, "invalid_request"),
        (b'"Denies chest pain."', 422, "invalid_request"),
    ],
    ids=["empty", "blank", "truncated", "utf16", "latin1", "null", "bare-string"],
)
def test_malformed_bodies_on_every_route(
    client: TestClient, path: str, body: bytes, status: int, code: str
) -> None:
    response = post(client, path, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("path", (*ROUTES, "/v1/prescreen"))
def test_wrong_content_type_and_oversized_on_every_route(client: TestClient, path: str) -> None:
    served(client, path)
    form = client.post(path, content=b"text=x", headers={"content-type": "text/plain"})
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    big = client.post(path, json={"text": "y" * 2001})
    assert big.status_code in (413, 422), big.text  # 422: a route whose body is not {"text"}
    if big.status_code == 413:
        assert big.json()["error"]["code"] == "too_large"
