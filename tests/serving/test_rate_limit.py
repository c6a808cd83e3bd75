"""Per-client rate limiting (`ELIGO_RATE_LIMIT`): token buckets, 429 with Retry-After.

Clinical text here is synthetic, written for these tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from eligo.serving.app import TokenBuckets, create_app
from eligo.serving.settings import Settings

BODY = {"text": "Denies chest pain."}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(2.0, 3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # a token every 0.5 s
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 60  # refills, but never past the burst
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_refused_requests_do_not_spend_tokens() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(1.0, 1, clock=clock)
    assert buckets.take("a") == 0.0
    for _ in range(5):
        assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") == 0.0


def test_bucket_forgets_the_least_recently_seen_clients() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(1.0, 1, max_clients=2, clock=clock)
    for client in ("a", "b"):
        buckets.take(client)
    buckets.take("a")  # "a" seen again: "b" is now the oldest
    buckets.take("c")
    assert buckets.take("a") > 0  # remembered, still empty
    assert buckets.take("b") == 0.0  # forgotten: a full bucket again


def test_bucket_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="rate must be > 0 and burst >= 1, got rate=0"):
        TokenBuckets(0, 1)
    with pytest.raises(ValueError, match="burst=0"):
        TokenBuckets(1, 0)


def limited(**settings: object) -> Iterator[tuple[TestClient, FakeClock]]:
    app = create_app(Settings(model="none", **settings))  # type: ignore[arg-type]
    clock = FakeClock()
    app.state.rate_limiter.clock = clock
    with TestClient(app) as client:
        deadline = time.monotonic() + 120
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield client, clock


@pytest.fixture(scope="module")
def keyed() -> Iterator[tuple[TestClient, FakeClock]]:
    yield from limited(rate_limit=0.5, rate_limit_burst=2, api_keys=["k1", "k2"])


def test_past_the_burst_is_429_with_retry_after(keyed: tuple[TestClient, FakeClock]) -> None:
    client, clock = keyed
    clock.now += 100  # full buckets
    headers = {"X-API-Key": "k1"}
    assert [client.post("/v1/extract", json=BODY, headers=headers).status_code for _ in "ab"] == [
        200,
        200,
    ]
    refused = client.post("/v1/extract", json=BODY, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"  # 0.5 requests/s: the next token in 2 s
    error = refused.json()["error"]
    assert error["code"] == "too_many_requests"
    assert "0.5 requests/s per client, bursts of 2" in error["message"]
    assert "ELIGO_RATE_LIMIT" in error["message"]
    # another key is another client; the page and the probes are never limited
    assert client.post("/v1/ae/code", json=BODY, headers={"X-API-Key": "k2"}).status_code == 200
    for path in ("/health", "/ready", "/metrics", "/"):
        assert client.get(path).status_code == 200
    assert 'eligo_errors_total{code="too_many_requests"}' in client.get("/metrics").text
    clock.now += 2
    assert client.post("/v1/extract", json=BODY, headers=headers).status_code == 200


def test_requests_without_a_valid_key_share_their_address_bucket(
    keyed: tuple[TestClient, FakeClock],
) -> None:
    client, clock = keyed
    clock.now += 100
    # made-up keys must not buy fresh buckets: they count against the caller's address
    statuses = [
        client.post("/v1/extract", json=BODY, headers={"X-API-Key": f"guess-{i}"}).status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]
    assert client.post("/v1/extract", json=BODY, headers={"X-API-Key": "k1"}).status_code == 200


def test_without_keys_the_client_is_its_address() -> None:
    for client, clock in limited(rate_limit=1):
        clock.now += 10
        assert client.post("/v1/extract", json=BODY).status_code == 200  # burst = 1 s worth
        refused = client.post("/v1/extract", json=BODY, headers={"X-API-Key": "anything"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"


def test_off_by_default_and_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(Settings(model="none"))
    assert app.state.rate_limiter is None
    monkeypatch.setenv("ELIGO_RATE_LIMIT", "2.5")
    settings = Settings()
    assert (settings.rate_limit, settings.rate_limit_burst_size) == (2.5, 3)
    monkeypatch.setenv("ELIGO_RATE_LIMIT_BURST", "10")
    assert Settings().rate_limit_burst_size == 10
    limiter = create_app(Settings()).state.rate_limiter
    assert (limiter.rate, limiter.burst) == (2.5, 10)
    monkeypatch.setenv("ELIGO_RATE_LIMIT", "-1")
    with pytest.raises(ValueError, match="rate_limit"):
        Settings()
