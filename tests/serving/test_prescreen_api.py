"""`POST /v1/prescreen` through FastAPI's TestClient, on the lexicon-only pipeline.

Trials and charts here are synthetic, written for these tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eligo.serving.app import create_app
from eligo.serving.settings import Settings

TRIAL = """Inclusion Criteria:
- Age 18 years or older
- Diagnosis of type 2 diabetes mellitus

Exclusion Criteria:
- Prior pancreatitis
"""

ELIGIBLE = {
    "id": "p1",
    "birth_date": "1960-05-01",
    "notes": [{"id": "n1", "date": "2024-05-01",
               "text": "Type 2 diabetes mellitus on metformin. Denies pancreatitis."}],
}  # fmt: skip
EXCLUDED = {
    "id": 2,
    "birth_date": "1970-01-01",
    "notes": [{"id": "n2", "date": "2024-05-01",
               "text": "Type 2 diabetes mellitus. History of pancreatitis in 2019."}],
}  # fmt: skip


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = Settings(model="none", max_batch=3, max_document_chars=500)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 120
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the pipeline did not load"
            time.sleep(0.05)
        yield client


def post(client: TestClient, body: Any) -> Any:
    return client.post("/v1/prescreen", json=body)


def test_screens_each_patient_with_the_cli_line_shape(client: TestClient) -> None:
    body = {
        "trial": {"id": "NCT-1", "text": TRIAL, "min_age": "18 Years", "sex": "All"},
        "patients": [ELIGIBLE, EXCLUDED, {"id": "p3", "birth_date": "nope"}],
        "index_date": "2024-06-01",
    }
    response = post(client, body)
    assert response.status_code == 200, response.text
    first, second, third = response.json()["results"]
    assert (first["id"], first["trial"], first["status"]) == ("p1", "NCT-1", "eligible")
    assert first["index_date"] == "2024-06-01"
    assert {"kind", "text", "verdict", "evidence", "reason"} <= set(first["criteria"][0])
    assert (second["id"], second["status"]) == ("2", "excluded")
    assert third["id"] == "p3" and third["error"]["code"] == "invalid_date"
    assert "patients[2]" in third["error"]["message"]


def test_the_same_as_the_cli(client: TestClient, tmp_path: Any) -> None:
    """The API's screening equals `eligo prescreen`'s line for the same chart and trial."""
    import json

    from eligo.serving.cli import main

    (tmp_path / "t.txt").write_text(TRIAL, encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(json.dumps(ELIGIBLE) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    argv = ["prescreen", "--trial", str(tmp_path / "t.txt"), "--patients",
            str(tmp_path / "c.jsonl"), "--output", str(out), "--index-date", "2024-06-01",
            "--no-model", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    cli_line = json.loads(out.read_text(encoding="utf-8"))
    body = {"trial": {"id": "t", "text": TRIAL}, "patients": [ELIGIBLE], "index_date": "2024-06-01"}
    (api_line,) = post(client, body).json()["results"]
    assert api_line == cli_line


def test_parsed_rules_are_accepted(client: TestClient) -> None:
    import eligo.nlp
    from eligo.criteria.parse import parse

    rules = parse(TRIAL, id="R-1", nlp=eligo.nlp.load(model=None)).model_dump(mode="json")
    response = post(client, {"rules": rules, "patients": [ELIGIBLE], "index_date": "2024-06-01"})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert (result["trial"], result["status"]) == ("R-1", "eligible")


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    return str(body["error"]["message"])


def test_batch_limit(client: TestClient) -> None:
    body = {"trial": {"text": TRIAL}, "patients": [ELIGIBLE] * 4}
    assert "over the limit of 3" in error(post(client, body), 413, "too_many_documents")


def test_trial_and_rules_are_exclusive(client: TestClient) -> None:
    error(post(client, {"patients": [ELIGIBLE]}), 422, "invalid_request")
    body = {"trial": {"text": TRIAL}, "rules": {"criteria": []}, "patients": [ELIGIBLE]}
    error(post(client, body), 422, "invalid_request")


def test_unparseable_trial_is_400(client: TestClient) -> None:
    body = {"trial": {"text": "   "}, "patients": [ELIGIBLE]}
    assert "empty" in error(post(client, body), 400, "invalid_trial_empty")
    body = {"trial": {"text": TRIAL, "min_age": "eighteen"}, "patients": [ELIGIBLE]}
    error(post(client, body), 400, "invalid_trial_bad_field")


def test_oversized_trial_and_note(client: TestClient) -> None:
    body = {"trial": {"text": TRIAL + "- Diabetes\n" * 60}, "patients": [ELIGIBLE]}
    error(post(client, body), 413, "too_large")
    big = {"id": "big", "notes": [{"text": "Diabetes. " * 60}]}
    response = post(client, {"trial": {"text": TRIAL}, "patients": [big, ELIGIBLE]})
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first == {"id": "big", "error": first["error"]}
    assert first["error"]["code"] == "too_large"
    assert second["id"] == "p1"


def test_bad_index_date_and_empty_patients(client: TestClient) -> None:
    body = {"trial": {"text": TRIAL}, "patients": [ELIGIBLE], "index_date": "yesterday"}
    assert "index_date" in error(post(client, body), 422, "invalid_record")
    body = {"trial": {"text": TRIAL}, "patients": []}
    assert "patients" in error(post(client, body), 422, "invalid_record")


def test_unknown_chart_fields_are_item_errors(client: TestClient) -> None:
    chart = {"id": "x", "shoe_size": 9}
    response = post(client, {"trial": {"text": TRIAL}, "patients": [chart, "not a chart"]})
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["id"] == "x" and first["error"]["code"] == "invalid_record"
    assert second["id"] is None and "error" in second
