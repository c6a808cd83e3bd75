"""NER training and export: readers, partial-label loss, a tiny train -> export -> load run.

The corpora here are tiny synthetic files in each corpus's format, written for this test;
the model is a randomly initialised 2-layer BERT over a vocabulary built from them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnx")

from eligo.nlp.ner_data import (
    TAG_INDEX,
    TAGS,
    decode_spans,
    mask_tags,
    read_ade,
    read_brat,
    read_iob,
    score,
)

ADE_SENTENCES = [
    (
        "101",
        "Severe neutropenia developed after docetaxel was started.",
        "neutropenia",
        "docetaxel",
    ),
    (
        "101",
        "Severe neutropenia developed after docetaxel was started.",
        "neutropenia",
        "docetaxel",
    ),
    (
        "102",
        "Lisinopril caused angioedema in a woman with hypertension.",
        "angioedema",
        "Lisinopril",
    ),
    ("103", "She had a rash after taking amoxicillin for otitis.", "rash", "amoxicillin"),
    ("104", "Hepatotoxicity was attributed to methotrexate.", "Hepatotoxicity", "methotrexate"),
]
NEG_SENTENCES = [
    ("201", "The patient was admitted with pneumonia and treated with ceftriaxone."),
    ("202", "Blood pressure was controlled with lisinopril."),
    ("203", "Colonoscopy showed no polyps."),
]
IOB_SENTENCES = [
    [("Docetaxel", "B-Chemical"), ("induced", "O"), ("neutropenia", "B-Disease"), (".", "O")],
    [("Patients", "O"), ("with", "O"), ("chronic", "B-Disease"), ("hepatitis", "I-Disease")],
    [("Methotrexate", "B-Chemical"), ("and", "O"), ("rash", "B-Disease"), (".", "O")],
]
CRITERIA = {
    "NCT00000001_inc": (
        "History of diabetes mellitus\r\nPrior colonoscopy\r\nHemoglobin A1c above 8\r\n",
        [("Condition", 11, 28), ("Procedure", 36, 47), ("Measurement", 49, 63)],
    ),
    "NCT00000002_exc": (
        "Current use of warfarin\nKnown hepatitis\n",
        [("Drug", 15, 23), ("Condition", 30, 39)],
    ),
}


def write_corpora(root: Path) -> Path:
    """Synthetic files in the shared corpora's formats."""
    ade = root / "ade_corpus_v2"
    ade.mkdir(parents=True)
    with (ade / "DRUG-AE.rel").open("w", encoding="utf-8") as f:
        for pmid, text, effect, drug in ADE_SENTENCES:
            # Offsets in the file are abstract offsets, not sentence offsets.
            f.write(f"{pmid}|{text}|{effect}|900|911|{drug}|950|959\n")
    with (ade / "ADE-NEG.txt").open("w", encoding="utf-8") as f:
        for pmid, text in NEG_SENTENCES:
            f.write(f"{pmid} NEG {text}\n")
    for folder in ("BC5CDR-IOB", "NCBI-disease-IOB"):
        (root / folder).mkdir()
        for split in ("train", "devel"):
            with (root / folder / f"{split}.tsv").open("w", encoding="utf-8") as f:
                for sentence in IOB_SENTENCES * 4:
                    for token, tag in sentence:
                        if folder.startswith("NCBI") and tag.endswith("Chemical"):
                            tag = "O"
                        f.write(f"{token}\t{tag}\n")
                    f.write("\n")
    for corpus in ("chia", "lct"):
        (root / corpus).mkdir()
        for stem, (text, ents) in CRITERIA.items():
            name = stem if corpus == "chia" else stem.split("_")[0]
            with (root / corpus / f"{name}.txt").open("w", encoding="utf-8", newline="") as f:
                f.write(text)
            lines = [f"T{i}\t{kind} {s} {e}\t{text[s:e]}" for i, (kind, s, e) in enumerate(ents, 1)]
            (root / corpus / f"{name}.ann").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_tiny_base(root: Path, data: Path) -> Path:
    """A randomly initialised 2-layer BERT and a WordPiece tokenizer over the test words."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    from eligo.nlp.ner_data import read_corpus

    words: set[str] = set()
    for corpus in ("ade", "ade_neg", "bc5cdr", "chia"):
        for example in read_corpus(corpus, data):
            words.update(t.lower() for t in example.tokens)
    for text in ("patient developed hepatotoxicity after warfarin", "unseenword"):
        words.update(text.split())
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]
    tokenizer = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    root.mkdir(parents=True)
    tokenizer.save(str(root / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(root))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from eligo.nlp.ner_export import export_onnx
    from eligo.nlp.ner_train import load_data, train_ner

    root = tmp_path_factory.mktemp("ner")
    data = write_corpora(root / "data")
    base = write_tiny_base(root / "base", data)
    run = root / "run"
    metrics = train_ner(
        run,
        data=data,
        epochs=2,
        seed=3,
        max_minutes=None,
        max_train=None,
        base_model=base,
        lr=3e-3,
        threads=1,
    )
    _, dev_sets, _ = load_data(data, seed=3, max_train=0)
    report = export_onnx(
        run / "hf",
        run / "onnx",
        dev_sets=dev_sets,
        train_metrics=metrics,
        # A random 32-wide model has near-tied logits: int8 argmax may flip on a few.
        min_int8_agreement=0.5,
        max_int8_f1_drop=1.0,
        min_gold_for_f1_check=1,
        speed_sample=0,
    )
    return {"run": run, "metrics": metrics, "report": report, "data": data}


def test_readers_locate_spans_and_merge_lines(tmp_path: Path) -> None:
    data = write_corpora(tmp_path)
    ade = list(read_ade(data / "ade_corpus_v2"))
    assert len(ade) == 4  # the repeated line is merged
    first = next(e for e in ade if e.doc_id == "101")
    spans = {(" ".join(first.tokens[s.start : s.end]), tuple(s.labels)) for s in first.spans}
    assert spans == {("neutropenia", ("adverse_event",)), ("docetaxel", ("drug",))}
    outside = set(mask_tags(first.allowed[0]))  # "Severe"
    assert "O" in outside and "B-condition" in outside and "B-adverse_event" not in outside

    chia = list(read_brat(data / "chia", "chia"))
    got = [(" ".join(e.tokens[s.start : s.end]), sorted(s.labels)) for e in chia for s in e.spans]
    assert ("diabetes mellitus", ["adverse_event", "condition"]) in got
    assert ("Hemoglobin A1c", ["measurement"]) in got  # offsets count "\r"
    assert mask_tags(chia[0].allowed[0]) == ["O"]  # "History": Chia is exhaustive

    bc5 = list(read_iob(data / "BC5CDR-IOB" / "train.tsv", "bc5cdr"))
    assert set(mask_tags(bc5[0].allowed[2])) == {"B-condition", "B-adverse_event"}
    assert mask_tags(bc5[1].allowed[3]) == ["I-condition", "I-adverse_event"]


def test_decode_and_score() -> None:
    assert decode_spans(["B-drug", "I-drug", "O", "I-condition", "B-drug"]) == [
        (0, 2, "drug"),
        (3, 4, "condition"),
        (4, 5, "drug"),
    ]
    # read as at run time: neighbouring words of one type are one span
    assert decode_spans(["B-condition", "B-condition", "O", "B-drug"]) == [
        (0, 2, "condition"),
        (3, 4, "drug"),
    ]
    example = next(iter(read_iob_fixture()))
    result = score([example], [["B-drug", "O", "B-adverse_event", "O"]])
    assert result["bc5cdr"]["condition|adverse_event"]["f1"] == 1.0
    assert result["bc5cdr"]["drug"]["f1"] == 1.0


def read_iob_fixture() -> list[Any]:
    from eligo.nlp.ner_data import build_example

    text = "Docetaxel induced neutropenia ."
    words = [(0, 9), (10, 17), (18, 29), (30, 31)]
    return [
        build_example(
            "bc5cdr",
            "d",
            text,
            words,
            [(0, 9, frozenset({"drug"})), (18, 29, frozenset({"condition", "adverse_event"}))],
        )
    ]


def test_partial_label_loss_accepts_any_label_of_the_set() -> None:
    import torch

    from eligo.nlp.ner_train import partial_label_loss

    allowed = torch.zeros(1, 3, len(TAGS), dtype=torch.bool)
    allowed[0, 0, [TAG_INDEX["B-condition"], TAG_INDEX["B-adverse_event"]]] = True
    allowed[0, 1] = True  # every tag allowed: contributes zero loss
    # position 2 carries no label (a later word piece): ignored
    sure = 20.0
    as_condition = torch.zeros(1, 3, len(TAGS))
    as_condition[0, 0, TAG_INDEX["B-condition"]] = sure
    as_ae = torch.zeros(1, 3, len(TAGS))
    as_ae[0, 0, TAG_INDEX["B-adverse_event"]] = sure
    as_drug = torch.zeros(1, 3, len(TAGS))
    as_drug[0, 0, TAG_INDEX["B-drug"]] = sure
    as_drug[0, 2, TAG_INDEX["B-drug"]] = sure
    low_a = float(partial_label_loss(as_condition, allowed))
    low_b = float(partial_label_loss(as_ae, allowed))
    high = float(partial_label_loss(as_drug, allowed))
    assert low_a == pytest.approx(low_b) and low_a < 1e-6
    assert high > 5.0
    # The loss is -log of the set's total probability (mean over the 2 labelled positions).
    uniform = float(partial_label_loss(torch.zeros(1, 3, len(TAGS)), allowed))
    assert uniform == pytest.approx(-np.log(2 / len(TAGS)) / 2, rel=1e-5)


def test_train_export_load(trained: dict[str, Any]) -> None:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    run = trained["run"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] > 0 and "ade/dev" in metrics["dev"]
    report = trained["report"]
    assert report["validation"]["fp32_vs_torch"]["max_abs_diff"] <= 1e-3
    assert set(report["dev"]) == {"fp32", "int8"}
    onnx_dir = run / "onnx"
    labels = json.loads((onnx_dir / "labels.json").read_text())
    assert labels == {"labels": list(TAGS), "max_length": 128}
    tokenizer = Tokenizer.from_file(str(onnx_dir / "tokenizer.json"))
    enc = tokenizer.encode("The patient developed hepatotoxicity after warfarin.")
    session = ort.InferenceSession(
        str(onnx_dir / "model.int8.onnx"), providers=["CPUExecutionProvider"]
    )
    ids = np.array([enc.ids], dtype=np.int64)
    (logits,) = session.run(
        ["logits"],
        {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        },
    )
    assert logits.shape == (1, len(enc.ids), len(TAGS))
    meta = json.loads((onnx_dir / "metadata.json").read_text())
    assert (
        meta["files"]["model.int8.onnx"]["bytes"] == (onnx_dir / "model.int8.onnx").stat().st_size
    )


def test_export_validation_fails_on_corrupted_model(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    import onnx
    from onnx import numpy_helper

    from eligo.nlp.ner_export import ExportValidationError, validate_onnx

    run = trained["run"]
    model = onnx.load(str(run / "onnx" / "model.onnx"))
    target = max(
        model.graph.initializer, key=lambda t: int(np.prod(t.dims)) if len(t.dims) == 2 else 0
    )
    weights = numpy_helper.to_array(target).copy()
    weights *= -3.0
    target.CopyFrom(numpy_helper.from_array(weights, target.name))
    corrupted = tmp_path / "corrupted.onnx"
    onnx.save(model, str(corrupted))
    with pytest.raises(ExportValidationError, match="max abs logit diff"):
        validate_onnx(run / "hf", corrupted)
    # The untouched export passes the same check.
    assert validate_onnx(run / "hf", run / "onnx" / "model.onnx")["label_agreement"] == 1.0


def test_average_runs_is_the_mean_of_the_weights(trained: dict[str, Any], tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForTokenClassification

    from eligo.nlp.ner_train import average_runs

    run = trained["run"]
    other = tmp_path / "other"
    shutil.copytree(run, other)
    model = AutoModelForTokenClassification.from_pretrained(str(other / "hf"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.save_pretrained(str(other / "hf"))

    metrics = average_runs([run, other], tmp_path / "soup", data=trained["data"], seed=3)
    assert [Path(m["run"]) for m in metrics["averaged_from"]] == [run, other]
    assert "ade/dev" in metrics["dev"]
    first = AutoModelForTokenClassification.from_pretrained(str(run / "hf")).state_dict()
    soup = AutoModelForTokenClassification.from_pretrained(str(tmp_path / "soup" / "hf"))
    for name, tensor in soup.state_dict().items():
        if tensor.is_floating_point() and name in dict(model.named_parameters()):
            assert torch.allclose(tensor, first[name] + 0.5, atol=1e-5), name
    assert (tmp_path / "soup" / "hf" / "tokenizer.json").is_file()

    with pytest.raises(ValueError, match="at least two runs"):
        average_runs([run], tmp_path / "one", data=trained["data"])
    with pytest.raises(ValueError, match=r"split with seeds \[3\], not 13"):
        average_runs([run, other], tmp_path / "seed", data=trained["data"], seed=13)
    model.config.id2label = {i: f"X{i}" for i in range(len(TAGS))}
    model.save_pretrained(str(other / "hf"))
    with pytest.raises(ValueError, match="differ in architecture or labels"):
        average_runs([run, other], tmp_path / "bad", data=trained["data"], seed=3)
