"""Every data folder under corpora/ says where its data came from."""

from __future__ import annotations

from tests.conftest import REPO


def test_every_corpora_folder_has_a_source_note() -> None:
    corpora = REPO / "corpora"
    missing = []
    for folder in sorted(p for p in corpora.iterdir() if p.is_dir()):
        if folder.name.startswith(("_", ".")) or folder.name == "models":
            continue  # models/<name>/ are checked below
        if not (folder / "SOURCE.md").is_file() and not (folder / "MODEL_CARD.md").is_file():
            missing.append(folder.name)
    for folder in sorted((corpora / "models").glob("*")) if (corpora / "models").is_dir() else []:
        if folder.is_dir() and not (folder / "MODEL_CARD.md").is_file():
            missing.append(f"models/{folder.name}")
    assert not missing, f"corpora folders without SOURCE.md (or MODEL_CARD.md): {missing}"
