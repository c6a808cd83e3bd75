"""`eligo_sentences`: a rule-based clinical sentence splitter.

Clinical notes are half prose, half line-oriented lists, so the splitter reads a note line
by line. Every non-blank line either starts a sentence or continues the previous one:

- blank lines, list items ("•", "-", "*", "·", "1.", "2)", "a."), section headers on their
  own line ("HISTORY OF PRESENT ILLNESS", "PMH:", "Assessment and Plan:") and the line after
  a header always start a sentence;
- a single line break inside wrapped prose does not: a line that starts in lower case or
  with a number, or follows a line ending in a comma or a function word ("with", "of"),
  continues the sentence; any other line (capital, symbol) starts a new one;
- inside a line, ".", "?" and "!" followed by a space end a sentence unless the word before
  is an abbreviation ("Dr.", "e.g.", "b.i.d.", "No. 5") or an initial ("J. Smith");
- semicolons never split; a colon splits only after a known section name at the start of
  a line ("Allergies: NKDA" -> "Allergies:" | "NKDA"), so "BP: 142/90" stays whole.

The abbreviations and section names are data (corpora/sentences/abbreviations.txt). The
splitter runs a handful of compiled regexes over the text, so it costs about the same per
character whatever the tokenization; the boundaries are mapped to tokens with numpy and
written with one `Doc.from_array` call.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path
from thinc.types import Ints2d

from eligo.nlp.resources import read_text

DATA_FILE = "abbreviations.txt"
SECTIONS = ("title", "numeric", "common", "continuation", "headers")


class SentenceRulesError(ValueError):
    """The sentence splitter's data file is malformed."""


@dataclass(frozen=True)
class SentenceRules:
    """Word lists that steer the splitter (see corpora/sentences/abbreviations.txt)."""

    title: frozenset[str]  # never end a sentence ("Dr.", "e.g.")
    numeric: frozenset[str]  # do not end a sentence before a number ("No. 5")
    common: frozenset[str]  # end a sentence only before a capital ("etc.", "b.i.d.")
    continuation: frozenset[str]  # a line ending with one continues on the next line
    headers: frozenset[str]  # section names, lower case

    @classmethod
    def parse(cls, text: str, *, source: str = DATA_FILE) -> "SentenceRules":
        """Read the `[section]`-per-list text format."""
        lists: dict[str, set[str]] = {name: set() for name in SECTIONS}
        current: set[str] | None = None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                name = line[1:-1]
                if name not in lists:
                    raise SentenceRulesError(
                        f"{source} line {lineno}: unknown section [{name}]; "
                        f"valid sections: {', '.join(SECTIONS)}"
                    )
                current = lists[name]
                continue
            if current is None:
                raise SentenceRulesError(
                    f"{source} line {lineno}: {line!r} comes before any [section] header"
                )
            current.add(line.lower())
        return cls(**{name: frozenset(words) for name, words in lists.items()})

    @classmethod
    def default(cls) -> "SentenceRules":
        return cls.parse(read_text("sentences", DATA_FILE))


# A list marker at the start of a line: bullet, "1." / "12)" / "(3)", "a." / "b)".
_MARKER = re.compile(r"(?:[•·▪◦‣●○■□➢►*–—-]|\(?(?:\d{1,2}|[A-Za-z])[.)])[^\S\n]+(?=\S)")
# Sentence-final marks inside a line, closing quotes or brackets, space, the next character.
_END = re.compile(r"([.?!]+)[\"'’”)\]]*\s+(?=(\S))")
_CLOSERS = "\"'’”)]"
_LAST_WORD = re.compile(r"(\S+)$")
# "Section name:" at the start of a line with text after it.
_INLINE_HEADER = re.compile(r"([A-Za-z][A-Za-z ,/&'-]{0,40}?)[^\S\n]*:[^\S\n]*(?=\S)")
# A header line in capitals ("HISTORY OF PRESENT ILLNESS", "REVIEW OF SYSTEMS:").
_CAPS_HEADER = re.compile(r"[A-Z][A-Z ,/&'()-]*[A-Z)]:?")
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")  # "q.i.d", "p.r.n": abbreviations by shape


