"""Load medspaCy rule files from corpora/ and compile simple token patterns to phrases.

spaCy's token `Matcher` tries every pattern at every token, and `IN`/`REGEX` predicates are
evaluated per token per pattern: with a few hundred ConText and section rules that was
~80% of eligo's run time. Most patterns are just alternatives of words
(`[{"LOWER": {"IN": ["deny", "denies"]}}, {"LOWER": "any", "OP": "?"}]`); those are expanded
here into their literal phrases, which medspaCy sends to the trie-based `PhraseMatcher`.
The same matches come out; only patterns that need real predicates stay token patterns.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from medspacy.context import ConTextRule
from medspacy.section_detection import SectionRule

from eligo.nlp.resources import read_json

#: A rule expanding to more phrases than this stays a token pattern.
MAX_PHRASES = 512
#: A token pattern is split into at most this many patterns with plain first words.
MAX_PREFIXES = 64
_WORD_KEYS = ("LOWER", "TEXT", "ORTH")
#: Last token of a section pattern that requires the header to end its line.
_NEWLINE_TOKEN = {"IS_SPACE": True, "TEXT": {"REGEX": "[\\n\\r]"}}


class RuleFileError(ValueError):
    """A rule in a corpora/ rule file is malformed."""


def _alternatives(token: dict[str, Any]) -> list[str] | None:
    """The words one token spec accepts ("" when optional), or None if it is not words."""
    if set(token) - {"OP"} - set(_WORD_KEYS) or len(set(token) & set(_WORD_KEYS)) != 1:
        return None
    op = token.get("OP")
    if op not in (None, "?"):
        return None
    key = next(k for k in _WORD_KEYS if k in token)
    value = token[key]
    if isinstance(value, str):
        words = [value]
    elif isinstance(value, dict) and set(value) == {"IN"} and isinstance(value["IN"], list):
        words = [w for w in value["IN"] if isinstance(w, str)]
    else:
        return None
    # Phrases are matched on LOWER: exact-case words (TEXT/ORTH) must not have a case.
    if key != "LOWER" and any(w.lower() != w.upper() for w in words):
        return None
    if key == "LOWER" and any(w != w.lower() for w in words):
        return None
    return [*words, ""] if op == "?" else words


def expand(pattern: Any, *, limit: int = MAX_PHRASES) -> list[str] | None:
    """The literal phrases a token pattern matches, or None when it needs the Matcher."""
    compiled = compile_pattern(pattern, limit=limit)
    if compiled is None or any(isinstance(p, list) for p in compiled):
        return None
    return [p for p in compiled if isinstance(p, str)]


def compile_pattern(pattern: Any, *, limit: int = MAX_PHRASES) -> list[str | list[Any]] | None:
    """Phrases, or token patterns that start with a plain word, equivalent to `pattern`.

    A pattern of words only becomes its phrases (when there are at most `limit`). Otherwise
    the words up to the first required token are multiplied out (at most `MAX_PREFIXES`
    patterns), so spaCy's Matcher, which tries every pattern at every token, starts each
    one with a cheap plain-word test and evaluates `IN`/`REGEX` predicates only after it.
    None means: keep the pattern as it is.
    """
    if not isinstance(pattern, list) or not pattern:
        return None
    options: list[list[str] | None] = []
    for token in pattern:
        if not isinstance(token, dict):
            return None
        options.append(_alternatives(token))
    if all(o is not None for o in options):
        size = 1
        for words in options:
            size *= len(words or ())
        if size <= limit:
            return _multiply(pattern, options, len(pattern))
    required = next((i for i, t in enumerate(pattern) if t.get("OP") is None), None)
    if required is None or (required == 0 and options[0] is None):
        return None  # no required token, or it already starts with a cheap non-word test
    size = 1
    for words in options[: required + 1]:
        size *= len(words) if words is not None else 1
    if size > MAX_PREFIXES:
        return None
    return _multiply(pattern, options, required + 1)


def _multiply(
    pattern: list[Any], options: list[list[str] | None], cut: int
) -> list[str | list[Any]]:
    """Multiply out the word alternatives of pattern[:cut]; keep pattern[cut:] as it is."""
    head = [words if words is not None else [None] for words in options[:cut]]
    compiled: dict[str, str | list[Any]] = {}
    for combo in itertools.product(*head):
        tokens: list[Any] = []
        for word, token in zip(combo, pattern[:cut], strict=True):
            if word is None:
                tokens.append(token)  # a non-word token, kept as it is
            elif word:
                key = next(k for k in _WORD_KEYS if k in token)
                tokens.append({key: word})
        tokens.extend(pattern[cut:])
        if not tokens:
            continue
        if all(_is_plain_word(t) for t in tokens):
            phrase = " ".join(next(iter(t.values())) for t in tokens)
            compiled[phrase] = phrase
        else:
            compiled[json.dumps(tokens, sort_keys=True)] = tokens
    return [compiled[k] for k in sorted(compiled)]


def _is_plain_word(token: Any) -> bool:
    return (
        isinstance(token, dict)
        and len(token) == 1
        and next(iter(token)) in _WORD_KEYS
        and isinstance(next(iter(token.values())), str)
    )


def _rules(folder: str, filename: str, key: str) -> list[dict[str, Any]]:
    data = read_json(folder, filename)
    rules = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise RuleFileError(f'corpora/{folder}/{filename} must be {{"{key}": [...]}}')
    return rules


def context_rules(filename: str = "context.json") -> Iterator[ConTextRule]:
    """ConText rules from corpora/context/, simple patterns compiled to phrases."""
    for i, raw in enumerate(_rules("context", filename, "context_rules")):
        try:
            rule = dict(raw)
            pattern = rule.pop("pattern", None)
            compiled = compile_pattern(pattern) if pattern is not None else None
            if "allowed_types" in rule:
                rule["allowed_types"] = set(rule["allowed_types"])
            if "excluded_types" in rule:
                rule["excluded_types"] = set(rule["excluded_types"])
            if compiled is None:
                yield ConTextRule(pattern=pattern, **rule)
                continue
            for item in compiled:
                if isinstance(item, str):
                    yield ConTextRule(**{**rule, "literal": item})
                else:
                    yield ConTextRule(pattern=item, **rule)
        except (TypeError, ValueError) as err:
            raise RuleFileError(
                f"corpora/context/{filename} rule {i} ({raw.get('literal')!r}): {err}"
            ) from err


def section_rules(filename: str = "sections.json") -> Iterator[SectionRule]:
    """Section rules from corpora/sections/. A pattern ending in a newline token becomes a
    phrase with metadata {"end_line": True}: the sectionizer then checks the line ends."""
    for i, raw in enumerate(_rules("sections", filename, "section_rules")):
        try:
            rule = dict(raw)
            pattern = rule.pop("pattern", None)
            metadata = dict(rule.pop("metadata", None) or {})
            if isinstance(pattern, list) and pattern and pattern[-1] == _NEWLINE_TOKEN:
                phrases = expand(pattern[:-1])
                if phrases is not None:
                    metadata["end_line"] = True
            else:
                phrases = expand(pattern) if pattern is not None else None
            if phrases is None:
                yield SectionRule(pattern=pattern, metadata=metadata or None, **rule)
            else:
                for phrase in phrases:
                    yield SectionRule(**{**rule, "literal": phrase, "metadata": metadata or None})
        except (TypeError, ValueError) as err:
            raise RuleFileError(
                f"corpora/sections/{filename} rule {i} ({raw.get('literal')!r}): {err}"
            ) from err
