"""Does a patient's fact match a criterion's concept? And by which route?

`ConceptMatcher.match(node, fact)` tries, in order, and reports the first route that holds:

1. ``code``: the node and the fact share a code (same system after normalising FHIR URIs and
   aliases). ICD-10-CM is hierarchical: a node coded E11 matches a fact coded E11.9, and a
   range code (E08-E13) matches any code inside it; never the reverse (a fact coded only
   "diabetes" does not prove "type 2 diabetes").
2. ``crosswalk``: (a) *drug classes*: the node names a drug class of
   `corpora/crosswalk/drug_classes.tsv` ("ACE inhibitor", "SSRIs", "strong CYP3A4
   inhibitors") and the fact's text or one of its codes' display names contains a member
   ("Lisinopril 10 MG Oral Tablet", "Humira"); (b) a code the adapter added to the fact from
   `corpora/crosswalk/` (`Fact.code_sources`), or a fact code mapped through that table
   here, equals a node code, or the reverse. A class node skips the semantic step: the
   table, not embedding similarity, says which drugs a class holds ("SSRI" and "SNRI"
   embed alike).
3. ``lexicon``: both texts, coded by eligo's concept lexicons (the longest lexicon term in
   each text, or the lexicon codes the adapter recorded on the fact), share a code:
   "Metformin hydrochloride 500 MG Oral Tablet" and "metformin" are both DrugBank DB00331.
   (Every code of a note fact comes from the lexicons, so note facts match here.)
4. ``text``: the node's normalised tokens (minus lead words such as "history of") occur
   contiguously in the fact's: "stroke" in "ischemic stroke", "insulin" in "insulin
   glargine". Exact and explainable, so it is tried before the fuzzy step.
5. ``semantic``: MiniLM sentence embeddings (ONNX, `eligo.nlp.ae_semantic`) with cosine at
   least `SEMANTIC_THRESHOLD`, only between texts that cannot be compared by code (when both
   sides carry codes of a common system and none agree, the codes have already said "no":
   "type 1 diabetes" and "type 2 diabetes" embed almost identically).

Results are cached per (node concept, fact concept) pair, so screening thousands of charts
costs one decision per distinct pair.
"""

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from eligo.criteria.types import ConceptNode, Fact, MatchedBy, MeasurementNode, MedicationNode
from eligo.nlp.resources import read_text
from eligo.nlp.types import Code

if TYPE_CHECKING:
    from spacy.language import Language

    from eligo.nlp.ae_semantic import SemanticMatcher

#: Cosine similarity (MiniLM, mean pooled, L2 normalised) at or above which two concept
#: texts that no code, lexicon term or containment links are taken as the same concept.
#: General-domain MiniLM separates clinical concepts poorly: on the written probe pairs in
#: benchmarks/eval_prescreen.py true synonyms score 0.43-0.92 ("stroke" / "cerebrovascular
#: accident" 0.43) and different concepts up to 0.91 ("non-small cell" / "small cell lung
#: cancer"; "pancreatitis" / "pancreatic cancer" 0.72). On the cohort's first run the pairs
#: that reached this step scored <= 0.61 (true) and <= 0.54 (unrelated). So the step is kept
#: for uncoded texts only, with a high bar that admits near-paraphrases alone.
SEMANTIC_THRESHOLD = 0.80

MatchNode = ConceptNode | MedicationNode | MeasurementNode

# Which fact kinds can carry a node's concept.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "condition": frozenset({"condition", "observation"}),
    "observation": frozenset({"observation", "condition", "measurement"}),
    "procedure": frozenset({"procedure"}),
    "device": frozenset({"device", "procedure"}),
    "drug": frozenset({"drug"}),
    "measurement": frozenset({"measurement", "observation"}),
    "demographic": frozenset(),
}

_SYSTEM_ALIASES = {
    "http://snomed.info/sct": "SNOMED",
    "snomed": "SNOMED",
    "snomed ct": "SNOMED",
    "snomedct": "SNOMED",
    "snomed-ct": "SNOMED",
    "snomedct_us": "SNOMED",
    "sct": "SNOMED",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10-CM",
    "icd10cm": "ICD-10-CM",
    "icd-10-cm": "ICD-10-CM",
    "icd10": "ICD-10-CM",
    "icd-10": "ICD-10-CM",
    "http://loinc.org": "LOINC",
    "loinc": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "rxnorm": "RxNorm",
    "umls": "UMLS",
    "hpo": "HPO",
    "drugbank": "DrugBank",
    "mesh": "MeSH",
    "meddra": "MedDRA",
    "ctcae": "CTCAE",
    "eligo": "eligo",
}