class SentenceSplitter:
    """Finds sentence starts in raw text; pure Python, no spaCy needed."""

    def __init__(self, rules: SentenceRules, *, header_max_words: int = 6) -> None:
        self.rules = rules
        self.header_max_words = header_max_words

    def is_header(self, line: str) -> bool:
        """Whether a whole line is a section header."""
        if line.count(" ") >= self.header_max_words + 2:
            return False
        if line.endswith(":"):
            body = line[:-1].rstrip()
            # "Labs:" or "Assessment and Plan:"; not "He said: no." (no sentence marks)
            return (
                bool(body)
                and body[0].isalpha()
                and body.count(" ") < self.header_max_words
                and not any(c in body for c in ".?!;:")
            )
        if _CAPS_HEADER.fullmatch(line):
            return True
        return line.lower() in self.rules.headers

    def is_end(self, word: str, marks: str, nxt: str, before: str) -> bool:
        """Whether `word` + `marks` ends a sentence when `nxt` is the next character.

        `before` is the text before the word on its line (used for initials).
        """
        if "?" in marks or "!" in marks or len(marks) > 1:
            return True
        word = word.lstrip("([\"'")
        if not word:
            return True
        lower = word.lower()
        # Acronyms ("MS.", "PT.") are words, not the titles "Ms." and "Pt.".
        acronym = len(word) > 1 and word.isupper()
        rules = self.rules
        if not acronym:
            if lower in rules.title:
                return False
            if lower in rules.numeric and nxt.isdigit():
                return False
            if lower in rules.common or _DOTTED.fullmatch(lower):
                return nxt.isupper()
        if len(word) == 1 and word.isupper() and nxt.isupper():
            # An initial ("J. Smith", "John F. Kennedy") follows a name or another initial.
            prev = _LAST_WORD.search(before)
            return not (prev is None or prev.group(1)[:1].isupper())
        return True

    def continues(self, prev_line: str, line: str) -> bool:
        """Whether `line` continues the sentence of `prev_line` (a single line break)."""
        first = line[0]
        if first.islower() or first.isdigit():
            return True
        if prev_line.endswith(","):
            return True
        last = _LAST_WORD.search(prev_line)
        return last is not None and last.group(1).lower() in self.rules.continuation

    def starts(self, text: str) -> list[int]:
        """Character offsets where sentences start (each at a non-space character)."""
        starts: list[int] = []
        add = starts.append
        is_header = self.is_header
        is_end = self.is_end
        headers = self.rules.headers
        pos = 0
        prev_line = ""  # the previous non-blank line, stripped; "" before the first
        prev_header = False
        blank = False
        for raw in text.split("\n"):
            line_start = pos
            pos += len(raw) + 1
            line = raw.strip()
            if not line:
                blank = True
                continue
            start = line_start + raw.index(line[0])
            marker = _MARKER.match(line)
            body = line[marker.end() :] if marker else line
            header = is_header(body)
            if not prev_line or blank or marker or header or prev_header:
                add(start)
            else:
                core = prev_line.rstrip(_CLOSERS)
                stripped = core.rstrip(".?!")
                if len(stripped) < len(core):
                    before, _, word = stripped.rpartition(" ")
                    if is_end(word, core[len(stripped) :], line[0], before):
                        add(start)
                elif not self.continues(prev_line, line):
                    add(start)
            offset = marker.end() if marker else 0
            if not header:
                inline = _INLINE_HEADER.match(line, offset)
                if inline is not None and inline.group(1).lower() in headers:
                    offset = inline.end()
                    add(start + offset)
            for e in _END.finditer(line, offset):
                marks_at = e.start()
                word_at = line.rfind(" ", 0, marks_at) + 1
                if is_end(line[word_at:marks_at], e.group(1), e.group(2), line[:word_at]):
                    add(start + e.end())
            prev_line = line
            prev_header = header
            blank = False
        return starts

    def split(self, text: str) -> list[str]:
        """The sentences of `text` as strings (for tests and debugging)."""
        starts = self.starts(text)
        bounds = [*starts[1:], len(text)]
        return [text[s:e].strip() for s, e in zip(starts, bounds, strict=True)]


class EligoSentences:
    """Sets `token.is_sent_start` on every token from `SentenceSplitter` boundaries."""

    def __init__(
        self,
        nlp: Language,
        name: str = "eligo_sentences",
        *,
        header_max_words: int = 6,
        rules: SentenceRules | None = None,
    ) -> None:
        self.name = name
        self.header_max_words = header_max_words
        self.splitter = SentenceSplitter(
            rules or SentenceRules.default(), header_max_words=header_max_words
        )

    @property
    def rules(self) -> SentenceRules:
        return self.splitter.rules

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        starts = self.splitter.starts(doc.text)
        idx = doc.to_array(IDX).astype(np.int64)
        sent_start = np.full(n, -1, dtype=np.int64)
        if starts:
            # A start inside a token (no token begins there) moves to the next token.
            tokens = np.searchsorted(idx, np.asarray(starts, dtype=np.int64))
            sent_start[tokens[tokens < n]] = 1
            # Leading whitespace opens the first sentence instead of being one of its own
            # (starts[0] is the first non-space character).
            if tokens[0] < n:
                sent_start[tokens[0]] = -1
        sent_start[0] = 1
        # spaCy stores -1 ("not a start") as a wrapped uint64.
        doc.from_array([SENT_START], cast(Ints2d, sent_start.view(np.uint64).reshape(n, 1)))
        return doc

    def pipe(self, docs: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        for doc in docs:
            yield self(doc)

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        folder: Path = ensure_path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DATA_FILE).write_text(_dump(self.rules), encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "EligoSentences":
        file = ensure_path(path) / DATA_FILE
        rules = SentenceRules.parse(file.read_text(encoding="utf-8"), source=str(file))
        self.splitter = SentenceSplitter(rules, header_max_words=self.header_max_words)
        return self


def _dump(rules: SentenceRules) -> str:
    parts = []
    for name in SECTIONS:
        words: frozenset[str] = getattr(rules, name)
        parts.append(f"[{name}]\n" + "".join(f"{w}\n" for w in sorted(words)))
    return "\n".join(parts)


@Language.factory(
    "eligo_sentences",
    default_config={"header_max_words": 6},
    assigns=["token.is_sent_start"],
)
def make_sentences(nlp: Language, name: str, header_max_words: int) -> EligoSentences:
    return EligoSentences(nlp, name, header_max_words=header_max_words)


@lru_cache(maxsize=1)
def default_splitter() -> SentenceSplitter:
    """The splitter with the packaged rules, built once."""
    return SentenceSplitter(SentenceRules.default())


def split(text: str) -> list[str]:
    """The sentences of `text` with the packaged rules."""
    return default_splitter().split(text)
