"""`eligo_ner`: offsets, windows, model checks and the merge with the lexicon spans.

Two kinds of model are built here, in a session tmp dir: a tiny randomly initialised BERT
exported with `torch.onnx.export` (the real export path, random labels), and a "lookup"
ONNX graph whose logits are a row per vocabulary id, so that chosen words get chosen
labels and the decoding and merge can be checked exactly.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from spacy.language import Language
from spacy.tokens import Doc, Span

from eligo.nlp.concepts import ConceptMatcher
from eligo.nlp.extract import to_entities
from eligo.nlp.ner import (
    Edges,
    EligoNer,
    ModelError,
    ModelNotFoundError,
    bio_viterbi,
    check_edges,
    decode,
    extend_edges,
    load_model,
    merge,
    owners,
    windows,
)
from eligo.nlp.ner_data import Example, build_example, learn_edges, split_words
from eligo.nlp.text import make_nlp
from eligo.nlp.types import Code

LABELS = ["O"] + [f"{p}-{t}" for t in ("condition", "drug", "adverse_event") for p in "BI"]
LABELS += [f"{p}-{t}" for t in ("procedure", "measurement") for p in "BI"]
HEADER = "key\tterm\tlabel\tsystem\tcode\tdisplay\tcase\n"


def _tokenizer_file() -> Path:
    """The BERT-uncased WordPiece tokenizer shipped with eligo's NER model."""
    from importlib import resources

    return Path(str(resources.files("eligo.corpora").joinpath("models", "ner", "tokenizer.json")))


def _write_labels(directory: Path, labels: list[str], max_length: int = 128) -> None:
    text = json.dumps({"labels": labels, "max_length": max_length})
    (directory / "labels.json").write_text(text, encoding="utf-8")


