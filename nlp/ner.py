"""`eligo_ner`: a token-classification transformer run through ONNX Runtime (no torch).

The model directory (corpora/models/ner by default) holds three files:

- `model.int8.onnx`: int64 inputs `input_ids`, `attention_mask` (and `token_type_ids`,
  optional) of shape [batch, seq]; output `logits` [batch, seq, n_labels];
- `tokenizer.json`: a HuggingFace fast-tokenizer file (BERT uncased WordPiece);
- `labels.json`: {"labels": ["O", "B-condition", "I-condition", ...] in logit order,
  "max_length": 128};

and optionally `edges.json`: {"label": "adverse_event", "left": [words], "right": [words]}
(see 3 below).

How a Doc is read:

1. Each sentence (the whole Doc when no sentences are set) is tokenized with character
   offsets. A sentence longer than `max_length - 2` word-pieces is cut into overlapping
   windows at word starts (`windows()`); each word-piece takes its label from the window
   in which it lies furthest from a cut.
2. Windows from every Doc of a `pipe` batch are sorted by length and run `batch_size` at a
   time, padded only to the longest window of their batch.
3. Decoding is over whole words (the tokenizer's pre-tokenizer words), read at each word's
   first word-piece: the most probable tag sequence that is valid BIO (`bio_viterbi`: `I-x`
   only after `B-x` or `I-x`), then consecutive words of one type form one entity (a `B-x`
   right after an `x` word continues it: the partial-label training leaves B/I loosely
   learnt, and on the dev sets a split "severe | neutropenia" was nearly always one gold
   span; measured in the model card). When the model directory has an `edges.json`, an
   entity of its label is then widened over the neighbouring `O` words that its training
   corpus nearly always includes (`extend_edges`: "severe", "acute", "elevation of"
   before an adverse effect, "toxicity", "syndrome" after; learnt from ADE-Corpus-V2's
   training split by `eligo.nlp.ner_data.learn_edges`; ADE dev adverse_event exact F1
   0.808 -> 0.819). The entity's characters are mapped to spaCy tokens with
   `doc.char_span(..., alignment_mode="expand")`; overlapping model spans (two entities
   inside one spaCy token) keep the longer, then the earlier.

Merge policy, "the transformer finds spans, the lexicons code them" (`merge()`):

Model and lexicon labels *agree* when they are equal or when the model says
`adverse_event` and the lexicon says `condition` (the lexicons know the term, the model
knows it is a drug's effect here). An agreeing `adverse_event` takes the model's label,
any other label is the lexicon's. The codes of an `adverse_event` list CTCAE and MedDRA
first.

1. Same extent (same tokens): one entity, source "both", the lexicon's codes; the label is
   `adverse_event` when the model says so over a lexicon condition, else the lexicon's.
2a. A model `adverse_event` around exactly one lexicon concept, coded and agreeing, and
   overlapping no other ("severe neutropenia" around the lexicon's "neutropenia"): as in
   2, the concept's extent, codes and source "both", and `span._.mention` keeps the
   model's reading (start and end characters). The concept's extent is what ConText and
   the AE coder read (a cue inside the model's reading, "maternal seizures", still
   applies); `eligo extract` reports the entity at its mention: the event as written
   (ADE-Corpus-V2's spans keep "severe", "acute", "exacerbation of"), coded by the lexicon.
   On the ADE-Corpus-V2 dev sentences the pipeline's adverse-event exact F1 goes 0.670 ->
   0.815 (lexicon extents vs mentions, `benchmarks/eval_ner.py`). `ae_extent="lexicon"`
   (component config) turns 2a off.
2. Otherwise, different, overlapping extents: every coded lexicon span whose label agrees
   with the model span is kept (source "both", label as in 1) and the model span is
   dropped ("nausea and vomiting" stays two coded events).
3. A model span that overlaps lexicon concepts but agrees with none of them is dropped:
   the lexicons' label precision is far higher than the model's (a model "drug" over the
   lab "ANC" in "ANC 800" must not displace it). Overlapping model spans among themselves
   keep the longer, then the earlier.
4. Model-only spans are looked up in the lexicon tables by their match key (the same
   lookup `eligo_concepts` does); an exact term whose label agrees gives its codes. Source
   "model".
5. Lexicon-only spans stay, source "lexicon". Model spans inside a section header are
   dropped, as `eligo_concepts` drops lexicon ones.

`doc.ents` stays non-overlapping and `doc.spans["eligo"]` is set to `list(doc.ents)`.
"""

