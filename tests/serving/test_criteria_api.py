"""`POST /v1/criteria/parse` through FastAPI's TestClient, on the lexicon-only pipeline.

Criteria text here is synthetic, written for these tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eligo.serving.app import create_app
from eligo.serving.criteria_cli import parse_result
from eligo.serving.settings import Settings

ROUTE = "/v1/criteria/parse"
SECTION = """Inclusion Criteria:
- Age 18 to 75 years
- Type 2 diabetes mellitus
Exclusion Criteria:
- History of stroke
"""
RULE_TYPES = {
    "concept",
    "medication",
    "measurement",
    "demographic",
    "unstructured",
    "and",
    "or",
    "not",
}
LIMITS = {"model": "none", "max_document_chars": 2000, "max_batch": 3}


def started(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 120
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the pipeline did not load"
            time.sleep(0.05)
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    yield from started(Settings(**LIMITS))  # type: ignore[arg-type]


def cli_result(text: str, rid: str | None) -> dict[str, Any]:
    """What `eligo criteria parse --no-model` writes for the same record."""
    import eligo.nlp

    return parse_result(rid, text, eligo.nlp.load(model=None))


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    for word in words:
        assert word in body["error"]["message"]


def test_single_document_is_the_cli_result(client: TestClient) -> None:
    response = client.post(ROUTE, json={"id": 7, "text": SECTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == cli_result(SECTION, "7")
    assert list(body) == ["id", "demographics", "criteria", "provenance"]
    assert body["id"] == "7"
    assert body["demographics"]["min_age"] == 18
    assert [c["kind"] for c in body["criteria"]] == ["inclusion", "inclusion", "exclusion"]
    for criterion in body["criteria"]:
        assert SECTION[criterion["start"] : criterion["end"]] == criterion["text"]
        assert criterion["rule"]["type"] in RULE_TYPES
    assert client.post(ROUTE, json={"text": SECTION}).json()["id"] is None


def test_batch_in_order_with_per_item_errors(client: TestClient) -> None:
    documents: list[Any] = [
        {"id": "a", "text": SECTION},
        {"id": "b", "text": "Inclusion Criteria:\n- \n"},
        {"id": "c", "text": "  "},
    ]
    response = client.post(ROUTE, json={"documents": documents})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["a", "b", "c"]
    assert results[0] == cli_result(SECTION, "a")
    assert results[1]["error"]["code"] == "no_criteria"
    assert results[1]["error"]["message"].startswith("documents[1]: no criteria found")
    assert results[2]["error"] == {
        "code": "empty_text",
        "message": "documents[2]: text is empty or only whitespace",
    }
    schema_errors: list[Any] = ["not an object", {"id": "e"}, {"id": "f", "text": 5}]
    results = client.post(ROUTE, json={"documents": schema_errors}).json()["results"]
    assert [(r["id"], r["error"]["code"]) for r in results] == [
        (None, "invalid_record"),
        ("e", "missing_text"),
        ("f", "invalid_text"),
    ]


def test_single_document_errors(client: TestClient) -> None:
    assert_error(client.post(ROUTE, json={"text": " \n"}), 400, "empty_text", "empty")
    assert_error(
        client.post(ROUTE, json={"text": "Exclusion Criteria:\n*\n"}),
        400,
        "no_criteria",
        "no criteria found",
    )
    assert_error(client.post(ROUTE, json={"text": "a\x00b"}), 400, "binary_input", "NUL")
    assert_error(
        client.post(ROUTE, json={"text": "z" * 2001}),
        413,
        "too_large",
        "ELIGO_MAX_DOCUMENT_CHARS=2,000",
    )
    assert_error(
        client.post(ROUTE, json={"documents": [{"text": SECTION}] * 4}),
        413,
        "too_many_documents",
        "4 documents, over the limit of 3",
    )


def test_schema_body_and_content_type_errors(client: TestClient) -> None:
    assert_error(client.post(ROUTE, json={"text": 5}), 422, "invalid_text", "text")
    assert_error(client.post(ROUTE, json={"id": "x"}), 422, "missing_text")
    assert_error(
        client.post(ROUTE, json={"text": "x", "targets": [[0, 1]]}),
        422,
        "invalid_record",
        "targets: Extra inputs are not permitted",
    )
    assert_error(client.post(ROUTE, json={"documents": []}), 422, "invalid_request")
    json_type = {"content-type": "application/json"}
    assert_error(client.post(ROUTE, content=b'{"text": ', headers=json_type), 400, "invalid_json")
    assert_error(
        client.post(ROUTE, content=b'{"text": "caf\xe9"}', headers=json_type),
        400,
        "invalid_encoding",
    )
    assert_error(
        client.post(ROUTE, content=SECTION.encode(), headers={"content-type": "text/plain"}),
        415,
        "unsupported_media_type",
    )
    assert_error(client.get(ROUTE), 405, "method_not_allowed")


def test_api_keys_and_metrics() -> None:
    settings = Settings(api_keys=["k1"], **LIMITS)  # type: ignore[arg-type]
    for keyed in started(settings):
        assert_error(keyed.post(ROUTE, json={"text": SECTION}), 401, "unauthorized")
        ok = keyed.post(ROUTE, json={"text": SECTION}, headers={"X-API-Key": "k1"})
        assert ok.status_code == 200
        keyed.post(
            ROUTE,
            json={"documents": [{"text": SECTION}, {"text": ""}]},
            headers={"X-API-Key": "k1"},
        )
        metrics = keyed.get("/metrics").text
        assert 'eligo_documents_total{outcome="ok",route="/v1/criteria/parse"} 2.0' in metrics
        assert 'eligo_documents_total{outcome="error",route="/v1/criteria/parse"} 1.0' in metrics


def test_openapi_documents_the_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"][ROUTE]["post"]
    assert {"200", "400", "401", "413", "415", "422", "503"} <= set(post["responses"])
    assert {"CriteriaDocument", "CriteriaBatch"} <= set(schema["components"]["schemas"])
    # the 200 body is the core Criteria model (or a batch of them), not a copy
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    refs = [r["$ref"].rsplit("/", 1)[1] for r in ok]
    assert refs[0].startswith("Criteria") and refs[1] == "CriteriaBatchResult"


def test_structured_age_and_sex_fields(client: TestClient) -> None:
    body = {"text": SECTION, "min_age": "21 Years", "max_age": "65 Years", "sex": "Male"}
    response = client.post(ROUTE, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["demographics"] == {
        "min_age": 21,
        "max_age": 65,
        "sex": "male",
        "pregnancy_excluded": False,
        "breastfeeding_excluded": False,
    }
    bad = client.post(ROUTE, json={"documents": [{"text": SECTION, "sex": "sometimes"}]})
    assert bad.status_code == 200
    (item,) = bad.json()["results"]
    assert item["error"]["code"] == "bad_field"
