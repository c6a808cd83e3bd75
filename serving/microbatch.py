"""Micro-batching of pipeline calls across concurrent requests.

With the NER model loaded, `nlp.pipe` over 8 notes runs ~1.5x faster than 8 single calls
(ONNX Runtime batches the windows; `benchmarks/load_test.py` measures it), while threads
calling the pipeline side by side gain nothing (the interpreter lock and ONNX Runtime's own
threads already fill the cores). So concurrent `/v1/extract` requests hand their Docs to one
worker thread, which waits at most `max_wait` seconds for more work (up to `max_docs` Docs)
and runs them through the pipeline together. A request alone on the server pays at most the
wait. A Doc that fails becomes its own exception; the others are unaffected.

Off by default (`ELIGO_MICROBATCH_DOCS=1`): on this project's 2-core machine, with the load
generator on the same cores, HTTP throughput at concurrency 8 and 32 was the same with and
without it (10.6-11.8 vs 9.8-12.7 requests/s, `benchmarks/load_test.py`), while in-process
`nlp.pipe` of 8 notes is 1.5x: the cores are already full. Turn it on where the server has
cores to itself.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

from spacy.language import Language
from spacy.tokens import Doc

from eligo.nlp.extract import pipe_isolating

Result = list[Doc | Exception]


class MicroBatcher:
    """One worker thread that runs the Docs of concurrent callers through one `nlp.pipe`."""

    def __init__(self, nlp: Language, *, max_docs: int = 8, max_wait: float = 0.005) -> None:
        if max_docs < 1 or max_wait < 0:
            raise ValueError(
                f"max_docs must be >= 1 and max_wait >= 0, got {max_docs} and {max_wait}"
            )
        self.nlp = nlp
        self.max_docs = max_docs
        self.max_wait = max_wait
        self.batches = 0  # pipeline calls made (for tests and metrics)
        self._jobs: queue.Queue[tuple[Sequence[Doc], Future[Result]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="eligo-microbatch", daemon=True)
        self._thread.start()

    def run(self, docs: Sequence[Doc]) -> Result:
        """Process `docs` (blocking), batched with whatever else is waiting."""
        if not docs:
            return []
        future: Future[Result] = Future()
        self._jobs.put((docs, future))
        return future.result()

    def close(self) -> None:
        """Stop the worker after the jobs already queued."""
        self._jobs.put(None)
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            jobs = [first]
            count = len(first[0])
            deadline = time.perf_counter() + self.max_wait
            stop = False
            while count < self.max_docs:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    job = self._jobs.get(timeout=remaining)
                except queue.Empty:
                    break  # waited long enough: run what there is
                if job is None:  # close(): finish this batch, then stop
                    stop = True
                    break
                jobs.append(job)
                count += len(job[0])
            self._run(jobs)
            if stop:
                return

    def _run(self, jobs: list[tuple[Sequence[Doc], Future[Result]]]) -> None:
        docs = [doc for batch, _ in jobs for doc in batch]
        try:
            done = pipe_isolating(self.nlp, docs)
        except BaseException as err:  # never leave a caller waiting
            for _, future in jobs:
                future.set_exception(err)
            return
        self.batches += 1
        start = 0
        for batch, future in jobs:
            future.set_result(done[start : start + len(batch)])
            start += len(batch)