# No `from __future__ import annotations`: spaCy validates factory arguments from their
# annotations at run time.
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from eligo.nlp import extensions
from eligo.nlp.sections import section_titles

if TYPE_CHECKING:  # onnxruntime and tokenizers load only with a model (spaCy imports
    # every registered factory's module at start-up, lexicon-only pipelines included)
    import onnxruntime as ort
    from tokenizers import Tokenizer
from eligo.nlp.resources import PACKAGE, ResourceNotFoundError, resource
from eligo.nlp.text import is_skipped
from eligo.nlp.types import Code

#: The files of a model directory.
ONNX_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
LABELS_FILE = "labels.json"
MODEL_FILES = (ONNX_FILE, TOKENIZER_FILE, LABELS_FILE)
#: Optional: the training corpus's span-edge convention (`Edges`, `extend_edges`).
EDGES_FILE = "edges.json"
EXTRA_FILES = ("metadata.json", "MODEL_CARD.md", "SOURCE.md")
#: Where model="default" looks, under the eligo.corpora package.
DEFAULT_MODEL = ("models", "ner")
#: Entity types a label map may use (`eligo.nlp.types.Label`, less "target").
ENTITY_TYPES = ("condition", "drug", "adverse_event", "procedure", "measurement")
REQUIRED_INPUTS = ("input_ids", "attention_mask")
OPTIONAL_INPUTS = ("token_type_ids",)
OUTPUT = "logits"
#: Code systems listed first on an adverse event.
AE_SYSTEMS = ("CTCAE", "MedDRA")
AE_EXTENTS = ("model", "lexicon")


class ModelError(ValueError):
    """An NER model directory is malformed or does not match its label map."""


class ModelNotFoundError(ModelError, LookupError):
    """The NER model files are missing."""


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Word-pieces [start, end) of one segment (a sentence), run as one model input."""

    segment: int
    start: int
    end: int


class NerModel:
    """An ONNX Runtime session with its tokenizer and label map; see `load_model`."""

    def __init__(
        self,
        session: "ort.InferenceSession",
        tokenizer: "Tokenizer",
        labels: Sequence[str],
        *,
        max_length: int,
        digest: str,
        edges: "Edges | None" = None,
    ) -> None:
        self.session = session
        self.edges = edges
        self.tokenizer = tokenizer
        self.labels = tuple(labels)
        self.max_length = max_length
        self.digest = digest
        self.inputs = tuple(i.name for i in session.get_inputs())
        self.cls_id = _special_id(tokenizer, "[CLS]")
        self.sep_id = _special_id(tokenizer, "[SEP]")
        self.pad_id = tokenizer.token_to_id("[PAD]") or 0

    def logits(self, pieces: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits [batch, 2 + longest, n_labels] for word-piece id sequences (no specials)."""
        width = 2 + max(len(p) for p in pieces)
        ids = np.full((len(pieces), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(pieces), width), dtype=np.int64)
        for row, seq in enumerate(pieces):
            n = len(seq)
            ids[row, 0] = self.cls_id
            ids[row, 1 : n + 1] = seq
            ids[row, n + 1] = self.sep_id
            mask[row, : n + 2] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        (out,) = self.session.run([OUTPUT], feed)
        return np.asarray(out)

    def predict(self, pieces: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Log-probabilities [pieces, labels] (specials and padding removed) per sequence."""
        scores = log_softmax(self.logits(pieces))
        return [scores[row, 1 : len(seq) + 1] for row, seq in enumerate(pieces)]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis (float32)."""
    shifted = logits.astype(np.float32) - logits.max(-1, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(-1, keepdims=True)))


