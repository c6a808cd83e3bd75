"""One small loader for the data under corpora/ (lexicons, rules, examples)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from importlib import resources
from importlib.abc import Traversable
from typing import Any

PACKAGE = "eligo.corpora"


class ResourceNotFoundError(LookupError):
    """A corpora/ file that eligo expected is missing."""


def resource(*parts: str) -> Traversable:
    """Return the corpora/ file at `parts`, e.g. resource("rules", "context.json")."""
    node = resources.files(PACKAGE)
    for part in parts:
        node = node / part
    if not node.is_file():
        raise ResourceNotFoundError(
            f"corpora/{'/'.join(parts)} is missing from the installed eligo package; "
            "reinstall eligo or rebuild the lexicons (python -m eligo.corpora.lexicons.build)"
        )
    return node


def read_text(*parts: str) -> str:
    return resource(*parts).read_text(encoding="utf-8")


def read_json(*parts: str) -> Any:
    return json.loads(read_text(*parts))


def read_jsonl(*parts: str) -> Iterator[dict[str, Any]]:
    for lineno, line in enumerate(read_text(*parts).splitlines(), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"corpora/{'/'.join(parts)} line {lineno}: {err}") from err


def tsv_rows(raw: bytes, *, gz: bool = False) -> list[list[str]]:
    """Rows of TSV bytes (gzip-compressed when `gz`): the header row, blank lines and '#'
    comment lines skipped. Raises UnicodeDecodeError on text that is not UTF-8."""
    if gz:
        raw = gzip.decompress(raw)
    lines = raw.decode("utf-8").split("\n")
    return [
        line.rstrip("\r").split("\t") for line in lines[1:] if line and not line.startswith("#")
    ]


def read_tsv(*parts: str) -> list[list[str]]:
    """Rows of a corpora/ TSV (optionally .gz) file; see `tsv_rows`."""
    return tsv_rows(resource(*parts).read_bytes(), gz=parts[-1].endswith(".gz"))


def digest(*parts: str) -> str:
    """Short content hash of a corpora/ file, used as its version in provenance."""
    return hashlib.sha256(resource(*parts).read_bytes()).hexdigest()[:12]


def path(*parts: str) -> str:
    """Filesystem path of a corpora/ file, for components that take a rules path (medspaCy)."""
    return str(resource(*parts))
