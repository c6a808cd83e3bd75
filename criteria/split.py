"""Split an eligibility section into criteria: headers, bullets, nesting, wrapped lines.

ClinicalTrials.gov text comes in many shapes: "Inclusion Criteria:" / "Key Exclusion
Criteria" headers (or none: everything is then inclusion), sentence headers ("Patients will
be excluded if they:"), bullets ("-", "*", "•", "1.", "1)", "a.", "4.1"), items separated by
blank lines or not, and lines wrapped mid-sentence. Indentation is often lost, so nesting is
read from the parent ("... any of the following:") and the bullet style of what follows.

Every criterion keeps its span in the input (`text[start:end]`), so offsets downstream are
always into the caller's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from eligo.criteria.constraints import patterns
from eligo.criteria.types import Kind

Op = Literal["and", "or"]

_BULLET = re.compile(
    r"""^(?P<indent>[ \t]*)
    (?P<marker>
        [-*•·◦▪‣–—○●■□➢>]+                                  # symbols ("-", "--", "•")
      | \(?\d{1,2}(?:\.\d{1,2}){0,3}[.)](?!\d)              # "1." "1)" "(1)" "4.1." "4.2.1)"
      | \d{1,2}(?:\.\d{1,2}){1,3}(?=\s+[A-Za-z(])(?!\s+[x×]\s)  # "4.1 Hemoglobin", not "1.5 x"
      | \(?(?:i{1,3}|iv|v|vi{1,3}|ix|x)[.)]                 # roman "ii." "(iv)"
      | \(?[A-Za-z][.)]                                    # "a." "b)" "(c)"
    )
    [ \t]+(?=\S)""",
    re.VERBOSE,
)
# Words that, ending a line, say the sentence goes on on the next line.
_OPEN_END = re.compile(
    r"(?:[,(/&+-]|\b(?:and|or|the|a|an|of|for|in|on|at|to|with|by|than|as|from|into|per"
    r"|if|that|which|who|including|such|any|not|no|nor|be|is|are|or\s+equal|and/or))\s*$",
    re.IGNORECASE,
)
_HEADER_WORD = re.compile(r"\b(inclusion|exclusion|eligibility|entry|enrol+ment)\b", re.I)
_HEADER = re.compile(
    r"""^(?:[\w ,/&()'-]{0,50}?[\s(-])?            # "Key ", "Registration - ", "Main "
    (?:inclusion|exclusion|eligibility|entry|enrol+ment)
    (?:\s*(?:/|and|&)\s*(?:inclusion|exclusion))?
    (?:\s+criteri(?:a|on|as))?
    (?:\s*(?:for|-|–|:|\()[\w ,/&()'-]{0,50})?     # " for healthy volunteers", " - Step 1"
    \s*:?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_NOT_HEADER = re.compile(
    r"(?i)^(?:no|none|not|other|failure|see|meet|meets|meeting|fulfil|fulfill|all|any|must|"
    r"patients? who|subjects? who)\b|may apply|\bmeet|\bnot\b|\bfulfil"
)
_SENTENCE_HEADER = re.compile(
    r"""^(?P<head>(?:(?:the\s+)?(?:patients?|subjects?|participants?|you|your\s+child|children
        |individuals?|persons?|people|women|men|volunteers?|candidates?|infants?|adults?
        |those)\b[^:\n]{0,80}?)
    \b(?P<verb>(?:will|shall|may|must|can|should)\s+not\s+be\s+(?:eligible|included|enrolled)
        |(?:is|are)\s+not\s+(?:eligible|included|enrolled)|(?:is|are|will\s+be|may\s+be)
        \s+(?:ineligible|excluded)|(?:will|shall|may|can)\s+be\s+(?:eligible|included|enrolled)
        |(?:is|are)\s+(?:eligible|included|enrolled)|qualify|must\s+meet)
    [^:\n]{0,60}?(?:\bif\b(?:\s+(?:they|he|she|he/she|you|the\s+\w+))?(?:\s*:)?|:))
    """,
    re.IGNORECASE | re.VERBOSE,
)
_NEGATIVE_VERB = re.compile(r"(?i)\bnot\b|\bineligible\b|\bexcluded\b")
_NO_CRITERIA = re.compile(
    r"(?i)^\W*(?:none|n/?a|not applicable|no (?:specific |additional |other )?"
    r"(?:eligibility |inclusion |exclusion )?criteria(?: \w+)?)\W*$"
)


@dataclass
class Line:
    """One non-blank input line, its bullet and its content span."""

    start: int  # content start (after indent and bullet)
    end: int  # content end (trailing blanks trimmed)
    indent: int
    style: str | None  # bullet style ("dash", "num", "alpha", ...) or None for plain lines
    blank_before: bool
    text: str


@dataclass
class RawCriterion:
    """A criterion's span and place in the list, before any NLP."""

    kind: Kind
    start: int
    end: int
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    children_op: Op = "and"
    permitted: bool = False  # a child of "Allowed:": permitted, not required
    indent: int = 0
    style: str | None = None


def _style(marker: str) -> str:
    m = marker.strip("()")
    if re.fullmatch(r"[-–—]+", m):
        return "dash"
    if re.fullmatch(r"[*]+", m):
        return "star"
    if re.fullmatch(r"[•·◦▪‣○●■□➢>]+", m):
        return "dot"
    if re.fullmatch(r"\d{1,2}(?:\.\d{1,2})*[.)]?", m):
        depth = m.rstrip(".)").count(".")
        return f"num{depth}" + (")" if m.endswith(")") else "")
    if re.fullmatch(r"(?:i{1,3}|iv|v|vi{1,3}|ix|x)[.)]", m):
        return "roman"
    return "alpha" if m[:1].islower() else "ALPHA"


def _lines(text: str) -> list[Line]:
    lines: list[Line] = []
    blank = True
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        line_start = pos
        pos += len(raw)
        if not body.strip():
            blank = True
            continue
        m = _BULLET.match(body)
        if m is not None:
            content = m.end()
            indent = len(m.group("indent").expandtabs(4))
            style: str | None = _style(m.group("marker"))
        else:
            content = len(body) - len(body.lstrip())
            indent = len(body[:content].expandtabs(4))
            style = None
        stripped = body.rstrip()
        lines.append(
            Line(
                start=line_start + content,
                end=line_start + len(stripped),
                indent=indent,
                style=style,
                blank_before=blank,
                text=stripped[content:],
            )
        )
        blank = False
    return lines


def header_kind(line: str) -> tuple[Kind | None, int] | None:
    """If `line` is a section header, the kind it starts (None: unchanged) and the offset
    in `line` where inline content begins (len(line) when none); else None."""
    head, sep, rest = line.partition(":")
    candidates = [(line, len(line))]
    if sep and rest.strip():
        candidates.insert(0, (head + ":", len(head) + 1))
    for cand, content_at in candidates:
        body = cand.strip()
        if (
            len(body) <= 90
            and _HEADER_WORD.search(body)
            and _HEADER.match(body)
            and not _NOT_HEADER.search(body)
            and not body.endswith(".")
            and len(body.split()) <= 10
            and (
                re.search(r"(?i)criteri", body)
                or (body.endswith(":") and len(body.split()) <= 5)
                or len(body.split()) <= 2
            )
        ):
            low = body.lower()
            inc = "inclusion" in low or "eligib" in low or "entry" in low or "enrol" in low
            exc = "exclusion" in low
            kind: Kind | None = None if inc and exc else ("exclusion" if exc else "inclusion")
            if content_at < len(line):
                content_at += len(line[content_at:]) - len(line[content_at:].lstrip())
            return kind, content_at
    m = _SENTENCE_HEADER.match(line)
    if m is not None:
        kind = "exclusion" if _NEGATIVE_VERB.search(m.group("verb")) else "inclusion"
        at = m.end("head")
        at += len(line[at:]) - len(line[at:].lstrip())
        return kind, at
    return None


def _children_op(text: str, kind: Kind) -> Op | None:
    """The logic over a parent's children, or None when `text` is not a parent."""
    low = " ".join(text.lower().split()).rstrip(" .")
    pats = patterns()
    for phrase in pats.children_and:
        if phrase in low:
            return "and"
    for phrase in pats.children_or:
        if phrase.rstrip(":") in low and (low.endswith(":") or low.endswith(phrase.rstrip(":"))):
            return "or"
    if low.endswith(":") or re.search(r"\b(?:including|as follows|defined as|such as)$", low):
        # Under exclusion each sub-item excludes on its own (any of them); under inclusion
        # sub-items are requirements that all hold ("adequate organ function: ...").
        return "or" if kind == "exclusion" else "and"
    return None


def _is_parent(text: str) -> bool:
    low = " ".join(text.lower().split()).rstrip()
    return low.endswith(":") or bool(
        re.search(r"\bof the following(?: criteria| conditions)?\s*[:.]?$", low)
    )


def split(text: str) -> list[RawCriterion]:
    """Criteria in `text`, in order, with kinds, spans and parent/children links."""
    lines = _lines(text)
    bullets = [ln for ln in lines if ln.style is not None]
    blank_separated = bool(bullets) and (
        sum(ln.blank_before for ln in bullets) >= 0.8 * len(bullets)
    )
    kind: Kind = "inclusion"
    items: list[RawCriterion] = []
    open_item = False  # whether the last item may take continuation lines
    for ln in lines:
        found = header_kind(ln.text)
        if found is not None:
            new_kind, content_at = found
            if new_kind is not None:
                kind = new_kind
            open_item = False
            if content_at >= len(ln.text) or not re.search(r"[^\W_]", ln.text[content_at:]):
                continue
            items.append(
                RawCriterion(kind, ln.start + content_at, ln.end, indent=ln.indent, style=None)
            )
            open_item = True
            continue
        if (
            ln.style is None
            and items
            and open_item
            and _continues(text, items[-1], ln, blank_separated)
        ):
            items[-1].end = ln.end
            continue
        if _NO_CRITERIA.match(ln.text) or not re.search(r"[^\W_]", ln.text):
            open_item = False  # "None", "N/A", a lone bullet: nothing to keep
            continue
        items.append(RawCriterion(kind, ln.start, ln.end, indent=ln.indent, style=ln.style))
        open_item = True
    _nest(text, items)
    return items


def _continues(text: str, prev: RawCriterion, ln: Line, blank_separated: bool) -> bool:
    """Whether plain line `ln` continues criterion `prev` (a line wrapped mid-sentence)."""
    prev_text = text[prev.start : prev.end]
    first = ln.text[:1]
    unclosed = prev_text.count("(") > prev_text.count(")")
    if ln.blank_before:
        # After a blank line only an obvious wrap continues: lower-case start after a line
        # that ends mid-phrase ("... and", "... of the"), or inside parentheses.
        return first.islower() and (bool(_OPEN_END.search(prev_text)) or unclosed)
    if unclosed:
        return True  # "(diastolic pressure above\n115 mmHg ...)"
    if blank_separated and prev.style is not None:
        return True  # items are blank-separated, so a line right under a bullet wraps it
    if prev_text.rstrip().endswith(":"):
        return False
    return first.islower() or bool(_OPEN_END.search(prev_text))


def _nest(text: str, items: list[RawCriterion]) -> None:
    """Link sub-bullets to their parent ("... any of the following:" and what follows)."""
    # stack of (parent index, child key or None); key = (indent, style)
    stack: list[tuple[int, tuple[int, str | None] | None]] = []
    prev_kind: Kind | None = None
    for i, item in enumerate(items):
        if item.kind != prev_kind:
            stack = []  # a header closes every open parent
            prev_kind = item.kind
        key = (item.indent, item.style)
        item_text = text[item.start : item.end]
        is_parent = _is_parent(item_text)
        while stack:
            p, child_key = stack[-1]
            parent = items[p]
            pkey = (parent.indent, parent.style)
            if child_key is None:
                belongs = True  # a parent's first following item is its first child
            elif key == child_key:
                # flat lists (indentation lost, same bullets): a new parent ends the group
                belongs = not (child_key == pkey and is_parent)
            else:
                belongs = item.indent > child_key[0] or (
                    item.indent > parent.indent and key != pkey
                )
            if belongs:
                if child_key is None:
                    stack[-1] = (p, key)
                item.parent = p
                parent.children.append(i)
                break
            stack.pop()
        if is_parent:
            op = _children_op(item_text, item.kind) or ("or" if item.kind == "exclusion" else "and")
            item.children_op = op
            stack.append((i, None))
    _mark_parent_kinds(text, items)


def _mark_parent_kinds(text: str, items: list[RawCriterion]) -> None:
    """Children of "Allowed:" are permitted; children of "Excluded:" are exclusions."""
    pats = patterns()
    for item in items:
        if not item.children:
            continue
        low = " ".join(text[item.start : item.end].lower().split()).rstrip(": .")
        if len(low.split()) > 6:
            continue
        excluded = any(re.search(rf"\b{re.escape(p)}$", low) for p in pats.parent_excluded)
        permitted = not excluded and any(
            re.search(rf"(?:^|\b){re.escape(p)}$", low) for p in pats.parent_permitted
        )
        for child in _descendants(items, item):
            if excluded:
                items[child].kind = "exclusion"
            elif permitted:
                items[child].permitted = True


def _descendants(items: list[RawCriterion], item: RawCriterion) -> list[int]:
    out: list[int] = []
    for c in item.children:
        out.append(c)
        out.extend(_descendants(items, items[c]))
    return out
