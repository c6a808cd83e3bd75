"""Adverse-event narratives -> coded AE records: `code_report(text) -> AeReport`.

Events come from three places, all read from data under `corpora/`:

- eligo's concepts (condition / adverse_event) that carry a CTCAE code (exact, 1.0), or whose
  text is a curated synonym (1.0), or that share words with a CTCAE term (fuzzy, < 0.85);
- the curated phrase lexicon `corpora/ae/consumer_terms.tsv` (clinician synonyms 1.0, patient
  wording 0.95: "threw up" -> Vomiting), and `corpora/ae/other_specify.tsv`: conditions CTCAE
  has no term for, coded to their SOC's "Other, specify" term with the condition's name
  ("Achilles tendon rupture" -> Musculoskeletal and connective tissue disorder - Other,
  specify; specified: Tendon rupture);
- lab values outside the CTCAE grade-1 limit (`corpora/ae/lab_rules.tsv`: "potassium 2.9" ->
  Hypokalemia grade 3).

Phrase-lexicon matches are masked (letters -> "x") before the pipeline runs and passed back as
targets, so that ConText assesses them in context while their own words ("couldn't sleep",
"no appetite") are not read as negation cues for the rest of the sentence.

Seriousness, drug roles, action taken, outcome, onset and relatedness are regular expressions
in `corpora/ae/rules.json`, each result with the words it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

from eligo.nlp.ae_types import (
    Action,
    AeDrug,
    AeEvent,
    AeReport,
    Candidate,
    Criterion,
    Evidence,
    MatchKind,
    Outcome,
    Relatedness,
    Role,
    Seriousness,
)
from eligo.nlp.resources import ResourceNotFoundError, digest, read_json, read_tsv, resource
from eligo.nlp.types import Provenance

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span

    from eligo.nlp.meddra import MeddraRelease

#: Lowest fuzzy token-overlap score that still codes a concept as an event.
FUZZY_MIN = 0.6
#: Fuzzy scores are scaled below the lexical ones (exact/synonym 1.0, consumer 0.95).
FUZZY_SCALE = 0.85
#: Lowest MiniLM cosine that codes a mention no lexicon knows. Set on the dev half: indications
#: and conditions named in passing ("pregnancy" 0.74 to Pregnancy loss, "breast cancer" 0.67 to
#: Breast pain) stay below it.
SEMANTIC_MIN = 0.8
#: A fuzzy (word-overlap only) candidate is coded only when the semantic matcher gives the same
#: term at least this cosine (or the mention contains every word of the term).
FUZZY_SEMANTIC_MIN = 0.6
EVENT_LABELS = ("condition", "adverse_event")
AE_FILES = {
    "ae_terms": ("ae", "consumer_terms.tsv"),
    "ae_labs": ("ae", "lab_rules.tsv"),
    "ae_rules": ("ae", "rules.json"),
    "ae_components": ("ae", "diagnosis_components.tsv"),
    "ae_patterns": ("ae", "consumer_patterns.tsv"),
    "ae_other_specify": ("ae", "other_specify.tsv"),
    "ctcae_soc": ("lexicons", "ctcae_soc.tsv"),
    "ctcae_other": ("lexicons", "ctcae_other.tsv"),
}
# Triggers that mark a condition historical only because it has since gone away: in an AE
# narrative "the rash resolved" is the event's outcome, not past medical history.
_RESOLUTION_TRIGGERS = re.compile(
    r"\b(?:resolv|resolut|subsid|improv|clear|recover|disappear|went away|gone|normali)", re.I
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "to",
        "with",
        "for",
        "by",
        "at",
        "nos",
        "other",
        "specify",
        "due",
        "from",
        "my",
        "his",
        "her",
    ]
)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
_ULN = re.compile(
    r"^\W{0,3}(?:(?:was|is|of|at|rose to|increased to|up to|elevated to|peaked at)\s+)?"
    r"(?:(?:like|about|around|approximately|nearly|almost|over|~)\s*)?"
    r"(?P<x>\d+(?:\.\d+)?)\s*(?:x|×|times)\s*(?:the\s+)?"
    r"(?:ULN|upper limit(?: of normal)?|normal(?: limit| level| value)?|the normal)\b",
    re.I,
)


_VALUE_AFTER = re.compile(
    r"^\s*(?:(?:level|levels|count|reading|readings|was|were|is|of|at|rose|risen|fell|fallen|dropped|increased|"
    r"decreased|climbed|went|up|down|peaked|reached|to|from|has|had|have|been|now|on|my|her|his|"
    r"the|moms|mom's|dads|dad's|meter|monitor|machine|cgm|glucometer)\s+){1,6}"
    r"(?:in the\s+)?(?P<v>\d[\d,]*(?:\.\d+)?)s?"
    r"(?:\s*[a-zA-Z/%]*\s+to\s+(?P<v2>\d[\d,]*(?:\.\d+)?))?"
)
_KNOWN_HF = re.compile(r"\b(?:HFrEF|HFpEF|HFmrEF|CHF|heart failure|cardiomyopathy)\b", re.I)
_RISK_AFTER = re.compile(r"\s+risks?\b", re.I)
# "has anyone had gallbladder issues on this?": a question about other people
_ASKING_OTHERS = re.compile(
    r"\b(?:any ?one|any ?body|any of you|others|other people)\b(?:(?!\b(?:my|I|me)\b)[^.!?])*\?",
    re.I,
)


def _asking_others(text: str, start: int, end: int) -> bool:
    """The mention sits inside a question to other people, between "anyone" and its "?"."""
    sentence_start = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start), -1) + 1
    for m in _ASKING_OTHERS.finditer(text, sentence_start):
        if m.start() > end:
            break
        if m.start() <= start and end <= m.end():
            return True
    return False


_MAY_FOLLOW = re.compile(
    r"(?:\s+(?:or|and)\s+[\w -]{1,30}?)?\s+(?:can|may|might|could|sometimes)\s+"
    r"(?:appear|occur|develop|happen|start|show up|be seen|follow|come on)\b",
    re.I,
)
_SAID_NORMAL = re.compile(
    r"(?<!times )(?<!x )\b(?:normal|nl|wnl|within (?:the )?(?:normal|reference) (?:range|limits))"
    r"\b(?! (?:free|T4|T3|bili\w*|renal|LFTs?)\b)",
    re.I,
)
_NORMAL_AFTER = re.compile(
    r"\s*\((?:normal|nl|wnl|within normal limits|(?:stable )?(?:at )?baseline|stable|unchanged)\)",
    re.I,
)
# a vitamin K antagonist: its INR target is 2-3 (up to 3.5 for mechanical valves)
_VKA = re.compile(r"\b(?:warfarin|coumadin|jantoven|acenocoumarol|phenprocoumon|marcoumar)\b", re.I)
INR_THERAPEUTIC_MAX = 3.5
# a tumour named without a CTCAE term of its own: never coded by word overlap or similarity
_NEOPLASM = re.compile(
    r"\b(?:\w*carcinoma|cancer|tumou?r|\w*lymphoma|leuka?emia|melanoma|\w*sarcoma|myeloma|"
    r"neoplasm|metasta\w*|malignan\w*|\w*blastoma|mesothelioma)\b",
    re.I,
)
# a lab said to be abnormal in words, right after its name
_LOW_WORDS = frozenset({"low", "down", "dropped", "decreased", "fell", "falling", "dropping"})
_DIRECTION_AFTER = re.compile(
    r"^\s*(?:(?:level|levels|count|number|numbers|was|were|is|are|has|have|had|been|came back|"
    r"went|got|very|really|quite|a bit|a little|slightly|way|too|dangerously|markedly)\s+){1,3}"
    r"(?P<d>low|high|elevated|raised|up|down|dropped|decreased|increased|fell|falling|dropping|"
    r"rising|climbing)\b(?!\s+(?:to|from|at)\s+\d)(?![\s-]+(?:normal|end|range|side)\b)",
    re.I,
)
# bare dose units: a number written with one is a dose, not a lab value
_DOSE_UNITS = frozenset({"mg", "ug", "mcg", "g", "mL", "[iU]", "[IU]", "U", "{tbl}", "{cap}"})
_TO_VALUE = re.compile(r"^\s*(?:[a-zA-Z/%]+\s*)?(?:to|->|→|-->)\s*(?P<v>\d[\d,]*(?:\.\d+)?)")
# A parent reporting on their child: "my son had a febrile seizure" is the patient's event.
_OWN_CHILD = re.compile(
    r"^(?:my |our )?(?:son|daughter|child|baby|kid|infant|boy|girl|toddler)$", re.I
)


# A narrator reporting on their own relative: "my mom got C diff", "my dad was admitted".
_RELATIVE_WORDS = {
    "male": "dad|daddy|father|husband|brother|son|grandfather|grandpa|granddad|uncle|nephew|"
    "boyfriend",
    "female": "mom|mum|mommy|mummy|mother|wife|sister|daughter|grandmother|grandma|nan|nana|"
    "granny|aunt|niece|girlfriend",
    "any": "partner|spouse|cousin|sibling|parent|grandparent|relative|child|baby|kid|infant|"
    "toddler|friend|coworker|co-worker|colleague|neighbor|neighbour|roommate",
}
_PRONOUNS = {
    "male": r"he|him|his|he's",
    "female": r"she|her|hers|she's",
    "any": r"he|him|his|"
    r"he's|she|her|hers|she's|they|them|their",
}
_RELATIVE = re.compile(r"^(?:my |our )?(?P<r>" + "|".join(_RELATIVE_WORDS.values()) + r")$", re.I)


class AeDataError(ValueError):
    """A file under corpora/ae is malformed."""


@dataclass(frozen=True, slots=True)
class CtcaeTerm:
    term: str
    code: str  # MedDRA code of the CTCAE term
    soc: str


@dataclass(frozen=True, slots=True)
class LabRule:
    term: str
    direction: str  # "low" | "high"
    unit: str
    limit: float  # grade 1 starts beyond this (LLN or ULN)
    grades: tuple[float | None, float | None, float | None]  # grade 2, 3, 4 limits
    # conversions tried in order: (written unit or "<"/">" bound, bound, "*"|"/"|"F", factor)
    rescale: tuple[tuple[str, float, str, float], ...] = ()

    def normalise(self, value: float, unit: str | None = None) -> float:
        """Bring a value written in another common unit into the rule's unit: by the unit
        written with it ("1.9 mmol/L" glucose), else by its size ("22" or "22 x10^9/L"
        platelets: x1000)."""
        for when, bound, how, factor in self.rescale:
            if when in ("<", ">"):
                # by size only when no unit, or another unit than the rule's, is written
                applies = unit != self.unit and (value < bound if when == "<" else value > bound)
            else:
                applies = unit == when
            if applies:
                if how == "F":  # degrees Fahrenheit -> Celsius
                    return (value - 32) * 5 / 9
                return value * factor if how == "*" else value / factor
        return value

    def abnormal(self, value: float) -> bool:
        return value < self.limit if self.direction == "low" else value > self.limit

    def grade(self, value: float) -> int | None:
        """CTCAE grade of an abnormal value (None when the term is not graded by value)."""
        beyond = (lambda a, b: a < b) if self.direction == "low" else (lambda a, b: a > b)
        if not self.abnormal(value) or self.grades == (None, None, None):
            return None
        grade = 1
        for level, bound in zip((2, 3, 4), self.grades, strict=True):
            if bound is not None and beyond(value, bound):
                grade = level
        return grade


@dataclass
class _Data:
    terms: dict[str, CtcaeTerm]  # lower-case term -> term
    # the 26 "<SOC> - Other, specify" terms: reached only through other_specify.tsv, never by
    # word overlap or similarity (a catch-all would attract every unmatched mention)
    other: dict[str, CtcaeTerm]
    # phrase (lower-case, or as written when upper-case) -> the condition an "Other, specify"
    # term stands for ("achilles tendon rupture" -> "Tendon rupture")
    specified: dict[str, str]
    phrases: dict[str, tuple[str, MatchKind]]  # lower-case phrase -> (term, kind)
    phrase_re: re.Pattern[str] | None
    phrase_cs_re: re.Pattern[str] | None
    phrases_cs: dict[str, tuple[str, MatchKind]]
    labs: dict[str, list[LabRule]]  # analyte name -> rules
    stems: dict[str, set[str]]  # stem -> lower-case terms containing it
    term_stems: dict[str, frozenset[str]]  # lower-case term -> its content words
    rules: dict[str, Any]
    res: dict[str, Any] = field(default_factory=dict)  # compiled regexes
    # diagnosis term -> CTCAE terms of its own signs and symptoms (diagnosis_components.tsv)
    components: dict[str, frozenset[str]] = field(default_factory=dict)
    # patient wording as a body part near a descriptor (consumer_patterns.tsv)
    patterns: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    # one-word symptom names (CTCAE terms and lexicon phrases) -> term, for misspellings
    symptom_words: dict[str, str] = field(default_factory=dict)
    # the same words grouped by first letter: a misspelling is only compared within its group
    symptom_initials: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def entry(self, term: str) -> CtcaeTerm:
        """A CTCAE term or "Other, specify" term by name (any case)."""
        key = term.lower()
        return self.terms[key] if key in self.terms else self.other[key]


def _stem(word: str) -> str:
    # A crude prefix stem is enough to align "neutropenia"/"neutrophil", "nauseous"/"nausea".
    return word[:5] if len(word) > 5 else word


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _words(text))


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP)


def _same_word(a: str, b: str) -> bool:
    """One word, allowing inflection: a shared stem, and one word starts the other or they
    share most of the shorter one ("neutropenic"/"neutropenia", "nauseous"/"nausea"); a
    shared prefix alone is not enough ("hypothyroid"/"hypotension", "hematuria"/"hematoma").
    """
    if a == b:
        return True
    if _stem(a) != _stem(b) or len(a) <= 5 or len(b) <= 5:
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    common = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return common >= 0.7 * min(len(a), len(b))


#: Intensifiers and hedges that may sit inside a lexicon phrase ("ankles are so puffy", "arm is
#: really sore"); a phrase match tolerates one of them between two of its words.
INTENSIFIERS = (
    "so",
    "really",
    "very",
    "super",
    "pretty",
    "quite",
    "extremely",
    "kind of",
    "kinda",
    "sort of",
    "a bit",
    "a little",
    "rather",
    "incredibly",
    "totally",
)
_INTENSIFIER = r"(?:" + "|".join(w.replace(" ", r"\s+") for w in INTENSIFIERS) + r")"
_INTENSIFIER_GAP = re.compile(r"\s" + _INTENSIFIER + r"(?=\s)", re.I)


def _phrase_regex(phrases: Iterable[str], flags: int) -> re.Pattern[str] | None:
    parts = []
    gap = r"\s+(?:" + _INTENSIFIER + r"\s+)?"
    for phrase in sorted(phrases, key=len, reverse=True):
        words = [re.escape(w).replace("'", "['’]?") for w in phrase.split()]
        if words[-1].isalpha():
            words[-1] += "(?:e?s)?"  # "stomach pains", "mouth ulcers"
        parts.append(gap.join(words))
    if not parts:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])", flags)


def _pattern(part: str, descriptor: str, gap: int) -> re.Pattern[str]:
    """A body part and a descriptor within `gap` words of each other, in either order and
    inside one clause ("my head is pounding", "pounding in my head"); or the descriptor
    alone when the part is "-". Letters stretched for emphasis ("soo tired") are allowed
    before the descriptor."""
    if part == "-":
        return re.compile(rf"\b(?:{descriptor})\b", re.I)
    # the words between never join two clauses ("feet properly and had numbness")
    word = (
        r"(?!(?:and|but|or|then|while|when|after|before|because|since|rash|hives|welts|"
        r"no|not|neg|negative|nil|without)\b)[\w']+"
    )
    between = rf"(?:[^\w.;:!?\n,+]+{word}){{0,{gap}}}?[^\w.;:!?\n,+]+"
    p, d = f"(?:{part})", f"(?:{descriptor})"
    return re.compile(rf"\b(?:{p}{between}{d}|{d}{between}{p})\b", re.I)


def _compile(pattern: str | list[str]) -> re.Pattern[str]:
    if isinstance(pattern, list):
        pattern = "|".join(f"(?:{p})" for p in pattern)
    return re.compile(pattern, re.I)


@lru_cache(maxsize=1)
def load_data() -> _Data:
    """CTCAE terms, the phrase lexicon, lab rules and cue rules (read once per process)."""
    terms: dict[str, CtcaeTerm] = {}
    for row in read_tsv("lexicons", "ctcae_soc.tsv"):
        code, term, soc = row
        terms[term.lower()] = CtcaeTerm(term, code, soc)
    phrases: dict[str, tuple[str, MatchKind]] = {}
    phrases_cs: dict[str, tuple[str, MatchKind]] = {}
    for lineno, row in enumerate(read_tsv("ae", "consumer_terms.tsv"), 2):
        if len(row) != 3 or row[1].lower() not in terms or row[2] not in ("synonym", "consumer"):
            raise AeDataError(
                f"corpora/ae/consumer_terms.tsv line {lineno}: expected phrase, a CTCAE v5 "
                f"term and kind synonym|consumer, got {row!r}"
            )
        phrase, term, kind = row
        target = phrases_cs if phrase.isupper() else phrases
        target[phrase if phrase.isupper() else phrase.lower()] = (term, cast(MatchKind, kind))
    other = {
        row[1].lower(): CtcaeTerm(row[1], row[0], row[2])
        for row in read_tsv("lexicons", "ctcae_other.tsv")
    }
    specified: dict[str, str] = {}
    for lineno, row in enumerate(read_tsv("ae", "other_specify.tsv"), 2):
        if len(row) != 3 or row[2].lower() not in other or not row[1]:
            raise AeDataError(
                f"corpora/ae/other_specify.tsv line {lineno}: expected phrase, the condition's "
                f"name and a CTCAE v5 '<SOC> - Other, specify' term, got {row!r}"
            )
        phrase, name, term = row
        key = phrase if phrase.isupper() else phrase.lower()
        (phrases_cs if phrase.isupper() else phrases)[key] = (other[term.lower()].term, "synonym")
        specified[key] = name
    labs: dict[str, list[LabRule]] = {}
    for lineno, row in enumerate(read_tsv("ae", "lab_rules.tsv"), 2):
        try:
            term, direction, analytes, unit, limit, g2, g3, g4, rescale = row
            if term.lower() not in terms or direction not in ("low", "high"):
                raise ValueError(term)
            scale = []
            for part in filter(None, rescale.split(";")):
                match = re.fullmatch(r"(?:([<>])([\d.]+)|([^:<>]+)):(?:([*/])([\d.]+)|(F))", part)
                if match is None:
                    raise ValueError(rescale)
                when, bound = (match[1], float(match[2])) if match[1] else (match[3], 0.0)
                how, factor = (match[4], float(match[5])) if match[4] else ("F", 0.0)
                scale.append((when, bound, how, factor))
            rule = LabRule(
                term,
                direction,
                unit,
                float(limit),
                tuple(float(g) if g else None for g in (g2, g3, g4)),  # type: ignore[arg-type]
                tuple(scale),
            )
        except ValueError as err:
            raise AeDataError(
                f"corpora/ae/lab_rules.tsv line {lineno}: bad rule {row!r} (expected a CTCAE "
                "term, low|high, analytes, unit, limit, grade 2-4 limits, rescale like "
                "<1000:*1000 or mmol/L:*18;<20:*18)"
            ) from err
        for analyte in analytes.split("|"):
            labs.setdefault(analyte, []).append(rule)
    stems: dict[str, set[str]] = {}
    term_stems = {}
    for key in terms:
        term_stems[key] = _words(key)
        for stem in _stems(key):
            stems.setdefault(stem, set()).add(key)
    components: dict[str, frozenset[str]] = {}
    # a CTCAE term, or the condition an "Other, specify" term stands for ("Serotonin syndrome")
    names = {k: t.term for k, t in terms.items()} | {n.lower(): n for n in specified.values()}
    for lineno, row in enumerate(read_tsv("ae", "diagnosis_components.tsv"), 2):
        parts = row[1].split("|") if len(row) == 2 else []
        if not parts or any(t.lower() not in names for t in [row[0], *parts]):
            raise AeDataError(
                f"corpora/ae/diagnosis_components.tsv line {lineno}: expected a diagnosis (a "
                "CTCAE v5 term or a condition named in other_specify.tsv) and |-separated "
                f"component terms or conditions, got {row!r}"
            )
        components[names[row[0].lower()]] = frozenset(names[t.lower()] for t in parts)
    patterns = []
    for lineno, row in enumerate(read_tsv("ae", "consumer_patterns.tsv"), 2):
        try:
            term, part, descriptor, gap = row
            patterns.append((terms[term.lower()].term, _pattern(part, descriptor, int(gap))))
        except (ValueError, KeyError, re.error) as err:
            raise AeDataError(
                f"corpora/ae/consumer_patterns.tsv line {lineno}: expected a CTCAE v5 term, a "
                f"part regex (or -), a descriptor regex and a word gap, got {row!r}: {err}"
            ) from err
    rules = read_json("ae", "rules.json")
    # British spellings of every CTCAE term and phrase ("hyperkalaemia", "oedema", "diarrhoea")
    variants = [(us, uk) for us, uk in rules["spelling_variants"] if us != uk]
    for key in list(terms):
        for us, uk in variants:
            if us in key and key.replace(us, uk) not in phrases:
                phrases[key.replace(us, uk)] = (terms[key].term, "synonym")
    for key, value in list(phrases.items()):
        for us, uk in variants:
            if us in key and key.replace(us, uk) not in phrases:
                phrases[key.replace(us, uk)] = value
    data = _Data(
        terms=terms,
        other=other,
        specified=specified,
        phrases=phrases,
        phrase_re=_phrase_regex([*phrases, *terms], re.I),
        phrase_cs_re=_phrase_regex(phrases_cs, 0),
        phrases_cs=phrases_cs,
        labs=labs,
        stems=stems,
        term_stems=term_stems,
        rules=rules,
        components=components,
        patterns=patterns,
        symptom_words={
            **{k: v[0] for k, v in phrases.items() if k.isalpha() and len(k) >= 6},
            **{k: t.term for k, t in terms.items() if k.isalpha() and len(k) >= 6},
        },
    )
    for known, term in data.symptom_words.items():
        data.symptom_initials.setdefault(known[0], []).append((known, term))
    r = data.res
    for name in ("grade", "severity", "seriousness_block", "seriousness_block_after"):
        r[name] = _compile(rules[name])
    for name in (
        "hypothetical",
        "elective",
        "nonserious",
        "suspect",
        "treatment",
        "counselling",
        "possibility",
        "hypothetical_before",
    ):
        r[name] = _compile(rules[name])
    for name in (
        "suspect_suffix",
        "treatment_after",
        "concomitant",
        "drug_context",
        "non_events",
        "restart",
        "action_temporary",
        "hospital_setting",
    ):
        r[name] = _compile(rules[name])
    r["onset"] = _compile(rules["onset"])
    r["weight_change"] = {k: _compile(v) for k, v in rules.get("weight_change", {}).items()}
    r["life_threatening_if_survived"] = _compile(rules["life_threatening_if_survived"])
    for group in ("seriousness", "action", "outcome", "relatedness"):
        r[group] = {k: _compile(v) for k, v in rules[group].items()}
    return data


@lru_cache(maxsize=2)
def ae_provenance(*, semantic: bool = True) -> Provenance:
    """eligo's provenance plus the AE data files and, with `semantic`, the MiniLM model hash."""
    from eligo.nlp.provenance import provenance

    base = provenance()
    lexicons = dict(base.lexicons)
    for name, parts in AE_FILES.items():
        lexicons[name] = digest(*parts)
    model = base.model
    if semantic:
        sha = read_json("models", "minilm", "metadata.json")["sha256"]
        model = f"minilm-int8:{sha[:12]}"
    return Provenance(eligo=base.eligo, lexicons=lexicons, model=model)


