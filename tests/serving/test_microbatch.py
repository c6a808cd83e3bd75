"""The micro-batcher: concurrent callers share pipeline calls, results stay with their caller."""

from __future__ import annotations

import threading

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
