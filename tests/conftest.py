"""Shared fixtures. Clinical text in tests is synthetic, written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from spacy.language import Language

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def nlp() -> Language:
    import eligo.nlp

    return eligo.nlp.load()


def needs_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test when the corpus is not beside the repo."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path