# ---------------------------------------------------------------------------------------------
# candidates


def _candidate(data: _Data, term: str, score: float, kind: MatchKind) -> Candidate:
    entry = data.entry(term)
    return Candidate(term=entry.term, code=entry.code, score=round(score, 3), match=kind)


def fuzzy_candidates(text: str, *, limit: int = 3) -> list[Candidate]:
    """CTCAE terms sharing words with `text`: mean of stem Dice and term coverage, times 0.85."""
    data = load_data()
    mine = _words(text)
    if not mine:
        return []
    pool: set[str] = set()
    for stem in {_stem(w) for w in mine}:
        pool |= data.stems.get(stem, set())
    scored = []
    for key in pool:
        theirs = data.term_stems[key]
        shared = sum(any(_same_word(w, t) for w in mine) for t in theirs)
        if not shared:
            continue
        dice = 2 * shared / (len(mine) + len(theirs))
        # a mention that contains every word of a term ("bloody diarrhea") scores higher
        # than one that covers half of a longer term ("pregnancy" / "Pregnancy loss")
        score = (dice + shared / len(theirs)) / 2
        scored.append((score * FUZZY_SCALE, key))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [_candidate(data, key, score, "fuzzy") for score, key in scored[:limit]]


def candidates(text: str, *, limit: int = 3) -> list[Candidate]:
    """Top CTCAE candidates for a mention's text: exact term, phrase lexicon, then fuzzy."""
    data = load_data()
    key = " ".join(text.lower().split())
    found: list[Candidate] = []
    if key in data.terms:
        found.append(_candidate(data, key, 1.0, "exact"))
    phrase = data.phrases.get(key) or data.phrases_cs.get(" ".join(text.split()))
    if phrase is not None:
        term, kind = phrase
        found.append(_candidate(data, term, 1.0 if kind == "synonym" else 0.95, kind))
    return _merge(found, fuzzy_candidates(text, limit=limit + 2), limit)