def _lookup_model(
    directory: Path,
    words: dict[str, str],
    *,
    inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids"),
    max_length: int = 128,
) -> Path:
    """A model directory whose ONNX graph labels each vocabulary id by a fixed table row."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(_tokenizer_file(), directory / "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    table = np.zeros((tokenizer.get_vocab_size(), len(LABELS)), dtype=np.float32)
    table[:, 0] = 1.0  # "O" unless listed
    for word, label in words.items():
        ident = tokenizer.token_to_id(word)
        assert ident is not None, word
        table[ident, LABELS.index(label)] = 2.0
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["logits"], axis=0)],
        "lookup",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in inputs],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", len(LABELS)])],
        initializer=[numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(directory / "model.int8.onnx"))
    _write_labels(directory, LABELS, max_length)
    return directory


WORDS = {
    "nausea": "B-adverse_event",
    "rash": "B-adverse_event",
    "insulin": "B-drug",
    "chest": "B-condition",
    "pain": "I-condition",
}


@pytest.fixture(scope="session")
def lookup_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _lookup_model(tmp_path_factory.mktemp("lookup"), WORDS)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-64 random BertForTokenClassification, exported and int8-quantized."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from eligo.nlp.ner_export import export_token_classifier

    directory = tmp_path_factory.mktemp("bert")
    shutil.copy(_tokenizer_file(), directory / "tokenizer.json")
    _write_labels(directory, LABELS)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        num_labels=len(LABELS),
    )
    config._attn_implementation = "eager"  # plain matmuls export cleanly with dynamo=False
    model = transformers.BertForTokenClassification(config).eval()
    fp32 = directory / "model.fp32.onnx"
    export_token_classifier(model, fp32)  # the export path training uses
    quantize_dynamic(str(fp32), str(directory / "model.int8.onnx"), weight_type=QuantType.QInt8)
    return directory


# -- offsets -------------------------------------------------------------------------------

TRICKY = (
    "A naïve β-blocker for Sjögren’s 😀 pt   with\n\n\ttabs  and "
    + "pseudopseudohypoparathyroidismpneumonoultramicroscopicsilico"  # 60 characters
    + " café-au-lait ＡＢＣ."
)


def test_offsets_map_back_to_the_characters(lookup_dir: Path) -> None:
    model = load_model(lookup_dir)
    encoding = model.tokenizer.encode_batch([TRICKY], add_special_tokens=False)[0]
    covered: set[int] = set()
    for piece, (start, end) in zip(encoding.tokens, encoding.offsets, strict=True):
        written = TRICKY[start:end]
        assert written.strip() == written and written, (piece, written)
        covered.update(range(start, end))
        if piece != "[UNK]":
            # uncased BERT: lower case, accents stripped, full-width folded
            assert piece.removeprefix("##") in {
                _fold(written),
                _fold(written).replace("’", "'"),
            }, (piece, written)
    assert covered == {i for i, c in enumerate(TRICKY) if not c.isspace()}


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def test_every_word_decodes_to_its_exact_characters(lookup_dir: Path) -> None:
    model = load_model(lookup_dir)
    encoding = model.tokenizer.encode_batch([TRICKY], add_special_tokens=False)[0]
    # alternate two types word by word, so that no two neighbouring words merge
    kinds = [LABELS.index("B-condition"), LABELS.index("B-drug")]
    per_piece = [kinds[w % 2] for w in encoding.word_ids]
    found = decode(LABELS, per_piece, encoding.word_ids, encoding.offsets)
    words = [TRICKY[start:end] for _, start, end in found]
    assert words[:14] == [
        "A",
        "naïve",
        "β",
        "-",
        "blocker",
        "for",
        "Sjögren",
        "’",
        "s",
        "😀",
        "pt",
        "with",
        "tabs",
        "and",
    ]
    assert words[14] == "pseudopseudohypoparathyroidismpneumonoultramicroscopicsilico"
    assert len(words[14]) == 60
    assert words[15:] == ["café", "-", "au", "-", "lait", "ＡＢＣ", "."]


def test_neighbouring_words_of_one_type_are_one_entity() -> None:
    labels = ["O", "B-drug", "I-drug", "B-condition", "I-condition"]
    # "severe neutropenia , rash": B-condition B-condition O B-condition
    offsets = [(0, 6), (7, 18), (19, 20), (21, 25)]
    assert decode(labels, [3, 3, 0, 3], [0, 1, 2, 3], offsets) == [
        ("condition", 0, 18),
        ("condition", 21, 25),
    ]


def test_viterbi_never_starts_an_entity_with_i() -> None:
    labels = ["O", "B-drug", "I-drug", "B-condition", "I-condition"]
    log = np.log
    scores = np.array(
        [
            # argmax would say I-condition after O: invalid, B-condition is next best
            [log(0.5), log(0.01), log(0.01), log(0.2), log(0.28)],
            [log(0.9), log(0.02), log(0.02), log(0.03), log(0.03)],
            # I-drug after O is invalid; B-drug vs I-drug after B-drug decided jointly
            [log(0.1), log(0.4), log(0.05), log(0.05), log(0.4)],
            [log(0.1), log(0.05), log(0.6), log(0.05), log(0.2)],
        ],
        dtype=np.float32,
    )
    assert bio_viterbi(labels, scores) == [0, 0, 1, 2]
    assert bio_viterbi(labels, scores[:0]) == []
    # the first word's I-condition (0.28) loses to O (0.5); with O unlikely, B-condition wins
    first = np.array([[log(0.1), log(0.01), log(0.01), log(0.2), log(0.68)]], dtype=np.float32)
    assert bio_viterbi(labels, first) == [3]


def test_bio_decoding_uses_the_first_piece_of_each_word() -> None:
    labels = ["O", "B-drug", "I-drug", "B-condition", "I-condition"]
    # "beta blockers help": beta(B-drug) block(I-drug) ##ers(O: ignored) help(O)
    # then a stray I-condition starts an entity
    offsets = [(0, 4), (5, 10), (10, 14), (15, 19), (20, 24)]
    word_ids = [0, 1, 1, 2, 3]
    assert decode(labels, [1, 2, 0, 0, 4], word_ids, offsets) == [
        ("drug", 0, 14),
        ("condition", 20, 24),
    ]


# -- windows -------------------------------------------------------------------------------


def test_windows_cover_a_long_sentence_at_word_starts() -> None:
    word_ids: list[int | None] = []
    for word in range(300):
        word_ids += [word] * (1 + word % 3)  # words of 1 to 3 pieces
    n = len(word_ids)
    spans = windows(word_ids, size=126, overlap=32)
    assert spans[0][0] == 0 and spans[-1][1] == n
    for start, end in spans:
        assert end - start <= 126
        assert start == 0 or word_ids[start] != word_ids[start - 1]
        assert end == n or word_ids[end] != word_ids[end - 1]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start < end  # consecutive windows overlap
    owned = owners(spans, n)
    assert owned[0][0] == 0 and owned[-1][1] == n
    for (own_start, own_end), (start, end) in zip(owned, spans, strict=True):
        assert start <= own_start < own_end <= end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(owned))


def test_windows_cut_a_word_longer_than_a_window() -> None:
    word_ids: list[int | None] = [0, *([1] * 50), 2]
    spans = windows(word_ids, size=20, overlap=5)
    assert spans[-1][1] == 52
    assert all(0 < end - start <= 20 for start, end in spans)
    assert windows([], size=20, overlap=5) == []
    assert windows([0, 1, 2], size=20, overlap=5) == [(0, 3)]


def test_long_sentence_finds_each_entity_once(tmp_path: Path) -> None:
    directory = _lookup_model(tmp_path / "short", WORDS, max_length=16)
    nlp = make_nlp()
    ner = EligoNer(nlp, model=str(directory), threads=1, batch_size=4, overlap=6)
    assert ner.max_length == 16  # labels.json caps the window
    words = ["the"] * 200
    for i in (0, 7, 13, 15, 50, 113, 199):
        words[i] = "nausea"
    doc = nlp.make_doc(" ".join(words))
    (found,) = ner.find([doc])
    assert [(s.start, s.label_) for s in found] == [
        (i, "adverse_event") for i in (0, 7, 13, 15, 50, 113, 199)
    ]
    assert ner.timings["windows"] > 10 and ner.timings["inference_s"] > 0


# -- refusing bad models -------------------------------------------------------------------


def test_refuses_a_label_map_that_does_not_match_the_output(bert_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(bert_dir, tmp_path / "m")
    _write_labels(tmp_path / "m", LABELS[:-2])
    with pytest.raises(ModelError, match=r"outputs 11 labels per token but labels.json lists 9"):
        load_model(tmp_path / "m")


def test_refuses_a_model_missing_an_input(tmp_path: Path) -> None:
    directory = _lookup_model(tmp_path / "m", WORDS, inputs=("input_ids",))
    with pytest.raises(ModelError, match=r"lacks input attention_mask; expected inputs input_ids"):
        load_model(directory)


def test_refuses_an_unknown_label(lookup_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(lookup_dir, tmp_path / "m")
    _write_labels(tmp_path / "m", ["O", "B-disease", *LABELS[2:]])
    with pytest.raises(ModelError, match=r"label 'B-disease' is not one of O, B-condition"):
        load_model(tmp_path / "m")


def test_missing_model_says_how_to_get_the_lexicon_only_pipeline(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no labels.json.*load\(model=None\)"):
        load_model(tmp_path)
    with pytest.raises(LookupError):
        EligoNer(make_nlp(), model=str(tmp_path / "absent"))


def test_missing_default_model_names_the_lexicon_only_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eligo.nlp import ner

    monkeypatch.setattr(ner, "DEFAULT_MODEL", ("models", "not-shipped"))
    with pytest.raises(ModelNotFoundError, match=r"corpora/models/not-shipped.*load\(model=None\)"):
        load_model("default")


# -- merge policy --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain() -> Language:
    return make_nlp()


def _lexicon(doc: Doc, start: int, end: int, label: str, *systems: str) -> Span:
    span = Span(doc, start, end, label=label)
    span._.codes = [Code(system=s, code=f"{s}-1", display=span.text) for s in systems]
    return span


def _summary(spans: list[Span]) -> list[tuple[str, str, str, list[str]]]:
    return [(s.text, s.label_, s._.source, [c.system for c in s._.codes]) for s in spans]


def test_same_extent_same_label_is_one_entity_from_both(plain: Language) -> None:
    doc = plain("Started insulin today.")
    doc.ents = [_lexicon(doc, 1, 2, "drug", "DrugBank")]
    merged = merge(doc, [Span(doc, 1, 2, label="drug")])
    assert _summary(merged) == [("insulin", "drug", "both", ["DrugBank"])]


def test_model_adverse_event_over_lexicon_condition(plain: Language) -> None:
    doc = plain("Severe nausea after cisplatin.")
    doc.ents = [_lexicon(doc, 1, 2, "condition", "ICD-10-CM", "HPO", "MedDRA", "CTCAE")]
    merged = merge(doc, [Span(doc, 1, 2, label="adverse_event")])
    assert _summary(merged) == [
        ("nausea", "adverse_event", "both", ["CTCAE", "MedDRA", "ICD-10-CM", "HPO"])
    ]


def test_overlap_keeps_the_coded_agreeing_lexicon_span(plain: Language) -> None:
    doc = plain("Grade 2 nausea and vomiting on day 3.")
    doc.ents = [
        _lexicon(doc, 2, 3, "condition", "CTCAE"),
        _lexicon(doc, 4, 5, "condition", "CTCAE"),
    ]
    merged = merge(doc, [Span(doc, 0, 5, label="adverse_event")])
    assert _summary(merged) == [
        ("nausea", "adverse_event", "both", ["CTCAE"]),
        ("vomiting", "adverse_event", "both", ["CTCAE"]),
    ]


def test_model_adverse_event_around_one_coded_concept_keeps_its_mention(
    plain: Language,
) -> None:
    doc = plain("She developed severe neutropenia after docetaxel.")
    doc.ents = [
        _lexicon(doc, 3, 4, "condition", "CTCAE", "MedDRA"),
        _lexicon(doc, 5, 6, "drug", "RxNorm"),
    ]
    model = [Span(doc, 2, 4, label="adverse_event"), Span(doc, 5, 6, label="drug")]
    merged = merge(doc, model)
    # the concept's extent and codes (what ConText and the AE coder read) ...
    assert _summary(merged) == [
        ("neutropenia", "adverse_event", "both", ["CTCAE", "MedDRA"]),
        ("docetaxel", "drug", "both", ["RxNorm"]),
    ]
    # ... and the event as the model read it
    assert merged[0]._.mention == (14, 32)
    assert doc.text[14:32] == "severe neutropenia"
    assert merged[1]._.mention is None
    lexicon_only = merge(doc, model, ae_extent="lexicon")
    assert _summary(lexicon_only) == _summary(merged)
    assert lexicon_only[0]._.mention is None
    with pytest.raises(ValueError, match="ae_extent must be one of model, lexicon"):
        merge(doc, model, ae_extent="widest")


def test_no_mention_unless_one_agreeing_concept_is_all_the_model_span_covers(
    plain: Language,
) -> None:
    doc = plain("Phenytoin hypersensitivity with rash and fever.")
    doc.ents = [
        _lexicon(doc, 0, 1, "drug", "RxNorm"),
        _lexicon(doc, 1, 2, "condition", "CTCAE"),
        _lexicon(doc, 3, 4, "condition", "CTCAE"),
        _lexicon(doc, 5, 6, "condition", "CTCAE"),
    ]
    cases = [
        Span(doc, 0, 2, label="adverse_event"),  # a drug inside the model's event
        Span(doc, 3, 6, label="adverse_event"),  # two coded events stay two events
        Span(doc, 1, 2, label="condition"),  # a model condition: no mention
        Span(doc, 2, 4, label="adverse_event"),  # covers the concept: "with rash"
    ]
    mentions = []
    for model_span in cases:
        merged = merge(doc, [model_span])
        assert [s.text for s in merged] == ["Phenytoin", "hypersensitivity", "rash", "fever"]
        mentions.append([s._.mention for s in merged])
    assert mentions[:3] == [[None] * 4] * 3
    assert mentions[3] == [None, None, (27, 36), None]


def test_disagreeing_model_span_never_displaces_a_lexicon_concept(plain: Language) -> None:
    doc = plain("History of heart failure visit today.")
    doc.ents = [_lexicon(doc, 2, 4, "condition", "ICD-10-CM")]
    longer = merge(doc, [Span(doc, 2, 6, label="procedure")])
    assert _summary(longer) == [("heart failure", "condition", "lexicon", ["ICD-10-CM"])]
    shorter = merge(doc, [Span(doc, 3, 5, label="procedure")])
    assert _summary(shorter) == [("heart failure", "condition", "lexicon", ["ICD-10-CM"])]


def test_model_only_span_is_coded_by_lexicon_lookup(plain: Language) -> None:
    doc = plain("Broke out in a rash, took insulin.")
    doc.ents = [_lexicon(doc, 7, 8, "drug", "DrugBank")]
    rash = (Code(system="CTCAE", code="10037087", display="Rash"),)

    def lookup(span: Span) -> tuple[str, list[Code]] | None:
        return ("condition", list(rash)) if span.text == "rash" else None

    merged = merge(doc, [Span(doc, 4, 5, label="adverse_event")], lookup=lookup)
    assert _summary(merged) == [
        ("rash", "adverse_event", "model", ["CTCAE"]),
        ("insulin", "drug", "lexicon", ["DrugBank"]),
    ]
    unknown = merge(doc, [Span(doc, 1, 2, label="condition")], lookup=lookup)
    assert _summary(unknown)[0] == ("out", "condition", "model", [])


def test_lexicon_only_span_stays_lexicon(plain: Language) -> None:
    doc = plain("Chest pain resolved.")
    doc.ents = [_lexicon(doc, 0, 2, "condition", "ICD-10-CM")]
    assert _summary(merge(doc, [])) == [("Chest pain", "condition", "lexicon", ["ICD-10-CM"])]


# -- in a pipeline -------------------------------------------------------------------------


def _small_pipeline(tmp_path: Path, model: Path) -> Language:
    lexicon = tmp_path / "lexicon.tsv"
    rows = [
        "\tnausea\tcondition\tICD-10-CM\tR11.0\tNausea\ti",
        "\tnausea\tcondition\tCTCAE\t10028813\tNausea\ti",
        "\tinsulin\tdrug\tDrugBank\tDB00030\tInsulin\ti",
        "\trash\tcondition\tCTCAE\t10037087\tRash\ti",
    ]
    lexicon.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    nlp = make_nlp()
    nlp.add_pipe("eligo_sentences")
    nlp.add_pipe("eligo_concepts", config={"lexicons": [str(lexicon)]})
    nlp.add_pipe("eligo_ner", config={"model": str(model), "threads": 1})
    nlp.add_pipe("eligo_values")
    return nlp


def test_small_pipeline_merges_model_and_lexicon(tmp_path: Path, lookup_dir: Path) -> None:
    nlp = _small_pipeline(tmp_path, lookup_dir)
    assert isinstance(nlp.get_pipe("eligo_concepts"), ConceptMatcher)
    doc = nlp("Nausea after insulin.\nChest pain at rest. Rash noted.")
    assert _summary(list(doc.ents)) == [
        ("Nausea", "adverse_event", "both", ["CTCAE", "ICD-10-CM"]),
        ("insulin", "drug", "both", ["DrugBank"]),
        ("Chest pain", "condition", "model", []),
        ("Rash", "adverse_event", "both", ["CTCAE"]),
    ]
    assert list(doc.spans["eligo"]) == list(doc.ents)
    ner = nlp.get_pipe("eligo_ner")
    assert isinstance(ner, EligoNer)
    assert ner.timings["docs"] == 1 and ner.timings["inference_s"] > 0


def test_component_refuses_an_unknown_ae_extent(tmp_path: Path, lookup_dir: Path) -> None:
    nlp = make_nlp()
    with pytest.raises(ModelError, match=r"ae_extent must be one of model, lexicon, got 'wide'"):
        nlp.add_pipe("eligo_ner", config={"model": str(lookup_dir), "ae_extent": "wide"})


def test_model_only_span_gets_codes_from_the_lexicon_tables(
    tmp_path: Path, lookup_dir: Path
) -> None:
    nlp = _small_pipeline(tmp_path, lookup_dir)
    # Run without the lexicon pass, so that "Rash" is a model-only span: its exact lookup
    # in eligo_concepts' tables gives the codes.
    ner = nlp.get_pipe("eligo_ner")
    doc = ner(nlp.make_doc("Rash today."))
    assert _summary(list(doc.ents)) == [("Rash", "adverse_event", "model", ["CTCAE"])]


def test_full_pipeline_with_a_random_bert(bert_dir: Path) -> None:
    import eligo.nlp
    from eligo.nlp.pipeline import build

    nlp = build(model=None)  # lexicon-only, whether or not a model is shipped
    nlp.add_pipe(
        "eligo_ner",
        after="eligo_concepts",
        config={"model": str(bert_dir), "threads": 1, "max_length": 32},
    )
    text = (
        "HISTORY OF PRESENT ILLNESS:\nPt with T2DM on metformin 500 mg BID reports nausea "
        "and a rash since starting the β-blocker.  Denies chest pain.\n\n"
        + " ".join(["Long sentence with many words about insulin and pain"] * 12)
        + ".\nLABS: creatinine 1.4 mg/dL."
    )
    docs = list(nlp.pipe([text, "Sjögren’s naïve 😀", ""]))
    assert nlp.pipe_names[2:4] == ["eligo_concepts", "eligo_ner"]
    for doc in docs:
        ents = list(doc.ents)
        assert list(doc.spans["eligo"]) == ents
        for a, b in itertools.pairwise(ents):
            assert a.end <= b.start
        for ent in ents:
            assert ent._.source in {"lexicon", "model", "both"}
            assert ent.text.strip() == ent.text
        entities = eligo.nlp.to_entities(doc)  # valid Entity records
        assert all(doc.text[e.start : e.end] == e.text for e in entities)
    assert "model" in {e._.source for e in docs[0].ents}


def test_padding_in_a_batch_does_not_change_labels(bert_dir: Path) -> None:
    # fp32: int8 dynamic quantization scales activations per batch, so there a window's
    # logits move slightly with its batch mates (by ~1e-3 here), padding or not.
    model = load_model(bert_dir, onnx_path=bert_dir / "model.fp32.onnx", threads=1)
    short, long = [2023, 2003, 1037], [2023, 2003, 1037, 2146, 6251, 2007, 2116, 2616]
    alone = model.logits([short])[0, 1:4]
    padded = model.logits([short, long])[0, 1:4]
    assert np.abs(alone - padded).max() < 1e-4
    assert model.predict([short])[0].tolist() == model.predict([short, long])[0].tolist()


def test_to_disk_writes_a_loadable_model(tmp_path: Path, lookup_dir: Path) -> None:
    ner = EligoNer(make_nlp(), model=str(lookup_dir), threads=1)
    ner.to_disk(tmp_path / "saved")
    assert load_model(tmp_path / "saved").digest == ner.model.digest
    assert ner.from_disk(tmp_path / "saved").model_name == str(tmp_path / "saved")


def test_model_never_reports_a_bare_number(nlp: Language) -> None:
    # the model once tagged the "8.1" of "HbA1c 8.1%" as a drug
    text = "Family history: mother with breast cancer.\nHbA1c 8.1% on 2026-10-01. INR 2.3, K 4.1."
    entities = to_entities(nlp(text))
    assert entities
    assert all(any(c.isalpha() for c in e.text) for e in entities)


# -- span edges ----------------------------------------------------------------------------


def _ade(text: str, *effects: str) -> Example:
    spans = [(text.index(e), text.index(e) + len(e), frozenset({"adverse_event"})) for e in effects]
    return build_example("ade", "d", text, split_words(text), spans)


def test_learn_edges_keeps_words_the_gold_spans_nearly_always_include() -> None:
    examples = [
        *[_ade("Severe neutropenia after docetaxel .", "Severe neutropenia")] * 4,
        _ade("Severe rash after docetaxel .", "rash"),  # severe left out once: 4 of 5
        *[_ade("Marked fatigue on it .", "fatigue")] * 5,  # always left out
        *[_ade("An exacerbation of psoriasis with it .", "exacerbation of psoriasis")] * 5,
        *[_ade("Phenytoin toxicity developed .", "toxicity")] * 2,
        *[_ade("Hepatic toxicity developed .", "Hepatic toxicity")] * 3,
    ]
    edges = learn_edges(examples, "adverse_event", min_count=5, min_rate=0.7)
    # "exacerbation" always starts its span; "marked" is always left out; "hepatic": 3 < 5
    assert edges["left"] == ["exacerbation", "exacerbation of", "severe"]
    assert edges["right"] == ["psoriasis"]  # "neutropenia" (4) and "toxicity" (3): too rare
    assert learn_edges(examples, "adverse_event", min_count=3, min_rate=0.7)["right"] == [
        "neutropenia",
        "psoriasis",
        "toxicity",
    ]
    assert learn_edges(examples, "drug", min_count=1) == {"left": [], "right": []}


def test_extend_edges_widens_an_entity_over_its_corpus_edge_words() -> None:
    edges = Edges(
        "adverse_event", frozenset({"severe", "exacerbation of"}), frozenset({"toxicity"})
    )

    def run(words: str, tags: str) -> str:
        tag = {"O": "O", "A": "B-adverse_event", "a": "I-adverse_event", "D": "B-drug"}
        out = extend_edges([tag[t] for t in tags], words.lower().split(), edges)
        back = {v: k for k, v in tag.items()}
        return "".join(back[t] for t in out)

    assert run("Severe neutropenia after docetaxel", "OAOD") == "AaOD"
    assert run("an exacerbation of psoriasis", "OOOA") == "OAaa"
    assert run("hepatic toxicity noted", "AOO") == "AaO"
    assert run("severe severe rash", "OOA") == "Aaa"
    # never into another entity, nor up against one of its own type
    assert run("docetaxel severe neutropenia", "DOA") == "DAa"
    assert run("rash severe neutropenia", "AOA") == "AOA"
    assert run("rash toxicity rash", "AOA") == "AOA"
    # only the edge label moves
    other = Edges("drug", frozenset({"severe"}), frozenset())
    assert extend_edges(["O", "B-adverse_event"], ["severe", "rash"], other) == [
        "O",
        "B-adverse_event",
    ]


def test_edges_file_is_checked(tmp_path: Path, lookup_dir: Path) -> None:
    labels = list(LABELS)
    assert check_edges({"label": "adverse_event", "left": ["severe"], "right": []}, labels)
    bad = [
        ([], "must be an object"),
        ({"label": "disease", "left": [], "right": []}, "label 'disease' is not a type"),
        ({"label": "drug", "left": "severe", "right": []}, '"left" must be a list of words'),
        ({"label": "drug", "left": [], "right": [1]}, '"right" must be a list of words'),
    ]
    for data, message in bad:
        with pytest.raises(ModelError, match=message):
            check_edges(data, labels)
    broken = tmp_path / "model"
    shutil.copytree(lookup_dir, broken)
    (broken / "edges.json").write_text('{"label": "adverse_event", "left": {}}', encoding="utf-8")
    with pytest.raises(ModelError, match=r"model/edges.json: \"left\" must be a list"):
        load_model(broken)


def test_pipeline_widens_model_adverse_events_and_reports_the_mention(
    tmp_path: Path, lookup_dir: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(lookup_dir, model)
    edges = {"label": "adverse_event", "left": ["severe"], "right": []}
    (model / "edges.json").write_text(json.dumps(edges), encoding="utf-8")
    nlp = _small_pipeline(tmp_path, model)
    doc = nlp("Severe nausea after insulin.")
    assert _summary(list(doc.ents))[0] == (
        "nausea",
        "adverse_event",
        "both",
        ["CTCAE", "ICD-10-CM"],
    )
    entities = to_entities(doc)
    assert [(e.text, e.label, e.source) for e in entities] == [
        ("Severe nausea", "adverse_event", "both"),
        ("insulin", "drug", "both"),
    ]
    plain_model = _small_pipeline(tmp_path, lookup_dir)  # no edges.json: the model's reading
    assert to_entities(plain_model("Severe nausea after insulin."))[0].text == "nausea"