@lru_cache(maxsize=8)
def _transitions(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """BIO validity: (from, to) matrix and first-position vector, 0 or -inf."""
    inside = [label[2:] if label.startswith("I-") else None for label in labels]
    kind = [label[2:] if label != "O" else None for label in labels]
    allowed = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for j, k in enumerate(inside):
        if k is not None:
            for i in range(len(labels)):
                if kind[i] != k:
                    allowed[i, j] = -np.inf
    start = np.array([-np.inf if k else 0.0 for k in inside], dtype=np.float32)
    return allowed, start


def bio_viterbi(labels: Sequence[str], scores: np.ndarray) -> list[int]:
    """The highest-scoring valid BIO label sequence for per-word log-probabilities."""
    if len(scores) == 0:
        return []
    allowed, start = _transitions(tuple(labels))
    best = scores[0] + start
    back = np.zeros((len(scores), len(labels)), dtype=np.int64)
    for t in range(1, len(scores)):
        candidates = best[:, None] + allowed
        back[t] = candidates.argmax(0)
        best = candidates.max(0) + scores[t]
    path = [int(best.argmax())]
    for t in range(len(scores) - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


@dataclass(frozen=True)
class Edges:
    """Words a `label` entity's training corpus nearly always includes at its edges."""

    label: str
    left: frozenset[str]  # lower-cased words, and "x of" prefixes
    right: frozenset[str]


def check_edges(data: Any, labels: Sequence[str], *, source: str = EDGES_FILE) -> Edges:
    """Validate an edges file: {"label": type, "left": [words], "right": [words], ...}."""
    if not isinstance(data, dict):
        raise ModelError(f'{source} must be an object with "label", "left" and "right"')
    label = data.get("label")
    if not isinstance(label, str) or f"B-{label}" not in labels:
        raise ModelError(f"{source}: label {label!r} is not a type of the model's label map")
    sides: list[frozenset[str]] = []
    for name in ("left", "right"):
        words = data.get(name)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ModelError(f'{source}: "{name}" must be a list of words')
        sides.append(frozenset(words))
    return Edges(label=label, left=sides[0], right=sides[1])


def extend_edges(tags: Sequence[str], words: Sequence[str], edges: Edges) -> list[str]:
    """Widen each `edges.label` entity over the `O` words beside it that its training
    corpus nearly always includes ("severe" + "neutropenia"; "elevation of" + "liver enzymes";
    "hepatic" + "toxicity"), never into another entity or up against one of its type.

    `tags` are word tags (BIO), `words` the lower-cased words; returns new tags.
    """
    out = list(tags)
    n = len(out)

    def free(i: int) -> bool:
        return 0 <= i < n and out[i] == "O"

    def clear(i: int) -> bool:  # extending to i must not touch another entity of the type
        return not (0 <= i < n and out[i][2:] == edges.label)

    i = 0
    while i < n:
        if out[i][2:] != edges.label:
            i += 1
            continue
        start = i
        while i < n and out[i][2:] == edges.label:
            i += 1
        end = i
        while True:
            if free(start - 1) and words[start - 1] in edges.left and clear(start - 2):
                start -= 1
            elif (
                free(start - 1)
                and free(start - 2)
                and words[start - 1] == "of"
                and f"{words[start - 2]} of" in edges.left
                and clear(start - 3)
            ):
                start -= 2
            else:
                break
        while free(end) and words[end] in edges.right and clear(end + 1):
            end += 1
        out[start:end] = [f"B-{edges.label}"] + [f"I-{edges.label}"] * (end - start - 1)
        i = end
    return out


def _special_id(tokenizer: "Tokenizer", token: str) -> int:
    ident = tokenizer.token_to_id(token)
    if ident is None:
        raise ModelError(f"{TOKENIZER_FILE} has no {token} token; expected a BERT WordPiece vocab")
    return int(ident)


def model_dir(model: str | Path) -> Traversable:
    """The directory of `model`: "default" (corpora/models/ner) or a filesystem path."""
    if str(model) == "default":
        try:
            resource(*DEFAULT_MODEL, ONNX_FILE)
        except ResourceNotFoundError as err:
            raise ModelNotFoundError(
                f"no NER model in corpora/{'/'.join(DEFAULT_MODEL)} (missing {ONNX_FILE}); "
                "train and ship one with `eligo train ner --out corpora/models/ner`, pass "
                "model=PATH to a model directory, or use eligo.nlp.load(model=None) for the "
                "lexicon-only pipeline"
            ) from err
        return resources.files(PACKAGE).joinpath(*DEFAULT_MODEL)
    return Path(model)


def _file(directory: Traversable, name: str) -> Traversable:
    node = directory / name
    if not node.is_file():
        raise ModelNotFoundError(
            f"NER model directory {directory} has no {name} (expected {', '.join(MODEL_FILES)}); "
            "use eligo.nlp.load(model=None) for the lexicon-only pipeline"
        )
    return node


def check_labels(data: Any, *, source: str = LABELS_FILE) -> tuple[list[str], int | None]:
    """Validate a label map: the labels in logit order and the model's max_length."""
    if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
        raise ModelError(f'{source} must be an object with a "labels" list')
    labels = data["labels"]
    valid = ["O"] + [f"{p}-{t}" for t in ENTITY_TYPES for p in "BI"]
    for label in labels:
        if label not in valid:
            raise ModelError(f"{source}: label {label!r} is not one of {', '.join(valid)}")
    if len(set(labels)) != len(labels) or "O" not in labels:
        raise ModelError(f'{source}: labels must be unique and include "O", got {labels}')
    max_length = data.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 8):
        raise ModelError(f"{source}: max_length must be an integer >= 8, got {max_length!r}")
    return labels, max_length


def check_session(session: "ort.InferenceSession", labels: Sequence[str], *, source: str) -> None:
    """Refuse a model whose inputs, output or output width do not match the contract."""
    inputs = {i.name: i for i in session.get_inputs()}
    expected = f"{', '.join(REQUIRED_INPUTS)} (and optionally {', '.join(OPTIONAL_INPUTS)})"
    missing = [name for name in REQUIRED_INPUTS if name not in inputs]
    if missing:
        raise ModelError(f"{source} lacks input {', '.join(missing)}; expected inputs {expected}")
    unknown = sorted(set(inputs) - {*REQUIRED_INPUTS, *OPTIONAL_INPUTS})
    if unknown:
        raise ModelError(f"{source} has unexpected input {', '.join(unknown)}; expected {expected}")
    for name, node in inputs.items():
        if node.type != "tensor(int64)" or len(node.shape) != 2:
            raise ModelError(
                f"{source} input {name} is {node.type} of rank {len(node.shape)}; "
                "expected tensor(int64) of shape [batch, seq]"
            )
    outputs = {o.name: o for o in session.get_outputs()}
    if OUTPUT not in outputs:
        raise ModelError(f"{source} has no output {OUTPUT!r}; its outputs: {', '.join(outputs)}")
    width = outputs[OUTPUT].shape[-1] if outputs[OUTPUT].shape else None
    if isinstance(width, int) and width != len(labels):
        raise ModelError(
            f"{source} outputs {width} labels per token but {LABELS_FILE} lists "
            f"{len(labels)}: {labels}"
        )


def load_model(
    model: str | Path = "default", *, onnx_path: str | Path | None = None, threads: int = 0
) -> NerModel:
    """Load and check a model directory once; `onnx_path` overrides its ONNX file (fp32).

    Raises:
        ModelNotFoundError: a file is missing.
        ModelError: the files do not agree with each other or with the model contract.
    """
    directory = model_dir(model)
    labels, trained_length = check_labels(
        _parse_json(_file(directory, LABELS_FILE)), source=f"{directory}/{LABELS_FILE}"
    )
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(_file(directory, TOKENIZER_FILE).read_text("utf-8"))
    except Exception as err:  # tokenizers raises a bare Exception on malformed JSON
        raise ModelError(f"{directory}/{TOKENIZER_FILE} is not a tokenizer file: {err}") from err
    # eligo cuts the windows itself; a truncating or padding tokenizer would hide pieces.
    tokenizer.no_truncation()
    tokenizer.no_padding()

    onnx = Path(onnx_path) if onnx_path is not None else _file(directory, ONNX_FILE)
    if not onnx.is_file():
        raise ModelNotFoundError(f"no ONNX model at {onnx}")
    raw = onnx.read_bytes()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        options.intra_op_num_threads = threads
    source = str(onnx)
    try:
        session = ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own exception types are not exported stably
        raise ModelError(f"{source} is not a model ONNX Runtime can load: {err}") from err
    check_session(session, labels, source=source)
    edges = None
    if (directory / EDGES_FILE).is_file():
        data = _parse_json(directory / EDGES_FILE)
        edges = check_edges(data, labels, source=f"{directory}/{EDGES_FILE}")
    ner = NerModel(
        session,
        tokenizer,
        labels,
        max_length=trained_length or 512,
        digest=hashlib.sha256(raw).hexdigest()[:12],
        edges=edges,
    )
    # One tiny run checks a symbolic output width and warms the session up.
    width = ner.logits([[ner.cls_id]]).shape[-1]
    if width != len(labels):
        raise ModelError(
            f"{source} outputs {width} labels per token but {LABELS_FILE} lists "
            f"{len(labels)}: {labels}"
        )
    return ner


def _parse_json(node: Traversable) -> Any:
    try:
        return json.loads(node.read_text("utf-8"))
    except json.JSONDecodeError as err:
        raise ModelError(f"{node} is not valid JSON: {err}") from err


# -- windows and decoding -------------------------------------------------------------------


def windows(word_ids: Sequence[int | None], *, size: int, overlap: int) -> list[tuple[int, int]]:
    """Cut word-pieces into windows of at most `size` that overlap by about `overlap`.

    Windows start and end at word starts, unless a single word is longer than a window.
    """
    n = len(word_ids)
    if n <= size:
        return [(0, n)] if n else []
    overlap = min(overlap, size // 2)
    starts = [p == 0 or word_ids[p] != word_ids[p - 1] for p in range(n)] + [True]
    out: list[tuple[int, int]] = []
    start = 0
    while True:
        end = start + size
        if end >= n:
            out.append((start, n))
            return out
        cut = end
        while cut > start and not starts[cut]:
            cut -= 1
        if cut == start:  # one word longer than a window: cut inside it
            cut = end
        out.append((start, cut))
        target = max(cut - overlap, start + max(1, (cut - start) // 2))
        nxt = target
        while nxt > start + 1 and not starts[nxt]:
            nxt -= 1
        if not starts[nxt]:
            nxt = next((p for p in range(target, cut + 1) if starts[p]), target)
        start = nxt


def owners(spans: Sequence[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The word-pieces each window labels: from the middle of one overlap to the next."""
    bounds = [0]
    for (_, end), (start, _) in pairwise(spans):
        bounds.append((start + end) // 2)
    bounds.append(n)
    return list(pairwise(bounds))


def decode(
    labels: Sequence[str],
    predicted: Sequence[int],
    word_ids: Sequence[int | None],
    offsets: Sequence[tuple[int, int]],
) -> list[tuple[str, int, int]]:
    """Word labels (each word's first piece) -> (type, start, end) chars.

    A word of type x right after a word of type x extends its entity, whether tagged `B-x`
    or `I-x`; `O` ends it.
    """
    entities: list[list[Any]] = []  # [type, start, end], extended in place
    current: list[Any] | None = None
    previous_word: int | None = -1
    for label_id, word, (start, end) in zip(predicted, word_ids, offsets, strict=True):
        if word == previous_word:  # a later piece of the same word extends its entity
            if current is not None and current[2] < end:
                current[2] = end
            continue
        previous_word = word
        label = labels[label_id]
        if label == "O":
            current = None
            continue
        kind = label[2:]
        if current is not None and current[0] == kind:
            current[2] = end
            continue
        current = [kind, start, end]
        entities.append(current)
    return [(kind, start, end) for kind, start, end in entities]


# -- merging with the lexicon spans ---------------------------------------------------------

Lookup = Callable[[Span], tuple[str, list[Code]] | None]


def agrees(model_label: str, lexicon_label: str) -> bool:
    """Same label, or a model adverse event over a lexicon condition."""
    return model_label == lexicon_label or (
        model_label == "adverse_event" and lexicon_label == "condition"
    )


def _ae_codes(codes: Iterable[Code]) -> list[Code]:
    """CTCAE and MedDRA codes first (stable), for an adverse event."""
    rank = {system: i for i, system in enumerate(AE_SYSTEMS)}
    return sorted(codes, key=lambda c: rank.get(c.system, len(AE_SYSTEMS)))


def _make(doc: Doc, start: int, end: int, label: str, codes: list[Code], source: str) -> Span:
    span = Span(doc, start, end, label=label)
    span._.codes = _ae_codes(codes) if label == "adverse_event" else codes
    span._.source = source
    span._.mention = None  # (extension values live on the Doc, keyed by extent and label)
    return span


def _both(lexicon: Span, model_label: str) -> Span:
    label = (
        "adverse_event"
        if model_label == "adverse_event" and agrees(model_label, lexicon.label_)
        else lexicon.label_
    )
    codes = list(lexicon._.codes or [])
    return _make(lexicon.doc, lexicon.start, lexicon.end, label, codes, "both")


def _by_length(span: Span) -> tuple[int, int, int]:
    return (-(span.end - span.start), -(span.end_char - span.start_char), span.start)


def _non_overlapping(spans: Iterable[Span], key: Callable[[Span], Any]) -> list[Span]:
    taken: set[int] = set()
    chosen = []
    for span in sorted(spans, key=key):
        if any(i in taken for i in range(span.start, span.end)):
            continue
        taken.update(range(span.start, span.end))
        chosen.append(span)
    return sorted(chosen, key=lambda s: (s.start, s.end))


def check_ae_extent(value: str) -> str:
    if value not in AE_EXTENTS:
        raise ModelError(f"ae_extent must be one of {', '.join(AE_EXTENTS)}, got {value!r}")
    return value


def merge(
    doc: Doc,
    found: Iterable[Span],
    *,
    lookup: Lookup | None = None,
    ae_extent: str = "model",
) -> list[Span]:
    """Merge model spans with the lexicon spans in `doc.ents` (policy in the module doc).

    `ae_extent="model"`: a model adverse event around one coded lexicon concept records the
    model's extent as the concept's `_.mention` (rule 2a); "lexicon": no mentions.
    Returns the non-overlapping entities in text order with `_.source` and `_.codes` set.
    """
    check_ae_extent(ae_extent)
    lexicon = [
        _make(doc, e.start, e.end, e.label_, list(e._.codes or []), "lexicon") for e in doc.ents
    ]
    model = _non_overlapping(found, _by_length)
    by_extent = {(s.start, s.end): s for s in lexicon}
    both: dict[tuple[int, int], Span] = {}
    rest: list[Span] = []
    for span in model:
        same = by_extent.get((span.start, span.end))
        if same is not None:  # 1. same extent
            both[(same.start, same.end)] = _both(same, span.label_)
            continue
        overlapping = [s for s in lexicon if s.start < span.end and span.start < s.end]
        agreeing = [s for s in overlapping if s._.codes and agrees(span.label_, s.label_)]
        if (
            ae_extent == "model"
            and span.label_ == "adverse_event"
            and len(overlapping) == 1
            and overlapping == agreeing
            and span.start <= agreeing[0].start
            and agreeing[0].end <= span.end
        ):  # 2a. "severe neutropenia": the concept's extent and codes, the model's reading
            inner = _both(agreeing[0], span.label_)
            inner._.mention = (span.start_char, span.end_char)
            both[(inner.start, inner.end)] = inner
            continue
        if agreeing:  # 2. coded lexicon spans that agree keep their extent
            for s in agreeing:
                both.setdefault((s.start, s.end), _both(s, span.label_))
            continue
        if overlapping:  # 3. a disagreeing model span never displaces a lexicon concept
            continue
        codes: list[Code] = []
        if not overlapping and lookup is not None:  # 4. model-only: code it if the term is known
            known = lookup(span)
            if known is not None and agrees(span.label_, known[0]):
                codes = known[1]
        rest.append(_make(doc, span.start, span.end, span.label_, codes, "model"))
    rest.extend(s for s in lexicon if (s.start, s.end) not in both)
    # "both" spans first, then the rest (lexicon and model-only spans no longer overlap each
    # other; the ordering keeps the result deterministic), longest first.
    ordered = [
        *sorted(both.values(), key=lambda s: s.start),
        *sorted(rest, key=lambda s: (*_by_length(s)[:2], s._.source != "lexicon", s.start)),
    ]
    rank = {id(s): i for i, s in enumerate(ordered)}
    return _non_overlapping(ordered, lambda s: rank[id(s)])


# -- the component --------------------------------------------------------------------------


class EligoNer:
    """Find entities with the ONNX model and merge them with the lexicon's (see module doc)."""

    def __init__(
        self,
        nlp: Language,
        name: str = "eligo_ner",
        *,
        model: str = "default",
        threads: int = 0,
        batch_size: int = 32,
        max_length: int = 128,
        overlap: int = 32,
        lexicon_component: str = "eligo_concepts",
        ae_extent: str = "model",
    ) -> None:
        extensions.register()
        if max_length < 8:
            raise ModelError(f"max_length must be at least 8 word-pieces, got {max_length}")
        self.nlp = nlp
        self.name = name
        self.model_name = model
        self.threads = threads
        self.batch_size = max(1, batch_size)
        self.overlap = overlap
        self.lexicon_component = lexicon_component
        self.ae_extent = check_ae_extent(ae_extent)
        self.model = load_model(model, threads=threads)
        # A window never exceeds what the model was trained on (labels.json max_length).
        self.max_length = min(max_length, self.model.max_length)
        self._lookups: dict[tuple[str, ...], tuple[str, list[Code]] | None] = {}
        self.timings: dict[str, float] = {}
        self.reset_timings()

    def reset_timings(self) -> None:
        """Zero the counters: docs, windows, batches, word-pieces and seconds per stage."""
        self.timings = dict.fromkeys(
            ("docs", "windows", "batches", "pieces", "tokenize_s", "inference_s", "merge_s"), 0.0
        )

    def __call__(self, doc: Doc) -> Doc:
        self._process([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):
            self._process(batch)
            yield from batch

    def find(self, docs: Sequence[Doc]) -> list[list[Span]]:
        """The model's spans per Doc, before merging."""
        started = time.perf_counter()
        segments: list[tuple[int, int]] = []  # (doc index, start char)
        texts: list[str] = []
        for i, doc in enumerate(docs):
            sents = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
            for sent in sents:
                if sent.text.strip():
                    segments.append((i, sent.start_char))
                    texts.append(sent.text)
        encodings = self.model.tokenizer.encode_batch(texts, add_special_tokens=False)
        size = self.max_length - 2
        cuts = [windows(e.word_ids, size=size, overlap=self.overlap) for e in encodings]
        todo = [Window(s, a, b) for s, spans in enumerate(cuts) for a, b in spans]
        self.timings["tokenize_s"] += time.perf_counter() - started

        started = time.perf_counter()
        todo.sort(key=lambda w: w.end - w.start)  # length bucketing: pad within similar lengths
        predicted: dict[Window, np.ndarray] = {}
        for first in range(0, len(todo), self.batch_size):
            batch = todo[first : first + self.batch_size]
            ids = [encodings[w.segment].ids[w.start : w.end] for w in batch]
            for window, labels in zip(batch, self.model.predict(ids), strict=True):
                predicted[window] = labels
            self.timings["batches"] += 1
        self.timings["inference_s"] += time.perf_counter() - started
        self.timings["windows"] += len(todo)
        self.timings["pieces"] += sum(w.end - w.start for w in todo)

        found: list[list[Span]] = [[] for _ in docs]
        for s, (encoding, spans) in enumerate(zip(encodings, cuts, strict=True)):
            if not spans:
                continue
            scores = np.zeros((len(encoding.ids), len(self.model.labels)), dtype=np.float32)
            for (start, end), (own_start, own_end) in zip(
                spans, owners(spans, len(scores)), strict=True
            ):
                window_scores = predicted[Window(s, start, end)]
                scores[own_start:own_end] = window_scores[own_start - start : own_end - start]
            word_ids = encoding.word_ids
            firsts = [
                p
                for p, w in enumerate(word_ids)
                if w is not None and (p == 0 or word_ids[p - 1] != w)
            ]
            labels = np.zeros(len(scores), dtype=np.int64)
            labels[firsts] = bio_viterbi(self.model.labels, scores[firsts])
            if self.model.edges is not None:
                labels[firsts] = self._extend(texts[s], encoding, firsts, labels[firsts])
            i, base = segments[s]
            doc = docs[i]
            for kind, start, end in decode(
                self.model.labels, labels.tolist(), word_ids, encoding.offsets
            ):
                span = doc.char_span(base + start, base + end, label=kind, alignment_mode="expand")
                # a span without a letter ("8.1", "2x") names no concept: a model slip
                if span is not None and any(c.isalpha() for c in span.text):
                    found[i].append(span)
        return found

    def _extend(self, text: str, encoding: Any, firsts: list[int], path: np.ndarray) -> list[int]:
        """`extend_edges` over one sentence's words (read at their first pieces)."""
        assert self.model.edges is not None
        word_end: dict[int, int] = {}
        for (_, end), word in zip(encoding.offsets, encoding.word_ids, strict=True):
            if word is not None:
                word_end[word] = end
        words = [
            text[encoding.offsets[p][0] : word_end[encoding.word_ids[p]]].lower() for p in firsts
        ]
        labels = self.model.labels
        tags = extend_edges([labels[i] for i in path], words, self.model.edges)
        return [labels.index(tag) for tag in tags]

    def _process(self, docs: Sequence[Doc]) -> None:
        found = self.find(docs)
        started = time.perf_counter()
        lookup = self._lookup_function()
        for doc, spans in zip(docs, found, strict=True):
            titles = section_titles(doc)
            if titles:  # a section header is a heading, not a mention
                spans = [s for s in spans if not any(s.start < e and b < s.end for b, e in titles)]
            doc.ents = merge(doc, spans, lookup=lookup, ae_extent=self.ae_extent)
            doc.spans[extensions.SPAN_GROUP] = list(doc.ents)
        self.timings["docs"] += len(docs)
        self.timings["merge_s"] += time.perf_counter() - started

    def _lookup_function(self) -> Lookup | None:
        if self.lexicon_component not in self.nlp.pipe_names:
            return None
        matcher = self.nlp.get_pipe(self.lexicon_component)
        if not hasattr(matcher, "matches"):
            return None

        def lookup(span: Span) -> tuple[str, list[Code]] | None:
            key = tuple(t.text for t in span)
            if key not in self._lookups:
                if len(self._lookups) > 50_000:
                    self._lookups.clear()
                self._lookups[key] = _exact_term(matcher, span)
            return self._lookups[key]

        return lookup

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Write the model files, so that `nlp.to_disk()` round-trips."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        directory = model_dir(self.model_name)
        for name in MODEL_FILES:
            (path / name).write_bytes(_file(directory, name).read_bytes())
        for name in EXTRA_FILES:  # provenance, when the model directory has it
            if (directory / name).is_file():
                (path / name).write_bytes((directory / name).read_bytes())

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "EligoNer":
        self.model = load_model(Path(path), threads=self.threads)
        self.model_name = str(path)
        self.max_length = min(self.max_length, self.model.max_length)
        return self


def _exact_term(matcher: Any, span: Span) -> tuple[str, list[Code]] | None:
    """The lexicon label and codes of `span` when the whole span is one lexicon term."""
    doc = span.as_doc()
    kept = [t.i for t in doc if not is_skipped(t.text)]
    if not kept:
        return None
    for start, end, concept in matcher.matches(doc):
        if start == kept[0] and end == kept[-1] + 1:
            codes = [Code(system=s, code=c, display=d) for s, c, d in concept.codes]
            return concept.label, codes
    return None


@Language.factory(
    "eligo_ner",
    default_config={
        "model": "default",
        "threads": 0,
        "batch_size": 32,
        "max_length": 128,
        "overlap": 32,
        "lexicon_component": "eligo_concepts",
        "ae_extent": "model",
    },
    assigns=["doc.ents", "doc.spans", "span._.codes", "span._.source"],
    requires=["doc.ents", "token.is_sent_start"],
)
def make_ner(
    nlp: Language,
    name: str,
    model: str,
    threads: int,
    batch_size: int,
    max_length: int,
    overlap: int,
    lexicon_component: str,
    ae_extent: str,
) -> EligoNer:
    return EligoNer(
        nlp,
        name,
        model=model,
        threads=threads,
        batch_size=batch_size,
        max_length=max_length,
        overlap=overlap,
        lexicon_component=lexicon_component,
        ae_extent=ae_extent,
    )