def _merge(first: Sequence[Candidate], rest: Iterable[Candidate], limit: int) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for cand in [*first, *sorted(rest, key=lambda c: -c.score)]:
        if cand.term not in seen:
            seen.add(cand.term)
            out.append(cand)
    return out[:limit]


# ---------------------------------------------------------------------------------------------
# events


@dataclass
class _Mention:
    start: int
    end: int
    cands: list[Candidate]
    flags: dict[str, bool]
    background: bool = False
    grade: int | None = None
    grade_source: str | None = None
    value: str | None = None


def _plural_forms(key: str) -> list[str]:
    """A phrase as written, then without a plural ending ("stomach pains")."""
    return [key] + [key[: -len(end)] for end in ("es", "s") if key.endswith(end)]


def _phrase_matches(data: _Data, text: str) -> list[tuple[int, int, str, MatchKind]]:
    found: list[tuple[int, int, str, MatchKind]] = []
    for regex, table, fold in (
        (data.phrase_re, data.phrases, True),
        (data.phrase_cs_re, data.phrases_cs, False),
    ):
        if regex is None:
            continue
        for m in regex.finditer(text):
            key = " ".join(m.group().replace("’", "'").split())
            key = key.lower() if fold else key
            keys = _plural_forms(key)
            hit = next((table[k] for k in keys if k in table), None)
            if hit is None:
                # one intensifier inside the phrase ("ankles are so puffy"), never two
                bare = [b for b, n in (_INTENSIFIER_GAP.subn("", k) for k in keys) if n == 1]
                hit = next((table[k] for k in bare if k in table), None)
            if hit is None and fold and any(k in data.terms for k in keys):
                # a CTCAE term name: the pipeline codes it; matched here only so that a
                # shorter phrase inside it ("neutropenia" in "febrile neutropenia") loses
                found.append((m.start(), m.end(), "", "exact"))
                continue
            if hit is None:  # apostrophe-less spelling ("couldnt sleep")
                hit = next((v for k, v in table.items() if k.replace("'", "") in keys), None)
            if hit is not None:
                found.append((m.start(), m.end(), hit[0], hit[1]))
    # weight change with a number ("lost 12 pounds", "gained 3 kg")
    for term, regex in data.res["weight_change"].items():
        found += [(m.start(), m.end(), term, "consumer") for m in regex.finditer(text)]
    # a body part near a descriptor ("my head is pounding", "mouth is full of sores")
    for term, regex in data.patterns:
        found += [(m.start(), m.end(), term, "consumer") for m in regex.finditer(text)]
    found += _misspellings(data, text)
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
    chosen: list[tuple[int, int, str, MatchKind]] = []
    for item in found:
        if all(item[1] <= c[0] or c[1] <= item[0] for c in chosen):
            chosen.append(item)
    return sorted(c for c in chosen if c[3] != "exact")


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Whole words of the MiniLM WordPiece vocabulary (30k): words not to "correct"."""
    try:
        vocab = json.loads(resource("models", "minilm", "tokenizer.json").read_text("utf-8"))
        return frozenset(w for w in vocab["model"]["vocab"] if w.isalpha())
    except (ResourceNotFoundError, KeyError, ValueError):
        return frozenset()


def _inflected(word: str, english: frozenset[str]) -> bool:
    """An inflection of an English word ("bumping", "drooping"): not a misspelling. A doubled
    consonant is not undone, so "vomitting" is still corrected."""
    for suffix in ("ing", "ed", "es", "s", "er", "ers", "ly", "ness"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and (base in english or base + "e" in english):
            return True
    return False


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit), capped."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        previous2, previous = previous, row
    return previous[-1]


def _misspellings(data: _Data, text: str) -> list[tuple[int, int, str, MatchKind]]:
    """Misspelt symptom words ("nausious", "diarhea", "vomitting", "dizzyness"): a word of 7+
    letters that is no English word (MiniLM's vocabulary) and is one edit (two from 9
    letters) from exactly one single-word symptom term with the same first letter."""
    english = _english_words()
    if not english:
        return []
    found: list[tuple[int, int, str, MatchKind]] = []
    for m in re.finditer(r"[A-Za-z]{7,}", text):
        word = m.group().lower()
        if word in data.symptom_words or word in english or _inflected(word, english):
            continue
        if re.search(r"\b[A-Z][a-z]+\s+$", text[max(0, m.start() - 30) : m.start()]) and (
            m.group().islower()
        ):
            continue  # "Klebsiella pneumoniae": a species name, not a misspelt symptom
        limit = 1 if len(word) < 9 else 2
        # a second edit only within the same first four letters ("nephropathy" is no
        # misspelt "neuropathy")
        close = {
            term
            for known, term in data.symptom_initials.get(word[0], ())
            if (distance := _edit_distance(word, known, limit)) <= 1
            or (distance <= limit and known[:4] == word[:4])
        }
        if len(close) == 1:
            found.append((m.start(), m.end(), close.pop(), "consumer"))
    return found


def _two_terms(data: _Data, text: str) -> tuple[list[tuple[int, int]], list[str]] | None:
    """ "nausea and vomiting", "nausea/vomiting": two CTCAE terms (or synonyms) joined."""
    m = re.fullmatch(r"(?P<a>[A-Za-z][\w -]*?)\s*(?:\band\b|&|/|\+)\s*(?P<b>[A-Za-z][\w -]*)", text)
    if m is None:
        return None
    terms = []
    for part in (m["a"], m["b"]):
        key = " ".join(part.lower().split())
        hit = data.terms.get(key) or (
            data.terms.get(data.phrases[key][0].lower()) if key in data.phrases else None
        )
        if hit is None:
            return None
        terms.append(hit.term)
    if terms[0] == terms[1]:
        return None
    return [m.span("a"), m.span("b")], terms


def _specified(data: _Data, mention: str, entry: CtcaeTerm) -> str | None:
    """The condition an "Other, specify" term stands for, from the phrase that matched."""
    if entry.term.lower() not in data.other:
        return None
    key = " ".join(mention.replace("’", "'").split())
    for k in (key, key.lower()):
        for form in _plural_forms(k):
            if form in data.specified:
                return data.specified[form]
    return None


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if not chars[i].isspace():
                chars[i] = "x"
    return "".join(chars)


def _flags(span: Span) -> dict[str, bool]:
    flags = {
        "negated": bool(getattr(span._, "is_negated", False)),
        "hypothetical": bool(getattr(span._, "is_hypothetical", False)),
        "historical": bool(getattr(span._, "is_historical", False)),
        "family": bool(getattr(span._, "is_family", False)),
        "uncertain": bool(getattr(span._, "is_uncertain", False)),
    }
    if flags["family"] and span.has_extension("modifiers"):
        doc = span.doc
        modifiers = _family_modifiers(span)
        # "found unresponsive by family", "by his wife": the relative found or reported it
        triggers = [
            doc[m.modifier_span[0] : m.modifier_span[1]].text
            for m in modifiers
            if not _by_relative(doc, m.modifier_span[0], doc[m.modifier_span[0]].text)
        ]
        own_child = all(_OWN_CHILD.match(t) for t in triggers) and _reporter_child(doc)
        own_relative = all(_reporter_relative(doc, t) for t in triggers)
        if modifiers and (not triggers or own_child or own_relative):
            flags["family"] = False
    # "the rash resolved", "dizziness ..., now resolved": the event's outcome, neither past
    # history nor a negation
    for flag, category in (("historical", "HISTORICAL"), ("negated", "NEGATED_EXISTENCE")):
        if flags[flag] and span.has_extension("modifiers"):
            doc = span.doc
            triggers = [
                doc[m.modifier_span[0] : m.modifier_span[1]].text
                for m in span._.modifiers
                if m.category.upper() == category
            ]
            if triggers and all(_RESOLUTION_TRIGGERS.search(t) for t in triggers):
                flags[flag] = False
    return flags


def _family_modifiers(span: Span) -> list[Any]:
    return [m for m in span._.modifiers if m.category.upper() == "FAMILY"]


_REPORTING = re.compile(
    r"^\s*(?:(?:also|then|first|just|had|has|have)\s+)?(?:noticed|notices|noted|notes|reports?|"
    r"reported|says|said|called|calls|calling|found|finds|observed|observes|states|stated|"
    r"saw|sees|brought|took|drove|checked|asked|worried|thinks|thought|tells|told)\b",
    re.I,
)
# "my cousins bbq", "my mom's meter": the relative's thing, not the relative's health
_POSSESSIVE = re.compile(
    r"^(?:'s|’s|s)?\s+(?:house|home|place|party|bbq|barbecue|wedding|funeral|car|meter|phone|"
    r"birthday|kitchen|garden|farm|cabin|apartment|flat)\b",
    re.I,
)


def _by_relative(doc: Doc, start: int, trigger: str) -> bool:
    """A family cue that names who found or reported the event ("by family", "by his wife",
    "family noticed", "her daughter reports") or owns a place or thing ("my cousins bbq")."""
    if re.match(r"by\b", trigger, re.I):
        return True
    token = doc[start]
    after = doc.text[token.idx + len(trigger) : token.idx + len(trigger) + 40]
    if _REPORTING.match(after) or _POSSESSIVE.match(after):
        return True
    before = doc[max(0, start - 2) : start].text.lower().split()
    return bool(before) and (
        before[-1] == "by"
        or (len(before) == 2 and before[0] == "by" and before[1] in ("his", "her", "their", "the"))
    )


def _reporter_relative(doc: Doc, trigger: str) -> bool:
    """The narrator writes about their own relative, the report's subject: "my mom got C diff".

    The first sentence names "my/our <relative>" (the same word as the cue) and the narrative
    goes on about them in the third person; a self-report that mentions a relative's illness
    ("My mother had breast cancer. I started tamoxifen ...") has no such pronoun.
    """
    m = _RELATIVE.match(trigger.strip())
    if m is None:
        return False
    first = next(iter(doc.sents)).text if doc.has_annotation("SENT_START") else doc.text
    if _DECLARED.search(first):
        return True  # "this is his daughter. dad (79) was started on ...": dad is the patient
    word = m["r"].lower()
    sex = next(k for k, v in _RELATIVE_WORDS.items() if word in v.split("|"))
    own = re.search(rf"\b(?:my|our)\s+{re.escape(word)}\b", first, re.I)
    if own is None:
        return False
    rest = doc.text[doc.text.find(first) + own.end() :]
    return bool(re.search(rf"\b(?:{_PRONOUNS[sex]})\b", rest, re.I))


_DECLARED = re.compile(
    r"\b(?:this is|i am|i'm|im|it'?s|writing as|calling as) (?:his|her|their|the patient'?s) "
    r"(?:daughter|son|wife|husband|mother|father|mom|mum|dad|sister|brother|partner|carer|"
    r"caregiver|grandson|granddaughter|niece|nephew)\b",
    re.I,
)


def _reporter_child(doc: Doc) -> bool:
    """The narrative is a parent's report about their child ("my son ... his MMR jab")."""
    return bool(
        re.search(r"\b(?:my|our) (?:son|daughter|child|baby|kid|infant|toddler)\b", doc.text, re.I)
    )


