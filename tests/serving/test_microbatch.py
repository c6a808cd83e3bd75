"""The micro-batcher: concurrent callers share pipeline calls, results stay with their caller."""

from __future__ import annotations

import threading
import time

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc

import eligo.nlp
from eligo.nlp.extract import make_doc, to_entities
from eligo.serving.microbatch import MicroBatcher

NOTES = [
    "Denies chest pain. Mother had breast cancer.",
    "Type 2 diabetes on metformin 1000 mg BID.",
    "No fever. Creatinine 1.4 mg/dL.",
    "History of stroke in 2019.",
]


@pytest.fixture(scope="module")
def nlp() -> Language:
    return eligo.nlp.load(model=None)


def texts(nlp: Language, results: list) -> list[list[str]]:  # type: ignore[type-arg]
    return [[e.text for e in to_entities(doc)] for doc in results]


def test_concurrent_callers_share_batches(nlp: Language) -> None:
    batcher = MicroBatcher(nlp, max_docs=8, max_wait=0.2)
    expected = {t: [e.text for e in to_entities(nlp(t))] for t in NOTES}
    got: dict[str, list[str]] = {}
    barrier = threading.Barrier(len(NOTES))

    def call(text: str) -> None:
        barrier.wait()
        (doc,) = batcher.run([make_doc(nlp, text)])
        got[text] = [e.text for e in to_entities(doc)]

    threads = [threading.Thread(target=call, args=(t,)) for t in NOTES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert got == expected  # each caller gets its own document back
    assert batcher.batches < len(NOTES)  # and they shared pipeline calls


def test_the_worker_keeps_serving_after_an_idle_wait(nlp: Language) -> None:
    # a caller alone waits out max_wait; the worker must still be there for the next one
    batcher = MicroBatcher(nlp, max_docs=8, max_wait=0.01)
    for text in NOTES:
        (doc,) = batcher.run([make_doc(nlp, text)])
        assert doc.text == text
        time.sleep(0.03)
    batcher.close()
    assert batcher.batches == len(NOTES)


def test_batch_size_limit_and_order(nlp: Language) -> None:
    batcher = MicroBatcher(nlp, max_docs=2, max_wait=0.0)
    docs = [make_doc(nlp, t) for t in NOTES]
    assert texts(nlp, batcher.run(docs)) == texts(nlp, [nlp(t) for t in NOTES])
    assert batcher.run([]) == []
    batcher.close()


@Language.component("test_boom")
def _boom(doc: Doc) -> Doc:
    if "BOOM" in doc.text:
        raise RuntimeError("boom")
    return doc


def test_a_failing_document_fails_alone() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("test_boom")
    batcher = MicroBatcher(nlp, max_docs=8, max_wait=0.0)
    first, second, third = batcher.run([nlp.make_doc(t) for t in ("fine", "BOOM", "also fine")])
    batcher.close()
    assert isinstance(second, RuntimeError)
    assert not isinstance(first, Exception) and first.text == "fine"
    assert not isinstance(third, Exception) and third.text == "also fine"


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_docs must be >= 1"):
        MicroBatcher(None, max_docs=0)  # type: ignore[arg-type]


def test_service_with_the_model_answers_sequential_and_concurrent_requests() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from eligo.serving.app import create_app
    from eligo.serving.settings import Settings

    app = create_app(Settings(model="default", microbatch_docs=8, microbatch_ms=5))
    with TestClient(app) as client:
        for _ in range(200):
            if client.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        if app.state.service.batcher is None:
            pytest.skip("no NER model shipped: the micro-batcher is only used with it")
        for text in NOTES[:2]:  # the second request after the worker's idle wait
            assert client.post("/v1/extract", json={"text": text}).status_code == 200
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda t: client.post("/v1/extract", json={"text": t}).status_code, NOTES * 4
                )
            )
        assert codes == [200] * len(NOTES) * 4
