"""NER dev figures of a shipped model, decoded as at run time, with argmax decoding as baseline.

Scores `corpora/models/ner/model.int8.onnx` (and, with `--fp32 PATH`, an fp32 export of the
same model) on the dev sets `eligo train ner` carves from ../shared/data (same seed, same
split), span-level exact match per corpus and scored label (as `eligo.nlp.ner_data.score`),
plus lenient (any-overlap) adverse-event figures on ADE-Corpus-V2 and false alarms on
ADE-NEG, and the whole pipeline's ADE adverse-event and drug entities (what `eligo
extract` returns: lexicons and model merged) with the model's or the lexicon's extent for
an adverse event (`ae_extent`, see `eligo.nlp.ner`). Decodings, measured in the same run:

- runtime: BIO-constrained Viterbi over each word's first piece, adverse events widened
  over the words their training corpus nearly always includes (the model's `edges.json`,
  `eligo.nlp.ner.extend_edges`; also scored without), then neighbouring words of one type
  read as one entity (`eligo.nlp.ner.bio_viterbi`, `decode_spans`);
- baseline: per-word argmax with BIO read strictly (a `B-` always starts a new entity), what
  the runtime did before.

Usage:

    .venv/bin/python benchmarks/eval_ner.py [--data ../shared/data] \
        [--fp32 out/ner_run/onnx/model.onnx] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "corpora" / "models" / "ner"


def strict_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """The old reading: B- starts an entity, I- continues one of its type."""
    spans: list[tuple[int, int, str]] = []
    start, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        if tag == "O" or tag.startswith("B-") or tag[2:] != label:
            if start >= 0:
                spans.append((start, i, label))
            start, label = (i, tag[2:]) if tag != "O" else (-1, "")
    return spans


def word_scores(session: Any, tokenizer: Any, examples: Sequence[Any]) -> list[np.ndarray]:
    """Log-probabilities at each word's first piece, batched by length like the runtime."""
    from eligo.nlp.ner import log_softmax
    from eligo.nlp.ner_train import encode, pad_batch

    encoded = encode(tokenizer, examples)
    out: list[np.ndarray] = [np.zeros(0)] * len(examples)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    for b in range(0, len(order), 32):
        idx = order[b : b + 32]
        ids, mask, types, _ = pad_batch([encoded[i] for i in idx])
        (logits,) = session.run(
            ["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        scores = log_softmax(logits)
        for row, i in enumerate(idx):
            n = len(examples[i].words)
            words = np.full((n, scores.shape[-1]), -1e4, dtype=np.float32)
            words[:, 0] = 0.0  # a word cut by truncation reads as O
            for pos, w in enumerate(encoded[i].first_of_word):
                if w >= 0:
                    words[w] = scores[row, pos]
            out[i] = words
    return out


Decode = Callable[[np.ndarray, Any], list[str]]


def score_with(
    examples: Sequence[Any],
    scores: Sequence[np.ndarray],
    decode: Decode,
    spans: Callable[[Sequence[str]], list[tuple[int, int, str]]],
) -> dict[str, Any]:
    from eligo.nlp.ner_data import score

    result = score(
        examples, [decode(s, e) for s, e in zip(scores, examples, strict=True)], spans=spans
    )
    return next(iter(result.values())) if result else {}


def lenient_ae(examples: Sequence[Any], tags: Sequence[Sequence[str]]) -> dict[str, float]:
    """ADE adverse_event P/R/F1 counting any overlap with a gold span as a match."""
    from eligo.nlp.ner_data import decode_spans

    tp_p = n_p = tp_r = n_g = 0
    for example, t in zip(examples, tags, strict=True):
        gold = [(s.start, s.end) for s in example.spans if "adverse_event" in s.labels]
        pred = [(s, e) for s, e, label in decode_spans(t) if label == "adverse_event"]
        n_p += len(pred)
        n_g += len(gold)
        tp_p += sum(any(s < ge and gs < e for gs, ge in gold) for s, e in pred)
        tp_r += sum(any(s < ge and gs < e for s, e in pred) for gs, ge in gold)
    p = tp_p / n_p if n_p else 0.0
    r = tp_r / n_g if n_g else 0.0
    return {
        "p": round(p, 4),
        "r": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
    }


def pipeline_scores(examples: Sequence[Any], ae_extent: str) -> dict[str, dict[str, float]]:
    """Exact P/R/F1 of the whole pipeline's entities (`eligo.nlp.load()`: lexicons and the
    shipped model merged, as `eligo extract` returns them) on ADE adverse events and drugs.

    An entity whose characters do not start and end on the sentence's words counts as a
    false positive."""
    from eligo.nlp import load, to_entities

    nlp = load()
    nlp.get_pipe("eligo_ner").ae_extent = ae_extent
    counts = {label: [0, 0, 0] for label in ("adverse_event", "drug")}  # tp, predicted, gold
    for example, doc in zip(examples, nlp.pipe([e.text for e in examples]), strict=True):
        starts = {a: i for i, (a, _) in enumerate(example.words)}
        ends = {b: i + 1 for i, (_, b) in enumerate(example.words)}
        for label, c in counts.items():
            gold = {(s.start, s.end) for s in example.spans if label in s.labels}
            pred = {
                (starts.get(e.start, -1), ends.get(e.end, -1))
                for e in to_entities(doc)
                if e.label == label
            }
            c[0] += len(gold & pred)
            c[1] += len(pred)
            c[2] += len(gold)
    result = {}
    for label, (tp, n_pred, n_gold) in counts.items():
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        result[label] = {"p": round(p, 4), "r": round(r, 4), "f1": round(f1, 4), "n_gold": n_gold}
    return result


def main(argv: list[str] | None = None) -> int:
    import onnxruntime as ort

    from eligo.nlp.ner import bio_viterbi, extend_edges, load_model
    from eligo.nlp.ner_data import TAGS, decode_spans
    from eligo.nlp.ner_train import load_data, load_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model", type=Path, default=MODEL, help="a shipped model directory")
    parser.add_argument("--fp32", type=Path, default=None, help="an fp32 export to score too")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    _, dev_sets, _ = load_data(args.data, seed=args.seed, max_train=0)
    tokenizer = load_tokenizer(args.model)
    models = {"int8": args.model / "model.int8.onnx"}
    if args.fp32 is not None:
        models["fp32"] = args.fp32

    edges = load_model(args.model).edges

    def viterbi(s: np.ndarray, _: Any = None) -> list[str]:
        return [TAGS[i] for i in bio_viterbi(TAGS, s)]

    def runtime(s: np.ndarray, example: Any) -> list[str]:
        tags = viterbi(s)
        if edges is None:
            return tags
        return extend_edges(tags, [w.lower() for w in example.tokens], edges)

    def argmax(s: np.ndarray, _: Any = None) -> list[str]:
        return [TAGS[i] for i in s.argmax(-1)]

    decodings: list[tuple[str, Decode, Any]] = [
        ("runtime", runtime, decode_spans),
        ("runtime without span edges", viterbi, decode_spans),
        ("argmax (baseline)", argmax, strict_spans),
    ]
    if edges is None:
        del decodings[1]

    results: dict[str, Any] = {}
    rows = []
    for model_name, path in models.items():
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for set_name, examples in dev_sets.items():
            scores = word_scores(session, tokenizer, examples)
            for decoding, decode, spans in decodings:
                res = score_with(examples, scores, decode, spans)
                results.setdefault(model_name, {}).setdefault(decoding, {})[set_name] = res
                for group, m in res.items():
                    if "f1" in m:
                        rows.append(
                            (
                                model_name,
                                decoding,
                                set_name,
                                group,
                                m["n_gold"],
                                m["p"],
                                m["r"],
                                m["f1"],
                            )
                        )
                    else:
                        rows.append(
                            (
                                model_name,
                                decoding,
                                set_name,
                                "AE false alarms / 100 sentences",
                                "",
                                m["sentences_with_ae_per_100"],
                                m["ae_spans_per_100"],
                                "",
                            )
                        )
                if set_name == "ade/dev" and decoding == "runtime":
                    tags = [decode(s, e) for s, e in zip(scores, examples, strict=True)]
                    lenient = lenient_ae(examples, tags)
                    results[model_name]["ade_adverse_event_overlap"] = lenient
                    rows.append(
                        (
                            model_name,
                            "runtime, any overlap",
                            set_name,
                            "adverse_event",
                            "",
                            lenient["p"],
                            lenient["r"],
                            lenient["f1"],
                        )
                    )
    if args.model == MODEL:  # the pipeline loads the shipped model
        for ae_extent in ("model", "lexicon"):
            res = pipeline_scores(dev_sets["ade/dev"], ae_extent)
            results.setdefault("pipeline", {})[f"ae_extent={ae_extent}"] = res
            for label, m in res.items():
                name = "runtime" if ae_extent == "model" else "lexicon extents (baseline)"
                rows.append(
                    (
                        "pipeline (int8 + lexicons)",
                        f"{name}, ae_extent={ae_extent}",
                        "ade/dev",
                        label,
                        m["n_gold"],
                        m["p"],
                        m["r"],
                        m["f1"],
                    )
                )
    print("| model | decoding | dev set | label | gold | P (or sentences) | R (or spans) | F1 |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