_BACKGROUND = re.compile(
    r"(?:\b(?:history of|hx of|h/o|pmh|past medical history|known|underlying|"
    r"pre-?existing|baseline|chronic|with (?:a )?(?:history|background) of|"
    r"being treated for|indication|already (?:has|have|had))\b[^.;]{0,50}$)"
    # "phase 3 SGLT2 inhibitor trial in heart failure ...", "enrolled for stroke prevention"
    r"|(?:\b(?:trial|study|studies|enrolled|randomi[sz]ed|indicated) (?:in|for|with)\s+"
    r"(?:[\w-]+ ){0,2}$)"
    r"|(?:\b\d+[- ]?(?:(?:year|yr)[- ]old|y/?o|yo)\b[^.;]{0,30}"
    r"(?:\bwith\s+|\bw/\s*)(?:[\w-]+ ){0,3}$)"
    # "(46 M, pancreatic adenocarcinoma, gemcitabine ...)": a trial subject's demographics
    r"|(?:\(\s*\d+\s*[- ]?(?:y/?o\s*)?[MF]\s*,\s*(?:[\w+-]+ ){0,3}$)"
    # "71F, parox AF, sotalol 80 bid ...", "66M, NSTEMI, on UFH": a note's opening problem list
    r"|(?:\b\d+\s?(?:y/?o\s*)?[MF]\b\s*,?\s*(?:(?:[\w+/-]+\s*,\s*)|(?:[\w+/-]+ )){0,3}$)"
    # "(uptitrated after NSTEMI in May)": what came before a dose change
    r"|(?:\b(?:started|begun|uptitrated|up-titrated|increased|initiated|prescribed)\s+"
    r"(?:after|following|since)\s+(?:his |her |their |my |the |a |an )?(?:[\w-]+ ){0,2}$)"
    # "started ticagrelor after his heart attack": what came before the drug
    r"|(?:\b(?:started|began|begun|put on|prescribed|initiated|taking|been on)\s+[\w-]+"
    r"(?:\s+[\w/.%-]+){0,4}\s+(?:after|since|following)\s+(?:his |her |their |my |the |a |an )?"
    r"(?:[\w-]+ ){0,2}$)",
    re.I,
)
# "on apixaban for atrial fibrillation", "starting X for Y", "X was added for Y": the words
# after "for" name the indication
_FOR = re.compile(
    r"\b(?:for|to treat|to control|because(?: of)?)\s+(?:his |her |their |the |a |an |my |our )?"
    r"(?P<y>(?:[\w-]+ ){0,2})$",
    re.I,
)
_INDICATION_BEFORE = re.compile(
    r"(?:\b(?:was|were|is|are|been|being|be) (?:started|prescribed|given|begun|initiated|added|"
    r"commenced|put on|used)$)"
    r"|(?:\b(?:on|taking|takes|take|took|receiving|received|receives|started|starting|start|"
    r"began|beginning|commenced|commencing|prescribed|given|using|added|adding)\s+"
    r"[\w-]+(?:\s+[\w/.%-]+){0,7}$)",
    re.I,
)
_CONTROLLED = re.compile(
    r"\s*(?:is |are |was |remains? |now )?(?:finally |now |fully |completely |mostly |largely )?"
    r"(?:well|adequately|fairly|reasonably|better|poorly)?\s*(?:controlled|managed)\b"
    # "Pain 7/10, uncontrolled": still the condition treated
    r"|\s*(?:\d+/10\s*)?,?\s*(?:uncontrolled|not controlled)\b"
    # "glaucoma drops", "pain meds", "allergy pills": the condition names the drug
    r"|\s+(?:drops|eye ?drops|meds|medications?|medicines?|pills|tablets|inhalers?|creams?)\b"
    # "Lost 14 lbs which is the whole point", "in line with expected effect": wanted
    r"|[^.;]{0,20}\b(?:the whole point|the (?:intended|desired|expected) (?:therapeutic )?effect|"
    r"expected effect|as intended|as expected from)\b"
    # "occasional headaches - not new, long hx migraines"
    r"|\s*[-,(]?\s*(?:not new|long-?standing|at baseline|unchanged from baseline|pre-?existing)\b",
    re.I,
)
_VISIT_FOR = re.compile(
    r"\b(?:BIB|brought(?: in)?|presents?|presented|presenting|admitted|seen|came in|referred|"
    r"called|phoned|rang)\b(?:\s+[\w/]+){0,2}\s*$",
    re.I,
)
_STORY_VERB = re.compile(
    r"\b(?:admitted|presented|presents|presenting|developed|develops|came in|now has|now with)\b",
    re.I,
)
_YEAR_AFTER = re.compile(r"\s*\(?\s*(?:in\s+)?(?:19[5-9]\d|20[0-2]\d)\b(?!\s*(?:mg|mcg|units?|mL))")
_DEVELOPED = re.compile(
    r"\b(?:developed|diagnosed with|progressed to|led to|resulted in|caused|causing|new)\b", re.I
)
_NEW_AGAIN = re.compile(
    r"\b(?:new|new-onset|worse|worsening|worsened|recurrent|recurrence of|another|again|"
    r"rebound|flare|exacerbation)\b",
    re.I,
)
_PREVENTED = re.compile(r"\s+(?:prevention|prophylaxis|ppx|risk reduction)\b", re.I)
_EVENT_AFTER = re.compile(
    r"^[^.;]{0,12}\b(?:after|following|since|due to|induced|while on|during|post)\b", re.I
)


_EXPOSURE = re.compile(
    r"\s*(?:(?:the|a|an|his|her|my|their|each|every|first|second|third|last|new|recent|"
    r"starting|taking|receiving|being|on|\d+(?:st|nd|rd|th)?)\s+){0,3}"
    r"(?:dose|doses|dosing|infusions?|injections?|shots?|vaccin\w*|jabs?|treatment|therapy|"
    r"chemo\w*|medications?|medicines?|drugs?|pills?|tablets?|capsules?|cycles?|course|"
    r"regimen|transfusions?|immuno\w*|radiation|start(?:ing)?|switch\w*|increase|it|them)\b",
    re.I,
)


def _is_background(
    text: str,
    sent_start: int,
    start: int,
    end: int,
    *,
    drug_ends: Sequence[int] = (),
    blockers: Sequence[tuple[int, int]] = (),
) -> bool:
    """An indication or past condition named in passing ("on metformin for diabetes").

    An indication is only what follows "for": a concept between "for" and the mention ends it
    ("on apixaban for atrial fibrillation fell at home": the fall is an event).
    """
    before = text[sent_start:start]
    if (
        re.match(r"chronic\b|CKD\b", text[start:end], re.I)
        and not _NEW_AGAIN.search(before[-30:])
        and not _DEVELOPED.search(before[-60:])
    ):
        return True  # "COPD w/ chronic bronchitis", "CKD 4, stable": a standing condition
    if _CONTROLLED.match(text, end) or _PREVENTED.match(text, end):
        return True  # "pain well controlled", "stroke prevention": the condition treated
    after = _EVENT_AFTER.search(text[end : end + 40])
    if after is not None:
        # "rash after the infusion": an event. "atrial fibrillation following cardioversion"
        # is still an indication: only an exposure (a drug, a dose, an infusion) after the
        # trigger makes the mention an event
        exposure_at = end + after.end()
        if any(exposure_at < e <= exposure_at + 60 for e in drug_ends) or _EXPOSURE.match(
            text, exposure_at
        ):
            return False
    past = _BACKGROUND.search(before)
    # "w/ hx of AF on apixaban admitted with an upper GI bleed": the history ends where the
    # story of the event begins
    if past and not _STORY_VERB.search(past.group()):
        return True
    m = _FOR.search(before)
    if m is None:
        return False
    for_start, words_start = sent_start + m.start(), sent_start + m.start("y")
    # another concept wholly between "for" and the mention ends the indication; one that
    # covers the mention ("severe nodular acne" around "acne") is the same concept, and so
    # is an acronym that qualifies it right before it ("for OA hip pain")
    if any(
        words_start <= b
        and e <= start
        and (text[e:start].strip() or len(text[b:e]) > 4 or " " in text[b:e])
        for b, e in blockers
    ):
        return False
    head = text[sent_start:for_start].rstrip()
    # a drug named right before "for" ("the antibiotics for her pneumonia", "metformin 500 mg
    # for diabetes"), or a verb of starting/taking a few words before it
    drug_near = any(
        sent_start <= e <= for_start and len(text[e:for_start].split()) <= 7 for e in drug_ends
    )
    if _VISIT_FOR.search(head):
        return False  # "BIB family for confusion": the reason for the visit is the event
    return drug_near or bool(_INDICATION_BEFORE.search(head))


@dataclass(frozen=True)
class _LabReading:
    """A lab analyte with the value written after it, in each matching rule's unit."""

    start: int
    end: int
    value_text: str
    measured: list[tuple[LabRule, float]]
    direction: str | None = None  # "low" | "high" when written in words, without a value


def _lab_reading(data: _Data, doc: Doc, span: Span) -> _LabReading | None:
    rules = data.labs.get(" ".join(span.text.lower().split()))
    if not rules:
        return None
    if len(span.text) <= 2 and span.start_char and doc.text[span.start_char - 1].isdigit():
        return None  # "48K": thousands, not potassium
    value = span._.value
    number: float | None = None
    unit = value.unit if value is not None else None
    end = span.end_char
    value_text = None
    times_uln = None
    if unit in _DOSE_UNITS:
        return None  # "vitamin K 2.5 mg PO": a dose, not a potassium level
    if value is not None and value.systolic is not None:
        number, end, value_text = value.systolic, value.end, value.text
    elif (
        value is not None
        and value.value is None
        and value.low is not None
        and value.high is not None
    ):
        # "FSBG 240-310": a range of readings; its worse end decides, per rule direction below
        end, value_text = value.end, value.text
        measured_range = [
            (rule, rule.normalise(value.high if rule.direction == "high" else value.low, unit))
            for rule in rules
        ]
        return _LabReading(span.start_char, end, value_text, measured_range)
    elif value is not None and value.value is not None and value.comparator in (None, "="):
        number, end, value_text = value.value, value.end, value.text
        # "rose from 0.9 to 2.4": the value that matters is the one it reached
        later = _TO_VALUE.match(doc.text[end : end + 40])
        if later is not None:
            number = float(later["v"].replace(",", ""))
            end += later.end()
            value_text = doc.text[value.start : end]
    elif (m := _ULN.match(doc.text[span.end_char : span.end_char + 60])) is not None:
        times_uln = float(m["x"])
        end = span.end_char + m.end()
        value_text = doc.text[span.end_char : end].strip()
    elif (m := _VALUE_AFTER.match(doc.text[span.end_char : span.end_char + 60])) is not None:
        # values eligo_values leaves alone: "creatinine rose from 0.9 to 2.4"
        number = float((m["v2"] or m["v"]).replace(",", ""))
        end = span.end_char + m.end()
        value_text = doc.text[span.end_char : end].strip()
    elif (m := _DIRECTION_AFTER.match(doc.text[span.end_char : span.end_char + 40])) is not None:
        # "white count was low", "his kidney number was up": abnormal, no value to grade
        end = span.end_char + m.end()
        word = m["d"].lower()
        direction = "low" if word in _LOW_WORDS else "high"
        return _LabReading(
            span.start_char, end, doc.text[span.end_char : end].strip(), [], direction
        )
    else:
        return None
    measured = []
    for rule in rules:
        if times_uln is not None:
            if rule.direction == "high":
                measured.append((rule, times_uln * rule.limit))
        else:
            assert number is not None
            measured.append((rule, rule.normalise(number, unit)))
    return _LabReading(span.start_char, end, value_text or "", measured)


