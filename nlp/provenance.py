"""Provenance stamped on every result: eligo version and the data versions that produced it."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from spacy.language import Language

from eligo.nlp.resources import ResourceNotFoundError, digest
from eligo.nlp.types import Provenance

#: corpora/ files whose content determines extraction output.
DATA_FILES = {
    "curated": ("lexicons", "curated.tsv.gz"),
    "ctcae": ("lexicons", "ctcae.tsv.gz"),
    "drugs": ("lexicons", "drugs.tsv.gz"),
    "icd10cm": ("lexicons", "icd10cm.tsv.gz"),
    "hpo": ("lexicons", "hpo.tsv.gz"),
    "context": ("context", "context.json"),
    "sections": ("sections", "sections.json"),
}


def for_pipeline(nlp: Language) -> Provenance:
    """Provenance of results from `nlp`: adds the NER model's file hash when it runs one."""
    stamp = provenance()
    if "eligo_ner" in nlp.pipe_names:
        digest_ = getattr(getattr(nlp.get_pipe("eligo_ner"), "model", None), "digest", None)
        stamp = stamp.model_copy(update={"model": digest_})
    return stamp


@lru_cache(maxsize=1)
def provenance() -> Provenance:
    try:
        eligo_version = version("eligo")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        eligo_version = "0+unknown"
    lexicons = {}
    for name, parts in DATA_FILES.items():
        try:
            lexicons[name] = digest(*parts)
        except ResourceNotFoundError:
            lexicons[name] = "missing"
    return Provenance(eligo=eligo_version, lexicons=lexicons)