# Words that frame a concept in criteria text but are not part of it.
_LEAD_WORDS = re.compile(
    r"^(?:(?:a|an|the|any|known|documented|confirmed|current(?:ly)?|active|prior|previous|"
    r"past|recent|history|hx|of|with|diagnosis|diagnosed|treatment|therapy|use|on|taking|"
    r"receiving)\s+)+",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[a-z0-9]+")
_FHIR_TAG = re.compile(r"\s*\((?:disorder|finding|procedure|situation|observable entity)\)\s*$")

_Key = tuple[str, str]  # (normalised system, normalised code)
NodeKey = tuple[str, str, frozenset[_Key]]  # (domain, concept text, codes)
# (kind, text, codes by origin, code display names)
FactKey = tuple[str, str, tuple[frozenset[_Key], frozenset[_Key], frozenset[_Key]], frozenset[str]]


@lru_cache(maxsize=4096)
def normalize_system(system: str) -> str:
    """One spelling per code system: FHIR URIs and aliases -> "SNOMED", "ICD-10-CM", ..."""
    return _SYSTEM_ALIASES.get(system.strip().lower(), system.strip())


def _norm_code(system: str, code: str) -> str:
    code = code.strip()
    return code.upper().replace(".", "") if system == "ICD-10-CM" else code


def code_keys(codes: Iterable[Code]) -> frozenset[_Key]:
    """Codes as (system, code) keys in normalised form."""
    out = set()
    for code in codes:
        system = normalize_system(code.system)
        out.add((system, _norm_code(system, code.code)))
    return frozenset(out)


#: ICD-10-CM codes that name a whole chapter block: "malignancy" / "cancer" is coded C80.1
#: (malignant neoplasm, unspecified), which stands for every malignant neoplasm, C00-C96
#: (codes here are normalised without the dot, see `_norm_code`).
_UMBRELLA = {"C80": "C00-C96", "C801": "C00-C96", "C809": "C00-C96"}


def _icd_covers(node_code: str, fact_code: str) -> bool:
    """ICD-10-CM: does the node's code (or range, "E08-E13") include the fact's code?"""
    node_code = _UMBRELLA.get(node_code, node_code)
    if "-" in node_code:
        low, _, high = node_code.partition("-")
        return low <= fact_code[: len(low)] and fact_code[: len(high)] <= high
    return fact_code.startswith(node_code)


def codes_match(node: frozenset[_Key], fact: frozenset[_Key]) -> bool:
    """A node code equals a fact code, or (ICD-10-CM) is an ancestor of it."""
    if node & fact:
        return True
    node_icd = [c for s, c in node if s == "ICD-10-CM"]
    if node_icd:
        for system, code in fact:
            if system == "ICD-10-CM" and any(_icd_covers(n, code) for n in node_icd):
                return True
    return False


def _comparable(node: frozenset[_Key], fact: frozenset[_Key]) -> bool:
    """Both sides carry codes of a common system, so codes can say "different"."""
    return bool({s for s, _ in node} & {s for s, _ in fact})


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, singularised the way eligo's lexicon keys are."""
    from eligo.nlp.text import norm

    return [norm(t) for t in _TOKEN.findall(text.lower())]


def concept_text(text: str) -> str:
    """The concept words of a criterion or fact text: lead words and FHIR tags removed."""
    text = _FHIR_TAG.sub("", text)
    return _LEAD_WORDS.sub("", text.strip()).strip() or text.strip()


def _codes_by_origin(fact: Fact) -> tuple[frozenset[_Key], frozenset[_Key], frozenset[_Key]]:
    """A fact's codes split by how it got them (`Fact.code_sources`): as the chart coded it,
    through the crosswalk table, or from eligo's lexicons over its text. Codes without a
    recorded origin count as the chart's own."""
    groups: dict[str, list[Code]] = {"record": [], "crosswalk": [], "lexicon": []}
    for code in fact.codes:
        groups[fact.code_origin(code) or "record"].append(code)
    return code_keys(groups["record"]), code_keys(groups["crosswalk"]), code_keys(groups["lexicon"])


def fact_key(fact: Fact) -> FactKey:
    """What matching reads of a fact (kind, text, codes by origin, code displays): the
    cache key."""
    # displays only matter to the drug-class step; other kinds keep one key per concept
    drug = fact.kind == "drug"
    displays = frozenset(c.display for c in fact.codes if c.display and drug)
    return fact.kind, fact.text, _codes_by_origin(fact), displays


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


class Crosswalk:
    """Code cross-references: (system, code) -> codes in other systems.

    Reads every TSV under `corpora/crosswalk/` whose header names `source_system`,
    `source_code` and the target's `system` and `code` (or `target_system`, `target_code`);
    other columns are ignored, and an absent folder gives an empty crosswalk.
    """

    def __init__(self, pairs: Iterable[tuple[_Key, _Key]] = ()) -> None:
        self._map: dict[_Key, set[_Key]] = {}
        for source, target in pairs:
            self._map.setdefault(source, set()).add(target)
            self._map.setdefault(target, set()).add(source)

    def __len__(self) -> int:
        return len(self._map)

    def expand(self, keys: frozenset[_Key]) -> frozenset[_Key]:
        """Codes the cross-references link to `keys` (not including `keys`)."""
        out: set[_Key] = set()
        for key in keys:
            out |= self._map.get(key, set())
        return frozenset(out - keys)

    @classmethod
    def shipped(cls) -> Crosswalk:
        """The crosswalk files shipped in `corpora/crosswalk/` (empty when none)."""
        pairs: list[tuple[_Key, _Key]] = []
        folder = resources.files("eligo.corpora") / "crosswalk"
        if not folder.is_dir():
            return cls()
        for entry in folder.iterdir():
            if not entry.name.endswith(".tsv"):
                continue
            lines = [
                line
                for line in entry.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")
            ]
            rows = csv.DictReader(lines, delimiter="\t")
            names = set(rows.fieldnames or ())
            target = next(
                (
                    t
                    for t in (("target_system", "target_code"), ("system", "code"))
                    if {*t} <= names
                ),
                None,
            )
            if target is None or not {"source_system", "source_code"} <= names:
                continue
            for row in rows:
                s_sys = normalize_system(row["source_system"] or "")
                t_sys = normalize_system(row[target[0]] or "")
                pairs.append(
                    (
                        (s_sys, _norm_code(s_sys, row["source_code"] or "")),
                        (t_sys, _norm_code(t_sys, row[target[1]] or "")),
                    )
                )
        return cls(pairs)


class DrugClassTableError(ValueError):
    """A row of the drug-class table is malformed (the message names the file and line)."""


DRUG_CLASS_FILE = ("crosswalk", "drug_classes.tsv")
_DRUG_CLASS_HEADER = ["class", "synonyms", "members"]

# Words around a class name that do not change the class: "an SSRI", "concomitant
# anticoagulant therapy", "TNF inhibitor treatment".
_CLASS_LEAD = frozenset({"concomitant", "concurrent", "ongoing", "other", "any", "a", "an"})
_ACRONYM_PLURAL = re.compile(r"\b([A-Z0-9][A-Z0-9-]*[A-Z0-9])s\b")
_CLASS_TAIL = frozenset(
    {"therapy", "treatment", "agent", "drug", "medication", "medicine", "use", "class"}
)

# Route words in a drug's text or display that put it outside a class meant systemically.
# Topical, ophthalmic, otic, nasal and rectal forms act locally: ketoconazole shampoo is not
# a strong CYP3A4 inhibitor, hydrocortisone cream or a fluticasone nasal spray is not a
# systemic corticosteroid, tacrolimus ointment and cyclosporine eye drops are not
# immunosuppressive therapy, diclofenac gel is not what an NSAID exclusion is about.
# (Transdermal patches are systemic: fentanyl. Ophthalmic timolol has systemic beta-blocker
# effects, so beta blockers are not filtered.)
_LOCAL_ROUTE = frozenset(
    {
        "topical", "cream", "ointment", "lotion", "gel", "shampoo", "foam", "ophthalmic",
        "eye", "otic", "ear", "nasal", "intranasal", "rectal", "enema", "suppository",
        "vaginal", "dermal", "cutaneous", "mouthwash", "lozenge", "troche",
    }
)  # fmt: skip
_SYSTEMIC_CLASSES = frozenset(
    {
        "systemic corticosteroids", "strong CYP3A4 inhibitors", "strong CYP3A4 inducers",
        "azole antifungals", "calcineurin inhibitors", "immunosuppressants", "JAK inhibitors",
        "macrolides", "fluoroquinolones", "NSAIDs", "COX-2 inhibitors",
    }
)  # fmt: skip
# Inhaled corticosteroids: budesonide capsules (gut-acting) and nasal or skin forms are not.
_INHALED_CLASSES = frozenset({"inhaled corticosteroids"})
_ORAL_FORM = frozenset({"oral", "tablet", "capsule", "enteric"})


def _inhaled(words: Sequence[str]) -> bool:
    return any(w.startswith(("inhal", "nebul", "actuat")) or w == "mdi" for w in words)


def class_key(text: str) -> str:
    """How a criterion's class wording is looked up: concept words, lower case, without
    framing words ("an", "concomitant", "... therapy") and a final plural "s"."""
    # an acronym's plural: "SSRIs", "MAOIs", "EGFR-TKIs" (lower-cased, "-is" looks singular)
    words = tokens(concept_text(_ACRONYM_PLURAL.sub(r"\1", text)))
    while len(words) > 1 and words[0] in _CLASS_LEAD:
        words = words[1:]
    while len(words) > 1 and words[-1] in _CLASS_TAIL:
        words = words[:-1]
    if words:
        last = words[-1]
        # "SSRIs", "ARBs", "benzos"; not "ics" (ICS) nor words ending -ss/-us/-is
        if len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
            words[-1] = last[:-1]
    return " ".join(words)


@dataclass(frozen=True)
class DrugClass:
    """A drug class: its name, the names criteria use for it, its member drugs."""

    name: str
    synonyms: tuple[str, ...]
    members: tuple[str, ...]


class DrugClasses:
    """Drug class -> member drugs, from `corpora/crosswalk/drug_classes.tsv`.

    `lookup(text)` finds the class a criterion names; `member_in(cls, text)` finds a member
    of it in a drug's text (whole words, so "cortisone" is not found in "hydrocortisone").
    """

    def __init__(self, classes: Iterable[DrugClass] = ()) -> None:
        self.classes: dict[str, DrugClass] = {}
        self._by_key: dict[str, DrugClass] = {}
        self._members: dict[str, dict[str, list[tuple[str, ...]]]] = {}
        for drug_class in classes:
            if drug_class.name in self.classes:
                raise DrugClassTableError(f"drug class {drug_class.name!r} is listed twice")
            self.classes[drug_class.name] = drug_class
            for name in (drug_class.name, *drug_class.synonyms):
                key = class_key(name)
                other = self._by_key.get(key)
                if not key or (other is not None and other.name != drug_class.name):
                    raise DrugClassTableError(
                        f"drug class name {name!r} of {drug_class.name!r} "
                        + (f"is also a name of {other.name!r}" if other else "has no words")
                    )
                self._by_key[key] = drug_class
            by_first: dict[str, list[tuple[str, ...]]] = {}
            for member in drug_class.members:
                words = tuple(tokens(member))
                if not words:
                    raise DrugClassTableError(
                        f"member {member!r} of {drug_class.name!r} has no words"
                    )
                by_first.setdefault(words[0], []).append(words)
            self._members[drug_class.name] = by_first

    def __len__(self) -> int:
        return len(self.classes)

    def lookup(self, text: str) -> DrugClass | None:
        """The class `text` names ("an ACE inhibitor", "SSRIs"), or None."""
        return self._by_key.get(class_key(text))

    def member_in(self, drug_class: DrugClass, *texts: str) -> str | None:
        """The member of `drug_class` that one of `texts` (a drug's text, its codes' display
        names) names: "Lisinopril 10 MG Oral Tablet" -> "lisinopril"; else None. A form
        whose route acts locally, in any of the texts, does not count for a class meant
        systemically (see `_LOCAL_ROUTE`)."""
        by_first = self._members.get(drug_class.name, {})
        found = None
        all_words: set[str] = set()
        for text in texts:
            words = tokens(_FHIR_TAG.sub("", text))
            all_words.update(words)
            for i, word in enumerate(words):
                if found is not None:
                    break
                for member in by_first.get(word, ()):
                    if tuple(words[i : i + len(member)]) == member:
                        found = " ".join(member)
                        break
        if found is None:
            return None
        systemic = drug_class.name in _SYSTEMIC_CLASSES
        inhaled_class = drug_class.name in _INHALED_CLASSES
        if systemic or inhaled_class:
            if _LOCAL_ROUTE & all_words:
                return None
            inhaled = _inhaled(sorted(all_words))
            if systemic and inhaled:
                return None
            if inhaled_class and not inhaled and _ORAL_FORM & all_words:
                return None
        return found

    @classmethod
    def from_text(cls, text: str, *, source: str = "/".join(DRUG_CLASS_FILE)) -> DrugClasses:
        """Parse and validate the table: header `class synonyms members`, then one row per
        class (tab-separated, lists |-separated, members in lower case); '#' lines and blank
        lines skipped.

        Raises:
            DrugClassTableError: naming the line and what is wrong with it.
        """
        classes: list[DrugClass] = []
        seen: dict[str, tuple[str, int]] = {}  # lookup key -> (class, line)
        names: dict[str, int] = {}
        header_seen = False
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            where = f"corpora/{source} line {lineno}"
            if not header_seen:
                if fields != _DRUG_CLASS_HEADER:
                    raise DrugClassTableError(
                        f"{where}: header must be {' '.join(_DRUG_CLASS_HEADER)!r} "
                        f"(tab-separated), got {line!r}"
                    )
                header_seen = True
                continue
            if len(fields) != 3:
                raise DrugClassTableError(
                    f"{where}: expected 3 tab-separated columns (class, synonyms, members), "
                    f"got {len(fields)}"
                )
            name, synonyms, members = (f.strip() for f in fields)
            if not name:
                raise DrugClassTableError(f"{where}: empty class name")
            syn = tuple(synonyms.split("|")) if synonyms else ()
            mem = tuple(members.split("|")) if members else ()
            if not mem:
                raise DrugClassTableError(f"{where}: class {name!r} has no members")
            for item in (*syn, *mem):
                if not item.strip() or item != item.strip():
                    raise DrugClassTableError(
                        f"{where}: empty or padded entry {item!r} in a |-separated list"
                    )
            bad = [m for m in mem if m != m.lower()]
            if bad:
                raise DrugClassTableError(f"{where}: members must be lower case, got {bad}")
            dupes = sorted({m for m in mem if mem.count(m) > 1})
            if dupes:
                raise DrugClassTableError(f"{where}: members listed twice: {dupes}")
            try:
                cls([DrugClass(name, syn, mem)])  # names and members must have words
            except DrugClassTableError as err:
                raise DrugClassTableError(f"{where}: {err}") from err
            for label in (name, *syn):
                key = class_key(label)
                other = seen.get(key)
                if other is not None and other[0] != name:
                    raise DrugClassTableError(
                        f"{where}: {label!r} of {name!r} is also a name of {other[0]!r} "
                        f"(line {other[1]})"
                    )
                seen[key] = (name, lineno)
            if name in names:
                raise DrugClassTableError(f"{where}: class {name!r} already on line {names[name]}")
            names[name] = lineno
            classes.append(DrugClass(name, syn, mem))
        if not header_seen:
            raise DrugClassTableError(f"corpora/{source}: no header line")
        return cls(classes)

    @staticmethod
    @lru_cache(maxsize=1)
    def shipped() -> DrugClasses:
        """The table shipped in `corpora/crosswalk/drug_classes.tsv`, read once."""
        return DrugClasses.from_text(read_text(*DRUG_CLASS_FILE))


class ConceptMatcher:
    """Match facts to criterion concepts by code, crosswalk, lexicon, text or embeddings.

    Args:
        nlp: an eligo pipeline whose `eligo_concepts` lexicon codes free text; loaded
            lexicon-only on first need when not given. `lexicon=False` skips that step.
        semantic: use MiniLM embeddings as the last resort (loads the ONNX model on first
            need, ~0.5 s).
        crosswalk: code cross-references; by default those shipped in corpora/crosswalk.
        drug_classes: drug class -> members; by default corpora/crosswalk/drug_classes.tsv
            (an empty `DrugClasses()` turns the class step off).
        routes: the routes to try (default all); `("text",)` is plain string matching,
            the baseline the benchmark compares against.
    """

    def __init__(
        self,
        *,
        nlp: Language | None = None,
        lexicon: bool = True,
        semantic: bool = True,
        semantic_threshold: float = SEMANTIC_THRESHOLD,
        crosswalk: Crosswalk | None = None,
        drug_classes: DrugClasses | None = None,
        routes: Iterable[MatchedBy] | None = None,
    ) -> None:
        self._nlp = nlp
        self.lexicon = lexicon
        self.semantic = semantic
        self.semantic_threshold = semantic_threshold
        self.crosswalk = crosswalk if crosswalk is not None else Crosswalk.shipped()
        self.drug_classes = drug_classes if drug_classes is not None else DrugClasses.shipped()
        self._pairs: dict[tuple[Any, Any], MatchedBy | None] = {}
        self._fact_ids: dict[FactKey, int] = {}
        self._fact_keys: list[FactKey] = []
        self._node_ids: dict[NodeKey, int] = {}
        self._pairs_by_id: dict[tuple[int, int], MatchedBy | None] = {}
        self._ids_lock = threading.Lock()  # ids must stay unique when threads share a matcher
        self._text_codes: dict[str, frozenset[_Key]] = {}
        self._node_classes: dict[str, DrugClass | None] = {}  # node text -> class it names
        self._vectors: dict[str, Any] = {}
        self._encoder: SemanticMatcher | None = None
        self.routes = frozenset(routes or ("code", "crosswalk", "lexicon", "text", "semantic"))
        #: every similarity computed, as (node text, fact text, cosine), for tuning
        self.similarities: list[tuple[str, str, float]] = []

    # -- keys and per-text caches ------------------------------------------------------------

    @staticmethod
    def _node_key(node: MatchNode) -> NodeKey:
        domain = (
            "drug"
            if isinstance(node, MedicationNode)
            else "measurement"
            if isinstance(node, MeasurementNode)
            else node.domain
        )
        text = node.text
        if isinstance(node, ConceptNode):
            # "chronic heart failure" [chronic]: the qualifier is checked (or flagged) by the
            # evaluator; matching looks for the concept, "heart failure"
            for qualifier in node.qualifiers:
                rest = re.sub(rf"\b{re.escape(qualifier)}\b", " ", text, flags=re.IGNORECASE)
                if rest.strip():
                    text = " ".join(rest.split())
        return domain, text, code_keys(node.codes)

    def lexicon_codes(self, text: str) -> frozenset[_Key]:
        """Codes of the longest eligo lexicon term in `text` (empty when none)."""
        cached = self._text_codes.get(text)
        if cached is not None:
            return cached
        codes: frozenset[_Key] = frozenset()
        if self.lexicon:
            if self._nlp is None:
                import eligo.nlp

                self._nlp = eligo.nlp.load(model=None)
            component: Any = self._nlp.get_pipe("eligo_concepts")
            doc = self._nlp.make_doc(_FHIR_TAG.sub("", text))
            found = component.matches(doc)
            if found:
                # longest term, then the earliest, then the most specific lexicon
                *_, concept = min(found, key=lambda m: (m[0] - m[1], m[0], m[2].rank))
                codes = frozenset(
                    (normalize_system(s), _norm_code(normalize_system(s), c))
                    for s, c, _ in concept.codes
                )
        self._text_codes[text] = codes
        return codes

    def _vector(self, text: str) -> Any:
        vector = self._vectors.get(text)
        if vector is None:
            if self._encoder is None:
                from eligo.nlp.ae_semantic import SemanticMatcher

                self._encoder = SemanticMatcher([])
            vector = self._vectors[text] = self._encoder.embed([text])[0]
        return vector

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts' MiniLM embeddings."""
        return float(self._vector(a) @ self._vector(b))

    # -- matching ----------------------------------------------------------------------------

    @staticmethod
    def compatible(node: MatchNode, fact: Fact) -> bool:
        """Can a fact of this kind carry the node's concept (drug facts for drug nodes...)?"""
        domain = ConceptMatcher._node_key(node)[0]
        return fact.kind in _COMPATIBLE.get(domain, frozenset())

    def drug_class(self, node: MatchNode) -> DrugClass | None:
        """The drug class a drug node names ("an ACE inhibitor", "SSRIs"), or None."""
        domain, text, _ = self._node_key(node)
        return self.drug_classes.lookup(text) if domain == "drug" else None

    def match(self, node: MatchNode, fact: Fact) -> MatchedBy | None:
        """How `fact` matches `node`'s concept, or None when it does not."""
        return self.match_keys(self._node_key(node), fact_key(fact))

    def fact_ids(self, facts: Iterable[Fact]) -> list[int]:
        """A small integer per distinct fact concept (kind, text, codes), for `matches`:
        compute once per chart, then each node costs one dict probe per fact."""
        ids = self._fact_ids
        out = []
        for fact in facts:
            key = fact_key(fact)
            ident = ids.get(key)
            if ident is None:
                with self._ids_lock:
                    ident = ids.get(key)
                    if ident is None:
                        ident = len(self._fact_keys)
                        self._fact_keys.append(key)
                        ids[key] = ident
            out.append(ident)
        return out

    def matches(self, node: MatchNode, fact_ids: Sequence[int]) -> list[MatchedBy | None]:
        """`match` of one node against many facts, given by their `fact_ids`."""
        node_key = self._node_key(node)
        kinds = _COMPATIBLE.get(node_key[0], frozenset())
        node_id = self._node_ids.get(node_key)
        if node_id is None:
            with self._ids_lock:
                node_id = self._node_ids.setdefault(node_key, len(self._node_ids))
        pairs = self._pairs_by_id
        out: list[MatchedBy | None] = []
        for ident in fact_ids:
            pair = (node_id, ident)
            if pair in pairs:
                out.append(pairs[pair])
                continue
            key = self._fact_keys[ident]
            result = self.match_keys(node_key, key) if key[0] in kinds else None
            pairs[pair] = result
            out.append(result)
        return out

    def match_keys(self, node_key: NodeKey, key: FactKey) -> MatchedBy | None:
        if key[0] not in _COMPATIBLE.get(node_key[0], frozenset()):
            return None
        pair = (node_key, key)
        try:
            return self._pairs[pair]
        except KeyError:
            pass
        drug_class = None
        if node_key[0] == "drug":
            text = node_key[1]
            if text not in self._node_classes:
                self._node_classes[text] = self.drug_classes.lookup(text)
            drug_class = self._node_classes[text]
        result = self._decide(
            node_key[1], node_key[2], key[1], *key[2], displays=key[3], drug_class=drug_class
        )
        self._pairs[pair] = result
        return result

    def _decide(
        self,
        node_text: str,
        node_codes: frozenset[_Key],
        fact_text: str,
        fact_codes: frozenset[_Key],
        fact_crosswalk: frozenset[_Key],
        fact_lexicon: frozenset[_Key],
        *,
        displays: frozenset[str] = frozenset(),
        drug_class: DrugClass | None = None,
    ) -> MatchedBy | None:
        routes = self.routes
        if "code" in routes and codes_match(node_codes, fact_codes):
            return "code"
        if (
            drug_class is not None
            and "crosswalk" in routes
            and self.drug_classes.member_in(drug_class, fact_text, *sorted(displays))
        ):
            return "crosswalk"
        fact_x = fact_crosswalk
        node_x: frozenset[_Key] = frozenset()
        if len(self.crosswalk):
            fact_x = fact_x | self.crosswalk.expand(fact_codes)
            node_x = self.crosswalk.expand(node_codes)
        if "crosswalk" in routes and (
            codes_match(node_codes, fact_x) or codes_match(node_x, fact_codes | fact_x)
        ):
            return "crosswalk"
        node_all = node_codes | node_x
        fact_all = fact_codes | fact_x | fact_lexicon
        if "lexicon" in routes:
            node_all |= self.lexicon_codes(concept_text(node_text))
            fact_all |= self.lexicon_codes(fact_text)
            if codes_match(node_all, fact_all):
                return "lexicon"
        node_tokens = tokens(concept_text(node_text))
        if "text" in routes and _contains(tokens(concept_text(fact_text)), node_tokens):
            return "text"
        if (
            "semantic" in routes
            and self.semantic
            and drug_class is None
            and not _comparable(node_all, fact_all)
        ):
            a, b = concept_text(node_text), concept_text(fact_text)
            similarity = self.similarity(a, b)
            self.similarities.append((a, b, similarity))
            if similarity >= self.semantic_threshold:
                return "semantic"
        return None