def _lab_mention(data: _Data, doc: Doc, span: Span) -> _Mention | None:
    reading = _lab_reading(data, doc, span)
    if reading is None:
        return None
    if re.search(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s*$", doc.text[: span.start_char]):
        return None  # "Mr K (67)": a name and an age, not potassium
    said = doc.text[span.start_char : reading.end]
    after = doc.text[reading.end : reading.end + 24]
    if _SAID_NORMAL.search(said) or _NORMAL_AFTER.match(after):
        return None  # "calcium was normal at 2.31 mmol/L", "platelets 142 (normal)"
    if reading.direction is not None:
        rules = data.labs.get(" ".join(span.text.lower().split()), [])
        rule_ = next((r for r in rules if r.direction == reading.direction), None)
        if rule_ is None:
            return None
        return _Mention(
            span.start_char,
            reading.end,
            [_candidate(data, rule_.term, 1.0, "lab")],
            _flags(span),
            value=reading.value_text,
        )
    for rule, measured in reading.measured:
        if rule.term == "Ejection fraction decreased" and _KNOWN_HF.search(
            doc.text[max(0, span.start_char - 40) : span.start_char]
        ):
            continue  # "62M HFrEF (EF 30%)": the known disease's measure, not a new event
        if (
            rule.term == "INR increased"
            and measured <= INR_THERAPEUTIC_MAX
            and _VKA.search(doc.text)
        ):
            continue  # INR 2.8 on warfarin is the treatment working, not an event
        if rule.abnormal(measured):
            grade = rule.grade(measured)
            return _Mention(
                span.start_char,
                reading.end,
                [_candidate(data, rule.term, 1.0, "lab")],
                _flags(span),
                grade=grade,
                grade_source="lab" if grade is not None else None,
                value=reading.value_text,
            )
    return None


_OF_PHRASE = re.compile(
    r"\s+(of|in|to)\s+(?:the\s+|his\s+|her\s+|their\s+|my\s+)?([a-z]+(?:\s+[a-z]+)?)", re.I
)


def _of_phrase(data: _Data, text: str, start: int, end: int) -> tuple[int, str] | None:
    """A mention that continues into a longer CTCAE term with "of/in/to" and the words after
    it, articles aside: "osteonecrosis of the jaw" -> (its end, "Osteonecrosis of jaw")."""
    m = _OF_PHRASE.match(text, end)
    if m is None:
        return None
    head = " ".join(text[start:end].lower().split())
    words = m[2].lower().split()
    for n in range(len(words), 0, -1):
        key = f"{head} {m[1].lower()} {' '.join(words[:n])}"
        if key in data.terms:
            stop = m.start(2) + len(" ".join(m[2].split()[:n]))
            return stop, data.terms[key].term
    return None


def _lab_outcome(data: _Data, doc: Doc, text: str, events: Sequence[AeEvent]) -> Evidence | None:
    """The outcome a later value of an event's lab shows: "sodium 118 ... 131 at discharge"
    is recovering (still below 135, nearer normal), "platelets ... 180 one week later"
    recovered, a value as bad or worse not recovered. The last such reading wins."""
    from eligo.nlp.extensions import SPAN_GROUP

    readings = [
        r
        for span in doc.spans.get(SPAN_GROUP, [])
        if span.label_ == "measurement" and (r := _lab_reading(data, doc, span)) is not None
    ]
    found: tuple[int, int, str] | None = None
    for event in events:
        if not event.coded or event.value is None:
            continue
        first = next((r for r in readings if r.start == event.start), None)
        if first is None:
            continue
        for rule, worst in first.measured:
            if rule.term != event.ctcae_term:
                continue
            later = [
                (r, v) for r in readings if r.start >= event.end for q, v in r.measured if q == rule
            ]
            if not later:
                continue
            reading, value = later[-1]
            if not rule.abnormal(value):
                state = "recovered"
            elif abs(value - rule.limit) < abs(worst - rule.limit):
                state = "recovering"
            else:
                state = "not_recovered"
            if found is None or reading.start > found[0]:
                found = (reading.start, reading.end, state)
    if found is None:
        return None
    start, end, state = found
    return Evidence(value=state, evidence=text[start:end], start=start, end=end)


def _sentence_start(doc: Doc, char: int) -> int:
    span = doc.char_span(char, char + 1, alignment_mode="expand")
    if span is None:
        return 0
    return span.sent.start_char if doc.has_annotation("SENT_START") else 0


def _mentions(
    data: _Data,
    doc: Doc,
    text: str,
    phrases: list[tuple[int, int, str, MatchKind]],
    *,
    semantic: bool,
) -> tuple[list[_Mention], list[Span]]:
    from eligo.nlp.extensions import SPAN_GROUP

    mentions: list[_Mention] = []
    pending: list[_Mention] = []
    labs: set[int] = set()
    drugs: list[Span] = []
    targets: Sequence[tuple[int, int]] = doc._.targets or ()
    for span in doc.spans.get(SPAN_GROUP, []):
        label = span.label_
        if label == "target":
            start, end = targets[span.id]  # the target's index (see eligo_targets)
            _, _, term, kind = phrases[span.id]
            score = 1.0 if kind == "synonym" else 0.95
            cands = _merge(
                [_candidate(data, term, score, kind)], fuzzy_candidates(text[start:end]), 3
            )
            mention = _Mention(start, end, cands, _flags(span))
        elif label in EVENT_LABELS:
            start, end = span.start_char, span.end_char
            pair = _two_terms(data, text[start:end])
            if pair is not None:  # "nausea and vomiting": two events, not one
                for (a, b), term in zip(pair[0], pair[1], strict=True):
                    cands = [_candidate(data, term, 1.0, "exact")]
                    mentions.append(_Mention(start + a, start + b, cands, _flags(span)))
                continue
            exact = [
                _candidate(data, c.display, 1.0, "exact")
                for c in span._.codes or []
                if c.system == "CTCAE" and c.display.lower() in data.terms
            ]
            longer = _of_phrase(data, text, start, end)
            if longer is not None:  # "osteonecrosis of the jaw": Osteonecrosis of jaw
                end, term = longer
                exact = [_candidate(data, term, 1.0, "exact")]
            cands = _merge(exact, candidates(text[start:end], limit=4), 3)
            mention = _Mention(start, end, cands, _flags(span))
            if not exact and (not cands or cands[0].match == "fuzzy"):
                if semantic:
                    pending.append(mention)  # decided below, in one batch
                    continue
                if not cands or cands[0].score < FUZZY_MIN:
                    continue
        elif label == "measurement":
            lab = _lab_mention(data, doc, span)
            if lab is None:
                continue
            mention = lab
        elif label == "drug":
            drugs.append(span)
            continue
        else:
            continue
        if label == "measurement":
            labs.add(id(mention))  # a lab value is never background
        mentions.append(mention)
    if pending:
        mentions += _semantic(data, text, pending)
    # a phrase that is also a concept ("rash") is one mention: keep the better-coded one
    mentions.sort(key=lambda m: (m.start, m.end, -(m.cands[0].score if m.cands else 0.0)))
    mentions = [
        m
        for i, m in enumerate(mentions)
        if i == 0 or mentions[i - 1].start != m.start or mentions[i - 1].end != m.end
    ]
    concepts = [
        (s.start_char, s.end_char)
        for s in doc.spans.get(SPAN_GROUP, [])
        if s.label_ in (*EVENT_LABELS, "target")
    ]
    drug_ends = [s.end_char for s in drugs]
    for mention in mentions:
        if id(mention) in labs:
            continue
        sent_start = _sentence_start(doc, mention.start)
        mention.background = _is_background(
            text,
            sent_start,
            mention.start,
            mention.end,
            drug_ends=drug_ends,
            blockers=[*concepts, *((m.start, m.end) for m in mentions)],
        )
    # the condition a drug treats stays the indication when named again ("zoloft for my
    # anxiety ... bumped me up bc the anxiety is still bad"), unless it is new or worse
    treated: set[str] = set()
    for mention in mentions:
        if re.search(r"\bnon-?\s?$", text[max(0, mention.start - 5) : mention.start], re.I):
            mention.flags["negated"] = True  # "non-pruritic", "non-tender"
        if id(mention) not in labs and _YEAR_AFTER.match(text, mention.end):
            mention.background = True  # "allopurinol intolerant - rash 2019"
        if id(mention) in labs or not mention.cands:
            continue
        term = mention.cands[0].term
        if mention.background:
            before = text[_sentence_start(doc, mention.start) : mention.start]
            if _FOR.search(before):
                treated.add(term)
        elif term in treated and not _NEW_AGAIN.search(
            text[max(0, mention.start - 30) : mention.start]
        ):
            mention.background = True
    for mention in mentions:
        if (
            _counselled(data, doc, text, mention)
            or _RISK_AFTER.match(text, mention.end)
            or _MAY_FOLLOW.match(text, mention.end)
            or _asking_others(text, mention.start, mention.end)
        ):
            # "counselled ... may occur", "ICH risk", "fever or rash can appear 7-12 days after"
            mention.flags["hypothetical"] = True
    return mentions, drugs


def _counselled(data: _Data, doc: Doc, text: str, mention: _Mention) -> bool:
    """A possible effect, not an event: "counselled that hot flashes may occur", "possible side
    effects include ...", "could cause ..."."""
    span = doc.char_span(mention.start, mention.start + 1, alignment_mode="expand")
    if span is None or not doc.has_annotation("SENT_START"):
        return False
    sent = span.sent
    before = text[sent.start_char : mention.start]
    r = data.res
    if r["hypothetical_before"].search(before):
        return True
    sentence = text[sent.start_char : sent.end_char]
    return bool(r["counselling"].search(before) and r["possibility"].search(sentence))


def _semantic(data: _Data, text: str, pending: list[_Mention]) -> list[_Mention]:
    """Mentions no lexicon codes: kept when fuzzy overlap or MiniLM similarity is high enough."""
    from eligo.nlp.ae_semantic import SEMANTIC_SCALE, load_matcher

    matcher = load_matcher()
    kept = []
    index = {term: i for i, (term, _) in enumerate(matcher.terms)}
    rows = matcher.embed([text[m.start : m.end] for m in pending]) @ matcher.matrix.T
    for mention, row in zip(pending, rows, strict=True):
        if _NEOPLASM.search(text[mention.start : mention.end]):
            continue  # "pancreatic adenocarcinoma" is no Pancreatitis: a tumour is the disease
        best = row.argsort()[::-1][:3]
        word = text[mention.start : mention.end].lower()
        # one word is not the longer term it begins ("erythema" is no Erythema multiforme)
        nearest = [
            (*matcher.terms[i], float(row[i]))
            for i in best
            if " " in word or not matcher.terms[i][0].lower().startswith(word)
        ]
        semantic = [
            _candidate(data, term, cosine * SEMANTIC_SCALE, "semantic")
            for term, _, cosine in nearest
        ]
        fuzzy_ok = bool(mention.cands) and mention.cands[0].score >= FUZZY_MIN
        if fuzzy_ok:
            # stem overlap alone is not enough ("neural tube defect" / Neuralgia): the
            # semantic matcher must agree, giving the same term a cosine of at least
            # FUZZY_SEMANTIC_MIN (its rank alone is no agreement: Neuralgia is first or third
            # at 0.50 there, as batch padding shifts the int8 scores); a term whose every word
            # the mention contains as a whole word ("dry cough" / Cough) needs no second opinion
            top = mention.cands[0].term
            words = set(re.findall(r"[a-z0-9]+", text[mention.start : mention.end].lower()))
            contained = set(re.findall(r"[a-z0-9]+", top.lower())) - _STOP <= words
            fuzzy_ok = contained or (top in index and float(row[index[top]]) >= FUZZY_SEMANTIC_MIN)
        if not fuzzy_ok and (not nearest or nearest[0][2] < SEMANTIC_MIN):
            continue
        merged = sorted([*mention.cands, *semantic], key=lambda c: -c.score)
        mention.cands = _merge([], merged, 3)
        kept.append(mention)
    return kept


def _grade_value(raw: str) -> int | None:
    raw = raw.upper()
    if raw.isdigit():
        return int(raw)
    return _ROMAN.get(raw)


def _attach_grades(data: _Data, text: str, mentions: list[_Mention]) -> dict[tuple[int, int], str]:
    """Stated grades onto the nearest event in the same sentence; returns severity words."""
    severities: dict[tuple[int, int], str] = {}
    live = [m for m in mentions if not m.background]
    for m in data.res["grade"].finditer(text):
        grade = _grade_value(m["g"] or m["g2"] or "")
        if grade is None:
            continue
        best = _nearest(text, live, m.start(), m.end(), after=40, before=30)
        if best is not None:
            best.grade, best.grade_source = grade, "stated"
    for m in data.res["severity"].finditer(text):
        best = _nearest(text, live, m.start(), m.end(), after=30, before=20)
        if best is not None:
            severities.setdefault((best.start, best.end), m["s"].lower())
    return severities


def _nearest(
    text: str, mentions: Sequence[_Mention], start: int, end: int, *, after: int, before: int
) -> _Mention | None:
    """The event right after a modifier (within `after` chars) or else right before it."""
    best: tuple[int, _Mention] | None = None
    for mention in mentions:
        if mention.start >= end and mention.start - end <= after:
            gap = text[end : mention.start]
            dist = mention.start - end
        elif mention.end <= start and start - mention.end <= before:
            gap = text[mention.end : start]
            dist = start - mention.end + 5  # a modifier more often precedes its event
        else:
            continue
        if re.search(r"[.;]", gap):
            continue
        if best is None or dist < best[0]:
            best = (dist, mention)
    return best[1] if best else None


# ---------------------------------------------------------------------------------------------
# report-level facts


_PATIENT_SUBJECT = re.compile(r"(?:,|;|\band)\s*(?:the )?(?:pt|patient|he|she)\b", re.I)


def _blocked(data: _Data, text: str, start: int, end: int) -> bool:
    """A cue negated, hypothetical or about the past/family ("not admitted", "risk of death")."""
    before = text[max(0, start - 60) : start]
    before = re.split(r"[.;!?]\s|\n", before)[-1]
    r = data.res
    if any(
        r[k].search(before) for k in ("seriousness_block", "hypothetical", "hypothetical_before")
    ):
        return True
    past = re.search(
        r"\b(?:history of|previous(?:ly)?|prior|years? ago|last year|mother|father|brother|"
        r"sister|grandmother|grandfather|aunt|uncle|cousin|family)\b[^.;]{0,40}$",
        before,
        re.I,
    )
    # ... unless the patient is named after it ("family chose comfort care, pt died HD3")
    if past and not _PATIENT_SUBJECT.search(past.group()):
        return True
    return bool(data.res["seriousness_block_after"].search(text[end : end + 40]))


def _seriousness(
    data: _Data, text: str, background: Sequence[tuple[int, int]] = ()
) -> list[Seriousness]:
    """ICH E2A criteria stated in the text. `background`: spans of conditions that are the
    treated disease or history; an admission "with" or "for" one of them is the setting
    ("6yo admitted this afternoon with acute asthma exacerbation, salbutamol nebs ...")."""
    found: dict[str, Seriousness] = {}
    # "Inpatient on haloperidol", "while hospitalised": the setting, not a hospitalisation
    # caused by the event (only a prolonged stay is)
    setting = [(m.start(), m.end()) for m in data.res["hospital_setting"].finditer(text)]
    regexes = dict(data.res["seriousness"])
    for criterion, regex in regexes.items():
        matches = list(regex.finditer(text))
        if criterion == "life_threatening" and "death" not in found:
            # resuscitation, intubation, defibrillation: life-threatening when the patient
            # survived; resuscitation of a patient who died is the death
            matches += list(data.res["life_threatening_if_survived"].finditer(text))
        for m in matches:
            if _blocked(data, text, m.start(), m.end()):
                continue
            if criterion == "hospitalization":
                if any(s <= m.start() < e for s, e in setting):
                    continue
                sentence = _sentence_around(text, m.start(), m.end())
                if data.res["elective"].search(sentence):
                    continue
                why = _ADMITTED_FOR.match(text, m.end())
                if why and any(why.end() <= b < why.end() + 30 for b, _ in background):
                    continue
            found[criterion] = Seriousness(
                criterion=cast(Criterion, criterion),
                evidence=m.group(),
                start=m.start(),
                end=m.end(),
            )
            break
    # "other medically important" is for events no other criterion covers: inferred from the
    # event (anaphylaxis), it gives way to a stated one; said in words, it stays
    omi = found.get("other_medically_important")
    if omi is not None and len(found) > 1 and not _STATED_IMPORTANT.search(omi.evidence):
        del found["other_medically_important"]
    order = list(data.rules["seriousness"])
    return sorted(found.values(), key=lambda s: order.index(s.criterion))


_CONGENITAL_SOC = "Congenital, familial and genetic disorders"
_ADMITTED_FOR = re.compile(r"[^.;]{0,30}?\b(?:with|for)\s+(?:an? |the |his |her )?", re.I)
_STATED_IMPORTANT = re.compile(r"important|significant|to prevent", re.I)


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start), text.rfind("; ", 0, start))
    right_candidates = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
    right = min(right_candidates) if right_candidates else len(text)
    return text[left + 1 : right]


