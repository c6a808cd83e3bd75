"""Tokenizer and token normalisation shared by the lexicon build and the concept matcher.

The lexicon files store each term as a sequence of normalised tokens (its `key`), made by
this module at build time, so matching at run time is a dict lookup per token window.
Change anything here and the lexicons must be rebuilt (a test checks they agree).
"""

from __future__ import annotations

import re
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex

# Split comparators and units glued to values: "eGFR<45", "ANC>=1500", "1.4mg", "38.5C".
_EXTRA_INFIXES = [
    r"(?<=[A-Za-z0-9%)])(?:<=|>=|=<|=>|[<>≤≥=])(?=[0-9.])",
    r"(?<=[A-Za-z])(?:<=|>=|[<>≤≥=])(?=[A-Za-z])",
    # ...but not inside names that end in digit + letter ("HbA1C", "A1C", "T2DM").
    r"(?<=[0-9])(?<![A-Za-z][0-9])(?=(?:mg|mcg|ug|g|kg|ml|mL|dL|L|mmol|umol|mEq|IU|U|cm|mm|bpm|C|F)\b)",
]

# Tokens dropped from match keys: hyphens and slashes join word parts ("non-small-cell"),
# apostrophe-s is possessive ("Hodgkin's lymphoma" = "Hodgkin lymphoma").
_SKIP = frozenset({"-", "–", "—", "'s", "’s", "'", "’"})
# Words whose trailing "s" is not a plural.
_NO_STRIP = ("ss", "us", "is", "os", "as", "ys")


def make_nlp() -> Language:
    """A blank English pipeline with eligo's clinical tokenizer tweaks."""
    nlp = spacy.blank("en")
    infixes = [*(nlp.Defaults.infixes or ()), *_EXTRA_INFIXES]
    tokenizer = nlp.tokenizer
    assert isinstance(tokenizer, Tokenizer)
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    return nlp


@lru_cache(maxsize=200_000)
def norm(lower: str) -> str:
    """Normalise one lower-cased token: singular form, so 'effusions' matches 'effusion'."""
    n = len(lower)
    if n <= 3 or not lower.isalpha():
        return lower
    if lower.endswith("ies") and n > 4:
        return lower[:-3] + "y"
    if lower.endswith(("ches", "shes", "xes", "sses", "zes")):
        return lower[:-2]
    if lower.endswith("s") and not lower.endswith(_NO_STRIP):
        return lower[:-1]
    return lower


def is_skipped(text: str) -> bool:
    return text in _SKIP or text.isspace()


def term_key(nlp: Language, term: str) -> str:
    """The match key of a lexicon term: its normalised tokens joined by single spaces."""
    return " ".join(norm(t.lower_) for t in nlp.make_doc(term) if not is_skipped(t.text))


def exact_key(nlp: Language, term: str) -> str:
    """The key of a case-sensitive term (abbreviations such as 'ALL', 'MS')."""
    return " ".join(t.text for t in nlp.make_doc(term) if not is_skipped(t.text))


_WS = re.compile(r"\s+")


def clean_term(term: str) -> str:
    return _WS.sub(" ", term).strip()
