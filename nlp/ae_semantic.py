"""Semantic CTCAE candidates: all-MiniLM-L6-v2 sentence embeddings run through ONNX Runtime.

For the long tail of clinician wording that no lexicon lists ("hepatotoxicity", "sensorineural
hearing loss"), a mention is embedded (int8 model in `corpora/models/minilm/`, mean pooling,
L2 norm) and compared with the embeddings of the 811 CTCAE v5 term names. Export and checks
are in `corpora/models/minilm/build.py`; this module only runs the model (onnxruntime +
tokenizers, no torch).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from eligo.nlp.resources import resource

#: Cosine similarities are scaled below lexical scores (exact 1.0, consumer 0.95).
SEMANTIC_SCALE = 0.8
MAX_LENGTH = 64


class SemanticMatcher:
    """CTCAE term candidates by embedding similarity; build once (`load_matcher()`)."""

    def __init__(self, terms: list[tuple[str, str]]) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # one thread: eligo runs beside other work, and batch parallelism is per process
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        model = resource("models", "minilm", "model.int8.onnx").read_bytes()
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_str(
            resource("models", "minilm", "tokenizer.json").read_text(encoding="utf-8")
        )
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer.enable_truncation(max_length=MAX_LENGTH)
        self.terms = terms  # (term, MedDRA code)
        self.matrix = self.embed([term for term, _ in terms])

    def embed(self, texts: list[str], *, batch_size: int = 64) -> Any:
        """L2-normalised mean-pooled embeddings, one row per text."""
        rows = []
        for i in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(texts[i : i + batch_size])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            hidden = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            rows.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        return np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32)

    def similar(self, texts: list[str], *, limit: int = 3) -> list[list[tuple[str, str, float]]]:
        """For each text, the `limit` nearest CTCAE terms as (term, code, cosine)."""
        if not texts:
            return []
        sims = self.embed(texts) @ self.matrix.T
        out = []
        for row in sims:
            best = np.argsort(-row)[:limit]
            out.append([(*self.terms[i], float(row[i])) for i in best])
        return out


@lru_cache(maxsize=1)
def load_matcher() -> SemanticMatcher:
    """The semantic matcher over CTCAE v5 terms, built once per process (~1 s)."""
    from eligo.nlp.ae import load_data

    data = load_data()
    return SemanticMatcher([(t.term, t.code) for t in data.terms.values()])