def _drug_roles(
    data: _Data, text: str, doc: Doc, drugs: list[Span], events: list[_Mention]
) -> tuple[list[AeDrug], list[tuple[int, int, Role]]]:
    """One entry per drug, and every mention (start, end, role of its drug)."""
    r = data.res
    roles: list[Role | None] = []
    for span in drugs:
        start, end = span.start_char, span.end_char
        sent_start = _sentence_start(doc, start)
        before = text[sent_start:start]
        near_before = text[max(sent_start, start - 50) : start]
        role: Role | None = None
        prior = [e for e in events if e.end <= start and e.end >= max(0, sent_start - 200)]
        if r["concomitant"].search(before):
            role = "concomitant"
        elif r["suspect_suffix"].search(text[end : end + 12]):
            role = "suspect"
        elif r["treatment_after"].search(text[end : end + 60]):
            role = "treatment"
        elif prior and re.search(
            r"\b(?:after|since|following|due to|related to|attributed to|secondary to|caused by|"
            r"induced by|while on|while taking|while receiving|on|during|dose of|infusion of)\s+"
            r"(?:[\w-]+\s+){0,4}$",
            text[prior[-1].end : start],
            re.I,
        ):
            role = "suspect"
        elif prior and re.search(
            r"(?:" + data.rules["treatment"] + r")\s+(?:[\w-]+\s+){0,2}$", near_before, re.I
        ):
            role = "treatment"
        elif r["suspect"].search(near_before):
            role = "suspect"
        roles.append(role)
    if "suspect" not in roles:
        for i, role in enumerate(roles):
            if role is None:
                roles[i] = "suspect"
                break
    # One entry per drug (first mention), with the strongest role any mention has.
    rank = {"suspect": 0, "treatment": 1, "concomitant": 2, None: 3}
    merged: dict[str, tuple[Span, Role | None]] = {}
    keys = []
    for span, role in zip(drugs, roles, strict=True):
        codes = [c.code for c in span._.codes or [] if c.system == "DrugBank"]
        key = codes[0] if codes else span.text.lower()
        keys.append(key)
        if key not in merged:
            merged[key] = (span, role)
        elif rank[role] < rank[merged[key][1]]:
            merged[key] = (merged[key][0], role)
    entries = [
        AeDrug(
            text=span.text,
            start=span.start_char,
            end=span.end_char,
            codes=list(span._.codes or []),
            role=role or "concomitant",
        )
        for span, role in merged.values()
    ]
    mentions: list[tuple[int, int, Role]] = [
        (span.start_char, span.end_char, merged[key][1] or "concomitant")
        for span, key in zip(drugs, keys, strict=True)
    ]
    return entries, mentions


def _action(
    data: _Data,
    text: str,
    drugs: list[AeDrug],
    mentions: list[tuple[int, int, Role]],
    events: list[_Mention],
) -> tuple[Action | None, Evidence | None]:
    r = data.res
    anchors = [(start, end) for start, end, role in mentions if role != "treatment"]
    # a shortened drug name ("Atorva held", "amio continued", "pembro"): its first letters
    for prefix in {text[s : s + 4].lower() for s, e, role in mentions if e - s >= 6}:
        if prefix.isalpha():
            anchors += [(m.start(), m.end()) for m in re.finditer(rf"\b{prefix}\w*", text, re.I)]
    anchors += [(m.start(), m.end()) for m in r["drug_context"].finditer(text)]
    hits: dict[str, Evidence] = {}
    for name, regex in r["action"].items():
        for m in regex.finditer(text):
            sentence_start = max(text.rfind(". ", 0, m.start()), text.rfind("\n", 0, m.start()))
            sentence_end = text.find(". ", m.end())
            sentence_end = len(text) if sentence_end == -1 else sentence_end
            near = [
                a
                for a in anchors
                if a[0] > sentence_start and a[1] <= sentence_end + 1 and abs(a[0] - m.start()) < 80
            ]
            if not near:
                continue
            # "the vomiting stopped": an event right before the verb is its subject
            ev_before = [
                e
                for e in events
                if 0 <= m.start() - e.end <= 12
                and not re.search(
                    r"[.;!?]|\b(?:i|he|she|we|they|you)\b", text[e.end : m.start()], re.I
                )
            ]
            if ev_before and not any(ev_before[-1].end <= a[0] < m.start() for a in near):
                continue
            if _blocked_hypothetical(data, text, m.start()):
                continue
            if name != "unchanged" and _NOT_DONE.search(text[max(0, m.start() - 40) : m.start()]):
                continue  # "do NOT stop the plavix", "i want to quit but ..."
            hits.setdefault(
                name, Evidence(value=name, evidence=m.group(), start=m.start(), end=m.end())
            )
    step = _dose_step(text)
    if step is not None and not _blocked_hypothetical(data, text, step.start):
        hits[step.value] = step
    # an action named before any event ("after the dose was increased") caused it; the
    # action taken in response comes after the event
    first_event = min((e.start for e in events), default=0)
    later = {k: v for k, v in hits.items() if v.start >= first_event}
    hits = later or hits
    # "stop the capecitabine for a week until it settles": a stop for a while is an interruption
    if "withdrawn" in hits and r["action_temporary"].match(text[hits["withdrawn"].end :]):
        stop = hits.pop("withdrawn")
        hits.setdefault("interrupted", stop.model_copy(update={"value": "interrupted"}))
    # "infusion stopped ... to be restarted": a stop followed by a restart is an interruption
    if "withdrawn" in hits:
        restart = next(
            (
                m
                for m in r["restart"].finditer(text, hits["withdrawn"].end)
                # "will not be rechallenged", "never to be restarted": still withdrawn
                if not re.search(r"\b(?:not|never|no)\b(?:\s+\w+){0,2}\s*$", text[: m.start()])
                # "Rechallenge was not attempted": still withdrawn
                and not re.match(
                    r"\s+(?:was|is|will be|has been)?\s*(?:not|never)\b", text[m.end() :]
                )
            ),
            None,
        )
        if restart is not None:
            del hits["withdrawn"]
            hits.setdefault(
                "interrupted",
                Evidence(
                    value="interrupted",
                    evidence=restart.group(),
                    start=restart.start(),
                    end=restart.end(),
                ),
            )
    # "held 14 d, restarted at 200 mg" after 300 mg: the drug came back at a lower dose
    lower = _lower_restart(text)
    if lower is not None and (
        "interrupted" in hits
        or "withdrawn" in hits
        or all(h.start < lower.start for h in hits.values())  # the latest action ("put me
        # back on 100" after "bumped me from 100 to 125")
    ):
        hits = {"dose_reduced": lower}
    for name in data.rules["action_priority"]:
        if name in hits:
            return cast(Action, name), hits[name]
    suspects = [d for d in drugs if d.role == "suspect"]
    if suspects and all(_vaccine_text(d.text) or _is_vaccine(text, d) for d in suspects):
        return "not_applicable", None
    if not suspects and _VACCINE.search(text):
        return "not_applicable", None  # a vaccine given once, not a drug that can be stopped
    return None, None


