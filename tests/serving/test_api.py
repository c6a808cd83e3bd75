"""The HTTP service through FastAPI's TestClient (no real server), on the lexicon-only pipeline.

Clinical text here is synthetic, written for these tests.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eligo.serving import serve_cli
from eligo.serving.app import create_app
from eligo.serving.cli import _extract
from eligo.serving.records import Note
from eligo.serving.settings import Settings, get_settings

NOTE = "Denies chest pain. Mother had breast cancer. Creatinine 1.4 mg/dL. Hx of HTN."
AE = "She threw up twice after the infusion of oxaliplatin and was admitted overnight."
LIMITS = {"model": "none", "max_document_chars": 2000, "max_batch": 4}


def wait_ready(client: TestClient, *, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "the pipeline did not load"
        time.sleep(0.05)


def started(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    yield from started(Settings(**LIMITS))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def keyed() -> Iterator[TestClient]:
    yield from started(Settings(api_keys=["k-one", "k-two"], **LIMITS))  # type: ignore[arg-type]


def cli_result(text: str, targets: Any = None, rid: str = "n1") -> dict[str, Any]:
    """What `eligo extract --no-model` writes for the same record."""
    (result,) = _extract([Note(rid, text, targets)], 32, model=False)
    return result


def assert_error(response: Any, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    for word in words:
        assert word in body["error"]["message"]


# ---------------------------------------------------------------------------------------------
# extract


def test_single_document_is_the_cli_result(client: TestClient) -> None:
    response = client.post("/v1/extract", json={"id": "n1", "text": NOTE})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.headers["x-request-id"]) == 32
    body = response.json()
    assert body == cli_result(NOTE)
    by_text = {e["text"]: e for e in body["entities"]}
    assert by_text["chest pain"]["negated"] is True
    assert by_text["breast cancer"]["family"] is True
    assert by_text["Creatinine"]["value"]["unit"] == "mg/dL"
    assert "value" not in by_text["chest pain"] and "also" not in by_text["chest pain"]
    assert set(body["provenance"]) >= {"eligo", "lexicons"}


def test_targets_come_back_assessed(client: TestClient) -> None:
    text = "No evidence of pneumonia."
    response = client.post("/v1/extract", json={"id": 7, "text": text, "targets": [[15, 24]]})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "7"
    (target,) = [e for e in body["entities"] if e["label"] == "target"]
    assert (target["start"], target["end"], target["negated"]) == (15, 24, True)
    assert "condition" in target["also"]
    assert body == cli_result(text, [[15, 24]], rid="7")


def test_batch_in_order_with_per_item_errors(client: TestClient) -> None:
    documents: list[Any] = [
        {"id": "a", "text": NOTE},
        {"id": "b", "text": "   "},
        {"id": "c", "text": 5},
        {"id": "d"},
    ]
    response = client.post("/v1/extract", json={"documents": documents})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["a", "b", "c", "d"]
    assert results[0] == cli_result(NOTE, rid="a")
    assert results[1]["error"] == {
        "code": "empty_text",
        "message": "documents[1]: text is empty or only whitespace",
    }
    assert results[2]["error"]["code"] == "invalid_text"
    assert results[3]["error"]["code"] == "missing_text"


def test_batch_item_errors_use_the_cli_codes(client: TestClient) -> None:
    documents: list[Any] = [
        "not an object",
        {"id": "f", "text": "Hx of HTN.", "targets": [[0, 99]]},
        {"id": "", "text": "x"},
        {"id": "h", "text": "y" * 2001},
    ]
    results = client.post("/v1/extract", json={"documents": documents}).json()["results"]
    codes = [(r["id"], r["error"]["code"]) for r in results]
    assert codes == [
        (None, "invalid_record"),
        ("f", "invalid_targets"),
        (None, "invalid_id"),
        ("h", "too_large"),
    ]
    assert "valid offsets: 0..10" in results[1]["error"]["message"]
    assert "2,001 characters, over the limit of 2,000" in results[3]["error"]["message"]


def test_single_document_errors(client: TestClient) -> None:
    assert_error(client.post("/v1/extract", json={"text": " \n"}), 400, "empty_text", "empty")
    assert_error(client.post("/v1/extract", json={"text": "a\x00b"}), 400, "binary_input", "NUL")
    assert_error(
        client.post("/v1/extract", json={"text": "Cough.", "targets": [[3, 1]]}),
        400,
        "invalid_targets",
        "targets[0] = [3, 1]",
    )
    assert_error(
        client.post("/v1/extract", json={"text": "z" * 2001}),
        413,
        "too_large",
        "2,001 characters",
        "ELIGO_MAX_DOCUMENT_CHARS=2,000",
    )


def test_oversized_batch_is_413(client: TestClient) -> None:
    documents = [{"text": "Cough."}] * 5
    assert_error(
        client.post("/v1/extract", json={"documents": documents}),
        413,
        "too_many_documents",
        "5 documents, over the limit of 4",
    )


def test_schema_errors_are_422(client: TestClient) -> None:
    assert_error(
        client.post("/v1/extract", json={"text": 5}), 422, "invalid_text", "text: Input should be"
    )
    assert_error(client.post("/v1/extract", json={"id": "x"}), 422, "missing_text", "text")
    assert_error(
        client.post("/v1/extract", json={"text": "x", "targets": "1-2"}),
        422,
        "invalid_targets",
        "targets",
    )
    assert_error(
        client.post("/v1/extract", json={"text": "x", "extra": 1}),
        422,
        "invalid_record",
        "extra: Extra inputs are not permitted",
    )
    assert_error(client.post("/v1/extract", json=[1, 2]), 422, "invalid_request")
    assert_error(
        client.post("/v1/extract", json={"documents": []}),
        422,
        "invalid_request",
        "at least 1 item",
    )
    assert_error(
        client.post("/v1/ae/code?format=xml", json={"text": "x"}),
        422,
        "invalid_parameter",
        "query.format",
    )


def test_malformed_and_unreadable_bodies_are_400(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    assert_error(
        client.post("/v1/extract", content=b'{"text": ', headers=json_type),
        400,
        "invalid_json",
        "not valid JSON",
    )
    assert_error(
        client.post("/v1/extract", content=b"", headers=json_type), 400, "invalid_json", "empty"
    )
    assert_error(
        client.post("/v1/extract", content=b'{"text": "caf\xe9"}', headers=json_type),
        400,
        "invalid_encoding",
        "byte 0xe9",
    )


def test_wrong_content_type_is_415(client: TestClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        assert_error(
            client.post("/v1/extract", content=b"Cough.", headers={"content-type": content_type}),
            415,
            "unsupported_media_type",
            "application/json",
        )
    assert_error(
        client.post(
            "/v1/extract",
            content=b'{"text": "x"}',
            headers={"content-type": "application/json; charset=latin-1"},
        ),
        415,
        "unsupported_media_type",
    )
    no_type = client.post("/v1/extract", content=b'{"text": "x"}', headers={"content-type": ""})
    assert_error(no_type, 415, "unsupported_media_type", "missing")
    ok = client.post(
        "/v1/extract",
        content=b'{"text": "Cough."}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing"), 404, "not_found", "/docs")
    assert_error(client.get("/nothing/here"), 404, "not_found")
    assert_error(client.get("/v1/extract"), 405, "method_not_allowed", "GET")


def test_request_body_limit_is_checked_before_reading() -> None:
    settings = Settings(model="none", max_request_bytes=200)
    with TestClient(create_app(settings)) as small:
        assert_error(
            small.post("/v1/extract", json={"text": "x" * 300}),
            413,
            "request_too_large",
            "over the limit of 200",
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as read
            yield b'{"text": "'
            yield b"y" * 300
            yield b'"}'

        assert_error(
            small.post(
                "/v1/extract", content=chunks(), headers={"content-type": "application/json"}
            ),
            413,
            "request_too_large",
        )


# ---------------------------------------------------------------------------------------------
# auth


def test_api_keys(keyed: TestClient) -> None:
    body = {"text": "Cough."}
    assert_error(keyed.post("/v1/extract", json=body), 401, "unauthorized", "X-API-Key")
    wrong = keyed.post("/v1/extract", json=body, headers={"X-API-Key": "nope"})
    assert_error(wrong, 401, "unauthorized", "invalid API key")
    assert wrong.headers["www-authenticate"] == "Bearer"
    # refused before the body is looked at
    unread = keyed.post("/v1/extract", content=b"{bad", headers={"content-type": "text/plain"})
    assert_error(unread, 401, "unauthorized")
    assert keyed.post("/v1/extract", json=body, headers={"X-API-Key": "k-two"}).status_code == 200
    bearer = {"Authorization": "Bearer k-one"}
    assert keyed.post("/v1/ae/code", json={"text": AE}, headers=bearer).status_code == 200
    for path in ("/health", "/ready", "/metrics"):
        assert keyed.get(path).status_code == 200


def test_no_keys_means_no_auth(client: TestClient) -> None:
    assert client.post("/v1/extract", json={"text": "Cough."}).status_code == 200


# ---------------------------------------------------------------------------------------------
# AE coding


def test_ae_code_single_is_the_cli_record(client: TestClient) -> None:
    response = client.post("/v1/ae/code", json={"id": "r1", "text": AE})
    assert response.status_code == 200
    report = response.json()
    assert report["id"] == "r1"
    assert [e["ctcae_term"] for e in report["events"] if e["coded"]] == ["Vomiting"]
    assert report["serious"] is True
    assert [(d["text"], d["role"]) for d in report["drugs"]] == [("oxaliplatin", "suspect")]
    assert {"outcome", "action_taken", "onset", "relatedness", "provenance"} <= set(report)


def test_ae_code_signs_is_opt_in(client: TestClient) -> None:
    text = "Admitted on day 9 with febrile neutropenia, ANC 0.2, after cycle 2 of docetaxel."

    def coded_terms(query: str) -> list[str]:
        report = client.post(f"/v1/ae/code{query}", json={"text": text}).json()
        return sorted(e["ctcae_term"] for e in report["events"] if e["coded"])

    assert coded_terms("") == ["Febrile neutropenia"]  # the diagnosis only, MedDRA practice
    assert coded_terms("?code_signs=true") == ["Febrile neutropenia", "Neutrophil count decreased"]


def test_ae_code_e2b_and_batch(client: TestClient) -> None:
    e2b = client.post("/v1/ae/code?format=e2b", json={"id": "r1", "text": AE}).json()
    assert e2b["id"] == "r1"
    assert e2b["E.i"][0]["E.i.1.1a"] == "threw up"
    assert e2b["E.i"][0]["E.i.3.2c"] is True
    assert e2b["G.k"][0]["G.k.2.2"] == "oxaliplatin"
    batch = {"documents": [{"id": "r1", "text": AE}, {"id": "r2", "text": ""}, {"id": "r3"}]}
    results = client.post("/v1/ae/code", json=batch).json()["results"]
    assert results[0]["events"][0]["ctcae_term"] == "Vomiting"
    assert [r.get("error", {}).get("code") for r in results] == [None, "empty_text", "missing_text"]
    assert_error(
        client.post("/v1/ae/code", json={"text": "x", "targets": [[0, 1]]}),
        422,
        "invalid_record",
        "targets",
    )


# ---------------------------------------------------------------------------------------------
# operations


def test_health_ready_and_not_ready() -> None:
    app = create_app(Settings(model="none"))
    bare = TestClient(app)  # not entered: the lifespan has not loaded the pipeline
    assert bare.get("/health").json() == {"status": "ok"}
    assert_error(bare.get("/ready"), 503, "not_ready", "loading")
    not_ready = bare.post("/v1/extract", json={"text": "Cough."})
    assert_error(not_ready, 503, "not_ready")
    assert not_ready.headers["retry-after"] == "5"


def test_ready_describes_the_pipeline(client: TestClient) -> None:
    ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    assert "eligo_ner" not in ready["pipeline"] and "eligo_context" in ready["pipeline"]
    assert ready["meddra"] is False


def test_failed_load_is_reported_by_ready(tmp_path: Any) -> None:
    settings = Settings(model="none", meddra_path=str(tmp_path / "no-such-release"))
    with TestClient(create_app(settings)) as failing:
        deadline = time.monotonic() + 120
        while (body := failing.get("/ready").json())["error"]["code"] == "not_ready":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert body["error"]["code"] == "load_failed"
        assert str(tmp_path) not in body["error"]["message"]


def test_metrics(client: TestClient) -> None:
    client.post("/v1/extract", json={"text": NOTE})
    client.post("/v1/extract", json={"text": "z" * 2001})
    client.post("/v1/extract", json={"documents": [{"text": ""}]})
    client.get("/v1/nothing")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'eligo_requests_total{method="POST",route="/v1/extract",status="200"}' in text
    assert 'eligo_requests_total{method="POST",route="/v1/extract",status="413"}' in text
    assert 'eligo_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'eligo_request_duration_seconds_bucket{le="0.5",route="/v1/extract"}' in text
    assert 'eligo_pipeline_seconds_count{route="/v1/extract"}' in text
    assert 'eligo_errors_total{code="too_large"}' in text
    assert 'eligo_errors_total{code="empty_text"}' in text
    assert 'eligo_documents_total{outcome="ok",route="/v1/extract"}' in text
    assert "/v1/nothing" not in text


def test_unexpected_failure_is_a_generic_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from eligo.serving.routers import extract

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Traceback secret: " + NOTE)

    monkeypatch.setattr(extract, "run_extract", boom)
    with caplog.at_level(logging.DEBUG):
        response = client.post("/v1/extract", json={"text": "Cough."})
    assert_error(response, 500, "internal_error", "internal error")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)
    assert not any("secret" in r.getMessage() or r.exc_info for r in caplog.records)


def test_processing_failure_in_a_batch_is_an_item(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eligo.serving.routers import ae

    real = ae.code_report

    def flaky(text: str, **kwargs: Any) -> Any:
        if "explode" in text:
            raise ValueError(text)
        return real(text, **kwargs)

    monkeypatch.setattr(ae, "code_report", flaky)
    batch = {"documents": [{"id": "1", "text": "please explode"}, {"id": "2", "text": AE}]}
    results = client.post("/v1/ae/code", json=batch).json()["results"]
    assert results[0]["error"] == {
        "code": "processing_failed",
        "message": "coding failed on this document (ValueError)",
    }
    assert results[1]["events"]
    assert_error(client.post("/v1/ae/code", json={"text": "explode now"}), 500, "processing_failed")


def test_logs_never_hold_note_text_or_ids(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "Quixotrane Zembleworth was seen for zorbulitis; denies fever."
    secret_id = "MRN-55501234"
    requests: list[tuple[str, Any]] = [
        ("/v1/extract", {"id": secret_id, "text": secret_text}),
        ("/v1/extract", {"documents": [{"id": secret_id, "text": secret_text}, {"id": secret_id}]}),
        ("/v1/extract", {"id": secret_id, "text": secret_text, "targets": [[0, 999]]}),
        ("/v1/extract", {"id": secret_id, "text": secret_text * 50}),
        ("/v1/extract", {"id": secret_id, "text": 12, "note": secret_text}),
        ("/v1/ae/code", {"id": secret_id, "text": secret_text}),
        ("/v1/ae/code?format=e2b", {"documents": [{"id": secret_id, "text": secret_text}]}),
    ]
    with caplog.at_level(logging.DEBUG):
        for path, body in requests:
            client.post(path, json=body)
        client.post(
            "/v1/extract",
            content=f'{{"id": "{secret_id}", "text": '.encode(),
            headers={"content-type": "application/json"},
        )
        client.get(f"/v1/patients/{secret_id}")
    # the test client's own logger (httpx) prints the URL it requests: it is not the server
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    access = [r for r in server if r.name == "eligo.serving.access"]
    assert len(access) == len(requests) + 2
    for record in server:
        logged = record.getMessage() + repr(record.__dict__)
        assert "Quixotrane" not in logged and "zorbulitis" not in logged
        assert secret_id not in logged and "55501234" not in logged


def test_concurrent_requests_match_sequential(client: TestClient) -> None:
    texts = [f"Patient {i}: denies chest pain; creatinine {i}.2 mg/dL." for i in range(8)]
    expected = [client.post("/v1/extract", json={"text": t}).json() for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda t: client.post("/v1/extract", json={"text": t}).json(), texts))
    assert got == expected


def test_cors_when_origins_are_configured() -> None:
    settings = Settings(model="none", cors_origins=["http://localhost:3000"])
    with TestClient(create_app(settings)) as cors:
        preflight = cors.options(
            "/v1/extract",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-api-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"


@pytest.mark.skipif(
    not __import__("eligo.nlp.pipeline", fromlist=["shipped_model"]).shipped_model(),
    reason="no NER model shipped in corpora/models/ner",
)
def test_default_model_setting() -> None:
    for c in started(Settings(model="default")):
        assert "eligo_ner" in c.get("/ready").json()["pipeline"]
        response = c.post("/v1/extract", json={"text": NOTE})
        assert response.status_code == 200
        assert "eligo_model_inference_seconds_total" in c.get("/metrics").text


# ---------------------------------------------------------------------------------------------
# settings and `eligo serve`


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELIGO_API_KEYS", "alpha, beta")
    monkeypatch.setenv("ELIGO_CORS_ORIGINS", '["http://a.example"]')
    monkeypatch.setenv("ELIGO_MAX_BATCH", "8")
    monkeypatch.setenv("ELIGO_MODEL", "none")
    settings = Settings()
    assert settings.api_keys == ["alpha", "beta"]
    assert settings.cors_origins == ["http://a.example"]
    assert settings.max_batch == 8
    assert settings.pipeline_model is None
    assert "alpha" not in repr(settings)
    assert Settings(model="default").pipeline_model == "default"


def test_get_settings_is_cached_and_overridable() -> None:
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()
    app = create_app(Settings(model="none", max_batch=3))
    assert app.dependency_overrides[get_settings]().max_batch == 3


def serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eligo")
    serve_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_serve_starts_uvicorn_and_warns_without_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.delenv("ELIGO_API_KEYS", raising=False)
    get_settings.cache_clear()
    try:
        args = serve_args("--port", "8123", "--workers", "2")
        assert args.handler is serve_cli.run
        assert serve_cli.run(args) == 0
        assert "no API keys are configured" in capsys.readouterr().err
        ((app, kwargs),) = calls
        assert app == "eligo.serving.serve_cli:served_app" and kwargs["factory"] is True
        assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 8123, 2)
        assert kwargs["access_log"] is False

        monkeypatch.setenv("ELIGO_API_KEYS", "k")
        get_settings.cache_clear()
        assert serve_cli.run(serve_args()) == 0
        assert "no API keys" not in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_serve_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_cli.run(serve_args("--port", "70000")) == 2
    assert "--port 70000 is not a port" in capsys.readouterr().err
    assert serve_cli.run(serve_args("--workers", "0")) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("ELIGO_MAX_BATCH", "zero")
    get_settings.cache_clear()
    try:
        assert serve_cli.run(serve_args()) == 2
        assert "invalid settings: ELIGO_MAX_BATCH" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
