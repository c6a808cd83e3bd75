"""A licensed MedDRA release, read from its ASCII distribution files (`MedAscii/*.asc`).

eligo ships no MedDRA content. A user who holds a MedDRA licence points `code_report(...,
meddra=DIR)` or `eligo ae code --meddra DIR` at the release's ASCII directory; events are
then coded to a current lowest level term (LLT) with its preferred term (PT), HLT, HLGT and
primary SOC, stamped with the release version.

The files are `$`-delimited, one record a line, each line ending with `$` (layouts from the
MedDRA distribution file format document):

- `llt.asc`: llt_code $ llt_name $ pt_code $ whoart $ harts $ costart $ icd9 $ icd9cm $ icd10 $
  llt_currency (Y/N) $ jart
- `pt.asc`: pt_code $ pt_name $ null $ pt_soc_code (primary SOC) $ ...
- `hlt.asc`, `hlgt.asc`: code $ name $ ...; `soc.asc`: soc_code $ soc_name $ soc_abbrev $ ...
- `hlt_pt.asc`: hlt_code $ pt_code; `hlgt_hlt.asc`: hlgt_code $ hlt_code;
  `soc_hlgt.asc`: soc_code $ hlgt_code
- `mdhier.asc`: pt_code $ hlt_code $ hlgt_code $ soc_code $ pt_name $ hlt_name $ hlgt_name $
  soc_name $ soc_abbrev $ null $ pt_soc_code $ primary_soc_fg (Y/N)
- `meddra_release.asc`: version $ language $ ...
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from eligo.nlp.ae_types import MeddraCoding

#: file -> fewest fields a record must have
FILES = {
    "llt.asc": 10,
    "pt.asc": 4,
    "hlt.asc": 2,
    "hlt_pt.asc": 2,
    "hlgt.asc": 2,
    "hlgt_hlt.asc": 2,
    "soc.asc": 2,
    "soc_hlgt.asc": 2,
    "mdhier.asc": 12,
    "meddra_release.asc": 1,
}


class MeddraError(ValueError):
    """A MedDRA release directory that is missing, incomplete or malformed."""


@dataclass(frozen=True, slots=True)
class Llt:
    code: str
    name: str
    pt_code: str
    current: bool


@dataclass(frozen=True, slots=True)
class Hierarchy:
    hlt_code: str
    hlt_name: str
    hlgt_code: str
    hlgt_name: str
    soc_code: str
    soc_name: str


def _records(path: Path, fields: int) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise MeddraError(f"cannot read {path}: {err.strerror}") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # older English releases are Latin-1
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("$")
        if parts and parts[-1] == "":
            parts.pop()  # every record ends with "$"
        if len(parts) < fields or not parts[0].strip():
            raise MeddraError(
                f"{path.name} line {lineno}: expected at least {fields} '$'-separated fields "
                f"starting with a code, got {len(parts)}; is this a MedDRA ASCII file?"
            )
        rows.append([p.strip() for p in parts])
    return rows


class MeddraRelease:
    """The terms and hierarchy of one MedDRA release, indexed for coding."""

    def __init__(self, directory: str | Path) -> None:
        root = Path(directory)
        if not root.is_dir():
            raise MeddraError(
                f"MedDRA directory {root} does not exist or is not a directory; give the "
                "folder of the release's ASCII files (MedAscii), which holds llt.asc, pt.asc, ..."
            )
        missing = [name for name in FILES if not (root / name).is_file()]
        if missing:
            raise MeddraError(
                f"MedDRA directory {root} lacks {', '.join(missing)}; a release needs "
                f"{', '.join(FILES)}"
            )
        rows = {name: _records(root / name, fields) for name, fields in FILES.items()}
        release = rows["meddra_release.asc"]
        if not release:
            raise MeddraError("meddra_release.asc is empty; expected 'version$language$...'")
        self.version = release[0][0]
        self.language = release[0][1] if len(release[0]) > 1 else ""
        self.llts: dict[str, Llt] = {}
        self._by_name: dict[str, str] = {}
        for r in rows["llt.asc"]:
            llt = Llt(r[0], r[1], r[2], r[9].upper() == "Y")
            self.llts[llt.code] = llt
            if llt.current:
                self._by_name.setdefault(_key(llt.name), llt.code)
        self.pts = {r[0]: r[1] for r in rows["pt.asc"]}
        self.hierarchy: dict[str, Hierarchy] = {}
        for r in rows["mdhier.asc"]:
            if r[11].upper() == "Y":
                self.hierarchy[r[0]] = Hierarchy(r[1], r[5], r[2], r[6], r[3], r[7])
        for llt in self.llts.values():
            if llt.pt_code not in self.pts:
                raise MeddraError(
                    f"llt.asc: LLT {llt.code} points to PT {llt.pt_code}, which pt.asc lacks"
                )

    def lookup(self, name: str) -> Llt | None:
        """The current LLT with this name (case and spacing ignored)."""
        code = self._by_name.get(_key(name))
        return self.llts[code] if code else None

    def coding(self, llt: Llt) -> MeddraCoding:
        hier = self.hierarchy.get(llt.pt_code)
        return MeddraCoding(
            version=self.version,
            llt_code=llt.code,
            llt_name=llt.name,
            pt_code=llt.pt_code,
            pt_name=self.pts[llt.pt_code],
            hlt_code=hier.hlt_code if hier else None,
            hlt_name=hier.hlt_name if hier else None,
            hlgt_code=hier.hlgt_code if hier else None,
            hlgt_name=hier.hlgt_name if hier else None,
            soc_code=hier.soc_code if hier else None,
            soc_name=hier.soc_name if hier else None,
        )

    def code(
        self, text: str, *, ctcae_term: str | None = None, ctcae_code: str | None = None
    ) -> MeddraCoding | None:
        """Code a mention to a current LLT: its own words, else the CTCAE term's name, else
        the CTCAE term's MedDRA code (as an LLT, or the LLT that shares a PT's code)."""
        for name in (text, ctcae_term):
            if name:
                llt = self.lookup(name)
                if llt is not None:
                    return self.coding(llt)
        if ctcae_code:
            llt = self.llts.get(ctcae_code)
            if llt is not None and llt.current:
                return self.coding(llt)
        return None


def _key(name: str) -> str:
    return " ".join(name.lower().replace("-", " ").split())


@lru_cache(maxsize=4)
def load_release(directory: str | Path) -> MeddraRelease:
    """A MedDRA release, read once per process per directory."""
    return MeddraRelease(Path(directory).resolve())