_VACCINE_NAME = re.compile(
    r"\b(?:shots?|vaccines?|vaccinations?|jabs?|boosters?|immuni[sz]ations?)\b", re.I
)
_VACCINE = re.compile(
    r"\b(?:vaccin(?:e|es|ation|ated)|jab|immuni[sz]ation|booster|"
    r"(?:routine|baby|childhood|infant|flu|covid|tetanus|shingles|measles|well-child) shots?)\b",
    re.I,
)


def _vaccine_text(name: str) -> bool:
    return "vaccin" in name.lower() or bool(_VACCINE_NAME.search(name))


def _is_vaccine(text: str, drug: AeDrug) -> bool:
    return bool(
        re.match(
            r"^[\s-]*(?:vaccine|vaccination|booster|shot|jab)\b",
            text[drug.end : drug.end + 15],
            re.I,
        )
    )


# an action not taken: negated, wished for or considered
_NOT_DONE = re.compile(
    r"(?:\b(?:no|not|never|n't|dont|didnt|doesnt|without|no need to)|"
    r"\b(?:wants?|wanted|wanting|wish|thinking of|thinking about|considering|tempted) to|"
    r"\bshould (?:i|we))\s+(?:to\s+)?$",
    re.I,
)


_DOSE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(mg|mcg|g|units?)\b", re.I)
_RESTART_AT = re.compile(
    r"\b(?:resumed|restarted|re-?started|re-?introduced|discharged on|now on|back on|"
    r"put (?:me|him|her|them) back on|"
    r"continued? (?:on|at))\s+(?:(?:the|her|his|their|my|a|at)\s+)?(?:[\w-]+\s+){0,2}?(?:at\s+)?"
    r"(\d+(?:\.\d+)?)\s?(mg|mcg|g|units?)\b",
    re.I,
)


def _lower_restart(text: str) -> Evidence | None:
    """A restart at a dose below one written earlier with the same unit ("240 mg QD ...
    resumed at 180 mg", "digoxin 0.25 ... discharged on digoxin 0.125 mg")."""
    for m in _RESTART_AT.finditer(text):
        value, unit = float(m[1]), m[2].lower().rstrip("s")
        earlier = [
            float(d[1])
            for d in _DOSE.finditer(text, 0, m.start())
            if d[2].lower().rstrip("s") == unit
        ]
        # "digoxin 0.25 daily ... discharged on digoxin 0.125 mg": the same drug's bare number
        drug = re.search(r"([A-Za-z][\w-]{3,})\s+$", text[m.start() : m.start(1)])
        if drug is not None:
            bare = re.compile(rf"\b{re.escape(drug[1])}\s+(\d+(?:\.\d+)?)\b(?!\s?%)", re.I)
            earlier += [float(b[1]) for b in bare.finditer(text, 0, m.start())]
        if earlier and value < max(earlier):
            return Evidence(value="dose_reduced", evidence=m.group(), start=m.start(), end=m.end())
    return None


_DOSE_STEP = re.compile(
    r"\b(?:(?:bumped|titrated|increased|raised|upped|decreased|lowered|reduced|cut|dropped)"
    r"\s+(?:(?:me|him|her|them|it|the dose|(?:my|his|her|their) [\w-]+)\s+)?|"
    r"(?:moved|changed|adjusted|switched)\s+(?:me|him|her|them|the dose)\s+)(?:(?:up|down)\s+)?"
    # a dose has a dose unit ("from 75 to 100mg"); "from 12.4 to 8.1 g/dL" is a lab
    r"from\s+(\d+(?:\.\d+)?)\s?(?P<u1>(?:mg|mcg|g|units?)(?!/))?\s+to\s+(\d+(?:\.\d+)?)"
    r"\s?(?P<u2>(?:mg|mcg|g|units?)(?!/))?",
    re.I,
)


def _dose_step(text: str) -> Evidence | None:
    """A dose moved "from 75 to 100mg": up or down by the numbers, whatever the verb."""
    for m in _DOSE_STEP.finditer(text):
        before, after = float(m[1]), float(m[3])
        if before != after and (m["u1"] or m["u2"]):
            value = "dose_increased" if after > before else "dose_reduced"
            return Evidence(value=value, evidence=m.group(), start=m.start(), end=m.end())
    return None


def _blocked_hypothetical(data: _Data, text: str, start: int) -> bool:
    before = re.split(r"[.;!?]\s|\n", text[max(0, start - 50) : start])[-1]
    return bool(
        re.search(
            r"\b(?:if|should|would|may|could|might|consider(?:ed|ing)?|plan(?:s|ned)? to)\b"
            r"[^.;]{0,40}$",
            before,
            re.I,
        )
    )


def _outcome(data: _Data, text: str) -> tuple[Outcome, Evidence | None]:
    r = data.res
    taken: list[tuple[int, int, str]] = []
    for name in data.rules["outcome_priority"]:
        for m in r["outcome"][name].finditer(text):
            if any(m.start() < e and s < m.end() for s, e, _ in taken):
                continue
            if name == "fatal" and _blocked(data, text, m.start(), m.end()):
                continue
            if _blocked_hypothetical(data, text, m.start()):
                continue
            taken.append((m.start(), m.end(), name))
    if not taken:
        return "unknown", None
    for name in ("fatal", "recovered_with_sequelae"):
        hit = next((t for t in taken if t[2] == name), None)
        if hit:
            return cast(Outcome, name), Evidence(
                value=name, evidence=text[hit[0] : hit[1]], start=hit[0], end=hit[1]
            )
    last = max(taken)
    return cast(Outcome, last[2]), Evidence(
        value=last[2], evidence=text[last[0] : last[1]], start=last[0], end=last[1]
    )


def _drop_components(data: _Data, events: list[AeEvent]) -> list[AeEvent]:
    """Drop coded events that are signs or symptoms of a diagnosis coded in the same report
    ("anaphylaxis with hives and a BP of 60/30": Anaphylaxis only)."""

    def name(e: AeEvent) -> str | None:  # an "Other, specify" event by its condition
        return e.specified or e.ctcae_term

    diagnoses = {name(e) for e in events if e.coded}
    parts: set[str] = set()
    for term in diagnoses:
        parts |= data.components.get(term or "", frozenset()) - {term}
    return [e for e in events if not (e.coded and name(e) in parts)]


_GI_WORDS = re.compile(
    r"\b(?:stools?|bms?|diarrh\w*|bowel\w*|poops?|stomach|belly|tummy|abdom\w*|abd|gut|"
    r"runs|loose)\b",
    re.I,
)


def _gi_cramps(data: _Data, text: str, events: list[AeEvent]) -> list[AeEvent]:
    """Bare "cramping" in a sentence about stools or the belly is abdominal pain, not a
    muscle cramp ("3 watery stools since this morning and mild cramping")."""
    out = []
    for e in events:
        if (
            e.coded
            and e.ctcae_term == "Muscle cramp"
            and re.fullmatch(r"(?:mild |bad |some )?cramp(?:ing|s|y)?", e.text, re.I)
            and _GI_WORDS.search(_sentence_around(text, e.start, e.end))
        ):
            entry = data.terms["abdominal pain"]
            e = e.model_copy(
                update={"ctcae_term": entry.term, "meddra_code": entry.code, "soc": entry.soc}
            )
        out.append(e)
    return out


_MODIFIER = re.compile(
    r"(?:itchy|itching|painful|burning|swollen|tender|sore|stinging|weeping|bleeding)", re.I
)


def _drop_modifiers(text: str, events: list[AeEvent]) -> list[AeEvent]:
    """A symptom adjective right before another coded event is part of it: "itchy red welts"
    (Urticaria, not also Pruritus), "painful mouth sores" (Mucositis oral, not also Pain)."""
    coded_events = sorted((e for e in events if e.coded), key=lambda e: e.start)
    drop = {
        id(a)
        for a, b in pairwise(coded_events)
        if _MODIFIER.fullmatch(a.text)
        and len(text[a.end : b.start].split()) <= 1
        and not re.search(r"[,;.]", text[a.end : b.start])
        and a.ctcae_term != b.ctcae_term
    }
    return [e for e in events if id(e) not in drop]


def _drop_aliases(text: str, events: list[AeEvent]) -> list[AeEvent]:
    """A coded mention in brackets right after another restates it: "encephalopathy (ICANS)",
    "agranulocytosis (absolute neutrophil count 0.08 x10^9/L)" are one event each."""
    coded_events = sorted((e for e in events if e.coded), key=lambda e: e.start)
    drop = {
        id(b)
        for a, b in pairwise(coded_events)
        if re.fullmatch(r"\s*[(\[]\s*", text[a.end : b.start])
        and re.match(r"\s*[)\]]", text[b.end :])
    }
    return [e for e in events if id(e) not in drop]


def _drop_generic(events: list[AeEvent]) -> list[AeEvent]:
    """Drop a coded event whose term is a more general form of another coded event's term
    when it is the same mention or a repeat of its words: "hip fracture ... the fracture"
    (Fracture under Hip fracture), "burning pain in my upper stomach" (Pain under Abdominal
    pain)."""
    coded_events = [e for e in events if e.coded and e.ctcae_term]
    drop: set[int] = set()
    for e in coded_events:
        mine = _words(e.ctcae_term or "")
        for other in coded_events:
            theirs = _words(other.ctcae_term or "")
            if other is e or not mine < theirs:
                continue
            touching = e.start <= other.end and other.start <= e.end
            if touching or _words(e.text) <= _words(other.text):
                drop.add(id(e))
                break
    # a bare head noun repeating another event ("acneiform rash ... Rash improved")
    for e in coded_events:
        head = _words(e.text)
        if len(head) == 1 and id(e) not in drop:
            for other in coded_events:
                if (
                    other is not e
                    and other.ctcae_term != e.ctcae_term
                    and head < _words(other.text)
                ):
                    drop.add(id(e))
                    break
    # "Death NOS" is CTCAE's term for a death no other term explains: with another event
    # coded, the death is that event's outcome (fatal), not an event of its own
    if any(e.ctcae_term != "Death NOS" for e in coded_events):
        drop |= {id(e) for e in coded_events if e.ctcae_term == "Death NOS"}
    return [e for e in events if id(e) not in drop]


