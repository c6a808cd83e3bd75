"""Licensed-MedDRA coding against a made-up release in MedDRA ASCII format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from spacy.language import Language

from eligo.nlp.ae import code_report
from eligo.nlp.meddra import FILES, MeddraError, MeddraRelease, load_release

FAKE = Path(__file__).resolve().parents[1] / "data" / "fake_meddra"


@pytest.fixture(scope="module")
def release() -> MeddraRelease:
    return load_release(FAKE)


def test_version_and_terms(release: MeddraRelease) -> None:
    assert release.version == "99.0"
    assert release.language == "English"
    assert release.llts["99000002"].pt_code == "99000001"


def test_codes_verbatim_text_to_current_llt(release: MeddraRelease) -> None:
    coding = release.code("Threw  up", ctcae_term="Vomiting")
    assert coding is not None
    assert (coding.llt_code, coding.llt_name) == ("99000002", "Threw up")
    assert (coding.pt_code, coding.pt_name) == ("99000001", "Vomiting")
    assert (coding.hlt_code, coding.hlgt_code, coding.soc_code) == (
        "99200001",
        "99300001",
        "99100001",
    )
    assert coding.soc_name == "Fake gut disorders"
    assert coding.version == "99.0"


def test_falls_back_to_the_ctcae_term_name(release: MeddraRelease) -> None:
    coding = release.code("sick to my stomach", ctcae_term="Nausea")
    assert coding is not None and coding.llt_code == "99000010"


def test_non_current_llts_are_never_used(release: MeddraRelease) -> None:
    assert release.lookup("Puking spell") is None  # llt_currency N
    assert release.code("sick feeling") is None
    assert release.code("x", ctcae_code="99000003") is None


def test_falls_back_to_the_ctcae_code(release: MeddraRelease) -> None:
    coding = release.code("unlisted words", ctcae_term="Not a term", ctcae_code="99000040")
    assert coding is not None and coding.pt_name == "Fakeitis"


def test_primary_soc_is_chosen(release: MeddraRelease) -> None:
    coding = release.code("Insomnia")
    assert coding is not None
    assert coding.pt_name == "Sleeplessness"
    assert coding.soc_name == "Fake mind disorders"  # primary_soc_fg Y, not the nerve SOC


def test_code_report_with_release(nlp: Language) -> None:
    report = code_report(
        "I threw up and couldn't sleep. Denies headache.", nlp=nlp, meddra=str(FAKE)
    )
    by_text = {e.text: e for e in report.events}
    assert by_text["threw up"].meddra is not None
    assert by_text["threw up"].meddra.llt_name == "Threw up"
    assert by_text["couldn't sleep"].meddra is not None
    assert by_text["couldn't sleep"].meddra.llt_code == "99000031"
    assert by_text["headache"].meddra is None  # negated: not coded


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(MeddraError, match="does not exist or is not a directory"):
        MeddraRelease(tmp_path / "nope")


def test_missing_files_are_named(tmp_path: Path) -> None:
    shutil.copytree(FAKE, tmp_path / "rel")
    (tmp_path / "rel" / "mdhier.asc").unlink()
    (tmp_path / "rel" / "soc.asc").unlink()
    with pytest.raises(MeddraError, match=r"lacks soc\.asc, mdhier\.asc; a release needs llt\.asc"):
        MeddraRelease(tmp_path / "rel")


def test_malformed_line(tmp_path: Path) -> None:
    shutil.copytree(FAKE, tmp_path / "rel")
    with (tmp_path / "rel" / "llt.asc").open("a") as f:
        f.write("99000099,Comma separated,99000001\n")
    with pytest.raises(MeddraError, match=r"llt\.asc line 11: expected at least 10 '\$'-separated"):
        MeddraRelease(tmp_path / "rel")


def test_dangling_pt(tmp_path: Path) -> None:
    shutil.copytree(FAKE, tmp_path / "rel")
    with (tmp_path / "rel" / "llt.asc").open("a") as f:
        f.write("99000098$Orphan$99999999$$$$$$$Y$$\n")
    with pytest.raises(
        MeddraError, match=r"LLT 99000098 points to PT 99999999, which pt\.asc lacks"
    ):
        MeddraRelease(tmp_path / "rel")


def test_empty_release_file(tmp_path: Path) -> None:
    shutil.copytree(FAKE, tmp_path / "rel")
    (tmp_path / "rel" / "meddra_release.asc").write_text("")
    with pytest.raises(MeddraError, match=r"meddra_release\.asc is empty"):
        MeddraRelease(tmp_path / "rel")


def test_all_files_listed() -> None:
    assert sorted(FILES) == sorted(p.name for p in FAKE.glob("*.asc"))


def test_other_specify_event_codes_by_the_condition_it_names(release: MeddraRelease) -> None:
    # no LLT for the words as written; the catch-all CTCAE term is no LLT either: the
    # condition's name ("Tendon rupture") is what finds the LLT
    report = code_report("Ciprofloxacin stopped after a ruptured achilles tendon.", meddra=release)
    event = next(e for e in report.events if e.coded)
    assert event.specified == "Tendon rupture"
    assert event.meddra is not None and event.meddra.llt_code == "99000041"