def _first(regex: re.Pattern[str], text: str) -> Evidence | None:
    m = regex.search(text)
    if m is None:
        return None
    return Evidence(value=m.group(), evidence=m.group(), start=m.start(), end=m.end())


def _onset(data: _Data, text: str) -> Evidence | None:
    """The earliest timing phrase; of phrases that overlap it, the longest."""
    found = []
    for pattern in data.rules["onset"]:
        found += [(m.start(), m.end()) for m in re.finditer(pattern, text, re.I)]
    if not found:
        return None
    found.sort()
    start, end = found[0]
    for s, e in found[1:]:
        if s < end and e - s > end - start:
            start, end = s, e
    # the patterns read a few words on; drop function words they end with
    trailing = re.search(
        r"(?:\s+(?:of|the|a|an|and|with|to|her|his|their|was|were))+$", text[start:end]
    )
    if trailing:
        end = start + trailing.start()
    return Evidence(value=text[start:end], evidence=text[start:end], start=start, end=end)


def _relatedness(data: _Data, text: str) -> Evidence | None:
    for name in data.rules["relatedness_priority"]:
        m = data.res["relatedness"][name].search(text)
        if m is not None:
            return Evidence(value=name, evidence=m.group(), start=m.start(), end=m.end())
    return None


# ---------------------------------------------------------------------------------------------
# the public function


def code_report(
    text: str,
    *,
    meddra: MeddraRelease | str | None = None,
    nlp: Language | None = None,
    semantic: bool = True,
    id: str | None = None,
    diagnosis_components: bool = True,
) -> AeReport:
    """Code one adverse-event narrative: events (CTCAE/MedDRA), seriousness, drugs, outcome.

    Args:
        meddra: a loaded `MeddraRelease` or the path of a MedDRA ASCII release directory;
            coded events then also carry their LLT, PT, HLT, HLGT and primary SOC.
        nlp: an eligo pipeline (default `eligo.nlp.load()`).
        semantic: also rank CTCAE terms by MiniLM similarity for mentions no lexicon codes
            (`eligo.nlp.ae_semantic`; the model loads on first use, about 1 s).
        diagnosis_components: MedDRA coding practice (MedDRA Term Selection: Points to
            Consider, "definitive diagnosis with signs and symptoms": the diagnosis only):
            when a diagnosis is coded, its own signs and symptoms
            (`corpora/ae/diagnosis_components.tsv`) are not separate events and are dropped.
            False codes every sign too (the CLI's `--code-signs`).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    data = load_data()
    if nlp is None:
        from eligo.nlp.pipeline import load

        nlp = load()
    release = None
    if meddra is not None:
        from eligo.nlp.meddra import MeddraRelease, load_release

        release = meddra if isinstance(meddra, MeddraRelease) else load_release(meddra)
    phrases = _phrase_matches(data, text)
    # names of units and clinics ("burn unit", "pain clinic") are not events
    non_events = [(m.start(), m.end()) for m in data.res["non_events"].finditer(text)]
    phrases = [p for p in phrases if not any(p[0] < e and s < p[1] for s, e in non_events)]
    # vaccine names ("flu shot", "shingles vaccine") stay readable: the vaccine is a drug, and
    # only an event inside the name is dropped
    vaccines = [(s, e) for s, e in non_events if _VACCINE_NAME.search(text[s:e])]
    masked = [(s, e) for s, e, _, _ in phrases] + [n for n in non_events if n not in vaccines]
    doc = nlp.make_doc(_mask(text, masked))
    doc._.targets = [(s, e) for s, e, _, _ in phrases]
    doc = nlp(doc)
    mentions, drug_spans = _mentions(data, doc, text, phrases, semantic=semantic)
    mentions = [m for m in mentions if not any(m.start < e and s < m.end for s, e in vaccines)]
    severities = _attach_grades(data, text, mentions)
    events = []
    for mention in mentions:
        flags = mention.flags
        coded = not (
            flags["negated"]
            or flags["hypothetical"]
            or flags["family"]
            or flags["historical"]
            or flags["uncertain"]  # "possible pneumonitis": reported, not coded
            or mention.background
        )
        top = mention.cands[0]
        entry = data.entry(top.term)
        event = AeEvent(
            start=mention.start,
            end=mention.end,
            text=text[mention.start : mention.end],
            coded=coded,
            ctcae_term=entry.term if coded else None,
            meddra_code=entry.code if coded else None,
            soc=entry.soc if coded else None,
            specified=_specified(data, text[mention.start : mention.end], entry) if coded else None,
            grade=mention.grade,
            grade_source=mention.grade_source,  # type: ignore[arg-type]
            severity=severities.get((mention.start, mention.end)),
            value=mention.value,
            candidates=mention.cands,
            negated=flags["negated"],
            hypothetical=flags["hypothetical"],
            historical=flags["historical"],
            family=flags["family"],
            uncertain=flags["uncertain"],
        )
        if release is not None and coded:
            # an "Other, specify" term codes by the condition it stands for
            name = event.specified or entry.term
            event.meddra = release.code(event.text, ctcae_term=name, ctcae_code=entry.code)
        events.append(event)
    coded_mentions = [m for m, e in zip(mentions, events, strict=True) if e.coded]
    # the treated disease or history named as such: an admission "with" one of them is the
    # setting, not a hospitalisation the event caused
    coded_terms = {e.ctcae_term for e in events if e.coded}
    background = [
        (m.start, m.end)
        for m in mentions
        if (m.background or m.flags["historical"]) and m.cands[0].term not in coded_terms
    ]
    events = _gi_cramps(data, text, events)
    events = _drop_aliases(text, events)
    events = _drop_modifiers(text, _drop_generic(events))  # before components
    if diagnosis_components:
        events = _drop_components(data, events)
    seriousness = _seriousness(data, text, background)
    # a coded malformation is the E2A criterion, however the report words it
    anomaly = next((e for e in events if e.coded and e.soc == _CONGENITAL_SOC), None)
    if anomaly is not None and all(s.criterion != "congenital_anomaly" for s in seriousness):
        seriousness.append(
            Seriousness(
                criterion="congenital_anomaly",
                evidence=anomaly.text,
                start=anomaly.start,
                end=anomaly.end,
            )
        )
        order = list(data.rules["seriousness"])
        seriousness.sort(key=lambda s: order.index(s.criterion))
    drugs, drug_mentions = _drug_roles(data, text, doc, drug_spans, coded_mentions)
    action, action_ev = _action(data, text, drugs, drug_mentions, coded_mentions)
    outcome, outcome_ev = _outcome(data, text)
    lab_ev = _lab_outcome(data, doc, text, events)
    # a later lab value is the event's state at that point; words after it still win
    if (
        lab_ev is not None
        and outcome not in ("fatal", "recovered_with_sequelae")
        and (outcome_ev is None or lab_ev.start > outcome_ev.start)
    ):
        outcome, outcome_ev = cast(Outcome, lab_ev.value), lab_ev
    if any(s.criterion == "death" for s in seriousness):
        outcome = "fatal"
    onset = _onset(data, text)
    related = _relatedness(data, text)
    evidence: dict[str, Evidence] = {}
    for name, ev in (
        ("outcome", outcome_ev),
        ("action_taken", action_ev),
        ("onset", onset),
        ("relatedness", related),
    ):
        if ev is not None:
            evidence[name] = ev
    return AeReport(
        id=id,
        events=events,
        serious=bool(seriousness),
        seriousness=seriousness,
        drugs=drugs,
        outcome=outcome,
        action_taken=action,
        onset=onset.value if onset else None,
        relatedness=cast(Relatedness, related.value) if related else None,
        evidence=evidence,
        provenance=ae_provenance(semantic=semantic),
    )


def report_json(report: AeReport) -> dict[str, Any]:
    """The CLI/API JSON shape of a report (no nulls dropped: the contract names every key)."""
    data = report.model_dump(mode="json")
    for event in data["events"]:
        if event.get("meddra") is None:
            event.pop("meddra", None)
    if data.get("provenance") is not None:
        data["provenance"] = {k: v for k, v in data["provenance"].items() if v is not None}
    return data


# ---------------------------------------------------------------------------------------------
# E2B(R3) export (corpora/ae/E2B_MAPPING.md documents every element)

#: E.i.7 reaction outcome
E2B_OUTCOME = {
    "recovered": 1,
    "recovering": 2,
    "not_recovered": 3,
    "recovered_with_sequelae": 4,
    "fatal": 5,
    "unknown": 0,
}
#: G.k.8 action taken with the drug; R3 has no "interrupted": a temporary interruption is
#: reported as withdrawn (1), the drug having been withdrawn when the reaction occurred.
E2B_ACTION = {
    "withdrawn": 1,
    "interrupted": 1,
    "dose_reduced": 2,
    "dose_increased": 3,
    "unchanged": 4,
    "not_applicable": 9,
}
#: G.k.1 characterisation of drug role; a drug given to treat the reaction is concomitant.
E2B_ROLE = {"suspect": 1, "concomitant": 2, "treatment": 2}
E2B_SERIOUSNESS = {
    "death": "E.i.3.2a",
    "life_threatening": "E.i.3.2b",
    "hospitalization": "E.i.3.2c",
    "disability": "E.i.3.2d",
    "congenital_anomaly": "E.i.3.2e",
    "other_medically_important": "E.i.3.2f",
}
#: CTCAE v5.0 carries MedDRA v20.1 codes.
CTCAE_MEDDRA_VERSION = "20.1"


def to_e2b(report: AeReport) -> dict[str, Any]:
    """The report as E2B(R3) data elements (element id -> value), one object per report."""
    criteria = {s.criterion for s in report.seriousness}
    reactions = []
    for i, event in enumerate(e for e in report.events if e.coded):
        reaction: dict[str, Any] = {
            "E.i.1.1a": event.text,
            "E.i.1.1b": "eng",
            "E.i.2.1a": event.meddra.version if event.meddra else CTCAE_MEDDRA_VERSION,
            "E.i.2.1b": event.meddra.llt_code if event.meddra else event.meddra_code,
        }
        for criterion, element in E2B_SERIOUSNESS.items():
            reaction[element] = criterion in criteria
        reaction["E.i.7"] = E2B_OUTCOME[report.outcome]
        if report.onset is not None:
            reaction["E.i.4"] = report.onset
        reaction["eligo.ctcae_term"] = event.ctcae_term
        reaction["eligo.ctcae_grade"] = event.grade
        if event.specified:
            reaction["eligo.specified"] = event.specified
        reaction["eligo.reaction_id"] = i + 1
        reactions.append(reaction)
    drugs = []
    for drug in report.drugs:
        item: dict[str, Any] = {
            "G.k.1": E2B_ROLE[drug.role],
            "G.k.2.2": drug.text,
            "eligo.drugbank": [c.code for c in drug.codes if c.system == "DrugBank"],
            "eligo.role": drug.role,
        }
        if drug.role == "suspect":
            item["G.k.8"] = E2B_ACTION[report.action_taken] if report.action_taken else 0
            if report.relatedness is not None:
                item["G.k.9.i.2.r"] = [
                    {
                        "G.k.9.i.1": reaction["eligo.reaction_id"],
                        "G.k.9.i.2.r.1": "Primary source reporter",
                        "G.k.9.i.2.r.2": "Global introspection",
                        "G.k.9.i.2.r.3": report.relatedness.replace("_", " "),
                    }
                    for reaction in reactions
                ]
        drugs.append(item)
    return {
        "id": report.id,
        "E.i": reactions,
        "G.k": drugs,
        "serious": report.serious,
        "provenance": report.provenance.model_dump(exclude_none=True)
        if report.provenance
        else None,
    }


__all__ = [
    "AeDataError",
    "CtcaeTerm",
    "LabRule",
    "candidates",
    "code_report",
    "fuzzy_candidates",
    "load_data",
    "report_json",
    "to_e2b",
]
